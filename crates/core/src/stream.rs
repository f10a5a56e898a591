//! Streams: what a source can read, and the state it resumes from.

use serde::{Deserialize, Serialize};

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Read everything every run (snapshots such as stock levels).
    Full,
    /// Read what changed since the stored cursor (after a first full backfill).
    Incremental,
}

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Insert or update by primary key: re-reading a batch is harmless.
    Upsert,
    /// Insert only (event logs).
    Append,
}

/// A stream a source offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDef {
    /// The stream name, e.g. `orders`.
    pub name: String,
    /// The source record's identifying fields (e.g. `["id"]`).
    pub primary_key: Vec<String>,
    /// The source field the incremental cursor follows (e.g. `updatedAt`).
    pub cursor_field: Option<String>,
    pub sync_mode: SyncMode,
    pub write_mode: WriteMode,
    /// The fields a deleted record carries, if the source reports deletions
    /// (see [`crate::SourceBatch::deleted`]); empty if it does not. The
    /// runner checks before the run that the mapping can place them.
    pub deleted_by: Vec<String>,
    /// The stream may send snapshot batches ([`crate::SourceBatch::snapshot`]):
    /// the sink then prepares staging tables for the stream's tables.
    pub snapshots: bool,
}

/// A stream's checkpoint: opaque to the driver and the sink, meaningful only
/// to the source that wrote it. Serialized as JSON beside the data it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamState(pub serde_json::Value);
