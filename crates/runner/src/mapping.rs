//! Loading and compiling a connection's mapping file (the I/O the pure
//! mapping engine leaves to its caller).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::{RecordMapper, SourceDescription};
use cartage_mapping::{CompileContext, CompiledMapping};

use crate::registry::{self, Connector};

/// A compiled mapping.
pub struct Loaded(CompiledMapping);

impl Loaded {
    pub fn streams(&self) -> Vec<String> {
        self.0.streams().into_iter().map(str::to_owned).collect()
    }

    /// The tables the mapping fills, over all streams.
    pub fn tables(&self) -> Vec<String> {
        self.0.tables().iter().map(|t| t.name.clone()).collect()
    }

    pub fn stream(&self, name: &str) -> Option<Arc<dyn RecordMapper>> {
        self.0.stream(name)
    }
}

/// Reads a file for the mapping engine; `builtin:` names come from the
/// registry's built-in mappings.
pub fn read_source(name: &str) -> Option<(String, String)> {
    if let Some(builtin) = name.strip_prefix("builtin:") {
        return registry::builtin_mapping(builtin).map(|text| (name.to_owned(), text.to_owned()));
    }
    let text = std::fs::read_to_string(name).ok()?;
    Some((name.to_owned(), text))
}

fn name_of(path: &Path) -> Result<String, String> {
    let name = path.to_string_lossy().into_owned();
    if !name.starts_with("builtin:") && !path.is_file() {
        return Err(format!("{name}: mapping file not found"));
    }
    Ok(name)
}

/// Compiles the mapping at `path` for `tenant` of a connector described by
/// `source`; the error lists every problem found, one per line, each with
/// file:line:column.
pub fn load(path: &Path, tenant: &str, source: SourceDescription) -> Result<Loaded, String> {
    let name = name_of(path)?;
    let context = CompileContext::new(tenant, source);
    cartage_mapping::compile(&name, &read_source, &context)
        .map(Loaded)
        .map_err(|diagnostics| diagnostics.to_string())
}

/// The connector a mapping file is for, when no configuration says: the
/// `--source` flag, else the file's `source:` (or that of a file it
/// extends).
pub fn connector_of(path: &Path, flag: Option<&str>) -> Result<&'static Connector, String> {
    let name = name_of(path)?;
    let declared =
        cartage_mapping::declared_source(&name, &read_source).map_err(|d| d.to_string())?;
    let chosen = match (flag, declared.as_deref()) {
        (Some(flag), Some(declared)) if flag != declared => {
            return Err(format!(
                "{name}: the mapping is written for the {declared:?} connector, not {flag:?}"
            ));
        }
        (Some(name), _) | (None, Some(name)) => name.to_owned(),
        (None, None) => {
            return Err(format!(
                "{name}: which connector is this mapping for? add `source: <connector>` to it (or to a file it extends), or pass --source (one of {})",
                registry::names()
            ));
        }
    };
    registry::find(&chosen).ok_or_else(|| {
        format!("{name}: unknown connector {chosen:?} (known: {})", registry::names())
    })
}

/// Resolves a mapping path written in a configuration file relative to it.
pub fn resolve(config_dir: &Path, mapping: &Path) -> PathBuf {
    if mapping.is_absolute() || mapping.starts_with("builtin:") {
        mapping.to_path_buf()
    } else {
        config_dir.join(mapping)
    }
}
