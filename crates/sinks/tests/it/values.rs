//! Values read back exactly: decimals to the last digit, timestamps to the
//! microsecond, dates, booleans, JSON documents and NULLs.

use cartage_core::{Row, Sink, Value};
use cartage_sinks::testing::TestDatabase;
use chrono::NaiveDate;
use serde_json::json;

use crate::all_backends;
use crate::support::*;

all_backends!(decimals_and_timestamps_read_back_exactly, json_documents_round_trip);

fn full_order(id: &str, total: &str, secs: i64, micros: u32, custom: Value) -> Row {
    Row(vec![
        Value::Text(TENANT.into()),
        Value::Text(id.into()),
        Value::Int(i64::MAX - 1),
        Value::Null,
        Value::Bool(true),
        Value::Decimal(dec(total)),
        Value::Timestamp(ts(secs, micros)),
        Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).expect("leap day")),
        custom,
    ])
}

async fn decimals_and_timestamps_read_back_exactly(db: TestDatabase) {
    let mut sink = prepared(&db).await;
    // Within DECIMAL(38,12): up to 26 integer and 12 fraction digits.
    let rows = vec![
        full_order("a", "12345678901234.567890123456", 1_700_000_000, 999_999, Value::Null),
        full_order("b", "-98765432109876.000000000001", 946_684_800, 1, Value::Null),
        full_order("c", "0.000000000001", 0, 0, Value::Null),
        full_order("d", "-0.01", -86_400, 500_000, Value::Null),
        full_order("e", "79228162514264.337593543950", 4_102_444_799, 123_456, Value::Null),
    ];
    let at = ts(1_750_000_000, 654_321);
    sink.commit(batch(vec![(orders_schema(), rows.clone())], 1, at)).await.expect("commit");
    let stored = rows_of(&sink).await;
    assert_eq!(stored.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), rows);
    // Equal as decimals is not enough for money: the digits must match too.
    for (s, r) in stored.iter().zip(&rows) {
        let (Value::Decimal(got), Value::Decimal(want)) = (&s.row.0[5], &r.0[5]) else {
            panic!("decimal column read back as {:?}", s.row.0[5]);
        };
        assert_eq!(got.normalize().to_string(), want.normalize().to_string());
        assert_eq!(s.synced_at, at);
    }
}

async fn rows_of(sink: &cartage_sinks::DatabaseSink) -> Vec<cartage_sinks::StoredRow> {
    rows(sink, &orders_schema()).await
}

async fn json_documents_round_trip(db: TestDatabase) {
    let mut sink = prepared(&db).await;
    let doc = json!({
        "gift": true,
        "note": "Lämna vid dörren – tack! 📦 \"quoted\" \\ backslash",
        "tags": ["vip", "b2b", null],
        "nested": { "points": 1250, "rate": 0.125, "big": 9007199254740993u64, "neg": -3 },
        "empty": {}
    });
    let rows = vec![
        full_order("j1", "1.00", 1_700_000_000, 0, Value::Json(doc.clone())),
        full_order("j2", "2.00", 1_700_000_000, 0, Value::Json(json!([1, "two", 3.5]))),
        full_order("j3", "3.00", 1_700_000_000, 0, Value::Json(json!("just a string"))),
    ];
    sink.commit(batch(vec![(orders_schema(), rows.clone())], 1, ts(1_700_000_000, 0)))
        .await
        .expect("commit");
    assert_eq!(data(&sink, &orders_schema()).await, rows);
    // The state is JSON too.
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(1)));
}
