//! Measures the orders stream alone: starts the simulator in-process on the
//! unlimited tier and backfills it, printing orders/s and the client's counters.
//!
//! `cargo run --release -p connector-centra --example backfill -- [ORDERS] [PAGE_SIZE]`

use std::time::Instant;

use cartage_core::{ReadRequest, Source, SourceBatch, StreamState};
use centra_sim::{SimConfig, Simulator};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let orders: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let page_size: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let sim = Simulator::new(SimConfig {
        orders,
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..SimConfig::default()
    });
    let running = sim
        .serve("127.0.0.1:0".parse().expect("literal address"))
        .await
        .expect("serve the simulator");
    // The simulator's clock starts at 2026-03-01: trust it however far it is from ours.
    let config = serde_json::json!({"endpoint": running.graphql_url, "token": running.token, "page_size": page_size, "max_clock_skew_secs": 315_360_000});
    let source = serde_json::from_value::<connector_centra::CentraConfig>(config)
        .expect("valid config")
        .build("bench")
        .expect("valid source");

    let (tx, mut rx) = mpsc::channel::<SourceBatch>(2);
    let request = ReadRequest {
        tenant: "bench".into(),
        stream: "orders".into(),
        selection: None,
        state: None::<StreamState>,
        cancel: CancellationToken::new(),
        // Nothing commits here: deletion events (off by default) stay queued.
        committed: cartage_core::Committed::channel().1,
    };
    let started = Instant::now();
    let drain = async move {
        let (mut records, mut bytes) = (0u64, 0u64);
        while let Some(batch) = rx.recv().await {
            records += batch.records.len() as u64;
            bytes += batch.records.iter().map(|r| r.json().len() as u64).sum::<u64>();
        }
        (records, bytes)
    };
    let (summary, (records, bytes)) = tokio::join!(source.read(request, tx), drain);
    let elapsed = started.elapsed();
    let summary = summary.expect("the backfill succeeds");
    println!(
        "{records} orders ({:.1} MB of JSON) in {elapsed:.2?}: {:.0} orders/s, {} requests, {} retries",
        bytes as f64 / 1e6,
        records as f64 / elapsed.as_secs_f64(),
        summary.requests,
        summary.retries
    );
    running.shutdown().await;
}
