//! `prepare`: tables are created once, and grow the columns a mapping adds.

use std::sync::Arc;

use std::time::{Duration, Instant};

use cartage_core::{Column, ColumnType, ErrorKind, Row, SharedSchema, Sink, TableSchema, Value};
use cartage_sinks::Backend;
use cartage_sinks::config::{MysqlConfig, PostgresConfig};
use cartage_sinks::testing::{TestDatabase, TestSink};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

use crate::support::*;
use crate::{all_backends, all_sinks};

// The conformance suite: every sink, databases and files alike.
all_sinks!(prepare_creates_tables_and_is_idempotent, prepare_adds_a_declared_extra_column);

// Types as a database's catalog reports them.
all_backends!(
    a_changed_column_type_is_refused_before_anything_changes,
    a_column_type_the_catalog_reports_unchanged_is_accepted,
);

async fn prepare_creates_tables_and_is_idempotent(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    assert!(rows_in(&db, &orders_schema()).await.is_empty());
    assert!(rows_in(&db, &lines_schema()).await.is_empty());
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("read_state"), None);

    let at = ts(1_700_000_000, 1);
    sink.commit(batch(vec![(orders_schema(), vec![order("1", 1, "shipped", "10.00")])], 7, at))
        .await
        .expect("commit");
    // A second prepare (the next run) keeps tables, rows and state.
    sink.prepare(&[orders_schema(), lines_schema()], false).await.expect("second prepare");
    let mut again = db.sink().await;
    again
        .prepare(&[orders_schema(), lines_schema()], false)
        .await
        .expect("prepare on a new connection");
    assert_eq!(data_in(&db, &orders_schema()).await, vec![order("1", 1, "shipped", "10.00")]);
    assert_eq!(again.read_state(TENANT, "orders").await.expect("read_state"), Some(state(7)));
}

async fn prepare_adds_a_declared_extra_column(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    let at = ts(1_700_000_000, 0);
    sink.commit(batch(vec![(orders_schema(), vec![order("1", 1, "shipped", "10.00")])], 1, at))
        .await
        .expect("commit before the column exists");

    // The mapping now declares an extra column, not null in new rows.
    let mut wider: TableSchema = (*orders_schema()).clone();
    wider.columns.push(Column::new("gift_wrap_fee", ColumnType::Decimal, false));
    wider.columns.push(Column::new("channel", ColumnType::Text, true));
    let wider = Arc::new(wider);
    let mut sink = db.sink().await;
    sink.prepare(&[wider.clone(), lines_schema()], false)
        .await
        .expect("prepare with extra columns");

    let mut two = order("2", 2, "new", "5.50").0;
    two.push(Value::Decimal(dec("2.25")));
    two.push(Value::Text("b2b".into()));
    sink.commit(batch(vec![(wider.clone(), vec![Row(two.clone())])], 2, at)).await.expect("commit");

    let mut one = order("1", 1, "shipped", "10.00").0;
    one.push(Value::Null);
    one.push(Value::Null);
    assert_eq!(data_in(&db, &wider).await, vec![Row(one), Row(two)]);
    // The narrower schema still reads (and writes) the table.
    assert_eq!(data_in(&db, &orders_schema()).await.len(), 2);
}

/// `orders` with the extra column `channel` of type `ty`.
fn orders_with_channel(ty: ColumnType) -> SharedSchema {
    let mut schema: TableSchema = (*orders_schema()).clone();
    schema.columns.push(Column::new("channel", ty, true));
    Arc::new(schema)
}

fn channel_row(id: &str, channel: Value) -> Row {
    let mut row = order(id, 1, "new", "1.00").0;
    row.push(channel);
    Row(row)
}

/// Regression: a mapping that changed an extra column's type used to pass
/// `prepare`; SQLite then stored the new values beside the old ones of the
/// other type, PostgreSQL and MySQL failed every batch.
async fn a_changed_column_type_is_refused_before_anything_changes(db: TestDatabase) {
    let mut sink = db.sink().await;
    let text = orders_with_channel(ColumnType::Text);
    sink.prepare(std::slice::from_ref(&text), false).await.expect("prepare");
    let row = channel_row("1", Value::Text("web".into()));
    sink.commit(batch(vec![(text.clone(), vec![row.clone()])], 1, ts(1_700_000_000, 0)))
        .await
        .expect("commit");

    // A table the same prepare would create, listed first: still not created.
    let notes = Arc::new(TableSchema {
        name: "order_notes".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("note_id", ColumnType::Int, false),
        ],
        primary_key: vec!["tenant".into(), "note_id".into()],
        parent_key: None,
    });
    let mut sink = db.sink().await;
    let e = sink
        .prepare(&[notes.clone(), orders_with_channel(ColumnType::Decimal)], false)
        .await
        .expect_err("text -> decimal");
    assert_eq!(e.kind(), ErrorKind::Config, "exit code 2: fix the mapping or migrate");
    // MySQL's TEXT stops at 64 KiB: text columns are LONGTEXT there.
    let stored_text = if db.backend() == Backend::Mysql { "LONGTEXT" } else { "TEXT" };
    assert_eq!(
        e.message(),
        format!(
            "table orders column channel is stored as {stored_text} but the mapping now makes it decimal: migrate it (ALTER TABLE orders DROP COLUMN channel; the next run adds it as decimal and reads the stream again to fill it), or rename the column in the mapping"
        )
    );
    assert!(sink.read_table(&notes, TENANT).await.is_err(), "order_notes was not created");
    assert_eq!(data(&sink, &text).await, vec![row]);
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(1)));

    // The other way round names the stored type as the catalog does.
    let mut sink = db.sink().await;
    let decimal = Arc::new(TableSchema {
        name: "order_fees".into(),
        ..(*orders_with_channel(ColumnType::Decimal)).clone()
    });
    sink.prepare(&[decimal], false).await.expect("prepare order_fees");
    let e = sink
        .prepare(&[Arc::new(TableSchema { name: "order_fees".into(), ..(*text).clone() })], false)
        .await
        .expect_err("decimal -> text");
    let stored = match db.backend() {
        Backend::Sqlite => "DECIMAL_TEXT",
        Backend::Postgres => "NUMERIC",
        _ => "DECIMAL",
    };
    assert!(
        e.message().starts_with(&format!(
            "table order_fees column channel is stored as {stored} but the mapping now makes it text: "
        )),
        "{e}"
    );
}

/// Every type, as each backend's catalog reports it, passes the check.
async fn a_column_type_the_catalog_reports_unchanged_is_accepted(db: TestDatabase) {
    let mut schema: TableSchema = (*orders_schema()).clone();
    for (name, ty) in [
        ("x_text", ColumnType::Text),
        ("x_int", ColumnType::Int),
        ("x_bool", ColumnType::Bool),
        ("x_decimal", ColumnType::Decimal),
        ("x_timestamp", ColumnType::Timestamp),
        ("x_date", ColumnType::Date),
        ("x_json", ColumnType::Json),
    ] {
        schema.columns.push(Column::new(name, ty, true));
    }
    let schema = Arc::new(schema);
    let mut sink = db.sink().await;
    sink.prepare(&[schema.clone(), lines_schema()], true).await.expect("creating");
    let mut again = db.sink().await;
    again.prepare(&[schema, lines_schema()], true).await.expect("the same types again");
}

/// SQLite tables created before text-stored types had declared types of
/// their own say `TEXT` for decimals, timestamps, dates and JSON: they are
/// accepted as they are, and a column of another storage is still refused.
#[tokio::test]
async fn sqlite_tables_from_before_declared_text_types_are_accepted() {
    let db = TestDatabase::sqlite();
    let sink = db.sink().await;
    sink.connection()
        .execute_unprepared(
            "CREATE TABLE orders (tenant TEXT NOT NULL, order_id TEXT NOT NULL, \
             order_number BIGINT NOT NULL, status TEXT, on_hold BOOLEAN NOT NULL, \
             total_gross TEXT NOT NULL, created_at TEXT NOT NULL, ship_date TEXT, custom TEXT, \
             channel TEXT, _synced_at TEXT NOT NULL, _deleted_at TEXT, \
             PRIMARY KEY (tenant, order_id))",
        )
        .await
        .expect("an old table");
    let mut sink = db.sink().await;
    sink.prepare(&[orders_schema()], false).await.expect("old text-stored types");
    let e = sink
        .prepare(&[orders_with_channel(ColumnType::Int)], false)
        .await
        .expect_err("text -> integer");
    assert!(
        e.message().starts_with(
            "table orders column channel is stored as TEXT but the mapping now makes it integer"
        ),
        "{e}"
    );
}

/// `orders` with one more column, so `prepare` must alter the table.
fn orders_with_text_channel() -> cartage_core::SharedSchema {
    orders_with_channel(ColumnType::Text)
}

/// Regression: an `ALTER TABLE` queued behind a long report waited without
/// end, and the readers queued behind it with it.
async fn a_schema_change_behind_a_long_query_fails_clearly(
    db: TestDatabase,
    lock: &str,
    sink: cartage_sinks::DatabaseSink,
) {
    prepared(&db).await;
    // A reporting tool's open transaction that read the table.
    let reader = Database::connect(db.url()).await.expect("a second connection");
    let report = reader.begin().await.expect("begin");
    report.execute_unprepared(lock).await.expect("the report reads orders");

    let mut sink = sink;
    let started = Instant::now();
    let limit = Duration::from_secs(10);
    let result =
        tokio::time::timeout(limit, sink.prepare(&[orders_with_text_channel()], false)).await;
    let waited = started.elapsed();
    // End the report before asserting: a panic with the report open would
    // leave the test database's drop waiting on its lock.
    report.rollback().await.expect("the report ends");
    reader.close().await.expect("closing the second connection");
    let e = result.expect("prepare gave up waiting within seconds").expect_err("the table is held");
    assert!(waited < Duration::from_secs(5), "waited {waited:?} for the lock");
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(
        e.to_string().contains(
            "adding column channel to table orders: no lock on table orders was obtained within 1 s (lock timeout): another session holds a conflicting lock"
        ),
        "{e}"
    );
    // Once the report ends, the change goes through.
    sink.prepare(&[orders_with_text_channel()], false).await.expect("prepare after the report");
}

#[tokio::test]
async fn postgres_schema_change_behind_a_long_query_fails_clearly() {
    let db = TestDatabase::postgres().await;
    let config = PostgresConfig { lock_timeout_secs: 1, ..PostgresConfig::new(db.url()) };
    let sink = config.connect().await.expect("connect");
    a_schema_change_behind_a_long_query_fails_clearly(
        db,
        "LOCK TABLE orders IN ACCESS SHARE MODE",
        sink,
    )
    .await;
}

#[tokio::test]
async fn mysql_schema_change_behind_a_long_query_fails_clearly() {
    let db = TestDatabase::mysql().await;
    let config = MysqlConfig { lock_timeout_secs: 1, ..MysqlConfig::new(db.url()) };
    let sink = config.connect().await.expect("connect");
    a_schema_change_behind_a_long_query_fails_clearly(db, "SELECT COUNT(*) FROM orders", sink)
        .await;
}
