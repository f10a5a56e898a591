//! What each backend refuses to store (or would store altered), checked per
//! row before a commit: one bad value becomes one record's error, handled by
//! the mapping's `on_error`, instead of a transaction that fails on every
//! retry (see [`cartage_core::RowCheck`]).
//!
//! PostgreSQL: no NUL character in text or JSON; no date before 4713 BC.
//! MySQL/MariaDB: decimals within `DECIMAL(38,12)` (a 13th fraction digit
//! would be rounded, a 27th integer digit refused); `DATETIME` and `DATE`
//! from year 1000 to 9999; text within its column's length (`VARCHAR(191)`
//! keys; `TEXT` in tables created before text became `LONGTEXT`). SQLite
//! stores every value.

use std::collections::HashMap;
use std::fmt::Write as _;

use cartage_core::{ColumnType, Row, RowCheck, TableSchema, Value};
use chrono::Datelike;
use rust_decimal::Decimal;

use super::Backend;

/// Integer and fraction digits of MySQL's `DECIMAL(38,12)`.
const MYSQL_INTEGER_DIGITS: u32 = 26;
const MYSQL_FRACTION_DIGITS: u32 = 12;

/// How much text a column holds (MySQL): characters and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextLimit {
    pub chars: u64,
    pub bytes: u64,
}

/// The rules of one backend, with the text limits of the tables as
/// prepared (per table, per column).
#[derive(Debug, Clone)]
pub(crate) struct BackendCheck {
    pub backend: Backend,
    pub text_limits: HashMap<String, HashMap<String, TextLimit>>,
}

impl RowCheck for BackendCheck {
    fn check(&self, schema: &TableSchema, row: &Row) -> Result<(), String> {
        let limits = self.text_limits.get(&schema.name);
        for (value, column) in row.0.iter().zip(&schema.columns) {
            let problem = match self.backend {
                Backend::Postgres => postgres_problem(value),
                Backend::Mysql => {
                    let limit = limits.and_then(|l| l.get(&column.name)).copied();
                    mysql_problem(value, column.ty, limit)
                }
                Backend::Sqlite => None,
            };
            if let Some(problem) = problem {
                return Err(format!(
                    "table {}, column {}, key {}: {problem}",
                    schema.name,
                    column.name,
                    show_key(schema, row)
                ));
            }
        }
        Ok(())
    }
}

fn postgres_problem(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) if s.contains('\0') => {
            Some("text holds a NUL character (\\0), which PostgreSQL cannot store".into())
        }
        Value::Json(j) if json_has_nul(j) => Some(
            "JSON holds a NUL character (\\u0000), which PostgreSQL cannot store in jsonb".into(),
        ),
        // 4713 BC is year -4712 (year 0 is 1 BC).
        Value::Timestamp(t) if t.year() < -4712 => {
            Some(format!("timestamp {t} is before 4713 BC, the earliest PostgreSQL stores"))
        }
        Value::Date(d) if d.year() < -4712 => {
            Some(format!("date {d} is before 4713 BC, the earliest PostgreSQL stores"))
        }
        _ => None,
    }
}

fn json_has_nul(j: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match j {
        J::String(s) => s.contains('\0'),
        J::Array(items) => items.iter().any(json_has_nul),
        J::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

fn mysql_problem(value: &Value, ty: ColumnType, limit: Option<TextLimit>) -> Option<String> {
    match value {
        Value::Decimal(d) => mysql_decimal_problem(*d),
        Value::Timestamp(t) if !(1000..=9999).contains(&t.year()) => Some(format!(
            "timestamp {t} is outside the years 1000 to 9999 that MySQL's DATETIME holds"
        )),
        Value::Date(d) if !(1000..=9999).contains(&d.year()) => {
            Some(format!("date {d} is outside the years 1000 to 9999 that MySQL's DATE holds"))
        }
        Value::Text(s) if ty == ColumnType::Text => {
            let limit = limit?;
            let bytes = s.len() as u64;
            // Characters never outnumber bytes: count them only when needed.
            let chars = if bytes > limit.chars { s.chars().count() as u64 } else { bytes };
            (chars > limit.chars || bytes > limit.bytes).then(|| {
                format!(
                    "text of {chars} characters ({bytes} bytes) is longer than the column holds ({} characters, {} bytes)",
                    limit.chars, limit.bytes
                )
            })
        }
        _ => None,
    }
}

/// MySQL would round a 13th fraction digit away and refuse a 27th integer
/// digit; both are refused here, never rounded.
fn mysql_decimal_problem(d: Decimal) -> Option<String> {
    // Trailing zeros are not digits lost: `1.500000000000000` fits.
    let n = d.normalize();
    let fraction = n.scale();
    let integer_digits = {
        let int = n.trunc().abs();
        if int.is_zero() { 0 } else { int.to_string().len() as u32 }
    };
    if fraction > MYSQL_FRACTION_DIGITS {
        return Some(format!(
            "decimal {n} has {fraction} digits after the point; MySQL's DECIMAL(38,12) keeps {MYSQL_FRACTION_DIGITS} and would round it"
        ));
    }
    if integer_digits > MYSQL_INTEGER_DIGITS {
        return Some(format!(
            "decimal {n} has {integer_digits} digits before the point; MySQL's DECIMAL(38,12) holds {MYSQL_INTEGER_DIGITS}"
        ));
    }
    None
}

/// The row's primary key for messages: `("acme", "o-2")`, long text cut.
pub(crate) fn show_key(schema: &TableSchema, row: &Row) -> String {
    let mut out = String::from("(");
    for (n, i) in schema.primary_key_indexes().into_iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        match row.0.get(i) {
            Some(Value::Text(s)) if s.chars().count() > 64 => {
                let head: String = s.chars().take(64).collect();
                let _ = write!(out, "{head:?}…");
            }
            Some(Value::Text(s)) => {
                let _ = write!(out, "{s:?}");
            }
            Some(Value::Null) | None => out.push_str("null"),
            Some(Value::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            Some(other) => {
                let _ = write!(out, "{other:?}");
            }
        }
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use cartage_core::Column;
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;

    fn schema() -> TableSchema {
        TableSchema {
            name: "orders".into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("order_id", ColumnType::Text, false),
                Column::new("note", ColumnType::Text, true),
                Column::new("total", ColumnType::Decimal, true),
                Column::new("custom", ColumnType::Json, true),
                Column::new("created_at", ColumnType::Timestamp, true),
                Column::new("ship_date", ColumnType::Date, true),
            ],
            primary_key: vec!["tenant".into(), "order_id".into()],
            parent_key: None,
        }
    }

    /// A row of `schema()` with `value` in column `column`.
    fn row(column: usize, value: Value) -> Row {
        let mut values = vec![Value::Text("acme".into()), Value::Text("o-2".into())];
        values.extend(std::iter::repeat_n(Value::Null, 5));
        values[column] = value;
        Row(values)
    }

    fn check(backend: Backend, column: usize, value: Value, expected: Result<(), &str>) {
        let mut text_limits = HashMap::new();
        text_limits.insert(
            "orders".to_owned(),
            HashMap::from([
                ("order_id".to_owned(), TextLimit { chars: 191, bytes: 764 }),
                ("note".to_owned(), TextLimit { chars: 65_535, bytes: 65_535 }),
            ]),
        );
        let checker = BackendCheck { backend, text_limits };
        let got = checker.check(&schema(), &row(column, value.clone()));
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(String::as_str),
            expected,
            "{backend:?} {value:?}"
        );
    }

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::from_str(s).expect("test decimal"))
    }

    #[test]
    fn postgres_refuses_nul_in_text_and_json_anywhere() {
        use Backend::Postgres;
        check(
            Postgres,
            2,
            Value::Text("a\0b".into()),
            Err(
                r#"table orders, column note, key ("acme", "o-2"): text holds a NUL character (\0), which PostgreSQL cannot store"#,
            ),
        );
        check(Postgres, 2, Value::Text("ab".into()), Ok(()));
        let nested = serde_json::json!({"a": [1, {"b": "x\u{0}"}]});
        assert!(check_err(Postgres, 4, Value::Json(nested)).contains("column custom"));
        let in_key = serde_json::json!({"x\u{0}": 1});
        assert!(check_err(Postgres, 4, Value::Json(in_key)).contains("jsonb"));
        check(Postgres, 4, Value::Json(serde_json::json!({"a": "b"})), Ok(()));
        // SQLite and MySQL store NUL.
        check(Backend::Sqlite, 2, Value::Text("a\0b".into()), Ok(()));
        check(Backend::Mysql, 2, Value::Text("a\0b".into()), Ok(()));
    }

    fn check_err(backend: Backend, column: usize, value: Value) -> String {
        let checker = BackendCheck { backend, text_limits: HashMap::new() };
        checker.check(&schema(), &row(column, value)).expect_err("refused")
    }

    #[test]
    fn mysql_refuses_decimals_it_would_round_or_cannot_hold() {
        use Backend::Mysql;
        check(Mysql, 3, dec("12345678901234.567890123456"), Ok(()));
        check(Mysql, 3, dec("-99999999999999999999999999.9"), Ok(()));
        check(Mysql, 3, dec("1.500000000000000000"), Ok(()));
        check(
            Mysql,
            3,
            dec("0.0000000000001"),
            Err(
                r#"table orders, column total, key ("acme", "o-2"): decimal 0.0000000000001 has 13 digits after the point; MySQL's DECIMAL(38,12) keeps 12 and would round it"#,
            ),
        );
        check(
            Mysql,
            3,
            dec("-123456789012345678901234567"),
            Err(
                r#"table orders, column total, key ("acme", "o-2"): decimal -123456789012345678901234567 has 27 digits before the point; MySQL's DECIMAL(38,12) holds 26"#,
            ),
        );
        check(Backend::Postgres, 3, dec("0.0000000000001"), Ok(()));
    }

    #[test]
    fn mysql_refuses_dates_outside_years_1000_to_9999() {
        use Backend::Mysql;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("test date");
        check(Mysql, 6, Value::Date(day(1000, 1, 1)), Ok(()));
        check(Mysql, 6, Value::Date(day(9999, 12, 31)), Ok(()));
        check(
            Mysql,
            6,
            Value::Date(day(999, 12, 31)),
            Err(
                r#"table orders, column ship_date, key ("acme", "o-2"): date 0999-12-31 is outside the years 1000 to 9999 that MySQL's DATE holds"#,
            ),
        );
        let t = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).single().expect("test timestamp");
        assert!(check_err(Mysql, 5, Value::Timestamp(t)).contains("DATETIME"));
        check(Backend::Postgres, 6, Value::Date(day(999, 12, 31)), Ok(()));
        assert!(check_err(Backend::Postgres, 6, Value::Date(day(-4713, 1, 1))).contains("4713 BC"));
    }

    #[test]
    fn mysql_refuses_text_longer_than_its_column() {
        use Backend::Mysql;
        check(Mysql, 1, Value::Text("é".repeat(191)), Ok(()));
        let long_key = "k".repeat(192);
        let e = {
            let mut limits = HashMap::new();
            limits.insert(
                "orders".to_owned(),
                HashMap::from([("order_id".to_owned(), TextLimit { chars: 191, bytes: 764 })]),
            );
            let checker = BackendCheck { backend: Mysql, text_limits: limits };
            checker.check(&schema(), &row(1, Value::Text(long_key))).expect_err("too long")
        };
        assert!(
            e.ends_with(
                "text of 192 characters (192 bytes) is longer than the column holds (191 characters, 764 bytes)"
            ),
            "{e}"
        );
        assert!(e.contains(r#"key ("acme", "kkkk"#) && e.contains("…)"), "{e}");
        check(Mysql, 2, Value::Text("x".repeat(65_535)), Ok(()));
        assert!(
            check_err_limited(Mysql, 2, Value::Text("ä".repeat(40_000))).contains("80000 bytes")
        );
    }

    fn check_err_limited(backend: Backend, column: usize, value: Value) -> String {
        let mut limits = HashMap::new();
        limits.insert(
            "orders".to_owned(),
            HashMap::from([("note".to_owned(), TextLimit { chars: 65_535, bytes: 65_535 })]),
        );
        let checker = BackendCheck { backend, text_limits: limits };
        checker.check(&schema(), &row(column, value)).expect_err("refused")
    }
}
