//! The `Sink` trait: how rows and state reach a destination together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::value::SharedSchema;
use crate::{Error, Row, StreamState};

/// The rows of one table in a batch.
#[derive(Debug, Clone)]
pub struct TableRows {
    pub schema: SharedSchema,
    pub rows: Vec<Row>,
}

/// Rows the source reports deleted: those of `schema` (and of the batch's
/// tenant) whose `column` holds one of `values`.
#[derive(Debug, Clone)]
pub struct TableDeletes {
    pub schema: SharedSchema,
    pub column: String,
    pub values: Vec<crate::Value>,
}

/// Everything one transaction writes: rows for one or more tables, and the
/// stream state that covers them.
#[derive(Debug, Clone)]
pub struct CommitBatch {
    pub tenant: String,
    pub stream: String,
    pub tables: Vec<TableRows>,
    /// Rows to mark deleted, after the upserts.
    pub deleted: Vec<TableDeletes>,
    pub state: StreamState,
    /// The value for every written row's `_synced_at`.
    pub synced_at: DateTime<Utc>,
}

/// What a commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Rows upserted per table, in the order of `CommitBatch::tables`.
    pub rows: Vec<(String, u64)>,
    /// Rows newly marked deleted per table (children included).
    pub deleted: Vec<(String, u64)>,
}

/// A destination.
///
/// Contract:
/// - [`Sink::prepare`] runs once per run before anything else; it creates
///   missing tables (with the system columns `_synced_at`, `_deleted_at`)
///   and the state table. It is idempotent.
/// - [`Sink::read_state`] returns the state last committed for
///   `(tenant, stream)`, or `None`.
/// - [`Sink::commit`] writes one batch **atomically**: all rows of all tables
///   and the new state become visible together, or none of them do (a crash
///   mid-commit leaves the previous state and data). Rows are upserted by
///   primary key after de-duplicating within the batch (last wins), so
///   re-committing a batch is harmless. For a child table
///   ([`crate::TableSchema::parent_key`]), children of a parent present in
///   the batch that the batch does not carry get `_deleted_at` set.
/// - Each [`TableDeletes`] sets `_deleted_at` on the live rows it names and
///   on the live rows of every child table in the batch whose `parent_key`
///   is that table's primary key. A row upserted later is live again.
/// - Commits arrive in order, one at a time; the sink needs no locking.
/// - Errors are [`crate::ErrorKind::Sink`] unless the cause is known to pass
///   (a dropped connection: `Transient`).
///
/// Stored as `Box<dyn Sink>`, hence `#[async_trait]`.
#[async_trait]
pub trait Sink: Send {
    async fn prepare(&mut self, tables: &[SharedSchema]) -> Result<(), Error>;

    async fn read_state(
        &mut self,
        tenant: &str,
        stream: &str,
    ) -> Result<Option<StreamState>, Error>;

    async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, Error>;
}
