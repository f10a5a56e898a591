//! Sinks: where synced rows and their stream state land, together.
//!
//! Sink types (the `type:` of a connection's `sink:` block):
//!
//! - `sqlite`, `postgres`, `mysql`: one [`DatabaseSink`] serves SQLite (the
//!   embedded default), PostgreSQL and MySQL/MariaDB through sea-orm;
//! - `files`: [`files::FilesSink`] writes JSONL, CSV or Parquet files into a
//!   directory, with deletions as tombstone rows (see [`files`]).
//!
//! [`SinkConfig`] is the `sink:` block of a connection and builds the sink. Every commit is one transaction holding the
//! batch's rows and the stream state that covers them (see
//! [`cartage_core::Sink`]).
//!
//! # Column types
//!
//! | [`cartage_core::ColumnType`] | SQLite | PostgreSQL | MySQL/MariaDB |
//! |---|---|---|---|
//! | `Text` | `TEXT` | `TEXT` | `VARCHAR(191)` in a primary key, else `LONGTEXT` |
//! | `Int` | `BIGINT` | `BIGINT` | `BIGINT` |
//! | `Bool` | `BOOLEAN` (0/1) | `BOOLEAN` | `BOOLEAN` (`TINYINT(1)`) |
//! | `Decimal` | `TEXT`, the exact decimal string | `NUMERIC` | `DECIMAL(38,12)` |
//! | `Timestamp` | `TEXT` `YYYY-MM-DDTHH:MM:SS.ffffffZ` | `TIMESTAMPTZ` | `DATETIME(6)`, UTC |
//! | `Date` | `TEXT` `YYYY-MM-DD` | `DATE` | `DATE` |
//! | `Json` | `TEXT` | `JSONB` | `JSON` |
//!
//! SQLite stores decimals as text because its `NUMERIC` affinity would turn
//! them into binary floats; the fixed-width timestamp text sorts in time
//! order. Timestamps keep microseconds everywhere. MySQL tables use
//! `utf8mb4` with the binary collation, so keys compare case-sensitively as
//! on the other backends. Each table also gets `_synced_at` (NOT NULL) and
//! `_deleted_at` (NULL) timestamps; the state lives in `_cartage_state
//! (tenant, stream, state, updated_at)`.
//!
//! # Durability
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a committed batch
//! survives the process being killed at any point; a power loss may drop the
//! last commits but never tears one (data and state always match).

#[cfg(feature = "testing")]
pub mod baseline;
pub mod config;
mod database;
pub mod error;
pub mod files;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{MysqlConfig, PostgresConfig, SinkConfig, SinkVariant, SqliteConfig, redact_url};
pub use database::STAGE_PREFIX;
pub use database::{Backend, DELETED_AT, DatabaseSink, STATE_TABLE, SYNCED_AT, StoredRow};
pub use error::SinkError;
pub use files::{FileFormat, FilesConfig};

/// Digits of an exact decimal where a sink needs a fixed precision.
macro_rules! decimal_precision {
    () => {
        38
    };
}
/// Digits after the point of an exact decimal where a sink needs a fixed
/// scale.
macro_rules! decimal_scale {
    () => {
        12
    };
}

/// The precision of decimals where a sink needs a fixed one (MySQL
/// `DECIMAL(38,12)`, Parquet `DECIMAL128(38, 12)`): 26 integer digits and
/// 12 fraction digits. A value that does not fit is an error, never rounded.
pub const DECIMAL_PRECISION: u8 = decimal_precision!();
/// The scale that goes with [`DECIMAL_PRECISION`].
pub const DECIMAL_SCALE: i8 = decimal_scale!();
/// [`DECIMAL_PRECISION`] and [`DECIMAL_SCALE`] as an SQL type.
pub(crate) const SQL_DECIMAL: &str =
    concat!("DECIMAL(", decimal_precision!(), ",", decimal_scale!(), ")");

#[cfg(test)]
mod tests {
    #[test]
    fn the_sql_decimal_type_spells_the_shared_precision_and_scale() {
        assert_eq!(super::SQL_DECIMAL, "DECIMAL(38,12)");
        assert_eq!(
            super::SQL_DECIMAL,
            format!("DECIMAL({},{})", super::DECIMAL_PRECISION, super::DECIMAL_SCALE)
        );
    }
}
