//! Schemas, rows and helpers shared by the scenarios.

use std::str::FromStr;
use std::sync::Arc;

use cartage_core::{
    Column, ColumnType, CommitBatch, Row, SharedSchema, Sink, StreamState, TableRows, TableSchema,
    Value,
};
use cartage_sinks::testing::TestSink;
use cartage_sinks::{DatabaseSink, StoredRow};
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

/// Generates one `#[tokio::test]` per backend for an
/// `async fn scenario(db: TestDatabase)`.
#[macro_export]
macro_rules! all_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use cartage_sinks::testing::TestDatabase;

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(TestDatabase::sqlite()).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$scenario(TestDatabase::postgres().await).await
            }

            #[tokio::test]
            async fn mysql() {
                super::$scenario(TestDatabase::mysql().await).await
            }
        }
    )*};
}

/// Generates one `#[tokio::test]` per sink (databases and files) for an
/// `async fn scenario(t: TestSink)`: the conformance suite every sink passes.
#[macro_export]
macro_rules! all_sinks {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use cartage_sinks::testing::{SinkUnderTest, TestSink};

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(TestSink::new(SinkUnderTest::Sqlite).await).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$scenario(TestSink::new(SinkUnderTest::Postgres).await).await
            }

            #[tokio::test]
            async fn mysql() {
                super::$scenario(TestSink::new(SinkUnderTest::Mysql).await).await
            }

            #[tokio::test]
            async fn jsonl() {
                super::$scenario(TestSink::new(SinkUnderTest::Jsonl).await).await
            }

            #[tokio::test]
            async fn csv() {
                super::$scenario(TestSink::new(SinkUnderTest::Csv).await).await
            }

            #[tokio::test]
            async fn parquet() {
                super::$scenario(TestSink::new(SinkUnderTest::Parquet).await).await
            }
        }
    )*};
}

pub const TENANT: &str = "acme";

pub fn orders_schema() -> SharedSchema {
    Arc::new(TableSchema {
        name: "orders".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("order_id", ColumnType::Text, false),
            Column::new("order_number", ColumnType::Int, false),
            Column::new("status", ColumnType::Text, true),
            Column::new("on_hold", ColumnType::Bool, false),
            Column::new("total_gross", ColumnType::Decimal, false),
            Column::new("created_at", ColumnType::Timestamp, false),
            Column::new("ship_date", ColumnType::Date, true),
            Column::new("custom", ColumnType::Json, true),
        ],
        primary_key: vec!["tenant".into(), "order_id".into()],
        parent_key: None,
    })
}

pub fn lines_schema() -> SharedSchema {
    Arc::new(lines_schema_with_sku_nullable(true))
}

pub fn lines_schema_with_sku_nullable(nullable: bool) -> TableSchema {
    TableSchema {
        name: "order_lines".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("order_id", ColumnType::Text, false),
            Column::new("line_id", ColumnType::Int, false),
            Column::new("sku", ColumnType::Text, nullable),
            Column::new("quantity", ColumnType::Int, false),
            Column::new("unit_price", ColumnType::Decimal, false),
        ],
        primary_key: vec!["tenant".into(), "order_id".into(), "line_id".into()],
        parent_key: Some(vec!["tenant".into(), "order_id".into()]),
    }
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test decimal")
}

pub fn ts(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, micros * 1000).single().expect("test timestamp")
}

pub fn order(id: &str, number: i64, status: &str, total: &str) -> Row {
    Row(vec![
        Value::Text(TENANT.into()),
        Value::Text(id.into()),
        Value::Int(number),
        Value::Text(status.into()),
        Value::Bool(false),
        Value::Decimal(dec(total)),
        Value::Timestamp(ts(1_700_000_000 + number, 123_456)),
        Value::Null,
        Value::Null,
    ])
}

pub fn line(order_id: &str, line_id: i64, sku: &str, quantity: i64) -> Row {
    Row(vec![
        Value::Text(TENANT.into()),
        Value::Text(order_id.into()),
        Value::Int(line_id),
        Value::Text(sku.into()),
        Value::Int(quantity),
        Value::Decimal(dec("19.90")),
    ])
}

pub fn batch(
    tables: Vec<(SharedSchema, Vec<Row>)>,
    cursor: i64,
    synced_at: DateTime<Utc>,
) -> CommitBatch {
    CommitBatch {
        tenant: TENANT.into(),
        stream: "orders".into(),
        tables: tables.into_iter().map(|(schema, rows)| TableRows { schema, rows }).collect(),
        deleted: Vec::new(),
        state: state(cursor),
        synced_at,
        snapshot: None,
    }
}

pub fn state(cursor: i64) -> StreamState {
    StreamState(serde_json::json!({ "cursor": cursor, "phase": "incremental" }))
}

/// A connected database sink with `orders` and `order_lines` prepared.
pub async fn prepared(db: &cartage_sinks::testing::TestDatabase) -> DatabaseSink {
    let mut sink = db.sink().await;
    sink.prepare(&[orders_schema(), lines_schema()], false).await.expect("prepare");
    sink
}

/// An open sink of any kind with `orders` and `order_lines` prepared.
pub async fn prepared_sink(t: &TestSink) -> Box<dyn Sink> {
    let mut sink = t.sink().await;
    sink.prepare(&[orders_schema(), lines_schema()], false).await.expect("prepare");
    sink
}

pub async fn rows(sink: &DatabaseSink, schema: &TableSchema) -> Vec<StoredRow> {
    sink.read_table(schema, TENANT).await.expect("read_table")
}

pub async fn data(sink: &DatabaseSink, schema: &TableSchema) -> Vec<Row> {
    rows(sink, schema).await.into_iter().map(|r| r.row).collect()
}

/// What any sink's readers see of `TENANT`'s rows of a table.
pub async fn rows_in(t: &TestSink, schema: &TableSchema) -> Vec<StoredRow> {
    t.read_table(schema, TENANT).await
}

pub async fn data_in(t: &TestSink, schema: &TableSchema) -> Vec<Row> {
    rows_in(t, schema).await.into_iter().map(|r| r.row).collect()
}
