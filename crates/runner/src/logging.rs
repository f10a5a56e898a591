//! Log setup: human-readable lines by default, JSON with `--log-format json`.

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Whether logs are JSON lines (then errors are reported as log lines too).
pub fn is_json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: info for Cartage's
/// own crates, warn for dependencies).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let mut directives = String::from(
            "warn,cartage=info,cartage_core=info,cartage_runner=info,cartage_sinks=info,\
             cartage_mapping=info",
        );
        for connector in crate::registry::CONNECTORS {
            directives.push_str(&format!(",{}=info", connector.log_target));
        }
        EnvFilter::new(directives)
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_target(false).init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}
