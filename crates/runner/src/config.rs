//! The `cartage.yaml` configuration: parsing, secret references, validation.
//!
//! Parse, then validate into types: [`RawConfig`] mirrors the file (serde,
//! unknown keys refused, with line and column in errors); [`load`] resolves
//! `${env:NAME}` and `${file:/path}` references and checks every connection
//! into a [`Connection`], the only type the sync code sees.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cartage_sinks::SinkConfig;
use serde::Deserialize;

pub use crate::registry::SourceConfig;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// One entry per tenant: where its data comes from and where it goes.
    pub connections: Vec<RawConnection>,
}

/// One tenant's connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    /// The customer's name; it leads every primary key in the sink.
    pub tenant: String,
    /// Where the data comes from.
    pub source: SourceConfig,
    /// The mapping file, or a list of them (e.g. orders and supply),
    /// relative to this configuration file. No two may map the same stream.
    pub mapping: OneOrMany,
    /// Where the data goes.
    pub sink: SinkConfig,
    /// The streams to sync; all streams the mappings fill when omitted.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
}

/// `mapping: file.yaml` or `mapping: [a.yaml, b.yaml]`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "mapping: expected a file name or a list of file names")]
pub enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// A checked connection.
#[derive(Debug)]
pub struct Connection {
    pub tenant: String,
    pub source: SourceConfig,
    /// One or more mapping files, resolved; each stream is mapped by one.
    pub mappings: Vec<PathBuf>,
    pub sink: SinkConfig,
    pub streams: Option<Vec<String>>,
}

/// A configuration error: always a clear one-line message naming the file
/// and the key, with secrets already redacted.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Reads, resolves and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Vec<Connection>, ConfigError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{shown}: cannot read the configuration: {e}")))?;
    parse(&text, path)
}

/// Parses configuration text; `path` names the file in errors and anchors
/// relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Connection>, ConfigError> {
    let shown = path.display();
    // A first typed parse on the text as written reports structural errors
    // (unknown keys, wrong types) with their line and column.
    serde_yaml::from_str::<RawConfig>(text)
        .map_err(|e| ConfigError(format!("{shown}: {}", one_line(&e.to_string()))))?;

    let mut tree: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| ConfigError(format!("{shown}: {}", one_line(&e.to_string()))))?;
    let mut secrets = Vec::new();
    resolve_references(&mut tree, &mut String::new(), &mut secrets)
        .map_err(|e| ConfigError(format!("{shown}: {e}")))?;
    let raw: RawConfig = serde_yaml::from_value(tree).map_err(|e| {
        let mut message = one_line(&e.to_string());
        for secret in &secrets {
            message = message.replace(secret.as_str(), "***");
        }
        ConfigError(format!("{shown}: {message}"))
    })?;

    let base = path.parent().unwrap_or(Path::new("."));
    let mut tenants = BTreeSet::new();
    let mut connections = Vec::new();
    if raw.connections.is_empty() {
        return Err(ConfigError(format!(
            "{shown}: connections: at least one connection is needed"
        )));
    }
    for (i, c) in raw.connections.into_iter().enumerate() {
        let at = format!("{shown}: connections[{i}]");
        if c.tenant.is_empty()
            || !c.tenant.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            return Err(ConfigError(format!(
                "{at}.tenant: {:?} is not a tenant name (expected letters, digits, '-' or '_')",
                c.tenant
            )));
        }
        if !tenants.insert(c.tenant.clone()) {
            return Err(ConfigError(format!("{at}.tenant: tenant {:?} appears twice", c.tenant)));
        }
        if c.streams.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError(format!("{at}.streams: name at least one stream")));
        }
        let files = match c.mapping {
            OneOrMany::One(file) => vec![file],
            OneOrMany::Many(files) => files,
        };
        if files.is_empty() {
            return Err(ConfigError(format!("{at}.mapping: name at least one mapping file")));
        }
        let mappings = files.iter().map(|f| crate::mapping::resolve(base, f)).collect();
        connections.push(Connection {
            tenant: c.tenant,
            source: c.source,
            mappings,
            sink: c.sink,
            streams: c.streams,
        });
    }
    Ok(connections)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces `${env:NAME}` and `${file:/path}` in every string of the tree,
/// collecting the resolved values so errors can redact them.
fn resolve_references(
    value: &mut serde_yaml::Value,
    at: &mut String,
    secrets: &mut Vec<String>,
) -> Result<(), String> {
    match value {
        serde_yaml::Value::String(s) if s.contains("${") => {
            let resolved = interpolate(s).map_err(|e| format!("{}: {e}", display_path(at)))?;
            secrets.push(resolved.clone());
            *s = resolved;
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                resolve_references(item, at, secrets)?;
                at.truncate(len);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let len = at.len();
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(key.as_str().unwrap_or("?"));
                resolve_references(item, at, secrets)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn display_path(at: &str) -> &str {
    if at.is_empty() { "(top level)" } else { at }
}

/// Expands the references in one string. Unknown reference kinds and
/// unterminated references are errors, so a typo cannot pass as a value.
pub fn interpolate(text: &str) -> Result<String, String> {
    interpolate_with(text, &|name| std::env::var(name).ok())
}

/// [`interpolate`] with an explicit environment lookup.
pub fn interpolate_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| "unterminated ${…} reference".to_owned())?;
        let reference = &after[..end];
        let (kind, name) = reference.split_once(':').ok_or_else(|| {
            format!("reference ${{{reference}}} needs a kind: ${{env:NAME}} or ${{file:/path}}")
        })?;
        match kind {
            "env" => match env(name) {
                Some(v) if !v.is_empty() => out.push_str(&v),
                Some(_) => return Err(format!("environment variable {name} is empty")),
                None => return Err(format!("environment variable {name} is not set")),
            },
            "file" => {
                let content = std::fs::read_to_string(name)
                    .map_err(|e| format!("cannot read secret file {name}: {e}"))?;
                let content = content.trim_end_matches(['\n', '\r']);
                if content.is_empty() {
                    return Err(format!("secret file {name} is empty"));
                }
                out.push_str(content);
            }
            other => {
                return Err(format!(
                    "unknown reference kind {other:?} in ${{{reference}}} (expected env or file)"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN_A" => Some("tok-a".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn interpolates_env_and_file_references() {
        assert_eq!(interpolate_with("${env:TOKEN_A}", &env).unwrap(), "tok-a");
        assert_eq!(interpolate_with("x-${env:TOKEN_A}-y", &env).unwrap(), "x-tok-a-y");
        let dir = std::env::temp_dir().join(format!("cartage-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        assert_eq!(
            interpolate_with(&format!("${{file:{}}}", file.display()), &env).unwrap(),
            "from-file"
        );
    }

    #[test]
    fn mapping_is_one_file_or_a_list() {
        let config = |mapping: &str| {
            format!(
                "connections:\n  - tenant: acme\n    source: {{ type: centra, endpoint: http://127.0.0.1:1/graphql, token: t }}\n    mapping: {mapping}\n    sink: {{ type: sqlite, url: \"sqlite://x.db\" }}\n"
            )
        };
        let at = Path::new("/etc/cartage/cartage.yaml");
        let one = parse(&config("m/a.yaml"), at).unwrap();
        assert_eq!(one[0].mappings, [PathBuf::from("/etc/cartage/m/a.yaml")]);
        let two = parse(&config("[m/a.yaml, /abs/b.yaml]"), at).unwrap();
        assert_eq!(
            two[0].mappings,
            [PathBuf::from("/etc/cartage/m/a.yaml"), PathBuf::from("/abs/b.yaml")]
        );
        let e = parse(&config("[]"), at).unwrap_err().to_string();
        assert!(e.contains("connections[0].mapping: name at least one mapping file"), "{e}");
        let e = parse(&config("{ a: 1 }"), at).unwrap_err().to_string();
        assert!(e.contains("mapping: expected a file name or a list of file names"), "{e}");
    }

    #[test]
    fn reference_errors_are_clear() {
        assert_eq!(
            interpolate_with("${env:UNSET}", &env).unwrap_err(),
            "environment variable UNSET is not set"
        );
        assert_eq!(
            interpolate_with("${env:EMPTY}", &env).unwrap_err(),
            "environment variable EMPTY is empty"
        );
        assert_eq!(
            interpolate_with("${vault:x}", &env).unwrap_err(),
            "unknown reference kind \"vault\" in ${vault:x} (expected env or file)"
        );
        assert_eq!(interpolate_with("${env:X", &env).unwrap_err(), "unterminated ${…} reference");
    }
}
