//! `cartage demo`: the Centra simulator in-process, synced into SQLite:
//! orders, inventory, purchase orders and deliveries.
//!
//! The demo goes through exactly the code a real sync uses: the simulator
//! listens on a loopback port and the Centra connector talks HTTP to it.

use std::path::Path;

use centra_sim::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

use crate::Outcome;
use crate::config::{Connection, SourceConfig};
use crate::sync::{self, report_error};

/// Starts the simulator with `orders` demo orders and syncs them into `db`.
pub async fn run(db: &Path, orders: u64, cancel: CancellationToken) -> Outcome {
    let sim = Simulator::new(SimConfig { orders, ..SimConfig::default() });
    let running = match sim.serve(([127, 0, 0, 1], 0).into()).await {
        Ok(running) => running,
        Err(e) => {
            report_error(&format!("cannot start the Centra simulator: {e}"));
            return Outcome::Failed;
        }
    };
    println!("Centra simulator with {orders} orders at {}", running.graphql_url);
    println!("Syncing into {}", db.display());

    let source_yaml =
        // The simulator's clock starts at 2026-03-01: trust it however far
        // it is from ours (ten years).
        format!(
            "type: centra\nendpoint: {}\ntoken: {}\nmax_clock_skew_secs: 315360000\n",
            running.graphql_url, running.token
        );
    let connection = match demo_connection(&source_yaml, db) {
        Ok(connection) => connection,
        Err(message) => {
            report_error(&message);
            running.shutdown().await;
            return Outcome::Failed;
        }
    };
    let outcome = sync::run_connections(vec![connection], sync::Options::default(), cancel).await;
    running.shutdown().await;
    if matches!(outcome, Outcome::Done) {
        println!(
            "Done. Look inside: sqlite3 {} 'select status, count(*) from orders group by 1' (also: order_lines, inventory_levels, purchase_orders, indeliveries, indelivery_lines)",
            db.display()
        );
    }
    outcome
}

fn demo_connection(source_yaml: &str, db: &Path) -> Result<Connection, String> {
    let source: SourceConfig = serde_yaml::from_str(source_yaml)
        .map_err(|e| format!("internal error: demo source configuration: {e}"))?;
    let sink = serde_yaml::from_str(&format!("type: sqlite\nurl: sqlite://{}\n", db.display()))
        .map_err(|e| format!("internal error: demo sink configuration: {e}"))?;
    Ok(Connection {
        tenant: "demo".to_owned(),
        source,
        mappings: vec![
            crate::mapping::BUILTIN_DEFAULT.into(),
            crate::mapping::BUILTIN_SUPPLY.into(),
        ],
        sink,
        streams: Some(
            ["orders", "inventory", "purchase_orders", "indeliveries"].map(str::to_owned).to_vec(),
        ),
    })
}
