//! The committed state as the pipeline stores it: the source's opaque state
//! beside the version of the mapping that wrote the rows it covers.
//!
//! ```text
//! {"mapping_version": "m1-3f2a…", "source": <the source's own state>}
//! ```
//!
//! The sink stores this whole object as the stream's state; only the
//! pipeline looks inside, and the source only ever sees its own part. A
//! state committed before versions were recorded (any other JSON) is the
//! source's state with an unknown version.

use serde_json::{Map, Value as Json};

use crate::StreamState;

const MAPPING_KEY: &str = "mapping_version";
const SOURCE_KEY: &str = "source";

/// The source's state wrapped with the mapping version that wrote its rows.
pub fn wrap(version: &str, source: StreamState) -> StreamState {
    let mut object = Map::new();
    object.insert(MAPPING_KEY.into(), Json::String(version.to_owned()));
    object.insert(SOURCE_KEY.into(), source.0);
    StreamState(Json::Object(object))
}

/// Splits a stored state into the mapping version (`None`: written before
/// versions were recorded) and the source's state.
pub fn unwrap(stored: StreamState) -> (Option<String>, StreamState) {
    match stored.0 {
        Json::Object(mut object)
            if object.len() == 2
                && object.get(MAPPING_KEY).is_some_and(Json::is_string)
                && object.contains_key(SOURCE_KEY) =>
        {
            let version = object.remove(MAPPING_KEY).and_then(|v| v.as_str().map(str::to_owned));
            let source = object.remove(SOURCE_KEY).unwrap_or(Json::Null);
            (version, StreamState(source))
        }
        other => (None, StreamState(other)),
    }
}

/// Where a run starts, given the stored state and the current mapping's
/// version.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// Nothing committed yet: a first run.
    First,
    /// The same mapping wrote the stored rows: resume from the source's state.
    Same(StreamState),
    /// The state predates mapping versions (written by an older Cartage):
    /// taken as written by the current mapping, so upgrading does not
    /// re-read every stream.
    Unversioned(StreamState),
    /// Another mapping wrote the stored rows: read the stream again from the
    /// start, so the rows get what the current mapping reads and writes.
    Changed { stored: String },
}

impl Resume {
    pub fn new(stored: Option<StreamState>, current: &str) -> Resume {
        let Some(stored) = stored else { return Resume::First };
        match unwrap(stored) {
            (None, source) => Resume::Unversioned(source),
            (Some(v), source) if v == current => Resume::Same(source),
            (Some(v), _) => Resume::Changed { stored: v },
        }
    }

    /// The state the source resumes from.
    pub fn source_state(&self) -> Option<StreamState> {
        match self {
            Resume::Same(s) | Resume::Unversioned(s) => Some(s.clone()),
            Resume::First | Resume::Changed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_wrapped_state_unwraps_to_its_version_and_the_sources_state() {
        let source = StreamState(json!({"v": 3, "cursor": "2024-01-01T00:00:00Z"}));
        let stored = wrap("m1-abc", source.clone());
        assert_eq!(
            stored.0,
            json!({"mapping_version": "m1-abc", "source": {"v": 3, "cursor": "2024-01-01T00:00:00Z"}})
        );
        assert_eq!(unwrap(stored), (Some("m1-abc".to_owned()), source));
    }

    #[test]
    fn a_state_from_before_versions_is_the_sources_state_unversioned() {
        for old in [json!({"v": 3, "cursor": 7}), json!(12), json!({"source": 1}), json!(null)] {
            assert_eq!(unwrap(StreamState(old.clone())), (None, StreamState(old)));
        }
    }

    #[test]
    fn only_a_different_recorded_version_starts_over() {
        let source = StreamState(json!({"cursor": 7}));
        assert_eq!(Resume::new(None, "m1-a"), Resume::First);
        let same = Resume::new(Some(wrap("m1-a", source.clone())), "m1-a");
        assert_eq!(same.source_state(), Some(source.clone()));
        let old = Resume::new(Some(source.clone()), "m1-a");
        assert_eq!(old, Resume::Unversioned(source.clone()));
        assert_eq!(old.source_state(), Some(source.clone()));
        let changed = Resume::new(Some(wrap("m1-b", source)), "m1-a");
        assert_eq!(changed, Resume::Changed { stored: "m1-b".into() });
        assert_eq!(changed.source_state(), None);
    }
}
