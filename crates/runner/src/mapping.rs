//! Loading and compiling a connection's mapping file (the I/O the pure
//! mapping engine leaves to its caller).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::RecordMapper;
use cartage_mapping::{CompileContext, CompiledMapping};

/// The name under which the standard Centra mapping, built into the binary,
/// can be used without the `mappings/` folder at hand (the demo uses it).
pub const BUILTIN_DEFAULT: &str = "builtin:centra/default.yaml";

const BUILTIN_DEFAULT_TEXT: &str = include_str!("../../../mappings/centra/default.yaml");

/// The standard Centra supply mapping (stock, purchase orders, deliveries),
/// built into the binary like [`BUILTIN_DEFAULT`].
pub const BUILTIN_SUPPLY: &str = "builtin:centra/supply.yaml";

const BUILTIN_SUPPLY_TEXT: &str = include_str!("../../../mappings/centra/supply.yaml");

/// The Centra schema the mapping's paths are checked against.
const CENTRA_SCHEMA: &str = include_str!("../../../connectors/centra/schema.graphql");

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

/// Reads a file for the mapping engine; `builtin:` names come from the binary.
pub fn read_source(name: &str) -> Option<(String, String)> {
    if name == BUILTIN_DEFAULT {
        return Some((name.to_owned(), BUILTIN_DEFAULT_TEXT.to_owned()));
    }
    if name == BUILTIN_SUPPLY {
        return Some((name.to_owned(), BUILTIN_SUPPLY_TEXT.to_owned()));
    }
    let text = std::fs::read_to_string(name).ok()?;
    Some((name.to_owned(), text))
}

/// Compiles the mapping at `path` for `tenant`; the error lists every
/// problem found, one per line, each with file:line:column.
pub fn load(path: &Path, tenant: &str) -> Result<Loaded, String> {
    let name = path.to_string_lossy().into_owned();
    if !name.starts_with("builtin:") && !path.is_file() {
        return Err(format!("{name}: mapping file not found"));
    }
    let context = CompileContext::centra(tenant, CENTRA_SCHEMA);
    cartage_mapping::compile(&name, &read_source, &context)
        .map(Loaded)
        .map_err(|diagnostics| diagnostics.to_string())
}

/// Resolves a mapping path written in a configuration file relative to it.
pub fn resolve(config_dir: &Path, mapping: &Path) -> PathBuf {
    if mapping.is_absolute() || mapping.starts_with("builtin:") {
        mapping.to_path_buf()
    } else {
        config_dir.join(mapping)
    }
}
