//! The `ConnectorConfig` trait: what the runner's registry asks of every
//! source connector's configuration.

use std::sync::Arc;

use crate::{Error, Source, SourceDescription};

/// A source connector's checked configuration for one tenant.
///
/// Contract:
/// - The runner's registry (a serde-tagged enum, one variant per connector)
///   hands out each variant as `&dyn ConnectorConfig`; nothing else in the
///   runner knows which connector it holds.
/// - [`ConnectorConfig::description`] is fixed for a connector (it does not
///   depend on the tenant or the endpoint): mappings are compiled against
///   it before any source is built or any request sent.
/// - [`ConnectorConfig::build`] sends no request; [`Source::check`] does.
///
/// Used as `&dyn ConnectorConfig`, so it has no async methods.
pub trait ConnectorConfig: Send + Sync {
    /// What the connector reads and how its records are shaped.
    fn description(&self) -> SourceDescription;

    /// Builds the source that reads `tenant`'s data.
    fn build(&self, tenant: &str) -> Result<Arc<dyn Source>, Error>;

    /// The request(s) the connector sends to read one page of `stream`
    /// with `selection` (the mapping's, or the connector's default when
    /// `None`), as a person reads them: `cartage mapping query` prints it.
    fn describe_read(&self, stream: &str, selection: Option<&str>) -> Result<String, Error>;
}
