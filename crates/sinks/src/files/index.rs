//! The key index of one tenant: an SQLite file beside the data files,
//! `DIR/<tenant>/_cartage_index.db`, and the file sink's state file.
//!
//! It holds, per table, every key ever written with its parent key, whether
//! it is live, and its last row (JSON); the snapshot rows staged so far; each
//! stream's state; and the sequence number of the last committed batch. A
//! commit writes its files first and then updates all of these in one
//! transaction: the index is what says which files are committed.
//!
//! It lets the sink write exact tombstones (the live children a batch's
//! parents lost, the live rows a deletion names by any column, the live rows
//! a snapshot lacks) with memory bounded by the batch, not the table: the
//! lookups are indexed queries, and a snapshot swap pages through its rows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cartage_core::StreamState;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    SqlxSqliteConnector, Statement, TransactionTrait, Value as SqValue,
};

use crate::error::SinkError;

/// The index's file name in a tenant's directory.
pub const INDEX_FILE: &str = "_cartage_index.db";

/// Values per `IN (...)` list or multi-row insert: far below SQLite's
/// 32,766 parameters.
pub(crate) const CHUNK: usize = 500;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS state (stream TEXT PRIMARY KEY, state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS keys (tbl TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, \
     live INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS keys_parent ON keys (tbl, parent)",
    "CREATE TABLE IF NOT EXISTS stage (tbl TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, \
     row TEXT NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID",
];

/// A tenant's open index.
pub(crate) struct TenantIndex {
    db: DatabaseConnection,
    path: PathBuf,
    /// The sequence number of the last committed batch (0: none yet).
    pub(crate) seq: u64,
}

fn open_err(path: &Path, e: impl std::fmt::Display) -> SinkError {
    SinkError::statement(
        format!("opening the key index {}", path.display()),
        DbErr::Custom(e.to_string()),
    )
}

async fn connect(path: &Path, read_only: bool) -> Result<DatabaseConnection, SinkError> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(!read_only)
        .read_only(read_only)
        .journal_mode(SqliteJournalMode::Wal)
        // A commit lost to a power cut leaves files beyond the committed
        // sequence, which the next open deletes: data and state still match.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| open_err(path, e))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn read_seq(db: &impl ConnectionTrait, path: &Path) -> Result<u64, SinkError> {
    let rows = query(db, "SELECT value FROM meta WHERE name = 'seq'", vec![], || {
        format!("reading the committed sequence from {}", path.display())
    })
    .await?;
    Ok(match rows.first() {
        Some(r) => get_i64(r, 0, path)? as u64,
        None => 0,
    })
}

impl TenantIndex {
    /// Opens (creating) the index in the tenant directory `dir`.
    pub(crate) async fn open(dir: &Path) -> Result<Self, SinkError> {
        let path = dir.join(INDEX_FILE);
        let db = connect(&path, false).await?;
        for sql in SCHEMA {
            exec(&db, sql, vec![], || format!("creating the key index {}", path.display())).await?;
        }
        let seq = read_seq(&db, &path).await?;
        Ok(TenantIndex { db, path, seq })
    }

    /// The committed sequence of the index in `dir`, without creating it
    /// (0 if there is none).
    pub(crate) async fn committed_seq(dir: &Path) -> Result<u64, SinkError> {
        let path = dir.join(INDEX_FILE);
        if !path.exists() {
            return Ok(0);
        }
        let db = connect(&path, true).await?;
        let has_meta = query(
            &db,
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            vec![],
            || format!("reading {}", path.display()),
        )
        .await?;
        let seq = if has_meta.is_empty() { 0 } else { read_seq(&db, &path).await? };
        let _ = db.close().await;
        Ok(seq)
    }

    pub(crate) async fn close(self) -> Result<(), SinkError> {
        let path = self.path;
        self.db
            .close()
            .await
            .map_err(|e| SinkError::statement(format!("closing {}", path.display()), e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, SinkError> {
        self.db.begin().await.map_err(|e| {
            SinkError::statement(format!("beginning a transaction on {}", self.path.display()), e)
        })
    }

    pub(crate) async fn read_state(&self, stream: &str) -> Result<Option<StreamState>, SinkError> {
        let rows = query(
            &self.db,
            "SELECT state FROM state WHERE stream = ?",
            vec![stream.into()],
            || format!("reading the state of stream {stream} from {}", self.path.display()),
        )
        .await?;
        let Some(r) = rows.first() else { return Ok(None) };
        let text: String = r.try_get_by_index(0).map_err(|e| {
            SinkError::statement(format!("reading the state of stream {stream}"), e)
        })?;
        serde_json::from_str(&text).map(|v| Some(StreamState(v))).map_err(|e| SinkError::State {
            tenant: self.path.display().to_string(),
            stream: stream.into(),
            reason: e.to_string(),
        })
    }
}

/// Writes the stream's state and the committed sequence in `txn`.
pub(crate) async fn write_state(
    txn: &DatabaseTransaction,
    path: &Path,
    stream: &str,
    state: &StreamState,
    seq: u64,
) -> Result<(), SinkError> {
    let action = || format!("writing the state of stream {stream} into {}", path.display());
    exec(
        txn,
        "INSERT INTO state (stream, state) VALUES (?, ?) \
         ON CONFLICT (stream) DO UPDATE SET state = excluded.state",
        vec![stream.into(), state.0.to_string().into()],
        action,
    )
    .await?;
    exec(
        txn,
        "INSERT INTO meta (name, value) VALUES ('seq', ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        vec![(seq as i64).into()],
        action,
    )
    .await?;
    Ok(())
}

pub(crate) async fn exec(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<SqValue>,
    action: impl Fn() -> String,
) -> Result<u64, SinkError> {
    let stmt = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
    db.execute_raw(stmt)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| SinkError::statement(action(), e))
}

pub(crate) async fn query(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<SqValue>,
    action: impl Fn() -> String,
) -> Result<Vec<QueryResult>, SinkError> {
    let stmt = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
    db.query_all_raw(stmt).await.map_err(|e| SinkError::statement(action(), e))
}

fn get_i64(r: &QueryResult, i: usize, path: &Path) -> Result<i64, SinkError> {
    r.try_get_by_index(i)
        .map_err(|e| SinkError::statement(format!("reading {}", path.display()), e))
}

pub(crate) fn get_text(r: &QueryResult, i: usize, path: &Path) -> Result<String, SinkError> {
    r.try_get_by_index(i)
        .map_err(|e| SinkError::statement(format!("reading {}", path.display()), e))
}

/// `?, ?, ?` for `n` values.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
