//! `prepare`: tables are created once, and grow the columns a mapping adds.

use std::sync::Arc;

use cartage_core::{Column, ColumnType, Row, TableSchema, Value};
use cartage_sinks::testing::TestSink;

use crate::all_sinks;
use crate::support::*;

all_sinks!(prepare_creates_tables_and_is_idempotent, prepare_adds_a_declared_extra_column);

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
