//! A row the sink cannot store (`RecordMapper::refused`) follows the
//! mapping's `on_error` like a record that cannot be mapped.

use cartage_core::{ErrorKind, MappedRows, Record, Value};

use crate::support::compile_text;

const MAPPING: &str = "
tables:
  orders:
    stream: orders
    columns:
      order_id: id
      order_number: number
      customer_email: otherComment
";

/// A record with a NUL character in a string and in a key of `extra`.
const RECORD: &str = r#"{"id": "o\u0000-2", "number": 2, "otherComment": "a\u0000b", "extra": {"k\u0000": ["\u0000"]}}"#;

#[test]
fn a_refused_row_under_reject_goes_to_rejects_without_nul_characters() {
    let compiled = compile_text(&format!("on_error: reject\n{MAPPING}"), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    let mapper = compiled.stream("orders").expect("the orders stream");
    let rejects = mapper.tables().iter().position(|t| t.name == "_rejects").expect("_rejects");
    let mut out = MappedRows::new(mapper.tables().len());
    let record = Record::from_json_str(RECORD).expect("json");
    mapper
        .refused(&record, "table orders, column customer_email: NUL\0".into(), &mut out)
        .expect("rejected");
    assert_eq!(out.tables[rejects].len(), 1);
    let row = &out.tables[rejects][0].0;
    assert_eq!(row[0], Value::Text("acme".into()));
    assert_eq!(row[1], Value::Text("orders".into()));
    assert_eq!(row[2], Value::Text("o\u{FFFD}-2".into()));
    assert_eq!(row[3], Value::Text("table orders, column customer_email: NUL\u{FFFD}".into()));
    assert_eq!(
        row[4],
        Value::Json(serde_json::json!({
            "id": "o\u{FFFD}-2", "number": 2, "otherComment": "a\u{FFFD}b",
            "extra": {"k\u{FFFD}": ["\u{FFFD}"]}
        }))
    );
    assert!(out.tables.iter().enumerate().all(|(t, rows)| t == rejects || rows.is_empty()));
}

#[test]
fn a_refused_row_under_fail_is_a_data_error_naming_the_record() {
    let compiled = compile_text(MAPPING, &[]).unwrap_or_else(|d| panic!("{d}"));
    let mapper = compiled.stream("orders").expect("the orders stream");
    let mut out = MappedRows::new(mapper.tables().len());
    let record = Record::from_json_str(r#"{"id": "o-2", "number": 2}"#).expect("json");
    let e = mapper
        .refused(
            &record,
            r#"table orders, column customer_email, key ("acme", "o-2"): no"#.into(),
            &mut out,
        )
        .expect_err("fail");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        r#"data error: stream orders: record "o-2": table orders, column customer_email, key ("acme", "o-2"): no"#
    );
    assert!(out.tables.iter().all(Vec::is_empty));
}
