//! Commit throughput of the SQLite sink: one batch of 200 orders and 900
//! order lines (22 and 19 columns, as the data model's tables) per commit,
//! into a file database in WAL mode.
//!
//! `insert`: every batch brings new orders (a backfill). `update`: the same
//! orders again with changed values (an incremental run re-reading them).
//! Throughput in elements is rows (1,100 per batch).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cartage_core::{
    Column, ColumnType, CommitBatch, Row, SharedSchema, Sink, StreamState, TableRows, TableSchema,
    Value,
};
use cartage_sinks::testing::TestDatabase;
use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;

const ORDERS: usize = 200;
const LINES: usize = 900;

fn col(name: &str, ty: ColumnType) -> Column {
    Column::new(name, ty, true)
}

fn orders_schema() -> SharedSchema {
    use ColumnType::*;
    let mut columns =
        vec![Column::new("tenant", Text, false), Column::new("order_id", Text, false)];
    columns.extend(
        [
            ("order_number", Int),
            ("store_type", Text),
            ("status", Text),
            ("on_hold", Bool),
            ("currency", Text),
            ("market", Text),
            ("pricelist", Text),
            ("country", Text),
            ("customer_id", Text),
            ("customer_email", Text),
            ("account_id", Text),
            ("created_at", Timestamp),
            ("updated_at", Timestamp),
            ("total_gross", Decimal),
            ("total_items", Decimal),
            ("total_shipping", Decimal),
            ("total_discount", Decimal),
            ("total_tax", Decimal),
            ("base_currency_rate", Decimal),
            ("custom", Json),
        ]
        .map(|(n, t)| col(n, t)),
    );
    Arc::new(TableSchema {
        name: "orders".into(),
        columns,
        primary_key: vec!["tenant".into(), "order_id".into()],
        parent_key: None,
    })
}

fn lines_schema() -> SharedSchema {
    use ColumnType::*;
    let mut columns = vec![
        Column::new("tenant", Text, false),
        Column::new("order_id", Text, false),
        Column::new("line_id", Text, false),
    ];
    columns.extend(
        [
            ("sku", Text),
            ("ean", Text),
            ("product_id", Text),
            ("variant_id", Text),
            ("size_id", Text),
            ("size_label", Text),
            ("product_name", Text),
            ("quantity", Int),
            ("cancelled_quantity", Int),
            ("returned_quantity", Int),
            ("unit_price", Decimal),
            ("unit_original_price", Decimal),
            ("line_total", Decimal),
            ("discount_percent", Decimal),
            ("tax_percent", Decimal),
            ("custom", Json),
        ]
        .map(|(n, t)| col(n, t)),
    );
    Arc::new(TableSchema {
        name: "order_lines".into(),
        columns,
        primary_key: vec!["tenant".into(), "order_id".into(), "line_id".into()],
        parent_key: Some(vec!["tenant".into(), "order_id".into()]),
    })
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::from_str(s).unwrap_or_default())
}

fn ts(secs: i64) -> Value {
    Value::Timestamp(at(secs))
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 123_456_000).single().unwrap_or_default()
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Batch `n`: orders `n*200 ..`, or the same orders again when `update`.
fn make_batch(n: usize, version: i64, orders: &SharedSchema, lines: &SharedSchema) -> CommitBatch {
    let mut order_rows = Vec::with_capacity(ORDERS);
    let mut line_rows = Vec::with_capacity(LINES);
    for i in 0..ORDERS {
        let id = format!("{}", n * ORDERS + i);
        order_rows.push(Row(vec![
            text("acme"),
            text(id.clone()),
            Value::Int((n * ORDERS + i) as i64),
            text("dtc"),
            text(if version % 2 == 0 { "shipped" } else { "confirmed" }),
            Value::Bool(false),
            text("SEK"),
            text("Sweden"),
            text("SEK retail"),
            text("SE"),
            text(format!("cust-{i}")),
            text(format!("customer{i}@example.com")),
            Value::Null,
            ts(1_700_000_000 + i as i64),
            ts(1_700_000_000 + version),
            dec("1249.50"),
            dec("1100.00"),
            dec("49.00"),
            dec("-50.00"),
            dec("249.90"),
            dec("0.0912"),
            Value::Json(serde_json::json!({ "gift": i % 3 == 0, "channel": "web" })),
        ]));
    }
    for l in 0..LINES {
        let order = n * ORDERS + l % ORDERS;
        line_rows.push(Row(vec![
            text("acme"),
            text(format!("{order}")),
            text(format!("{}", l / ORDERS)),
            text(format!("SKU-{l:06}")),
            text("7350000000000"),
            text(format!("{}", l % 50)),
            text(format!("{}", l % 70)),
            text(format!("{}", l % 7)),
            text("M"),
            text("Organic cotton t-shirt"),
            Value::Int(2),
            Value::Int(0),
            Value::Int(version % 2),
            dec("249.00"),
            dec("299.00"),
            dec("498.00"),
            dec("16.72"),
            dec("25"),
            Value::Null,
        ]));
    }
    CommitBatch {
        tenant: "acme".into(),
        stream: "orders".into(),
        tables: vec![
            TableRows { schema: orders.clone(), rows: order_rows },
            TableRows { schema: lines.clone(), rows: line_rows },
        ],
        deleted: Vec::new(),
        state: StreamState(serde_json::json!({ "cursor": n, "version": version })),
        synced_at: at(1_800_000_000 + version),
        snapshot: None,
    }
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let orders = orders_schema();
    let lines = lines_schema();
    let db = TestDatabase::sqlite();
    let mut sink = rt.block_on(db.sink());
    rt.block_on(sink.prepare(&[orders.clone(), lines.clone()], false))
        .unwrap_or_else(|e| panic!("prepare: {e}"));

    let mut group = c.benchmark_group("sqlite_commit");
    group.throughput(Throughput::Elements((ORDERS + LINES) as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(15));

    let mut next = 0;
    group.bench_function("insert_200_orders_900_lines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = make_batch(next, 0, &orders, &lines);
                next += 1;
                let start = Instant::now();
                rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
                total += start.elapsed();
            }
            total
        })
    });

    let mut version = 1;
    group.bench_function("update_200_orders_900_lines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = make_batch(0, version, &orders, &lines);
                version += 1;
                let start = Instant::now();
                rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();

    // CPU per order: criterion measures wall time, which on a shared machine
    // includes waiting; this sums the CPU time of all the process's threads
    // (the tokio thread and SQLite's worker) over commits of pre-built
    // batches.
    let batches: Vec<CommitBatch> =
        (0..CPU_BATCHES).map(|i| make_batch(next + i, 0, &orders, &lines)).collect();
    let (cpu0, wall0) = (process_cpu(), Instant::now());
    for batch in batches {
        rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
    }
    let (cpu, wall) = (process_cpu().saturating_sub(cpu0), wall0.elapsed());
    let rows = (CPU_BATCHES * (ORDERS + LINES)) as f64;
    let orders_n = (CPU_BATCHES * ORDERS) as f64;
    println!(
        "sqlite_commit/cpu: {CPU_BATCHES} commits of {ORDERS} orders + {LINES} lines: \
         {:.0} rows/s, {:.0} orders/s wall; CPU {:.2} us/row, {:.1} us/order",
        rows / wall.as_secs_f64(),
        orders_n / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / rows,
        cpu.as_secs_f64() * 1e6 / orders_n,
    );
}

const CPU_BATCHES: usize = 40;

/// CPU time of every thread of this process so far (Linux `schedstat`).
fn process_cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total +=
                stat.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

criterion_group!(benches, commit);
criterion_main!(benches);
