//! The registry: the one place that lists Cartage's source connectors.
//!
//! Adding a connector: a folder under `connectors/`, a variant of
//! [`SourceConfig`] and an entry in [`CONNECTORS`] (its description, its
//! built-in mappings, its log target and, for `demo` builds, its
//! simulator). Nothing else in the runner names a connector.

use cartage_core::{ConnectorConfig, SourceDescription};
use connector_centra::CentraConfig;
use serde::Deserialize;

/// Every source Cartage knows: one variant per connector, tagged by the
/// connector's name (`type: centra`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Centra's GraphQL Integration API (`connectors/centra`).
    Centra(CentraConfig),
}

impl SourceConfig {
    /// The connector behind this configuration; the only match on the
    /// source type.
    pub fn connector(&self) -> &dyn ConnectorConfig {
        match self {
            SourceConfig::Centra(c) => c,
        }
    }

    /// The connector's description (what its mappings compile against).
    pub fn description(&self) -> SourceDescription {
        self.connector().description()
    }
}

/// What the runner knows of a connector before any configuration names it.
pub struct Connector {
    /// The name in `type:` and in a mapping's `source:`.
    pub name: &'static str,
    pub description: fn() -> SourceDescription,
    /// The request one page of a stream sends (see
    /// [`ConnectorConfig::describe_read`]), `None` for an unknown stream.
    pub describe_read: fn(&str, Option<&str>) -> Option<String>,
    /// Mapping files built into the binary, as `(name, text)`: usable as
    /// `builtin:<name>` without the `mappings/` folder at hand.
    pub builtin_mappings: &'static [(&'static str, &'static str)],
    /// The crate's tracing target, logged at `info` by default.
    pub log_target: &'static str,
}

/// The connectors, in the order help texts list them.
pub const CONNECTORS: &[Connector] = &[Connector {
    name: connector_centra::CONNECTOR,
    description: connector_centra::description,
    describe_read: connector_centra::describe_read,
    builtin_mappings: &[
        ("centra/default.yaml", include_str!("../../../mappings/centra/default.yaml")),
        ("centra/supply.yaml", include_str!("../../../mappings/centra/supply.yaml")),
    ],
    log_target: "connector_centra",
}];

/// The connector called `name`.
pub fn find(name: &str) -> Option<&'static Connector> {
    CONNECTORS.iter().find(|c| c.name == name)
}

/// The names of all connectors, for messages.
pub fn names() -> String {
    CONNECTORS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// The text of a built-in mapping (`builtin:` stripped).
pub fn builtin_mapping(name: &str) -> Option<&'static str> {
    CONNECTORS.iter().flat_map(|c| c.builtin_mappings).find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A connector's simulator serving on a loopback port, and a source
/// configuration that reads it.
#[cfg(feature = "demo")]
pub struct RunningSimulator {
    pub source: SourceConfig,
    /// The URL the connector reads, for messages.
    pub url: String,
    /// The mappings that fill every stream the demo syncs.
    pub mappings: Vec<String>,
    /// The streams the demo syncs.
    pub streams: Vec<String>,
    pub stopper: Stopper,
}

#[cfg(feature = "demo")]
impl RunningSimulator {
    pub async fn shutdown(self) {
        self.stopper.shutdown().await;
    }
}

/// Stops a running simulator.
#[cfg(feature = "demo")]
pub struct Stopper(Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>);

#[cfg(feature = "demo")]
impl Stopper {
    pub async fn shutdown(self) {
        (self.0)().await;
    }
}

/// What a simulator is started with.
#[cfg(feature = "demo")]
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// The data profile (each simulator lists its own).
    pub profile: Option<String>,
    /// Orders generated at start.
    pub orders: Option<u64>,
    /// The connector's page size, when the caller wants small pages.
    pub page_size: Option<usize>,
}

/// Starts the simulator of `connector`.
#[cfg(feature = "demo")]
pub async fn start_simulator(
    connector: &str,
    options: SimulatorOptions,
) -> Result<RunningSimulator, String> {
    match connector {
        connector_centra::CONNECTOR => {
            let mut config = centra_sim::SimConfig::default();
            if let Some(profile) = options.profile {
                config.profile = profile;
            }
            if let Some(orders) = options.orders {
                config.orders = orders;
            }
            let running = centra_sim::Simulator::new(config)
                .serve(([127, 0, 0, 1], 0).into())
                .await
                .map_err(|e| format!("cannot start the Centra simulator: {e}"))?;
            let page = options.page_size.map(|p| format!("page_size: {p}\n")).unwrap_or_default();
            // The simulator's clock starts at 2026-03-01: trust it however
            // far it is from ours (ten years).
            let yaml = format!(
                "type: centra\nendpoint: {}\ntoken: {}\n{page}max_clock_skew_secs: 315360000\n",
                running.graphql_url, running.token
            );
            let source: SourceConfig = serde_yaml::from_str(&yaml)
                .map_err(|e| format!("internal error: simulator source configuration: {e}"))?;
            let url = running.graphql_url.clone();
            Ok(RunningSimulator {
                source,
                url,
                // Every built-in mapping, filling every stream the connector reads.
                mappings: find(connector)
                    .map(|c| {
                        c.builtin_mappings.iter().map(|(n, _)| format!("builtin:{n}")).collect()
                    })
                    .unwrap_or_default(),
                streams: connector_centra::description()
                    .stream_names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                stopper: Stopper(Box::new(move || Box::pin(running.shutdown()))),
            })
        }
        other => Err(format!("no connector {other:?} (known: {})", names())),
    }
}
