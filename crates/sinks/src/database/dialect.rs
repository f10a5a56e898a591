//! What differs between the backends: column types, how a `Value` is bound,
//! how a stored value decodes back, and statement parameter limits.
//!
//! SQL text itself is built by `sea_query`; this module only picks the types
//! and values it is built with.

use std::str::FromStr;

use cartage_core::{ColumnType, Value};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::Value as SqValue;
use sea_orm::{DbBackend, QueryResult};

/// The database behind a [`crate::DatabaseSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    pub(crate) fn db_backend(self) -> DbBackend {
        match self {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
            Backend::Mysql => DbBackend::MySql,
        }
    }

    /// The most bound parameters one statement may carry.
    pub(crate) fn max_params(self) -> usize {
        match self {
            // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
            Backend::Sqlite => 32_766,
            // Both count parameters in a u16.
            Backend::Postgres | Backend::Mysql => 65_535,
        }
    }

    /// The SQL type of a column. `in_key`: the column is part of the primary
    /// key (MySQL cannot index `TEXT`).
    pub(crate) fn column_sql(self, ty: ColumnType, in_key: bool) -> &'static str {
        use Backend::*;
        use ColumnType as T;
        match (self, ty) {
            (Mysql, T::Text) if in_key => "VARCHAR(191)",
            // `TEXT` holds 64 KiB; a product description or a note can be longer.
            (Mysql, T::Text) => "LONGTEXT",
            (_, T::Text) => "TEXT",
            (_, T::Int) => "BIGINT",
            (_, T::Bool) => "BOOLEAN",
            (Postgres, T::Decimal) => "NUMERIC",
            (Mysql, T::Decimal) => crate::SQL_DECIMAL,
            (Postgres, T::Timestamp) => "TIMESTAMPTZ",
            (Mysql, T::Timestamp) => "DATETIME(6)",
            (Postgres | Mysql, T::Date) => "DATE",
            (Postgres, T::Json) => "JSONB",
            (Mysql, T::Json) => "JSON",
            // Text storage (the name contains TEXT, so SQLite gives the
            // column TEXT affinity), but a declared type of its own: the
            // catalog then tells a decimal column from a text one.
            (Sqlite, T::Decimal) => "DECIMAL_TEXT",
            (Sqlite, T::Timestamp) => "TIMESTAMP_TEXT",
            (Sqlite, T::Date) => "DATE_TEXT",
            (Sqlite, T::Json) => "JSON_TEXT",
        }
    }

    /// The names the catalog (`pragma table_info`,
    /// `information_schema.columns.data_type`), lowercased, gives a column
    /// that [`Backend::column_sql`] created for `ty`. `legacy_text`: the
    /// table predates distinct SQLite declared types, when every text-stored
    /// type was declared `TEXT`.
    pub(crate) fn catalog_types(
        self,
        ty: ColumnType,
        legacy_text: bool,
    ) -> &'static [&'static str] {
        use Backend::*;
        use ColumnType as T;
        match (self, ty) {
            (Mysql, T::Text) => &["text", "longtext", "varchar"],
            (_, T::Text) => &["text"],
            (_, T::Int) => &["bigint"],
            (Mysql, T::Bool) => &["tinyint"],
            (_, T::Bool) => &["boolean"],
            (Postgres, T::Decimal) => &["numeric"],
            (Mysql, T::Decimal) => &["decimal"],
            (Postgres, T::Timestamp) => &["timestamp with time zone"],
            (Mysql, T::Timestamp) => &["datetime"],
            (Postgres | Mysql, T::Date) => &["date"],
            (Postgres, T::Json) => &["jsonb"],
            // MariaDB's JSON is LONGTEXT with a check.
            (Mysql, T::Json) => &["json", "longtext"],
            (Sqlite, T::Decimal) if legacy_text => &["decimal_text", "text"],
            (Sqlite, T::Decimal) => &["decimal_text"],
            (Sqlite, T::Timestamp) if legacy_text => &["timestamp_text", "text"],
            (Sqlite, T::Timestamp) => &["timestamp_text"],
            (Sqlite, T::Date) if legacy_text => &["date_text", "text"],
            (Sqlite, T::Date) => &["date_text"],
            (Sqlite, T::Json) if legacy_text => &["json_text", "text"],
            (Sqlite, T::Json) => &["json_text"],
        }
    }

    /// A typed SQL NULL for a column (PostgreSQL checks parameter types).
    pub(crate) fn null(self, ty: ColumnType) -> SqValue {
        use Backend::*;
        use ColumnType as T;
        match (self, ty) {
            (_, T::Text) => SqValue::String(None),
            (_, T::Int) => SqValue::BigInt(None),
            (_, T::Bool) => SqValue::Bool(None),
            (Sqlite, T::Decimal | T::Timestamp | T::Date | T::Json) => SqValue::String(None),
            (Mysql, T::Json) => SqValue::String(None),
            (_, T::Decimal) => SqValue::Decimal(None),
            (Postgres, T::Timestamp) => SqValue::ChronoDateTimeUtc(None),
            (Mysql, T::Timestamp) => SqValue::ChronoDateTime(None),
            (_, T::Date) => SqValue::ChronoDate(None),
            (Postgres, T::Json) => SqValue::Json(None),
        }
    }

    /// The parameter for a timestamp.
    pub(crate) fn timestamp(self, t: DateTime<Utc>) -> SqValue {
        match self {
            Backend::Sqlite => SqValue::String(Some(sqlite_timestamp(t))),
            Backend::Postgres => SqValue::ChronoDateTimeUtc(Some(t)),
            Backend::Mysql => SqValue::ChronoDateTime(Some(t.naive_utc())),
        }
    }

    /// The parameter for `value` in a column of type `ty`; on a mismatch,
    /// the name of the value's type.
    pub(crate) fn bind(self, ty: ColumnType, value: Value) -> Result<SqValue, &'static str> {
        use ColumnType as T;
        Ok(match (ty, value) {
            (_, Value::Null) => self.null(ty),
            (T::Text, Value::Text(s)) => SqValue::String(Some(s)),
            (T::Int, Value::Int(i)) => SqValue::BigInt(Some(i)),
            (T::Bool, Value::Bool(b)) => SqValue::Bool(Some(b)),
            (T::Decimal, Value::Decimal(d)) => self.decimal(d),
            // Lossless: an integer amount is an exact decimal.
            (T::Decimal, Value::Int(i)) => self.decimal(Decimal::from(i)),
            (T::Timestamp, Value::Timestamp(t)) => self.timestamp(t),
            (T::Date, Value::Date(d)) => match self {
                Backend::Sqlite => SqValue::String(Some(d.format("%Y-%m-%d").to_string())),
                Backend::Postgres | Backend::Mysql => SqValue::ChronoDate(Some(d)),
            },
            (T::Json, Value::Json(j)) => match self {
                Backend::Postgres => SqValue::Json(Some(Box::new(j))),
                Backend::Sqlite | Backend::Mysql => SqValue::String(Some(j.to_string())),
            },
            (_, other) => return Err(value_type_name(&other)),
        })
    }

    fn decimal(self, d: Decimal) -> SqValue {
        match self {
            // Exact text: SQLite's NUMERIC affinity would make it a float.
            Backend::Sqlite => SqValue::String(Some(decimal_text(d))),
            Backend::Postgres | Backend::Mysql => SqValue::Decimal(Some(d)),
        }
    }

    /// Reads column `idx` of a result row back into the `Value` of `ty`.
    pub(crate) fn decode(
        self,
        row: &QueryResult,
        idx: usize,
        ty: ColumnType,
    ) -> Result<Value, String> {
        use ColumnType as T;
        fn get<T: sea_orm::TryGetable>(row: &QueryResult, idx: usize) -> Result<Option<T>, String> {
            row.try_get_by_index::<Option<T>>(idx).map_err(|e| e.to_string())
        }
        let sqlite = self == Backend::Sqlite;
        let value = match ty {
            T::Text => get::<String>(row, idx)?.map(Value::Text),
            T::Int => get::<i64>(row, idx)?.map(Value::Int),
            T::Bool => get::<bool>(row, idx)?.map(Value::Bool),
            T::Decimal if sqlite => match get::<String>(row, idx)? {
                Some(s) => Some(Value::Decimal(
                    Decimal::from_str(&s).map_err(|e| format!("decimal {s:?}: {e}"))?,
                )),
                None => None,
            },
            // DECIMAL(38,12) pads the scale; normalize so `1.50` reads back
            // as written (the value is equal either way).
            T::Decimal if self == Backend::Mysql => {
                get::<Decimal>(row, idx)?.map(|d| Value::Decimal(d.normalize()))
            }
            T::Decimal => get::<Decimal>(row, idx)?.map(Value::Decimal),
            T::Timestamp => self.decode_timestamp(row, idx)?.map(Value::Timestamp),
            T::Date if sqlite => match get::<String>(row, idx)? {
                Some(s) => Some(Value::Date(
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .map_err(|e| format!("date {s:?}: {e}"))?,
                )),
                None => None,
            },
            T::Date => get::<NaiveDate>(row, idx)?.map(Value::Date),
            T::Json if self == Backend::Postgres => {
                get::<serde_json::Value>(row, idx)?.map(Value::Json)
            }
            T::Json => match get::<String>(row, idx)? {
                Some(s) => {
                    Some(Value::Json(serde_json::from_str(&s).map_err(|e| format!("json: {e}"))?))
                }
                None => None,
            },
        };
        Ok(value.unwrap_or(Value::Null))
    }

    pub(crate) fn decode_timestamp(
        self,
        row: &QueryResult,
        idx: usize,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let get_err = |e: sea_orm::DbErr| e.to_string();
        Ok(match self {
            Backend::Sqlite => {
                match row.try_get_by_index::<Option<String>>(idx).map_err(get_err)? {
                    Some(s) => Some(parse_sqlite_timestamp(&s)?),
                    None => None,
                }
            }
            Backend::Postgres => {
                row.try_get_by_index::<Option<DateTime<Utc>>>(idx).map_err(get_err)?
            }
            Backend::Mysql => row
                .try_get_by_index::<Option<NaiveDateTime>>(idx)
                .map_err(get_err)?
                .map(|t| t.and_utc()),
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed width, so text order is time order.
pub(crate) fn sqlite_timestamp(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let micros = t.timestamp_subsec_micros();
    let year = t.year();
    // Hot path (two per order row), so no format machinery; the rare
    // outliers (years outside 0..=9999, leap seconds) take chrono's.
    if !(0..=9999).contains(&year) || micros >= 1_000_000 {
        return t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let mut s = String::with_capacity(27);
    let mut push = |v: u32, width: u32, sep: Option<char>| {
        for p in (0..width).rev() {
            let digit = v / 10u32.pow(p) % 10;
            s.push(char::from(b'0' + digit as u8));
        }
        if let Some(c) = sep {
            s.push(c);
        }
    };
    // Cannot be negative: checked above.
    push(year as u32, 4, Some('-'));
    push(t.month(), 2, Some('-'));
    push(t.day(), 2, Some('T'));
    push(t.hour(), 2, Some(':'));
    push(t.minute(), 2, Some(':'));
    push(t.second(), 2, Some('.'));
    push(micros, 6, Some('Z'));
    s
}

/// `d` as `Decimal::to_string` writes it (scale kept: `1.50`), without the
/// formatting machinery (five decimals per order line).
pub(crate) fn decimal_text(d: Decimal) -> String {
    let scale = d.scale() as usize;
    let mantissa = d.mantissa();
    let mut digits = mantissa.unsigned_abs().to_string();
    if scale > 0 {
        if digits.len() <= scale {
            digits.insert_str(0, &"0".repeat(scale + 1 - digits.len()));
        }
        digits.insert(digits.len() - scale, '.');
    }
    if mantissa < 0 {
        digits.insert(0, '-');
    }
    digits
}

fn parse_sqlite_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("timestamp {s:?}: {e}"))
}

/// What [`Backend::bind`] gives SQLite for `value` in a column of type
/// `ty`, as a SQLite parameter borrowing the value's text: the SQLite
/// commit path binds every value of a batch this way, without a sea-query
/// value between. On a mismatch, the name of the value's type.
pub(crate) fn sqlite_param(
    ty: ColumnType,
    value: &Value,
) -> Result<rusqlite::types::ToSqlOutput<'_>, &'static str> {
    use ColumnType as T;
    use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
    let text = |s: String| ToSqlOutput::Owned(Sql::Text(s));
    Ok(match (ty, value) {
        (_, Value::Null) => ToSqlOutput::Owned(Sql::Null),
        (T::Text, Value::Text(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        (T::Int, Value::Int(i)) => ToSqlOutput::Owned(Sql::Integer(*i)),
        (T::Bool, Value::Bool(b)) => ToSqlOutput::Owned(Sql::Integer(i64::from(*b))),
        (T::Decimal, Value::Decimal(d)) => text(decimal_text(*d)),
        (T::Decimal, Value::Int(i)) => text(decimal_text(Decimal::from(*i))),
        (T::Timestamp, Value::Timestamp(t)) => text(sqlite_timestamp(*t)),
        (T::Date, Value::Date(d)) => text(d.format("%Y-%m-%d").to_string()),
        (T::Json, Value::Json(j)) => text(j.to_string()),
        (_, other) => return Err(value_type_name(other)),
    })
}

pub(crate) fn value_type_name(v: &Value) -> &'static str {
    match v.column_type() {
        Some(t) => t.name(),
        None => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_params_are_what_bind_gives_sqlite() {
        use rusqlite::types::{ToSqlOutput, Value as Sql};
        let t = Utc.with_ymd_and_hms(2024, 3, 9, 7, 5, 1).single().expect("valid date");
        let cases = [
            (ColumnType::Text, Value::Text("å\u{0}b".into())),
            (ColumnType::Text, Value::Null),
            (ColumnType::Int, Value::Int(-7)),
            (ColumnType::Bool, Value::Bool(true)),
            (ColumnType::Decimal, Value::Decimal(Decimal::new(-1050, 2))),
            (ColumnType::Decimal, Value::Int(12)),
            (ColumnType::Timestamp, Value::Timestamp(t)),
            (ColumnType::Date, Value::Date(t.date_naive())),
            (ColumnType::Json, Value::Json(serde_json::json!({"a": [1, "x"]}))),
            (ColumnType::Int, Value::Text("7".into())),
        ];
        for (ty, v) in cases {
            let direct = sqlite_param(ty, &v).map(|out| match out {
                ToSqlOutput::Borrowed(r) => Sql::try_from(r).expect("a plain value"),
                ToSqlOutput::Owned(v) => v,
                other => panic!("unexpected parameter {other:?}"),
            });
            let through_sea_query = Backend::Sqlite
                .bind(ty, v.clone())
                .map(|q| super::super::sqlite::value(q).expect("a SQLite value"));
            assert_eq!(direct, through_sea_query, "{ty:?} {v:?}");
        }
    }

    #[test]
    fn sqlite_timestamps_are_fixed_width_utc_and_parse_back() {
        let t = Utc.with_ymd_and_hms(2024, 3, 9, 7, 5, 1).single().expect("valid date")
            + chrono::Duration::microseconds(42);
        let s = sqlite_timestamp(t);
        assert_eq!(s, "2024-03-09T07:05:01.000042Z");
        assert_eq!(parse_sqlite_timestamp(&s), Ok(t));
        for (secs, micros) in
            [(0, 0), (-62_135_596_800, 999_999), (253_402_300_799, 1), (1_700_000_000, 120)]
        {
            let t = DateTime::from_timestamp(secs, micros * 1000).expect("valid instant");
            assert_eq!(sqlite_timestamp(t), t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }
    }

    #[test]
    fn decimals_bind_exactly_on_sqlite() {
        let d = Decimal::from_str("-12345678901234.5678901234").expect("valid decimal");
        assert_eq!(
            Backend::Sqlite.bind(ColumnType::Decimal, Value::Decimal(d)),
            Ok(SqValue::String(Some("-12345678901234.5678901234".into())))
        );
        assert_eq!(
            Backend::Postgres.bind(ColumnType::Decimal, Value::Int(7)),
            Ok(SqValue::Decimal(Some(Decimal::from(7))))
        );
    }

    #[test]
    fn decimal_text_matches_display() {
        for s in [
            "0",
            "1.50",
            "-0.01",
            "0.000000000001",
            "-12345678901234.567890123456",
            "79228162514264337593543950335",
            "-7.9228162514264337593543950335",
            "100",
            "-0",
        ] {
            let d = Decimal::from_str(s).expect("valid decimal");
            assert_eq!(decimal_text(d), d.to_string(), "{s}");
        }
    }

    #[test]
    fn a_mismatched_value_names_its_type() {
        assert_eq!(Backend::Mysql.bind(ColumnType::Int, Value::Text("x".into())), Err("text"));
        assert_eq!(Backend::Sqlite.bind(ColumnType::Bool, Value::Int(1)), Err("integer"));
    }

    #[test]
    fn nulls_are_typed_per_backend() {
        assert_eq!(Backend::Postgres.null(ColumnType::Timestamp), SqValue::ChronoDateTimeUtc(None));
        assert_eq!(Backend::Sqlite.null(ColumnType::Decimal), SqValue::String(None));
        assert_eq!(Backend::Mysql.null(ColumnType::Json), SqValue::String(None));
    }
}
