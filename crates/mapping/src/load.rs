//! Loading mapping files through the caller's loader, with spans, and
//! resolving `extends` into one merged document.
//!
//! The merge works on YAML nodes so that every node keeps the place (file,
//! line, column) where it was written: an error in a base file points into
//! the base file.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, Node};
use marked_yaml::{LoadError, LoaderOptions, Span};

use crate::error::{Diagnostic, Location};

/// Gives the compiler the text of a mapping file; the engine does no I/O.
///
/// `name` is the root name passed to [`crate::compile`], or an `extends`
/// target resolved against the directory of the file that names it (plain
/// `/`-separated names, `..` resolved). Returns the path to show in errors
/// and the text, or `None` if there is no such file.
pub trait SourceLoader {
    fn load(&self, name: &str) -> Option<(String, String)>;
}

impl<F> SourceLoader for F
where
    F: Fn(&str) -> Option<(String, String)>,
{
    fn load(&self, name: &str) -> Option<(String, String)> {
        self(name)
    }
}

/// Display paths of the loaded files, indexed by the span's source number.
#[derive(Debug, Default)]
pub(crate) struct Files {
    pub names: Vec<String>,
}

impl Files {
    pub fn loc(&self, span: &Span) -> Location {
        match span.start() {
            Some(m) => Location {
                file: self.names.get(m.source()).cloned().unwrap_or_default(),
                line: m.line(),
                column: m.column(),
            },
            None => Location {
                file: self.names.first().cloned().unwrap_or_default(),
                line: 0,
                column: 0,
            },
        }
    }
}

pub(crate) struct Loader<'l> {
    pub loader: &'l dyn SourceLoader,
    pub files: Files,
    pub diags: Vec<Diagnostic>,
}

/// Joins an `extends` target to the directory of the file naming it.
pub(crate) fn resolve_relative(from: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<&str> = from.split('/').collect();
        p.pop();
        p
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if target.starts_with('/') { format!("/{joined}") } else { joined }
}

impl Loader<'_> {
    fn error(&mut self, location: Location, message: impl Into<String>) {
        self.diags.push(Diagnostic { location, message: message.into() });
    }

    /// Loads `name` and everything it extends, merged; `None` after errors.
    pub fn load(
        &mut self,
        name: &str,
        chain: &mut Vec<String>,
        at: Option<Location>,
    ) -> Option<MarkedMappingNode> {
        let at = at.unwrap_or(Location { file: name.to_owned(), line: 0, column: 0 });
        if chain.iter().any(|c| c == name) {
            let mut cycle = chain.clone();
            cycle.push(name.to_owned());
            self.error(at, format!("circular extends: {}", cycle.join(" -> ")));
            return None;
        }
        let Some((display, text)) = self.loader.load(name) else {
            self.error(at, format!("cannot read mapping file {name:?}"));
            return None;
        };
        let source = self.files.names.len();
        self.files.names.push(display.clone());
        let node = match parse(source, &text) {
            Ok(node) => node,
            Err(e) => {
                let (location, message) = describe_load_error(&self.files, &display, &e);
                self.error(location, message);
                return None;
            }
        };
        let Node::Mapping(map) = node else {
            self.error(
                Location { file: display, line: 1, column: 1 },
                "a mapping file must be a YAML mapping",
            );
            return None;
        };
        let Some(extends) = map.get_node("extends") else { return Some(map) };
        let Some(target) = extends.as_scalar() else {
            let loc = self.files.loc(extends.span());
            self.error(loc, "extends: expected the name of one mapping file");
            return None;
        };
        let loc = self.files.loc(target.span());
        let resolved = resolve_relative(name, target.as_str());
        chain.push(name.to_owned());
        let base = self.load(&resolved, chain, Some(loc));
        chain.pop();
        let mut base = base?;
        merge_root(&mut base, &map);
        Some(base)
    }
}

fn parse(source: usize, text: &str) -> Result<Node, LoadError> {
    if text.trim().is_empty() {
        return Ok(Node::Mapping(MarkedMappingNode::new_empty(Span::new_blank())));
    }
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    // marked-yaml asserts on internal states it believes unreachable; a
    // mapping file is user input, so a panic there becomes a syntax error.
    match std::panic::catch_unwind(|| marked_yaml::parse_yaml_with_options(source, text, options)) {
        Ok(result) => result,
        Err(_) => Err(LoadError::TopLevelMustBeMapping(marked_yaml::Marker::new(source, 0, 1, 1))),
    }
}

fn describe_load_error(files: &Files, display: &str, e: &LoadError) -> (Location, String) {
    let at = |m: &marked_yaml::Marker| Location {
        file: display.to_owned(),
        line: m.line(),
        column: m.column(),
    };
    match e {
        LoadError::TopLevelMustBeMapping(m) => {
            (at(m), "a mapping file must be a YAML mapping".into())
        }
        LoadError::TopLevelMustBeSequence(m) => {
            (at(m), "a mapping file must be a YAML mapping".into())
        }
        LoadError::UnexpectedAnchor(m) => {
            (at(m), "yaml anchors and aliases are not supported".into())
        }
        LoadError::MappingKeyMustBeScalar(m) => (at(m), "keys must be plain names".into()),
        LoadError::UnexpectedTag(m) => (at(m), "yaml tags are not supported".into()),
        LoadError::ScanError(m, s) => (at(m), format!("invalid yaml: {}", s.info())),
        LoadError::DuplicateKey(inner) => {
            let first = files.loc(inner.prev_key.span());
            (
                files.loc(inner.key.span()),
                format!(
                    "duplicate key {:?} (first given at line {})",
                    inner.key.as_str(),
                    first.line
                ),
            )
        }
    }
}

fn is_null(node: &Node) -> bool {
    matches!(node, Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null"))
}

fn set(map: &mut MarkedMappingNode, key: &MarkedScalarNode, value: Node) {
    match map.get_mut(key) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key.clone(), value);
        }
    }
}

/// Merges a file over the file it extends: `constants` and `tenants` entry
/// by entry, `tables` table by table (a table set to null is removed) and
/// inside a table `columns`, `extra_columns` and `custom` entry by entry;
/// anything else is replaced whole.
fn merge_root(base: &mut MarkedMappingNode, child: &MarkedMappingNode) {
    for (key, value) in child.iter() {
        match key.as_str() {
            "extends" => {}
            "constants" | "tenants" => merge_entries(base, key, value),
            "tables" => match (base.get_mut(key), value) {
                (Some(Node::Mapping(bt)), Node::Mapping(ct)) => {
                    for (tname, tnode) in ct.iter() {
                        if is_null(tnode) {
                            bt.remove(tname);
                            continue;
                        }
                        match (bt.get_mut(tname), tnode) {
                            (Some(Node::Mapping(btab)), Node::Mapping(ctab)) => {
                                for (k, v) in ctab.iter() {
                                    match k.as_str() {
                                        "columns" | "extra_columns" | "custom" => {
                                            merge_entries(btab, k, v)
                                        }
                                        _ => set(btab, k, v.clone()),
                                    }
                                }
                            }
                            _ => set(bt, tname, tnode.clone()),
                        }
                    }
                }
                _ => set(base, key, value.clone()),
            },
            _ => set(base, key, value.clone()),
        }
    }
}

fn merge_entries(parent: &mut MarkedMappingNode, key: &MarkedScalarNode, value: &Node) {
    match (parent.get_mut(key), value) {
        (Some(Node::Mapping(b)), Node::Mapping(c)) => {
            for (k, v) in c.iter() {
                set(b, k, v.clone());
            }
        }
        _ => set(parent, key, value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_targets_resolve_against_the_naming_file() {
        assert_eq!(
            resolve_relative("mappings/acme.yaml", "shop/default.yaml"),
            "mappings/shop/default.yaml"
        );
        assert_eq!(
            resolve_relative("mappings/x/acme.yaml", "../shop/default.yaml"),
            "mappings/shop/default.yaml"
        );
        assert_eq!(resolve_relative("acme.yaml", "./base.yaml"), "base.yaml");
        assert_eq!(resolve_relative("a/b.yaml", "/abs/c.yaml"), "/abs/c.yaml");
    }
}
