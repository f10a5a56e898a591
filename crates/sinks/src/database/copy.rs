//! PostgreSQL's bulk path: a batch's rows of a table go in by `COPY` into a
//! temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`
//! upserts them into the live table, all inside the batch's transaction.
//!
//! When the rows are all new (a backfill), `COPY` straight into the live
//! table is twice as fast: no temporary table, no second pass. A batch tries
//! that first, under a savepoint; a key that exists fails it with a unique
//! violation, the savepoint is rolled back and the batch takes the upsert
//! path. After such a failure the table skips the direct attempt for 1, 2,
//! 4, ... 64 batches ([`DirectCopy`]), so an incremental run, whose batches
//! mostly update, wastes at most one failed attempt per 64 batches.
//!
//! Why: a multi-row `INSERT ... VALUES` binds every value as a parameter
//! (11,000 per 512-row statement of the orders table), which PostgreSQL
//! parses, plans and type-checks one by one; `COPY`'s text stream is its
//! fastest way in. The temporary table is made per transaction
//! (`ON COMMIT DROP`), so a rolled-back batch leaves nothing behind and a
//! changed table shape never meets a stale copy.

use std::fmt::Write as _;

use cartage_core::{ColumnType, Row, TableSchema, Value};

use super::dialect::{decimal_text, sqlite_timestamp, value_type_name};
use crate::error::SinkError;
use crate::{DELETED_AT, SYNCED_AT};

/// The temporary table a batch's rows of `table` are copied into.
fn temp_name(table: &str) -> String {
    // Short and fixed-length whatever the table's name (identifiers stop at
    // 63 bytes); the table name's hash keeps two tables of one batch apart.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in table.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("_cartage_copy_{h:016x}")
}

fn quoted_columns(schema: &TableSchema) -> String {
    let names: Vec<String> = schema.columns.iter().map(|c| format!(r#""{}""#, c.name)).collect();
    names.join(", ")
}

/// The statements of one table's bulk write: `COPY` straight into it; or
/// create the temporary table, `COPY` into it, upsert from it. The `COPY`
/// data is the same for both: the table's columns, then `_synced_at`.
pub(crate) struct CopySql {
    pub direct: String,
    pub create: String,
    pub copy: String,
    pub upsert: String,
}

impl CopySql {
    pub(crate) fn new(schema: &TableSchema) -> Self {
        let table = &schema.name;
        let temp = temp_name(table);
        let columns = quoted_columns(schema);
        let direct = format!(r#"COPY "{table}" ({columns}, "{SYNCED_AT}") FROM STDIN"#);
        let create = format!(
            r#"CREATE TEMPORARY TABLE "{temp}" ON COMMIT DROP AS SELECT {columns}, "{SYNCED_AT}" FROM "{table}" WITH NO DATA"#
        );
        let copy = format!(r#"COPY "{temp}" ({columns}, "{SYNCED_AT}") FROM STDIN"#);
        let key: Vec<String> = schema.primary_key.iter().map(|k| format!(r#""{k}""#)).collect();
        let mut set: Vec<String> = schema
            .columns
            .iter()
            .filter(|c| !schema.primary_key.contains(&c.name))
            .map(|c| format!(r#""{0}" = EXCLUDED."{0}""#, c.name))
            .collect();
        set.push(format!(r#""{SYNCED_AT}" = EXCLUDED."{SYNCED_AT}""#));
        set.push(format!(r#""{DELETED_AT}" = NULL"#));
        let upsert = format!(
            r#"INSERT INTO "{table}" ({columns}, "{SYNCED_AT}", "{DELETED_AT}") SELECT {columns}, "{SYNCED_AT}", NULL FROM "{temp}" ON CONFLICT ({}) DO UPDATE SET {}"#,
            key.join(", "),
            set.join(", ")
        );
        CopySql { direct, create, copy, upsert }
    }
}

/// Per table, whether the next batch tries `COPY` straight into the table
/// (see the module's documentation).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DirectCopy {
    /// Batches to go before the next attempt.
    skip: u32,
    /// Batches skipped after the last failure.
    backoff: u32,
}

impl DirectCopy {
    /// Most batches skipped after a failed attempt.
    const MAX_BACKOFF: u32 = 64;

    /// Whether this batch tries; counts a skipped batch.
    pub(crate) fn attempt(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// The attempt succeeded: the next batch tries again.
    pub(crate) fn succeeded(&mut self) {
        *self = DirectCopy::default();
    }

    /// The attempt met an existing key: skip twice as many batches as last
    /// time, up to [`Self::MAX_BACKOFF`].
    pub(crate) fn failed(&mut self) {
        self.backoff = (self.backoff * 2).clamp(1, Self::MAX_BACKOFF);
        self.skip = self.backoff;
    }
}

/// `rows` in `COPY`'s text format, each value checked against its column's
/// type as the parameter path checks it, each row ending with `synced` (the
/// `_synced_at` column).
pub(crate) fn copy_text(
    schema: &TableSchema,
    rows: &[Row],
    synced: &str,
) -> Result<Vec<u8>, SinkError> {
    let mut out = String::with_capacity(rows.len() * schema.columns.len() * 12);
    for (i, Row(row)) in rows.iter().enumerate() {
        for (n, (v, c)) in row.iter().zip(&schema.columns).enumerate() {
            if n > 0 {
                out.push('\t');
            }
            let ok = match (c.ty, v) {
                (_, Value::Null) => {
                    out.push_str("\\N");
                    true
                }
                (ColumnType::Text, Value::Text(s)) => {
                    escape(&mut out, s);
                    true
                }
                (ColumnType::Int | ColumnType::Decimal, Value::Int(x)) => {
                    let _ = write!(out, "{x}");
                    true
                }
                (ColumnType::Bool, Value::Bool(b)) => {
                    out.push(if *b { 't' } else { 'f' });
                    true
                }
                (ColumnType::Decimal, Value::Decimal(d)) => {
                    out.push_str(&decimal_text(*d));
                    true
                }
                (ColumnType::Timestamp, Value::Timestamp(t)) => {
                    out.push_str(&sqlite_timestamp(*t));
                    true
                }
                (ColumnType::Date, Value::Date(d)) => {
                    let _ = write!(out, "{}", d.format("%Y-%m-%d"));
                    true
                }
                (ColumnType::Json, Value::Json(j)) => {
                    escape(&mut out, &j.to_string());
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(SinkError::value_type(
                    &schema.name,
                    &c.name,
                    i,
                    c.ty,
                    value_type_name(v),
                ));
            }
        }
        out.push('\t');
        out.push_str(synced);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// `COPY` text escaping: backslash, and the row and column separators.
fn escape(out: &mut String, s: &str) {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cartage_core::Column;

    use super::*;

    fn schema() -> Arc<TableSchema> {
        Arc::new(TableSchema {
            name: "orders".into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("order_id", ColumnType::Text, false),
                Column::new("total", ColumnType::Decimal, true),
                Column::new("paid", ColumnType::Bool, true),
                Column::new("custom", ColumnType::Json, true),
            ],
            primary_key: vec!["tenant".into(), "order_id".into()],
            parent_key: None,
        })
    }

    #[test]
    fn copy_text_escapes_separators_and_keeps_decimals_exact() {
        let rows = vec![Row(vec![
            Value::Text("acme".into()),
            Value::Text("a\tb\\c\nd".into()),
            Value::Decimal("10.50".parse().expect("decimal")),
            Value::Null,
            Value::Json(serde_json::json!({"note": "x\ty"})),
        ])];
        let text = String::from_utf8(
            copy_text(&schema(), &rows, "2026-12-05T10:00:00.000000Z").expect("copy text"),
        )
        .expect("utf8");
        assert_eq!(
            text,
            "acme\ta\\tb\\\\c\\nd\t10.50\t\\N\t{\"note\":\"x\\\\ty\"}\t2026-12-05T10:00:00.000000Z\n"
        );
    }

    #[test]
    fn a_failed_direct_copy_skips_doubling_numbers_of_batches() {
        let mut d = DirectCopy::default();
        assert!(d.attempt());
        let mut skipped = Vec::new();
        for _ in 0..9 {
            d.failed();
            let mut n = 0;
            while !d.attempt() {
                n += 1;
            }
            skipped.push(n);
        }
        assert_eq!(skipped, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        d.succeeded();
        assert!(d.attempt());
        d.failed();
        assert!(!d.attempt());
        assert!(d.attempt());
    }

    #[test]
    fn a_value_of_the_wrong_type_names_table_column_and_row() {
        let rows = vec![Row(vec![
            Value::Text("acme".into()),
            Value::Text("1".into()),
            Value::Text("12.50".into()),
            Value::Null,
            Value::Null,
        ])];
        let e = copy_text(&schema(), &rows, "2026-12-05T10:00:00Z")
            .expect_err("text in a decimal column");
        assert_eq!(
            e.to_string(),
            "table orders, column total, row 0: expected a decimal value, found text"
        );
    }

    #[test]
    fn upsert_reads_the_temporary_table_and_revives_deleted_rows() {
        let sql = CopySql::new(&schema());
        assert!(sql.create.ends_with(r#"AS SELECT "tenant", "order_id", "total", "paid", "custom", "_synced_at" FROM "orders" WITH NO DATA"#), "{}", sql.create);
        assert!(sql.upsert.contains(r#"SELECT "tenant", "order_id", "total", "paid", "custom", "_synced_at", NULL FROM "_cartage_copy_"#), "{}", sql.upsert);
        assert_eq!(
            sql.direct,
            r#"COPY "orders" ("tenant", "order_id", "total", "paid", "custom", "_synced_at") FROM STDIN"#
        );
        assert!(sql.upsert.contains(r#"ON CONFLICT ("tenant", "order_id") DO UPDATE SET "total" = EXCLUDED."total", "paid" = EXCLUDED."paid", "custom" = EXCLUDED."custom", "_synced_at" = EXCLUDED."_synced_at", "_deleted_at" = NULL"#), "{}", sql.upsert);
    }
}
