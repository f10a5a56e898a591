//! The file sink: JSONL, CSV or Parquet files in a directory, deletions as
//! tombstone rows.
//!
//! # Layout
//!
//! ```text
//! DIR/<tenant>/_cartage_index.db             key index, stream state, committed sequence
//! DIR/<tenant>/<table>/000000000042-orders.parquet
//! ```
//!
//! Each batch that writes rows gets the tenant's next sequence number; its
//! files (one per table it touches) are named by it and the stream, so file
//! names sort in commit order. Every row carries the table's columns, then
//! `_synced_at` (the batch time) and `_deleted_at`.
//!
//! # Atomicity
//!
//! A commit writes each file under a temporary name (`.tmp-…` in the same
//! directory, which `*.parquet` globs skip), fsyncs it, renames it into
//! place and fsyncs the directory; only then does one transaction of the
//! tenant's index (the `index` module) record the new keys, the stream state and the
//! sequence. A reader never sees a partial file. A crash between the rename
//! and the index commit leaves files beyond the committed sequence: opening
//! the tenant deletes them (and [`read_table`] ignores them), and the batch
//! is redone from the old state.
//!
//! # Current view
//!
//! The latest record per primary key (by file name, then position in the
//! file), kept if its `_deleted_at` is null. Deletions are tombstones: the
//! key columns, nulls, `_deleted_at` set; they are written for explicit
//! deletions (and the children of deleted parents), for children a batch's
//! parents no longer carry, and for the rows a completed snapshot lacks.
//! Snapshot batches are staged in the index and written only by the last
//! part, so a snapshot that stops half-way writes nothing.
//!
//! File writes are blocking calls on the runtime's thread: commits come one
//! at a time, so nothing else waits on them.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use cartage_core::{
    CommitBatch, CommitStats, SharedSchema, Sink, StreamState, TableRows, TableSchema,
};
use tracing::debug;

use crate::database::{StoredRow, compare_keys, validate_schema};
use crate::error::SinkError;

mod commit;
mod config;
mod encode;
pub(crate) mod format;
mod index;
mod layout;

pub use config::{FileFormat, FilesConfig};
pub use index::INDEX_FILE;

use commit::{FileWriter, dedupe, write_live, write_snapshot};
use index::TenantIndex;
use layout::TMP_PREFIX;

/// A sink writing JSONL, CSV or Parquet files (see the [module docs](self)).
pub struct FilesSink {
    root: PathBuf,
    format: FileFormat,
    row_group_rows: usize,
    tenants: HashMap<String, TenantIndex>,
}

impl std::fmt::Debug for FilesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesSink").field("root", &self.root).field("format", &self.format).finish()
    }
}

impl FilesSink {
    pub(crate) fn open(config: &FilesConfig) -> Result<Self, SinkError> {
        let root = config.path.clone();
        let dir_err =
            |reason: String| SinkError::Directory { path: root.display().to_string(), reason };
        if config.row_group_rows == 0 {
            return Err(dir_err("row_group_rows must be at least 1".into()));
        }
        std::fs::create_dir_all(&root).map_err(|e| dir_err(format!("cannot create it: {e}")))?;
        let probe = root.join(format!("{TMP_PREFIX}write-check"));
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| dir_err(format!("cannot write into it: {e}")))?;
        Ok(FilesSink {
            root,
            format: config.format,
            row_group_rows: config.row_group_rows,
            tenants: HashMap::new(),
        })
    }

    /// Closes every tenant's index (a sink dropped without it closes them
    /// too, less promptly).
    pub async fn close(self) -> Result<(), cartage_core::Error> {
        for (_, index) in self.tenants {
            index.close().await?;
        }
        Ok(())
    }

    /// The tenant's index, opened (and the tenant's orphan files deleted) on
    /// first use.
    async fn tenant(&mut self, tenant: &str) -> Result<&mut TenantIndex, SinkError> {
        if !self.tenants.contains_key(tenant) {
            layout::check_name("tenant", tenant)?;
            let dir = self.root.join(tenant);
            layout::create_dir(&dir)?;
            layout::sync_dir(&self.root)?;
            let index = TenantIndex::open(&dir).await?;
            let removed = layout::remove_orphans(&dir, index.seq)?;
            debug!(tenant, committed = index.seq, removed, "opened tenant");
            self.tenants.insert(tenant.to_owned(), index);
        }
        // Cannot fail: inserted above if it was missing.
        Ok(self.tenants.get_mut(tenant).expect("tenant index just opened"))
    }

    async fn commit_inner(&mut self, batch: CommitBatch) -> Result<CommitStats, SinkError> {
        let CommitBatch { tenant, stream, tables, deleted, state, synced_at, snapshot } = batch;
        layout::check_name("stream", &stream)?;
        let synced_at = encode::micros(synced_at);
        let mut checked = Vec::with_capacity(tables.len());
        for t in tables {
            validate_schema(&t.schema)?;
            layout::check_name("table", &t.schema.name)?;
            let mut rows = dedupe(&t.schema, t.rows)?;
            encode::coerce(&t.schema, &mut rows)?;
            checked.push(TableRows { schema: t.schema, rows });
        }
        if let (Some(_), Some(d)) = (snapshot, deleted.first()) {
            return Err(SinkError::Snapshot {
                stream,
                reason: format!(
                    "a snapshot batch cannot mark rows of table {} deleted: rows the snapshot lacks are the deleted ones",
                    d.schema.name
                ),
            });
        }
        let root = self.root.clone();
        let writer = FileWriter {
            dir: root.join(&tenant),
            format: self.format,
            row_group_rows: self.row_group_rows,
            stream: stream.clone(),
            synced_at,
        };
        let index = self.tenant(&tenant).await?;
        let seq = index.seq + 1;
        let path = index.path().to_owned();
        let txn = index.begin().await?;
        let mut pending = Vec::new();
        let result = match snapshot {
            None => write_live(&txn, &path, &writer, seq, checked, deleted, &mut pending).await,
            Some(part) => {
                write_snapshot(&txn, &path, &writer, seq, part, checked, &mut pending).await
            }
        };
        let committed = if pending.is_empty() { seq - 1 } else { seq };
        let staged = async {
            let stats = result?;
            layout::publish(&pending)?;
            index::write_state(&txn, &path, &stream, &state, committed).await?;
            Ok::<_, SinkError>(stats)
        }
        .await;
        let outcome = match staged {
            Ok(stats) => txn.commit().await.map(|()| stats).map_err(|e| {
                SinkError::statement(format!("committing the index {}", path.display()), e)
            }),
            Err(e) => {
                // Dropping would roll back too; doing it here frees the
                // index's one connection before the error travels up.
                if let Err(rollback) = txn.rollback().await {
                    debug!(%rollback, "rollback after a failed commit failed");
                }
                Err(e)
            }
        };
        match outcome {
            Ok(stats) => {
                index.seq = committed;
                debug!(tenant, stream, seq = committed, files = pending.len(), "committed batch");
                Ok(stats)
            }
            Err(e) => {
                // The index did not record the batch: none of its files may
                // stay visible (the next attempt reuses the sequence).
                layout::discard(&pending);
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Sink for FilesSink {
    async fn prepare(
        &mut self,
        tables: &[SharedSchema],
        _staged: bool,
    ) -> Result<(), cartage_core::Error> {
        // Files need no tables; the checks fail early what a commit would.
        for schema in tables {
            validate_schema(schema)?;
            layout::check_name("table", &schema.name)?;
        }
        Ok(())
    }

    async fn read_state(
        &mut self,
        tenant: &str,
        stream: &str,
    ) -> Result<Option<StreamState>, cartage_core::Error> {
        Ok(self.tenant(tenant).await?.read_state(stream).await?)
    }

    async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, cartage_core::Error> {
        Ok(self.commit_inner(batch).await?)
    }

    fn row_check(&self) -> Option<std::sync::Arc<dyn cartage_core::RowCheck>> {
        match self.format {
            FileFormat::Parquet => Some(std::sync::Arc::new(ParquetCheck)),
            // Text formats write every value exactly as it is.
            FileFormat::Jsonl | FileFormat::Csv => None,
        }
    }
}

/// What Parquet files cannot hold: a decimal beyond `DECIMAL(38,12)` (more
/// than 12 digits after the point, or 26 before it). Refused per row, so
/// the mapping's `on_error` decides, never rounded.
struct ParquetCheck;

impl cartage_core::RowCheck for ParquetCheck {
    fn check(&self, schema: &TableSchema, row: &cartage_core::Row) -> Result<(), String> {
        for (value, column) in row.0.iter().zip(&schema.columns) {
            if let cartage_core::Value::Decimal(d) = value
                && format::parquet::decimal_to_i128(*d).is_none()
            {
                return Err(format!(
                    "table {}, column {}, key {}: decimal {} does not fit the Parquet column's DECIMAL({},{}) ({} digits after the point at most, {} before it)",
                    schema.name,
                    column.name,
                    crate::database::check::show_key(schema, row),
                    d.normalize(),
                    crate::DECIMAL_PRECISION,
                    crate::DECIMAL_SCALE,
                    crate::DECIMAL_SCALE,
                    crate::DECIMAL_PRECISION as i8 - crate::DECIMAL_SCALE,
                ));
            }
        }
        Ok(())
    }
}

/// The committed content of `schema`'s table for `tenant`, as
/// [`crate::DatabaseSink::read_table`] returns it for the same commits: one
/// row per key ever written, with the values and `_synced_at` of its last
/// full row and, if a tombstone followed, the time of that deletion; sorted
/// by primary key. Files beyond the committed sequence are ignored.
///
/// Reads every file of the table (memory grows with the table: a tool for
/// tests and checks, not for the sync).
pub async fn read_table(
    config: &FilesConfig,
    schema: &TableSchema,
    tenant: &str,
) -> Result<Vec<StoredRow>, cartage_core::Error> {
    Ok(read_table_inner(config, schema, tenant).await?)
}

async fn read_table_inner(
    config: &FilesConfig,
    schema: &TableSchema,
    tenant: &str,
) -> Result<Vec<StoredRow>, SinkError> {
    layout::check_name("tenant", tenant)?;
    layout::check_name("table", &schema.name)?;
    let dir = config.path.join(tenant);
    let committed = TenantIndex::committed_seq(&dir).await?;
    let files =
        layout::committed_files(&dir.join(&schema.name), config.format.extension(), committed)?;
    let key = schema.primary_key_indexes();
    let mut rows: HashMap<String, StoredRow> = HashMap::new();
    for file in files {
        for record in format::read(config.format, &file, schema)? {
            let k = encode::key_text(&record.row, &key);
            match record.deleted_at {
                None => {
                    let stored = StoredRow {
                        row: record.row,
                        synced_at: record.synced_at,
                        deleted_at: None,
                    };
                    rows.insert(k, stored);
                }
                // A tombstone keeps the last values and marks the time it
                // was first deleted at.
                Some(at) => {
                    if let Some(r) = rows.get_mut(&k)
                        && r.deleted_at.is_none()
                    {
                        r.deleted_at = Some(at);
                    }
                }
            }
        }
    }
    let mut out: Vec<StoredRow> = rows.into_values().collect();
    out.sort_by(|a, b| compare_keys(&a.row, &b.row, &key));
    Ok(out)
}
