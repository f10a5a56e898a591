//! The sinks' error type, and its conversion into `cartage_core::Error`.

use cartage_core::{ColumnType, ErrorKind};
use sea_orm::DbErr;

/// What went wrong in a sink.
///
/// Messages never contain a password: URLs are redacted before they are put
/// into an error (see [`crate::config::redact_url`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink URL cannot be used (wrong scheme, unparsable).
    #[error("invalid sink url {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The database did not accept a connection.
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String, transient: bool },

    /// A statement failed (creating a table, an upsert, the state row).
    #[error("{action}: {source}")]
    Statement {
        /// What was being done, naming the table, e.g. `upserting into table orders`.
        action: String,
        #[source]
        source: DriverError,
    },

    /// A statement waited for a lock on a table longer than the session's
    /// lock timeout: another session holds a conflicting lock.
    #[error(
        "{action}: no lock on table {table} was obtained within {timeout_secs} s (lock timeout): another session holds a conflicting lock, e.g. a long-running query or an open transaction; retry when it ends"
    )]
    LockTimeout { action: String, table: String, timeout_secs: u64 },

    /// A value does not fit the column the schema declares.
    #[error(
        "table {table}, column {column}, row {row}: expected a {expected} value, found {found}"
    )]
    ValueType {
        table: String,
        column: String,
        row: usize,
        expected: &'static str,
        found: &'static str,
    },

    /// The database cannot store a value as it is (a NUL character in
    /// PostgreSQL text, a decimal MySQL would round): the reason names the
    /// table, the column and the row's key.
    #[error("{reason}")]
    Refused { reason: String },

    /// A row has a different number of values than its table has columns.
    #[error("table {table}, row {row}: {found} values for {expected} columns")]
    RowWidth { table: String, row: usize, found: usize, expected: usize },

    /// The schema is unusable (a primary key naming a missing column, ...).
    #[error("table {table}: {reason}")]
    Schema { table: String, reason: String },

    /// A column exists with another type than the mapping now gives it.
    #[error(
        "table {table} column {column} is stored as {stored} but the mapping now makes it {wanted}: migrate it (ALTER TABLE {table} DROP COLUMN {column}; the next run adds it as {wanted} and reads the stream again to fill it), or rename the column in the mapping"
    )]
    TypeChanged { table: String, column: String, stored: String, wanted: &'static str },

    /// A stored value cannot be decoded back into its column type.
    #[error("table {table}, column {column}: cannot decode stored value: {reason}")]
    Decode { table: String, column: String, reason: String },

    /// A snapshot batch asks for something a snapshot cannot do (a bug in
    /// the source or the pipeline).
    #[error("stream {stream}: {reason}")]
    Snapshot { stream: String, reason: String },

    /// A file or directory of a file sink could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `renaming the written file into`.
        action: String,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The file sink's directory cannot be created or written (a
    /// configuration problem: the path or its permissions).
    #[error("sink directory {path}: {reason}")]
    Directory { path: String, reason: String },

    /// A data file of a file sink cannot be written or read back (a Parquet,
    /// CSV or JSON encoding problem).
    #[error("file {path}: {reason}")]
    File { path: String, reason: String },

    /// A decimal does not fit the fixed precision a file format stores.
    #[error(
        "table {table}, column {column}: decimal {value} does not fit DECIMAL({precision},{scale}) (at most {integer} integer and {scale} fraction digits); it is not rounded"
    )]
    DecimalRange {
        table: String,
        column: String,
        value: String,
        precision: u8,
        scale: i8,
        integer: i8,
    },

    /// A tenant, table or stream name cannot be used as a file or directory
    /// name.
    #[error("{what} {name:?} cannot name a file or directory: {reason}")]
    Name { what: &'static str, name: String, reason: &'static str },

    /// The stored state of a stream is not valid JSON.
    #[error("state of tenant {tenant}, stream {stream}: {reason}")]
    State { tenant: String, stream: String, reason: String },
}

/// What a database driver reported: sea-orm/sqlx's error, or SQLite's
/// through the commit path's own connection (see `database::sqlite`).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The commit path was used in a way it does not support (a bug).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl DriverError {
    /// Whether a retry can help: see [`is_transient`].
    fn is_transient(&self) -> bool {
        match self {
            DriverError::Db(e) => is_transient(e),
            DriverError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            DriverError::Internal(_) => false,
        }
    }
}

impl SinkError {
    pub(crate) fn statement(action: impl Into<String>, source: impl Into<DriverError>) -> Self {
        SinkError::Statement { action: action.into(), source: source.into() }
    }

    pub(crate) fn io(
        action: impl Into<String>,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        SinkError::Io { action: action.into(), path: path.display().to_string(), source }
    }

    pub(crate) fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        SinkError::File { path: path.display().to_string(), reason: reason.to_string() }
    }

    pub(crate) fn value_type(
        table: &str,
        column: &str,
        row: usize,
        expected: ColumnType,
        found: &'static str,
    ) -> Self {
        SinkError::ValueType {
            table: table.to_owned(),
            column: column.to_owned(),
            row,
            expected: expected.name(),
            found,
        }
    }

    /// The kind the pipeline sees: whether a retry can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SinkError::InvalidUrl { .. } => ErrorKind::Config,
            SinkError::Connect { transient: true, .. } => ErrorKind::Transient,
            SinkError::Connect { .. } => ErrorKind::Sink,
            SinkError::Statement { source, .. } if source.is_transient() => ErrorKind::Transient,
            SinkError::Statement { .. } => ErrorKind::Sink,
            SinkError::LockTimeout { .. } => ErrorKind::Transient,
            SinkError::ValueType { .. }
            | SinkError::RowWidth { .. }
            | SinkError::Refused { .. } => ErrorKind::Data,
            SinkError::Schema { .. } | SinkError::TypeChanged { .. } => ErrorKind::Config,
            SinkError::Decode { .. } | SinkError::State { .. } => ErrorKind::Sink,
            SinkError::Snapshot { .. } => ErrorKind::Internal,
            SinkError::Io { .. } | SinkError::File { .. } => ErrorKind::Sink,
            SinkError::Directory { .. } => ErrorKind::Config,
            SinkError::DecimalRange { .. } | SinkError::Name { .. } => ErrorKind::Data,
        }
    }
}

impl From<SinkError> for cartage_core::Error {
    fn from(e: SinkError) -> Self {
        // The whole chain goes into the message (one line); the source is not
        // kept so that nothing unredacted can be printed later.
        cartage_core::Error::new(e.kind(), e.to_string())
    }
}

/// Whether a database error can pass: a dropped connection, a pool timeout,
/// a deadlock or a busy database.
pub(crate) fn is_transient(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    let sea_orm::RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        SqlxError::Io(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed
        | SqlxError::Tls(_) => true,
        SqlxError::Database(_) => matches!(
            db_code(e).as_deref(),
            // PostgreSQL serialization failure / deadlock / lock timeout,
            // MySQL deadlock / lock wait timeout, SQLite BUSY / LOCKED.
            Some("40001" | "40P01" | "55P03" | "1213" | "1205" | "5" | "6" | "517" | "262")
        ),
        _ => false,
    }
}

/// The database's code of an error it reported, if any.
fn db_code(e: &DbErr) -> Option<String> {
    let (DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r)) = e else { return None };
    let sea_orm::RuntimeErr::SqlxError(sqlx) = r else { return None };
    let sea_orm::sqlx::Error::Database(db) = sqlx.as_ref() else { return None };
    // MySQL's SQLSTATE is often the generic `HY000`; its error number is
    // what tells errors apart.
    if let Some(my) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        return Some(my.number().to_string());
    }
    db.code().map(|c| c.into_owned())
}

/// Whether a statement failed on a unique constraint (PostgreSQL
/// `unique_violation`).
pub(crate) fn is_unique_violation(e: &DriverError) -> bool {
    match e {
        DriverError::Db(e) => db_code(e).as_deref() == Some("23505"),
        DriverError::Sqlite(_) | DriverError::Internal(_) => false,
    }
}

/// Whether a statement failed waiting for a lock: PostgreSQL
/// `lock_not_available` (`lock_timeout`), MySQL lock wait timeout
/// (`lock_wait_timeout`, `innodb_lock_wait_timeout`).
pub(crate) fn is_lock_timeout(e: &DbErr) -> bool {
    matches!(db_code(e).as_deref(), Some("55P03" | "1205"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn exec(e: sea_orm::sqlx::Error) -> DbErr {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn dropped_connections_and_pool_timeouts_are_transient() {
        assert!(is_transient(&exec(sea_orm::sqlx::Error::PoolTimedOut)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(is_transient(&exec(sea_orm::sqlx::Error::Io(io))));
        assert!(!is_transient(&exec(sea_orm::sqlx::Error::RowNotFound)));
        assert!(!is_transient(&DbErr::Custom("bad".into())));
        let e = SinkError::statement(
            "upserting into table orders",
            exec(sea_orm::sqlx::Error::PoolTimedOut),
        );
        assert_eq!(e.kind(), ErrorKind::Transient);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_data_error_naming_the_place() {
        let e: cartage_core::Error =
            SinkError::value_type("orders", "total_gross", 3, ColumnType::Decimal, "text").into();
        assert_eq!(e.kind(), ErrorKind::Data);
        assert_eq!(
            e.to_string(),
            "data error: table orders, column total_gross, row 3: expected a decimal value, found text"
        );
    }
}
