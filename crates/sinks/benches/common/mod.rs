//! What the sink benches share: the data model's `orders` and
//! `order_lines` tables and batches of 200 orders and 900 lines.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cartage_core::{
    Column, ColumnType, CommitBatch, Row, SharedSchema, StreamState, TableRows, TableSchema, Value,
};
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

pub const ORDERS: usize = 200;
pub const LINES: usize = 900;

fn col(name: &str, ty: ColumnType) -> Column {
    Column::new(name, ty, true)
}

pub fn orders_schema() -> SharedSchema {
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

pub fn lines_schema() -> SharedSchema {
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
pub fn make_batch(
    n: usize,
    version: i64,
    orders: &SharedSchema,
    lines: &SharedSchema,
) -> CommitBatch {
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

/// CPU time of every thread of this process so far (Linux `schedstat`).
pub fn process_cpu() -> Duration {
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
