//! The pipeline driver: source -> mapping -> sink, joined by bounded channels.
//!
//! ```text
//! source task --SourceBatch--> map task --CommitBatch--> sink loop (this task)
//!            (bounded, 2)               (bounded, 2)
//! ```
//!
//! Memory is bounded by the channel capacities times the batch size, whatever
//! the volume: a slow sink blocks the map task, which blocks the source.
//! Each commit writes one source batch's rows and its checkpoint in one
//! transaction, so a crash at any point loses nothing and redoes at most the
//! batches that were in flight.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::value::SharedSchema;
use crate::{
    CommitBatch, Error, ErrorKind, ReadRequest, ReadSummary, Record, Row, Sink, Source,
    SourceBatch, TableDeletes, TableRows, Value,
};

/// Rows produced from records, one `Vec` per table of [`RecordMapper::tables`],
/// and the rows deleted records name.
#[derive(Debug, Default)]
pub struct MappedRows {
    pub tables: Vec<Vec<Row>>,
    pub deleted: Vec<Deletion>,
}

/// The rows of table `table` (an index into [`RecordMapper::tables`]) whose
/// column `column` holds `value` are deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub table: usize,
    pub column: usize,
    pub value: Value,
}

impl MappedRows {
    pub fn new(table_count: usize) -> Self {
        MappedRows { tables: (0..table_count).map(|_| Vec::new()).collect(), deleted: Vec::new() }
    }

    fn lens(&self) -> (Vec<usize>, usize) {
        (self.tables.iter().map(Vec::len).collect(), self.deleted.len())
    }

    fn truncate(&mut self, (lens, deleted): &(Vec<usize>, usize)) {
        for (rows, &len) in self.tables.iter_mut().zip(lens) {
            rows.truncate(len);
        }
        self.deleted.truncate(*deleted);
    }
}

/// Turns source records of one stream into rows: the compiled mapping.
///
/// Implementations are pure functions of the record (no I/O). On `Err` the
/// driver discards whatever the call appended, so no record is half-written.
pub trait RecordMapper: Send + Sync {
    /// The tables this mapper fills, in the order of [`MappedRows::tables`].
    fn tables(&self) -> &[SharedSchema];

    /// The selection the source must read for the mapper's fields (for
    /// Centra, a GraphQL selection set), or `None` for the source's default.
    fn selection(&self) -> Option<String> {
        None
    }

    /// Maps one record, appending its rows to `out`.
    fn map_record(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error>;

    /// Maps a record the source reports deleted (see
    /// [`SourceBatch::deleted`]) to the rows it names, appending to
    /// `out.deleted`. The default refuses: the mapping cannot place them.
    fn map_deleted(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error> {
        let _ = out;
        Err(Error::config(format!(
            "the source reports a deleted record ({}) but this mapping cannot mark deleted rows",
            record.json()
        )))
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    pub records: u64,
    pub batches: u64,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Rows marked deleted per table.
    pub deleted: BTreeMap<String, u64>,
    pub source: ReadSummary,
    pub duration: Duration,
}

/// One stream's run for one tenant.
pub struct Pipeline {
    pub tenant: String,
    pub stream: String,
    pub source: Arc<dyn Source>,
    pub mapper: Arc<dyn RecordMapper>,
    pub sink: Box<dyn Sink>,
    pub cancel: CancellationToken,
    /// Batches buffered between stages (default 2).
    pub channel_capacity: usize,
}

impl Pipeline {
    pub fn new(
        tenant: impl Into<String>,
        stream: impl Into<String>,
        source: Arc<dyn Source>,
        mapper: Arc<dyn RecordMapper>,
        sink: Box<dyn Sink>,
        cancel: CancellationToken,
    ) -> Self {
        Pipeline {
            tenant: tenant.into(),
            stream: stream.into(),
            source,
            mapper,
            sink,
            cancel,
            channel_capacity: 2,
        }
    }

    /// Runs the stream to its end, or until cancelled or failed.
    ///
    /// Every batch handed to the sink before a failure or cancellation is
    /// committed whole; the batch being mapped when cancellation arrives is
    /// dropped (its checkpoint was not written, so the next run reads it again).
    pub async fn run(mut self) -> Result<PipelineStats, Error> {
        let started = Instant::now();
        let where_ = format!("tenant {}, stream {}", self.tenant, self.stream);
        let tables = self.mapper.tables().to_vec();
        self.sink.prepare(&tables).await.map_err(|e| e.context(&where_))?;
        let state = self
            .sink
            .read_state(&self.tenant, &self.stream)
            .await
            .map_err(|e| e.context(&where_))?;
        info!(tenant = %self.tenant, stream = %self.stream, resume = state.is_some(), "starting stream");

        let capacity = self.channel_capacity.max(1);
        let (source_tx, source_rx) = mpsc::channel::<SourceBatch>(capacity);
        let (commit_tx, mut commit_rx) = mpsc::channel::<(CommitBatch, u64)>(capacity);

        let (committed_tx, committed) = crate::Committed::channel();
        let request = ReadRequest {
            tenant: self.tenant.clone(),
            stream: self.stream.clone(),
            selection: self.mapper.selection(),
            state,
            cancel: self.cancel.clone(),
            committed,
        };
        let source = Arc::clone(&self.source);
        let source_task = tokio::spawn(async move { source.read(request, source_tx).await });

        let map_task = tokio::spawn(map_loop(
            Arc::clone(&self.mapper),
            tables,
            self.tenant.clone(),
            self.stream.clone(),
            source_rx,
            commit_tx,
            self.cancel.clone(),
        ));

        let mut stats = PipelineStats::default();
        let mut sink_error = None;
        while let Some((batch, records)) = commit_rx.recv().await {
            let commit = self.sink.commit(batch).await;
            match commit {
                Ok(written) => {
                    stats.batches += 1;
                    stats.records += records;
                    for (table, n) in written.rows {
                        *stats.rows.entry(table).or_default() += n;
                    }
                    for (table, n) in written.deleted {
                        *stats.deleted.entry(table).or_default() += n;
                    }
                    committed_tx.send_replace(stats.batches);
                    debug!(batches = stats.batches, records = stats.records, "committed batch");
                }
                Err(error) => {
                    sink_error = Some(error.context(&where_));
                    // Stop the producers; nothing after a failed commit may be written.
                    self.cancel.cancel();
                    break;
                }
            }
        }
        drop(commit_rx);

        let map_result = join(map_task).await;
        let source_result = join(source_task).await;
        stats.duration = started.elapsed();

        if let Some(error) = sink_error {
            return Err(error);
        }
        if let Err(error) = map_result {
            return Err(error.context(&where_));
        }
        match source_result {
            Ok(summary) => stats.source = summary,
            Err(error) => return Err(error.context(&where_)),
        }
        if self.cancel.is_cancelled() {
            warn!(tenant = %self.tenant, stream = %self.stream, "run cancelled after committing {} batches", stats.batches);
            return Err(Error::cancelled().context(&where_));
        }
        info!(
            tenant = %self.tenant,
            stream = %self.stream,
            records = stats.records,
            batches = stats.batches,
            elapsed_ms = stats.duration.as_millis() as u64,
            "stream done"
        );
        Ok(stats)
    }
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T, Error>>) -> Result<T, Error> {
    match task.await {
        Ok(result) => result,
        Err(join_error) => Err(Error::internal(format!("pipeline task failed: {join_error}"))),
    }
}

async fn map_loop(
    mapper: Arc<dyn RecordMapper>,
    tables: Vec<SharedSchema>,
    tenant: String,
    stream: String,
    mut source_rx: mpsc::Receiver<SourceBatch>,
    commit_tx: mpsc::Sender<(CommitBatch, u64)>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    while let Some(batch) = source_rx.recv().await {
        if cancel.is_cancelled() {
            break;
        }
        let record_count = batch.records.len() as u64;
        let mut out = MappedRows::new(tables.len());
        let deleted = batch.deleted.iter().map(|r| (r, true));
        for (record, is_deleted) in batch.records.iter().map(|r| (r, false)).chain(deleted) {
            let before = out.lens();
            let mapped = if is_deleted {
                mapper.map_deleted(record, &mut out)
            } else {
                mapper.map_record(record, &mut out)
            };
            if let Err(error) = mapped {
                out.truncate(&before);
                if error.kind() == ErrorKind::Data || error.kind() == ErrorKind::Config {
                    cancel.cancel();
                }
                return Err(error);
            }
        }
        let deleted = match group_deletions(&tables, std::mem::take(&mut out.deleted)) {
            Ok(deleted) => deleted,
            Err(error) => {
                cancel.cancel();
                return Err(error);
            }
        };
        let commit = CommitBatch {
            tenant: tenant.clone(),
            stream: stream.clone(),
            deleted,
            tables: tables
                .iter()
                .zip(out.tables)
                .map(|(schema, rows)| TableRows { schema: Arc::clone(schema), rows })
                .collect(),
            state: batch.state,
            synced_at: Utc::now(),
        };
        if commit_tx.send((commit, record_count)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// One [`TableDeletes`] per table and column, values in the order mapped.
fn group_deletions(
    tables: &[SharedSchema],
    deleted: Vec<Deletion>,
) -> Result<Vec<TableDeletes>, Error> {
    let mut out: Vec<TableDeletes> = Vec::new();
    for Deletion { table, column, value } in deleted {
        let (Some(schema), Some(name)) =
            (tables.get(table), tables.get(table).and_then(|t| t.columns.get(column)))
        else {
            return Err(Error::internal(format!(
                "the mapping named column {column} of table {table}, which it does not have"
            )));
        };
        match out.iter_mut().find(|d| d.schema.name == schema.name && d.column == name.name) {
            Some(d) => d.values.push(value),
            None => out.push(TableDeletes {
                schema: Arc::clone(schema),
                column: name.name.clone(),
                values: vec![value],
            }),
        }
    }
    Ok(out)
}
