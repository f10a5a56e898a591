//! Times a snapshot of stock levels: staging it in batches, and the swap.
//!
//! `cargo run -p cartage-sinks --features testing --example snapshot_swap -- [backend] [rows]`
//! (backend `sqlite`, `postgres` or `mysql`, default `sqlite`; rows default
//! 1,000,000). Runs two snapshots into a fresh test database: the first
//! inserts every row, the second lacks every tenth row (marked deleted) and
//! changes the rest. Prints the time of the staging commits and of the
//! commit that swaps.

use std::sync::Arc;
use std::time::Instant;

use cartage_core::{
    Column, ColumnType, CommitBatch, Row, Sink, SnapshotPart, StreamState, TableRows, TableSchema,
    Value,
};
use cartage_sinks::Backend;
use cartage_sinks::testing::TestDatabase;
use chrono::Utc;

const BATCH_ROWS: usize = 5_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let backend = match args.next().as_deref() {
        None | Some("sqlite") => Backend::Sqlite,
        Some("postgres") => Backend::Postgres,
        Some("mysql") => Backend::Mysql,
        Some(other) => panic!("unknown backend {other} (sqlite, postgres or mysql)"),
    };
    let rows: i64 = args.next().map_or(1_000_000, |n| n.parse().expect("a row count"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(backend, rows));
}

async fn run(backend: Backend, rows: i64) {
    let schema = Arc::new(TableSchema {
        name: "inventory_levels".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("warehouse", ColumnType::Text, false),
            Column::new("size_id", ColumnType::Int, false),
            Column::new("available", ColumnType::Int, true),
            Column::new("incoming", ColumnType::Int, true),
        ],
        primary_key: vec!["tenant".into(), "warehouse".into(), "size_id".into()],
        parent_key: None,
    });
    let db = TestDatabase::new(backend).await;
    let mut sink = db.sink().await;
    sink.prepare(&[Arc::clone(&schema)], true).await.expect("prepare");

    for (round, keep) in [(0i64, 1i64), (1, 10)] {
        let wanted: Vec<i64> = (0..rows).filter(|i| keep == 1 || i % keep != 0).collect();
        let parts: Vec<&[i64]> = wanted.chunks(BATCH_ROWS).collect();
        let started = Instant::now();
        for (i, part) in parts.iter().enumerate() {
            let rows = part
                .iter()
                .map(|&n| {
                    Row(vec![
                        Value::Text("acme".into()),
                        Value::Text(format!("W{:03}", n % 100)),
                        Value::Int(n),
                        Value::Int(n % 50 + round),
                        Value::Null,
                    ])
                })
                .collect();
            let part = SnapshotPart { first: i == 0, last: false };
            sink.commit(batch(&schema, rows, part, i)).await.expect("staging commit");
        }
        let staged = started.elapsed();
        let started = Instant::now();
        let stats = sink
            .commit(batch(&schema, Vec::new(), SnapshotPart::LAST, parts.len()))
            .await
            .expect("swapping commit");
        println!(
            "{} snapshot {}: {} rows staged in {} commits in {:.2?}, swapped in {:.2?} ({} marked deleted)",
            backend.name(),
            round + 1,
            wanted.len(),
            parts.len(),
            staged,
            started.elapsed(),
            stats.deleted.first().map_or(0, |(_, n)| *n),
        );
    }
}

fn batch(schema: &Arc<TableSchema>, rows: Vec<Row>, part: SnapshotPart, n: usize) -> CommitBatch {
    CommitBatch {
        tenant: "acme".into(),
        stream: "inventory".into(),
        tables: vec![TableRows { schema: Arc::clone(schema), rows }],
        deleted: Vec::new(),
        state: StreamState(serde_json::json!({ "part": n })),
        synced_at: Utc::now(),
        snapshot: Some(part),
    }
}
