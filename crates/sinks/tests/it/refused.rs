//! Values a database refuses, or would store altered: refused before the
//! transaction opens with an error naming table, column and key (the
//! pipeline asks [`cartage_core::Sink::row_check`] first, so a mapping's
//! `on_error` decides); nothing is rounded or cut; long text is kept whole.

use cartage_core::{ErrorKind, Row, Sink, Value};
use cartage_sinks::testing::TestDatabase;
use chrono::NaiveDate;

use crate::all_backends;
use crate::support::*;

all_backends!(long_text_is_stored_intact, a_value_refused_at_commit_names_table_and_key);

/// `order(id, ...)` with `value` in column `column` of the orders schema.
fn order_with(id: &str, column: &str, value: Value) -> Row {
    let mut row = order(id, 2, "new", "1.00");
    let i = orders_schema().column_index(column).expect("a column of orders");
    row.0[i] = value;
    row
}

/// Commits `bad` between two good orders; expects the commit refused with
/// `reason` (after the key) and nothing written: not the good rows, not the
/// state.
async fn assert_refused(db: TestDatabase, column: &str, bad: Value, reason: &str) {
    let mut sink = prepared(&db).await;
    let check = sink.row_check().expect("a server sink checks rows");
    let bad_row = order_with("o-2", column, bad);
    let expected = format!(r#"table orders, column {column}, key ("acme", "o-2"): {reason}"#);
    assert_eq!(check.check(&orders_schema(), &bad_row), Err(expected.clone()));
    assert_eq!(check.check(&orders_schema(), &order("o-1", 1, "new", "1.00")), Ok(()));

    let rows = vec![order("o-1", 1, "new", "1.00"), bad_row, order("o-3", 3, "new", "3.00")];
    let e = sink
        .commit(batch(vec![(orders_schema(), rows)], 1, ts(1_700_000_000, 0)))
        .await
        .expect_err("a value the database cannot store");
    assert_eq!(e.kind(), ErrorKind::Data, "{e}");
    assert_eq!(e.to_string(), format!("data error: {expected}"));
    assert!(data(&sink, &orders_schema()).await.is_empty(), "nothing of the batch is written");
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), None);
}

/// PostgreSQL refuses NUL in text (`invalid byte sequence for encoding
/// "UTF8": 0x00`), and so refused the whole batch on every retry.
#[tokio::test]
async fn postgres_refuses_nul_in_text_naming_table_column_and_key() {
    let db = TestDatabase::postgres().await;
    let reason = r"text holds a NUL character (\0), which PostgreSQL cannot store";
    assert_refused(db, "status", Value::Text("new\0".into()), reason).await;
}

#[tokio::test]
async fn postgres_refuses_nul_in_json() {
    let db = TestDatabase::postgres().await;
    let reason = r"JSON holds a NUL character (\u0000), which PostgreSQL cannot store in jsonb";
    let custom = Value::Json(serde_json::json!({ "note": "a\u{0}b" }));
    assert_refused(db, "custom", custom, reason).await;
}

/// Regression: MySQL rounded a 13th fraction digit away silently.
#[tokio::test]
async fn mysql_refuses_a_decimal_it_would_round() {
    let db = TestDatabase::mysql().await;
    let reason = "decimal 0.0000000000001 has 13 digits after the point; MySQL's DECIMAL(38,12) keeps 12 and would round it";
    assert_refused(db, "total_gross", Value::Decimal(dec("0.0000000000001")), reason).await;
}

#[tokio::test]
async fn mysql_refuses_a_decimal_too_large_for_its_column() {
    let db = TestDatabase::mysql().await;
    let reason = "decimal 123456789012345678901234567 has 27 digits before the point; MySQL's DECIMAL(38,12) holds 26";
    let total = Value::Decimal(dec("123456789012345678901234567"));
    assert_refused(db, "total_gross", total, reason).await;
}

#[tokio::test]
async fn mysql_refuses_a_date_before_year_1000() {
    let db = TestDatabase::mysql().await;
    let reason = "date 0999-12-31 is outside the years 1000 to 9999 that MySQL's DATE holds";
    let day = NaiveDate::from_ymd_opt(999, 12, 31).expect("a date");
    assert_refused(db, "ship_date", Value::Date(day), reason).await;
}

#[tokio::test]
async fn mysql_refuses_a_key_longer_than_its_column() {
    let db = TestDatabase::mysql().await;
    let mut sink = prepared(&db).await;
    let check = sink.row_check().expect("a server sink checks rows");
    let long = "k".repeat(192);
    let e = check.check(&orders_schema(), &order(&long, 1, "new", "1.00")).expect_err("too long");
    assert!(
        e.starts_with(r#"table orders, column order_id, key ("acme", "kkkk"#)
            && e.ends_with(
                "text of 192 characters (192 bytes) is longer than the column holds (191 characters, 764 bytes)"
            ),
        "{e}"
    );
    let fits = order(&"é".repeat(191), 1, "new", "1.00");
    sink.commit(batch(vec![(orders_schema(), vec![fits.clone()])], 1, ts(1_700_000_000, 0)))
        .await
        .expect("a key of 191 characters fits");
    assert_eq!(data(&sink, &orders_schema()).await, vec![fits]);
}

/// Regression: MySQL's `TEXT` holds 64 KiB; a longer description failed the
/// batch (strict mode) on every retry.
async fn long_text_is_stored_intact(db: TestDatabase) {
    let mut sink = prepared(&db).await;
    let long: String = "Lång text – 📦 ".chars().cycle().take(70_000).collect();
    assert!(long.len() > 65_535);
    let rows = vec![order_with("o-1", "status", Value::Text(long))];
    if let Some(check) = sink.row_check() {
        assert_eq!(check.check(&orders_schema(), &rows[0]), Ok(()));
    }
    sink.commit(batch(vec![(orders_schema(), rows.clone())], 1, ts(1_700_000_000, 0)))
        .await
        .expect("commit");
    assert_eq!(data(&sink, &orders_schema()).await, rows);
}

/// A value no check knows about (here a NULL in a NOT NULL column) fails
/// the commit naming the table and the key of the row the statement wrote.
async fn a_value_refused_at_commit_names_table_and_key(db: TestDatabase) {
    let mut sink = prepared(&db).await;
    let rows = vec![order_with("o-9", "on_hold", Value::Null)];
    let e = sink
        .commit(batch(vec![(orders_schema(), rows)], 1, ts(1_700_000_000, 0)))
        .await
        .expect_err("NULL in a NOT NULL column");
    assert!(
        e.to_string()
            .contains(r#"upserting into table orders (the row with key ("acme", "o-9")): "#),
        "{e}"
    );
}
