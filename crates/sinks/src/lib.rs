//! Sinks: where synced rows and their stream state land, together.
//!
//! One [`DatabaseSink`] serves SQLite (the embedded default), PostgreSQL and
//! MySQL/MariaDB through sea-orm; [`SinkConfig`] is the `sink:` block of a
//! connection and builds it. Every commit is one transaction holding the
//! batch's rows and the stream state that covers them (see
//! [`cartage_core::Sink`]).
//!
//! # Column types
//!
//! | [`cartage_core::ColumnType`] | SQLite | PostgreSQL | MySQL/MariaDB |
//! |---|---|---|---|
//! | `Text` | `TEXT` | `TEXT` | `VARCHAR(191)` in a primary key, else `TEXT` |
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
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{MysqlConfig, PostgresConfig, SinkConfig, SinkVariant, SqliteConfig, redact_url};
pub use database::STAGE_PREFIX;
pub use database::{Backend, DELETED_AT, DatabaseSink, STATE_TABLE, SYNCED_AT, StoredRow};
pub use error::SinkError;
