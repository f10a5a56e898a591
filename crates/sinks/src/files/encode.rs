//! Values in and out of the file sink: checking a batch's values against
//! their columns, the text forms the CSV and JSONL files use, and the JSON
//! form the key index stores.

use std::str::FromStr;

use cartage_core::{ColumnType, Row, TableSchema, Value};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use rust_decimal::Decimal;

use crate::database::{decimal_text, sqlite_timestamp};
use crate::error::SinkError;

/// Checks each value of `rows` against its column (as the database sinks
/// bind them: an integer in a decimal column becomes that decimal) and cuts
/// timestamps to the microseconds every sink keeps. `rows` are already
/// de-duplicated; errors name the row's position among them.
pub(crate) fn coerce(schema: &TableSchema, rows: &mut [Row]) -> Result<(), SinkError> {
    for (i, row) in rows.iter_mut().enumerate() {
        for (v, c) in row.0.iter_mut().zip(&schema.columns) {
            let found = match (c.ty, &*v) {
                (_, Value::Null) if c.nullable && !schema.primary_key.contains(&c.name) => {
                    continue;
                }
                (_, Value::Null) => "null",
                (ColumnType::Text, Value::Text(_))
                | (ColumnType::Int, Value::Int(_))
                | (ColumnType::Bool, Value::Bool(_))
                | (ColumnType::Decimal, Value::Decimal(_))
                | (ColumnType::Date, Value::Date(_))
                | (ColumnType::Json, Value::Json(_)) => continue,
                (ColumnType::Decimal, Value::Int(n)) => {
                    *v = Value::Decimal(Decimal::from(*n));
                    continue;
                }
                (ColumnType::Timestamp, Value::Timestamp(t)) => {
                    *v = Value::Timestamp(micros(*t));
                    continue;
                }
                (_, other) => value_type_name(other),
            };
            return Err(SinkError::value_type(&schema.name, &c.name, i, c.ty, found));
        }
    }
    Ok(())
}

/// `t` without its sub-microsecond part (what every sink stores).
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

fn value_type_name(v: &Value) -> &'static str {
    v.column_type().map_or("null", ColumnType::name)
}

/// The text a CSV field holds for a non-null value; JSONL uses it for
/// decimals, timestamps, dates and JSON documents (as JSON strings).
pub(crate) fn text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    Some(match v {
        Value::Null => return None,
        Value::Text(s) => Cow::Borrowed(s.as_str()),
        Value::Int(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Decimal(d) => Cow::Owned(decimal_text(*d)),
        Value::Timestamp(t) => Cow::Owned(sqlite_timestamp(*t)),
        Value::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
        Value::Json(j) => Cow::Owned(j.to_string()),
    })
}

/// Parses the text form of a value of type `ty` (see [`text`]).
pub(crate) fn parse_text(ty: ColumnType, s: &str) -> Result<Value, String> {
    Ok(match ty {
        ColumnType::Text => Value::Text(s.to_owned()),
        ColumnType::Int => Value::Int(s.parse().map_err(|e| format!("integer {s:?}: {e}"))?),
        ColumnType::Bool => match s {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("boolean {s:?}: expected true or false")),
        },
        ColumnType::Decimal => {
            Value::Decimal(Decimal::from_str(s).map_err(|e| format!("decimal {s:?}: {e}"))?)
        }
        ColumnType::Timestamp => Value::Timestamp(parse_timestamp(s)?),
        ColumnType::Date => Value::Date(
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("date {s:?}: {e}"))?,
        ),
        ColumnType::Json => {
            Value::Json(serde_json::from_str(s).map_err(|e| format!("json {s:?}: {e}"))?)
        }
    })
}

pub(crate) fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("timestamp {s:?}: {e}"))
}

/// The JSON the key index stores for a value: numbers and booleans as
/// themselves, text as a string, everything else in its text form (so
/// SQLite's `json_extract` compares it as the SQLite database sink does).
pub(crate) fn to_index(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Int(n) => J::from(*n),
        Value::Bool(b) => J::Bool(*b),
        Value::Text(s) => J::String(s.clone()),
        other => J::String(text(other).map(|t| t.into_owned()).unwrap_or_default()),
    }
}

/// Reads back what [`to_index`] stored for a value of type `ty`.
pub(crate) fn from_index(ty: ColumnType, j: &serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as J;
    Ok(match (ty, j) {
        (_, J::Null) => Value::Null,
        (ColumnType::Int, J::Number(n)) => {
            Value::Int(n.as_i64().ok_or_else(|| format!("integer {n} out of range"))?)
        }
        (ColumnType::Bool, J::Bool(b)) => Value::Bool(*b),
        (_, J::String(s)) => parse_text(ty, s)?,
        (_, other) => return Err(format!("unexpected {other} for a {} value", ty.name())),
    })
}

/// A key (or parent key) as the index stores it: the JSON array of its
/// values. Decimals are normalised so `1.50` and `1.5` are one key, as they
/// are in a database.
pub(crate) fn key_text(row: &Row, idx: &[usize]) -> String {
    let parts: Vec<serde_json::Value> = idx
        .iter()
        .map(|&i| match row.0.get(i) {
            Some(Value::Decimal(d)) => to_index(&Value::Decimal(d.normalize())),
            Some(v) => to_index(v),
            None => serde_json::Value::Null,
        })
        .collect();
    serde_json::Value::Array(parts).to_string()
}

/// A whole row as the index stores it (staged snapshot rows, and the last
/// row of each key, which deletions by a non-key column search).
pub(crate) fn row_text(row: &Row) -> String {
    serde_json::Value::Array(row.0.iter().map(to_index).collect()).to_string()
}

/// Reads a JSON array written by [`key_text`] or [`row_text`] back into the
/// values of `types` (missing trailing values are null: columns added since).
pub(crate) fn parse_values(types: &[ColumnType], s: &str) -> Result<Vec<Value>, String> {
    let parts: Vec<serde_json::Value> =
        serde_json::from_str(s).map_err(|e| format!("index entry {s:?}: {e}"))?;
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| parts.get(i).map_or(Ok(Value::Null), |j| from_index(*ty, j)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartage_core::Column;
    use chrono::TimeZone;

    #[test]
    fn index_values_round_trip_by_column_type() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_000).single().expect("valid time");
        let values = [
            (ColumnType::Text, Value::Text("a \"b\"".into())),
            (ColumnType::Int, Value::Int(-7)),
            (ColumnType::Bool, Value::Bool(true)),
            (ColumnType::Decimal, Value::Decimal(Decimal::from_str("1.50").expect("decimal"))),
            (ColumnType::Timestamp, Value::Timestamp(t)),
            (ColumnType::Date, Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).expect("date"))),
            (ColumnType::Json, Value::Json(serde_json::json!({"a": [1, null]}))),
            (ColumnType::Json, Value::Json(serde_json::Value::Null)),
            (ColumnType::Text, Value::Null),
        ];
        let row = Row(values.iter().map(|(_, v)| v.clone()).collect());
        let types: Vec<ColumnType> = values.iter().map(|(t, _)| *t).collect();
        assert_eq!(parse_values(&types, &row_text(&row)).expect("parses"), row.0);
    }

    #[test]
    fn coercion_widens_integers_to_decimals_and_names_a_wrong_value() {
        let schema = TableSchema {
            name: "orders".into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("total", ColumnType::Decimal, true),
            ],
            primary_key: vec!["tenant".into()],
            parent_key: None,
        };
        let mut rows = vec![Row(vec![Value::Text("a".into()), Value::Int(3)])];
        coerce(&schema, &mut rows).expect("an integer is a decimal");
        assert_eq!(rows[0].0[1], Value::Decimal(Decimal::from(3)));
        let mut rows = vec![Row(vec![Value::Null, Value::Null])];
        let e = coerce(&schema, &mut rows).expect_err("null key");
        assert_eq!(
            e.to_string(),
            "table orders, column tenant, row 0: expected a text value, found null"
        );
    }
}
