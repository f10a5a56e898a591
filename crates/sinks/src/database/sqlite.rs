//! SQLite's commit path: a connection of its own, through the SQLite C API
//! (rusqlite), beside the sea-orm pool that creates and reads the tables.
//!
//! Why: through sqlx, a commit's statements cost about twice what SQLite
//! itself spends on them (`cargo xtask bench sinks`: 0.50 of the rusqlite
//! baseline): every value is converted into sqlx's argument type and
//! shipped to sqlx's worker thread. Here the same statement texts are
//! prepared once, kept in rusqlite's statement cache, and the values bound
//! natively: an upsert's straight from the batch's rows
//! ([`SqliteTx::upsert`]), the other statements' from their sea-query
//! values.
//!
//! A transaction starts with `BEGIN IMMEDIATE`, so a second writer makes
//! this one wait (up to the busy timeout) at the start rather than fail on
//! its first write. Calls run in `block_in_place`, so a commit never stalls
//! the runtime's other tasks; the connection sits behind a mutex only to be
//! shareable, the sink being its one user (`&mut self`).

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cartage_core::{Column, Row};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::Value as SqValue;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;

use super::dialect::sqlite_param;
use crate::error::DriverError;

/// Statements kept prepared: every (table, rows per statement) text a
/// commit uses, with room to spare (the sea-orm pool keeps as many).
const STATEMENT_CACHE: usize = 256;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The write connection of a SQLite sink.
#[derive(Clone)]
pub(crate) struct Writer {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Opens the database file of a sqlx SQLite `url` (which the pool has
    /// already opened, and created if it had to) with the pool's settings.
    /// An in-memory database cannot be shared by two connections; it is
    /// refused.
    pub(crate) fn open(url: &str) -> Result<Writer, String> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        let path = options.get_filename();
        if is_in_memory(url, &options) {
            return Err("an in-memory database cannot be a sink (it is gone when the process \
                        ends, and the sink writes through a connection of its own); give a \
                        file path"
                .to_owned());
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
        // The pool's settings (see `DatabaseSink::connect_with`); WAL is a
        // property of the file, which the pool has set.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 8192;",
        )
        .map_err(|e| e.to_string())?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Writer { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Begins a write transaction (after rolling back one a cancelled
    /// commit may have left open).
    pub(crate) fn begin(&self) -> Result<SqliteTx, DriverError> {
        self.run(|c| {
            if !c.is_autocommit() {
                c.execute_batch("ROLLBACK")?;
            }
            c.execute_batch("BEGIN IMMEDIATE")
        })?;
        Ok(SqliteTx { writer: self.clone(), open: true })
    }

    /// Runs `f` with the connection. On a multi-threaded runtime, through
    /// `block_in_place`: the runtime moves its other tasks to another worker
    /// meanwhile, and the values `f` binds are borrowed, not sent anywhere.
    fn run<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DriverError> {
        let mut conn = lock(&self.conn);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result =
            if multi_thread { tokio::task::block_in_place(|| f(&mut conn)) } else { f(&mut conn) };
        result.map_err(DriverError::Sqlite)
    }
}

/// The connection, even if a panic poisoned its mutex: every use starts by
/// rolling back what a failed one left (see [`Writer::begin`]).
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether sqlx opens `url` as an in-memory database: the name
/// `:memory:` (which sqlx renames `file:sqlx-in-memory-<n>`) or
/// `mode=memory`.
fn is_in_memory(url: &str, options: &SqliteConnectOptions) -> bool {
    let name = options.get_filename().to_string_lossy();
    name == ":memory:"
        || name.starts_with("file:sqlx-in-memory-")
        || url.split_once('?').is_some_and(|(_, q)| q.split('&').any(|kv| kv == "mode=memory"))
}

/// An open transaction on the writer; rolled back when dropped unfinished.
pub(crate) struct SqliteTx {
    writer: Writer,
    open: bool,
}

/// Why [`SqliteTx::upsert`] failed.
pub(crate) enum UpsertError {
    /// Row `row` of the chunk holds a value of type `found` in column
    /// `column` (an index into the columns).
    Type {
        row: usize,
        column: usize,
        found: &'static str,
    },
    Driver(DriverError),
}

impl SqliteTx {
    /// Runs one statement with `values` bound in order; returns the rows it
    /// changed.
    pub(crate) fn execute(&mut self, sql: &str, values: Vec<SqValue>) -> Result<u64, DriverError> {
        self.writer.run(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            for (i, v) in values.into_iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, value(v)?)?;
            }
            Ok(stmt.raw_execute()? as u64)
        })
    }

    /// Runs the multi-row statement `sql` with each of `rows` bound as the
    /// values of `columns` (checked against the column types), followed by
    /// `synced` if given; returns the rows it changed.
    pub(crate) fn upsert(
        &mut self,
        sql: &str,
        columns: &[Column],
        rows: &[Row],
        synced: Option<&str>,
    ) -> Result<u64, UpsertError> {
        let mut mismatch = None;
        let result = self.writer.run(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            let mut i = 1;
            for (r, row) in rows.iter().enumerate() {
                for (k, (v, col)) in row.0.iter().zip(columns).enumerate() {
                    match sqlite_param(col.ty, v) {
                        Ok(p) => stmt.raw_bind_parameter(i, p)?,
                        Err(found) => {
                            mismatch = Some(UpsertError::Type { row: r, column: k, found });
                            return Ok(0);
                        }
                    }
                    i += 1;
                }
                if let Some(synced) = synced {
                    stmt.raw_bind_parameter(i, synced)?;
                    i += 1;
                }
            }
            Ok(stmt.raw_execute()? as u64)
        });
        match (mismatch, result) {
            (Some(e), _) => Err(e),
            (None, result) => result.map_err(UpsertError::Driver),
        }
    }

    /// Runs statements without parameters (DDL).
    pub(crate) fn execute_batch(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.writer.run(|c| {
            c.execute_batch(sql)?;
            Ok(c.changes())
        })
    }

    pub(crate) fn commit(mut self) -> Result<(), DriverError> {
        self.open = false;
        self.writer.run(|c| c.execute_batch("COMMIT"))
    }

    pub(crate) fn rollback(mut self) -> Result<(), DriverError> {
        self.open = false;
        self.writer.run(|c| c.execute_batch("ROLLBACK"))
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            // A cancelled commit. Done here, not on the blocking pool: the
            // next `begin` must find the connection clean (it also checks).
            let c = lock(&self.writer.conn);
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
        }
    }
}

/// A sea-query value as SQLite stores it (what sqlx binds for the same
/// value: booleans as 0/1, text as text).
pub(super) fn value(v: SqValue) -> rusqlite::Result<Sql> {
    Ok(match v {
        SqValue::Bool(b) => b.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
        SqValue::TinyInt(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::SmallInt(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::Int(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::BigInt(x) => x.map_or(Sql::Null, Sql::Integer),
        SqValue::TinyUnsigned(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::SmallUnsigned(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::Unsigned(x) => x.map_or(Sql::Null, |x| Sql::Integer(x.into())),
        SqValue::Float(x) => x.map_or(Sql::Null, |x| Sql::Real(x.into())),
        SqValue::Double(x) => x.map_or(Sql::Null, Sql::Real),
        SqValue::String(s) => s.map_or(Sql::Null, Sql::Text),
        SqValue::Char(c) => c.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        SqValue::Bytes(b) => b.map_or(Sql::Null, Sql::Blob),
        other => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("no SQLite binding for {other:?}").into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_urls_are_recognised() {
        for url in ["sqlite::memory:", "sqlite://:memory:", "sqlite://?mode=memory"] {
            let o = SqliteConnectOptions::from_str(url).unwrap();
            assert!(is_in_memory(url, &o), "{url}");
        }
        let url = "sqlite://data/x.db?mode=rwc";
        let o = SqliteConnectOptions::from_str(url).unwrap();
        assert!(!is_in_memory(url, &o));
    }

    #[test]
    fn values_bind_as_sqlx_binds_them() {
        assert_eq!(value(SqValue::Bool(Some(true))).unwrap(), Sql::Integer(1));
        assert_eq!(value(SqValue::BigInt(None)).unwrap(), Sql::Null);
        assert_eq!(value(SqValue::String(Some("a".into()))).unwrap(), Sql::Text("a".into()));
        assert!(value(SqValue::ChronoDate(None)).is_err());
    }
}
