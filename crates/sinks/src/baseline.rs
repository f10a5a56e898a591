//! Bulk-load baselines (feature `testing`): the fastest plain way each
//! database takes the same rows, for `cargo xtask bench sinks` to hold the
//! sinks against.
//!
//! - SQLite: one transaction per batch of prepared multi-row `INSERT`s
//!   through the SQLite C API (rusqlite), values bound natively.
//! - PostgreSQL: `COPY ... FROM STDIN` (text format) per table, one
//!   transaction per batch.
//! - MySQL/MariaDB: multi-row `INSERT` statements, one transaction per batch.
//! - Parquet: arrow's `ArrowWriter` alone: each table's rows of a batch
//!   turned into Arrow arrays column by column and written to one new
//!   Snappy-compressed file of the sink's Arrow schema; no temporary name,
//!   fsync, rename, key index or state.
//!
//! Each writes into tables a [`DatabaseSink`](crate::DatabaseSink) prepared
//! (same columns, types and keys), sets `_synced_at`, and writes the
//! stream's state row, but does none of the sink's work beyond that: no
//! upsert, no de-duplication, no marking of removed children. Rows must be
//! new keys.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::{ColumnType, CommitBatch, TableSchema, Value};
use sea_orm::sqlx::{self, Connection as _};

use crate::database::Backend;
use crate::database::dialect::{decimal_text, sqlite_timestamp};
use crate::{DELETED_AT, STATE_TABLE, SYNCED_AT};

/// Rows per multi-row statement (the sink's own limit).
const ROWS_PER_STATEMENT: usize = 512;

/// A baseline loader connected to one database, or writing Parquet files.
pub enum Baseline {
    Sqlite(rusqlite::Connection),
    Postgres(sqlx::PgConnection),
    Mysql(sqlx::MySqlConnection),
    Parquet { dir: PathBuf, files: u64 },
}

impl Baseline {
    /// Writes each batch's tables as new Parquet files in `dir`.
    pub fn parquet(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Baseline::Parquet { dir: dir.to_owned(), files: 0 })
    }

    /// Connects to `url` (as the sink would: WAL and `synchronous=NORMAL`
    /// on SQLite, UTC on MySQL, `TCP_NODELAY` on PostgreSQL and MySQL).
    pub async fn connect(backend: Backend, url: &str) -> Result<Self, String> {
        Ok(match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or("");
                let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                c.execute_batch(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;",
                )
                .map_err(|e| e.to_string())?;
                Baseline::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
                crate::database::nodelay::postgres(&mut c).await;
                Baseline::Postgres(c)
            }
            Backend::Mysql => {
                let mut c = sqlx::MySqlConnection::connect(url).await.map_err(|e| e.to_string())?;
                crate::database::nodelay::mysql(&mut c).await;
                sqlx::raw_sql("SET SESSION time_zone = '+00:00'")
                    .execute(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                Baseline::Mysql(c)
            }
        })
    }

    /// Loads one batch in one transaction; returns the rows written.
    pub async fn load(&mut self, batch: &CommitBatch) -> Result<u64, String> {
        match self {
            Baseline::Sqlite(c) => load_sqlite(c, batch).map_err(|e| e.to_string()),
            Baseline::Postgres(c) => load_postgres(c, batch).await.map_err(|e| e.to_string()),
            Baseline::Mysql(c) => load_mysql(c, batch).await.map_err(|e| e.to_string()),
            Baseline::Parquet { dir, files } => load_parquet(dir, files, batch),
        }
    }
}

fn insert_sql(schema: &TableSchema, rows: usize, quote: char) -> String {
    let mut sql = format!("INSERT INTO {quote}{}{quote} (", schema.name);
    for c in &schema.columns {
        let _ = write!(sql, "{quote}{}{quote}, ", c.name);
    }
    let _ = write!(sql, "{quote}{SYNCED_AT}{quote}, {quote}{DELETED_AT}{quote}) VALUES ");
    let one = format!("({}?, NULL)", "?, ".repeat(schema.columns.len()));
    sql.push_str(&vec![one; rows].join(", "));
    sql
}

fn state_sql(quote: char) -> String {
    format!(
        "INSERT INTO {quote}{STATE_TABLE}{quote} ({quote}tenant{quote}, {quote}stream{quote}, {quote}state{quote}, {quote}updated_at{quote}) VALUES (?, ?, ?, ?)"
    )
}

fn load_sqlite(c: &mut rusqlite::Connection, batch: &CommitBatch) -> rusqlite::Result<u64> {
    use rusqlite::types::ToSqlOutput;
    use rusqlite::types::Value as Sql;
    let tx = c.transaction()?;
    let synced = sqlite_timestamp(batch.synced_at);
    let mut n = 0;
    for table in &batch.tables {
        for chunk in table.rows.chunks(ROWS_PER_STATEMENT) {
            let mut stmt = tx.prepare_cached(&insert_sql(&table.schema, chunk.len(), '"'))?;
            let mut i = 1;
            for row in chunk {
                for v in &row.0 {
                    let out: ToSqlOutput<'_> = match v {
                        Value::Null => ToSqlOutput::Owned(Sql::Null),
                        Value::Text(s) => ToSqlOutput::from(s.as_str()),
                        Value::Int(x) => ToSqlOutput::from(*x),
                        Value::Bool(b) => ToSqlOutput::from(*b),
                        Value::Decimal(d) => ToSqlOutput::Owned(Sql::Text(decimal_text(*d))),
                        Value::Timestamp(t) => ToSqlOutput::Owned(Sql::Text(sqlite_timestamp(*t))),
                        Value::Date(d) => {
                            ToSqlOutput::Owned(Sql::Text(d.format("%Y-%m-%d").to_string()))
                        }
                        Value::Json(j) => ToSqlOutput::Owned(Sql::Text(j.to_string())),
                    };
                    stmt.raw_bind_parameter(i, out)?;
                    i += 1;
                }
                stmt.raw_bind_parameter(i, synced.as_str())?;
                i += 1;
            }
            stmt.raw_execute()?;
            n += chunk.len() as u64;
        }
    }
    let mut stmt = tx.prepare_cached(&format!(
        "{} ON CONFLICT DO UPDATE SET state = excluded.state",
        state_sql('"')
    ))?;
    stmt.execute((
        batch.tenant.as_str(),
        batch.stream.as_str(),
        batch.state.0.to_string(),
        synced.as_str(),
    ))?;
    drop(stmt);
    tx.commit()?;
    Ok(n)
}

/// A value in `COPY`'s text format.
fn copy_text(out: &mut String, ty: ColumnType, v: &Value) {
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Text(s) => copy_escape(out, s),
        Value::Int(x) if ty == ColumnType::Decimal => {
            let _ = write!(out, "{x}");
        }
        Value::Int(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Decimal(d) => out.push_str(&decimal_text(*d)),
        Value::Timestamp(t) => out.push_str(&sqlite_timestamp(*t)),
        Value::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Value::Json(j) => copy_escape(out, &j.to_string()),
    }
}

fn copy_escape(out: &mut String, s: &str) {
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

async fn load_postgres(c: &mut sqlx::PgConnection, batch: &CommitBatch) -> sqlx::Result<u64> {
    let mut tx = c.begin().await?;
    let synced = sqlite_timestamp(batch.synced_at);
    let mut n = 0;
    for table in &batch.tables {
        let schema = &table.schema;
        let mut columns: Vec<String> =
            schema.columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
        columns.push(format!("\"{SYNCED_AT}\""));
        let mut copy = tx
            .copy_in_raw(&format!("COPY \"{}\" ({}) FROM STDIN", schema.name, columns.join(", ")))
            .await?;
        let mut buf = String::with_capacity(256 * 1024);
        for row in &table.rows {
            for (v, c) in row.0.iter().zip(&schema.columns) {
                copy_text(&mut buf, c.ty, v);
                buf.push('\t');
            }
            buf.push_str(&synced);
            buf.push('\n');
            if buf.len() > 192 * 1024 {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        copy.send(buf.as_bytes()).await?;
        n += copy.finish().await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{STATE_TABLE}\" (tenant, stream, state, updated_at) VALUES ($1, $2, $3::jsonb, $4) \
         ON CONFLICT (tenant, stream) DO UPDATE SET state = excluded.state"
    )))
    .bind(&batch.tenant)
    .bind(&batch.stream)
    .bind(batch.state.0.to_string())
    .bind(batch.synced_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}

async fn load_mysql(c: &mut sqlx::MySqlConnection, batch: &CommitBatch) -> sqlx::Result<u64> {
    let mut tx = c.begin().await?;
    let synced = batch.synced_at.naive_utc();
    let mut n = 0;
    for table in &batch.tables {
        for chunk in table.rows.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql(&table.schema, chunk.len(), '`');
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                for v in &row.0 {
                    q = match v {
                        Value::Null => q.bind(None::<String>),
                        Value::Text(s) => q.bind(s.as_str()),
                        Value::Int(x) => q.bind(*x),
                        Value::Bool(b) => q.bind(*b),
                        Value::Decimal(d) => q.bind(*d),
                        Value::Timestamp(t) => q.bind(t.naive_utc()),
                        Value::Date(d) => q.bind(*d),
                        Value::Json(j) => q.bind(j.to_string()),
                    };
                }
                q = q.bind(synced);
            }
            n += q.execute(&mut *tx).await?.rows_affected();
        }
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} ON DUPLICATE KEY UPDATE state = VALUES(state)",
        state_sql('`')
    )))
    .bind(&batch.tenant)
    .bind(&batch.stream)
    .bind(batch.state.0.to_string())
    .bind(synced)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}

fn load_parquet(dir: &Path, files: &mut u64, batch: &CommitBatch) -> Result<u64, String> {
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    use crate::files::format::parquet::{arrow_schema, decimal_to_i128};

    let epoch = chrono::NaiveDate::default();
    let synced = batch.synced_at.timestamp_micros();
    let mut n = 0;
    for table in &batch.tables {
        let schema = arrow_schema(&table.schema);
        let rows = &table.rows;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, c) in table.schema.columns.iter().enumerate() {
            let values = rows.iter().map(|r| &r.0[i]);
            let array: ArrayRef = match c.ty {
                ColumnType::Text | ColumnType::Json => {
                    Arc::new(StringArray::from_iter(values.map(|v| match v {
                        Value::Text(s) => Some(s.clone()),
                        Value::Json(j) => Some(j.to_string()),
                        _ => None,
                    })))
                }
                ColumnType::Int => Arc::new(Int64Array::from_iter(values.map(|v| match v {
                    Value::Int(x) => Some(*x),
                    _ => None,
                }))),
                ColumnType::Bool => Arc::new(BooleanArray::from_iter(values.map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                }))),
                ColumnType::Decimal => Arc::new(
                    Decimal128Array::from_iter(values.map(|v| match v {
                        Value::Decimal(d) => decimal_to_i128(*d),
                        _ => None,
                    }))
                    .with_precision_and_scale(crate::DECIMAL_PRECISION, crate::DECIMAL_SCALE)
                    .map_err(|e| e.to_string())?,
                ),
                ColumnType::Timestamp => Arc::new(
                    TimestampMicrosecondArray::from_iter(values.map(|v| match v {
                        Value::Timestamp(t) => Some(t.timestamp_micros()),
                        _ => None,
                    }))
                    .with_timezone("UTC"),
                ),
                ColumnType::Date => Arc::new(Date32Array::from_iter(values.map(|v| match v {
                    Value::Date(d) => Some(d.signed_duration_since(epoch).num_days() as i32),
                    _ => None,
                }))),
            };
            columns.push(array);
        }
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(vec![synced; rows.len()]).with_timezone("UTC"),
        ));
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(vec![None::<i64>; rows.len()]).with_timezone("UTC"),
        ));
        let record = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
        *files += 1;
        let path = dir.join(format!("{files:012}-{}.parquet", table.schema.name));
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let mut writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| e.to_string())?;
        writer.write(&record).map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
        n += rows.len() as u64;
    }
    Ok(n)
}
