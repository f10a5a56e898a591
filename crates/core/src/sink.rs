//! The `Sink` trait: how rows and state reach a destination together.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::value::SharedSchema;
use crate::{Error, Row, SnapshotPart, StreamDef, StreamState, TableSchema};

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
    /// The rows per table. In a snapshot batch, every table of the stream,
    /// with or without rows: they are the tables the snapshot stages and
    /// swaps.
    pub tables: Vec<TableRows>,
    /// Rows to mark deleted, after the upserts.
    pub deleted: Vec<TableDeletes>,
    pub state: StreamState,
    /// The value for every written row's `_synced_at`.
    pub synced_at: DateTime<Utc>,
    /// `None`: an ordinary batch. `Some`: part of a snapshot, staged and
    /// swapped in by the sink (see [`Sink::commit`]).
    pub snapshot: Option<SnapshotPart>,
}

/// What a commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Rows upserted per table, in the order of `CommitBatch::tables` (in a
    /// snapshot batch: rows staged).
    pub rows: Vec<(String, u64)>,
    /// Rows newly marked deleted per table (children included; in a snapshot
    /// batch that swaps: the live rows the snapshot lacks).
    pub deleted: Vec<(String, u64)>,
}

/// What a sink can do beyond upserting rows. The runner compares it with
/// each stream's needs before anything runs ([`SinkCapabilities::refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkCapabilities {
    /// Honours [`CommitBatch::deleted`] (the stream reports deletions).
    pub deletions: bool,
    /// Honours snapshot batches ([`CommitBatch::snapshot`]).
    pub snapshots: bool,
}

impl SinkCapabilities {
    /// Why this sink cannot take `stream`, or `None` if it can.
    pub fn refusal(&self, stream: &StreamDef) -> Option<String> {
        let mut needs = Vec::new();
        if !stream.deleted_by.is_empty() && !self.deletions {
            needs.push("marking the rows the source reports deleted");
        }
        if stream.snapshots && !self.snapshots {
            needs.push("swapping in whole snapshots");
        }
        (!needs.is_empty()).then(|| {
            format!("stream {:?} needs a sink capable of {}", stream.name, needs.join(" and "))
        })
    }
}

/// A sink's rules for what it cannot store (see [`Sink::row_check`]): the
/// pipeline asks about every mapped row before the row joins a batch, so a
/// value the destination refuses becomes one record's error, handled by the
/// mapping's `on_error`, instead of a commit that fails on every retry.
///
/// Checks are pure and cheap (no I/O): they run on every row.
pub trait RowCheck: Send + Sync {
    /// `Err(reason)` when the destination would refuse `row` of `schema`
    /// (or store it altered, e.g. a decimal rounded); the reason names the
    /// table, the column and the row's key.
    fn check(&self, schema: &TableSchema, row: &Row) -> Result<(), String>;
}

/// A destination.
///
/// Contract:
/// - [`Sink::prepare`] runs once per run before anything else; it creates
///   missing tables (with the system columns `_synced_at`, `_deleted_at`)
///   and the state table, and with `staged` (the stream's
///   [`crate::StreamDef::snapshots`]) a staging table per table for
///   snapshot batches. It is idempotent. Schema changes happen here, never
///   in a commit: some databases (MySQL) commit a transaction implicitly on
///   DDL.
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
/// - A snapshot batch ([`CommitBatch::snapshot`] is `Some`) writes no live
///   row until its snapshot completes. In the same one transaction as the
///   state: with `first`, the tenant's staged rows of the batch's tables are
///   discarded; the batch's rows are upserted into the staging tables (by
///   primary key, last wins); with `last`, each table's staged rows of the
///   tenant are upserted into the live table (`_synced_at` = the batch's
///   time, `_deleted_at` cleared), the tenant's live rows whose key is not
///   staged get `_deleted_at`, and the staging rows are discarded. Readers
///   of the live tables therefore see the previous snapshot or the new one,
///   never part of one; a snapshot that stops half-way changes nothing
///   visible. The parent rule for child tables does not apply: the swap
///   marks children by their own keys. A snapshot batch carries no
///   [`TableDeletes`].
/// - Commits arrive in order, one at a time; the sink needs no locking.
/// - A row [`Sink::row_check`] refuses makes `commit` fail with a data error
///   naming the table, the column and the key, before anything is written;
///   the pipeline checks first, so it only sends rows the check accepts. A
///   value the database refuses all the same fails the commit with an error
///   naming the table and the keys of the statement's rows.
/// - Errors are [`crate::ErrorKind::Sink`] unless the cause is known to pass
///   (a dropped connection: `Transient`).
///
/// Stored as `Box<dyn Sink>`, hence `#[async_trait]`.
#[async_trait]
pub trait Sink: Send {
    /// Creates or extends `tables`; with `staged`, also their staging tables
    /// (the stream sends snapshot batches).
    async fn prepare(&mut self, tables: &[SharedSchema], staged: bool) -> Result<(), Error>;

    async fn read_state(
        &mut self,
        tenant: &str,
        stream: &str,
    ) -> Result<Option<StreamState>, Error>;

    async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, Error>;

    /// What this sink refuses to store, for the pipeline to check each row
    /// against before it commits; asked once, after [`Sink::prepare`] (the
    /// rules may depend on the tables as they are). `None` (the default):
    /// the sink stores every value of a row's column type.
    fn row_check(&self) -> Option<Arc<dyn RowCheck>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SyncMode, WriteMode};

    fn stream(deleted_by: &[&str], snapshots: bool) -> StreamDef {
        StreamDef {
            name: "orders".into(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            sync_mode: SyncMode::Incremental,
            write_mode: WriteMode::Upsert,
            deleted_by: deleted_by.iter().map(|s| s.to_string()).collect(),
            snapshots,
        }
    }

    #[test]
    fn a_sink_lacking_what_a_stream_needs_is_refused_with_the_reason() {
        let all = SinkCapabilities { deletions: true, snapshots: true };
        let none = SinkCapabilities { deletions: false, snapshots: false };
        assert_eq!(all.refusal(&stream(&["id"], true)), None);
        assert_eq!(none.refusal(&stream(&[], false)), None);
        assert_eq!(
            none.refusal(&stream(&["id"], false)).as_deref(),
            Some(
                r#"stream "orders" needs a sink capable of marking the rows the source reports deleted"#
            )
        );
        assert_eq!(
            none.refusal(&stream(&["id"], true)).as_deref(),
            Some(
                r#"stream "orders" needs a sink capable of marking the rows the source reports deleted and swapping in whole snapshots"#
            )
        );
        let no_snapshots = SinkCapabilities { deletions: true, snapshots: false };
        assert!(no_snapshots.refusal(&stream(&[], true)).is_some());
    }
}
