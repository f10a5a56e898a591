//! What the streams' checkpoints have in common: a versioned struct stored as
//! JSON beside the data, read back strictly.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A stream's checkpoint. Its JSON carries `"v"`, the version; a build reads
/// only the version it writes, so a state from another build is an error,
/// never a silent misreading.
pub trait Checkpoint: Serialize + DeserializeOwned {
    /// The version of the JSON form this build writes and reads.
    const VERSION: u32;

    fn to_json(&self) -> serde_json::Value {
        // Serializing plain numbers, strings, options and instants cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let version = value.get("v").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(Self::VERSION)) {
            return Err(format!(
                "state version {version:?}, this build reads version {}",
                Self::VERSION
            ));
        }
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())
    }
}
