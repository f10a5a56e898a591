//! `cartage demo`: a connector's simulator in-process, synced into SQLite
//! (for Centra: orders, inventory, purchase orders and deliveries).
//!
//! The demo goes through exactly the code a real sync uses: the simulator
//! listens on a loopback port and the connector talks HTTP to it. The
//! simulators are linked only into builds with the `demo` feature.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::Outcome;
use crate::sync::report_error;

/// Starts the simulator of `source` (default: the first connector) with
/// `orders` demo orders and syncs it into `db`.
#[cfg(feature = "demo")]
pub async fn run(
    source: Option<&str>,
    db: &Path,
    orders: u64,
    cancel: CancellationToken,
) -> Outcome {
    use crate::config::Connection;
    use crate::registry::{self, SimulatorOptions};
    use crate::sync;

    let name = source.unwrap_or(registry::CONNECTORS[0].name);
    if registry::find(name).is_none() {
        report_error(&format!("unknown connector {name:?} (known: {})", registry::names()));
        return Outcome::BadConfig;
    }
    let options = SimulatorOptions { profile: None, orders: Some(orders), page_size: None };
    let running = match registry::start_simulator(name, options).await {
        Ok(running) => running,
        Err(e) => {
            report_error(&e);
            return Outcome::Failed;
        }
    };
    println!("{name} simulator with {orders} orders at {}", running.url);
    println!("Syncing into {}", db.display());
    let sink =
        match serde_yaml::from_str(&format!("type: sqlite\nurl: sqlite://{}\n", db.display())) {
            Ok(sink) => sink,
            Err(e) => {
                report_error(&format!("internal error: demo sink configuration: {e}"));
                running.shutdown().await;
                return Outcome::Failed;
            }
        };
    let registry::RunningSimulator { source, mappings, streams, stopper, .. } = running;
    let connection = Connection {
        tenant: "demo".to_owned(),
        source,
        mappings: mappings.into_iter().map(Into::into).collect(),
        sink,
        streams: Some(streams.clone()),
    };
    let outcome = sync::run_connections(vec![connection], sync::Options::default(), cancel).await;
    stopper.shutdown().await;
    if matches!(outcome, Outcome::Done) {
        println!(
            "Done. Look inside: sqlite3 {} 'select status, count(*) from orders group by 1' (the streams synced: {})",
            db.display(),
            streams.join(", ")
        );
    }
    outcome
}

/// Without the `demo` feature there is no simulator to run.
#[cfg(not(feature = "demo"))]
pub async fn run(
    source: Option<&str>,
    db: &Path,
    orders: u64,
    cancel: CancellationToken,
) -> Outcome {
    let _ = (source, db, orders, cancel);
    report_error("this cartage was built without simulators: rebuild with `--features demo`");
    Outcome::BadConfig
}
