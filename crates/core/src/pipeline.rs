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
use crate::versioned::{self, Resume};
use crate::{
    CommitBatch, Error, ErrorKind, ReadRequest, ReadSummary, Record, Row, RowCheck, Sink, Source,
    SourceBatch, StreamState, TableDeletes, TableRows, Value,
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

    /// The selection the source must read for the mapper's fields (for a
    /// GraphQL source, a selection set), or `None` for the source's default.
    fn selection(&self) -> Option<String> {
        None
    }

    /// A fingerprint of what the mapper reads (its selection) and the
    /// columns it writes (names, types, keys): equal across runs, machines
    /// and builds for the same mapping, different when a column is added,
    /// retyped or removed, or the selection changes. The pipeline commits it
    /// beside the source's state and, when it differs from the one stored,
    /// reads the stream again from the start (see [`crate::versioned`]).
    /// `None` (the default): no version is kept and nothing is re-read.
    fn version(&self) -> Option<String> {
        None
    }

    /// Maps one record, appending its rows to `out`.
    fn map_record(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error>;

    /// Handles a record one of whose rows the sink cannot store
    /// ([`crate::RowCheck`]; `reason` names the table, the column and the
    /// row's key) by the mapping's error policy, as for a record that cannot
    /// be mapped: `Ok` after appending what replaces the record's rows (a
    /// reject row, which the driver checks too), or `Err` to stop the run.
    /// The driver has already removed the record's rows from `out`. The
    /// default fails with a data error.
    fn refused(&self, record: &Record, reason: String, out: &mut MappedRows) -> Result<(), Error> {
        let _ = (record, out);
        Err(Error::data(reason))
    }

    /// Checks, before the run, that deleted records naming records by
    /// `fields` (see [`crate::StreamDef::deleted_by`]) can be mapped. The
    /// default accepts only a source that reports no deletions.
    fn check_deleted(&self, fields: &[String]) -> Result<(), Error> {
        if fields.is_empty() {
            Ok(())
        } else {
            Err(Error::config(format!(
                "the source reports deleted records by {}, but this mapping cannot mark deleted rows",
                fields.join(", ")
            )))
        }
    }

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
        // A stream the source does not list sends no snapshots.
        let staged = self.source.streams().iter().any(|d| d.name == self.stream && d.snapshots);
        self.sink.prepare(&tables, staged).await.map_err(|e| e.context(&where_))?;
        let check = self.sink.row_check();
        let stored = self
            .sink
            .read_state(&self.tenant, &self.stream)
            .await
            .map_err(|e| e.context(&where_))?;
        let version = self.mapper.version();
        let state = self.resume(stored, version.as_deref());
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
            check,
            tables,
            self.tenant.clone(),
            self.stream.clone(),
            version,
            staged,
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
        // Nothing more will commit: a source waiting on a commit learns it now.
        drop(committed_tx);

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

impl Pipeline {
    /// The state the source resumes from: the stored one, unless another
    /// mapping version wrote it (then `None`: read everything again, and the
    /// sink's upserts fill what the current mapping adds into the stored
    /// rows).
    fn resume(&self, stored: Option<StreamState>, version: Option<&str>) -> Option<StreamState> {
        let Some(current) = version else {
            return stored.map(|s| versioned::unwrap(s).1);
        };
        let resume = Resume::new(stored, current);
        match &resume {
            Resume::Changed { stored } => info!(
                tenant = %self.tenant,
                stream = %self.stream,
                stored_mapping = %stored,
                mapping = %current,
                "the mapping changed since the stored rows were written (it reads other fields or writes other columns): reading the stream again from the start, upserting over the stored rows"
            ),
            Resume::Unversioned(_) => info!(
                tenant = %self.tenant,
                stream = %self.stream,
                mapping = %current,
                "the stored state records no mapping version (written by an older cartage): taking it as written by the current mapping, no re-read"
            ),
            Resume::First | Resume::Same(_) => {}
        }
        resume.source_state()
    }
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T, Error>>) -> Result<T, Error> {
    match task.await {
        Ok(result) => result,
        Err(join_error) => Err(Error::internal(format!("pipeline task failed: {join_error}"))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn map_loop(
    mapper: Arc<dyn RecordMapper>,
    check: Option<Arc<dyn RowCheck>>,
    tables: Vec<SharedSchema>,
    tenant: String,
    stream: String,
    version: Option<String>,
    staged: bool,
    mut source_rx: mpsc::Receiver<SourceBatch>,
    commit_tx: mpsc::Sender<(CommitBatch, u64)>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    while let Some(batch) = source_rx.recv().await {
        if cancel.is_cancelled() {
            break;
        }
        if let Err(error) = check_snapshot(&batch, &stream, staged) {
            cancel.cancel();
            return Err(error);
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
            let checked = mapped.and_then(|()| match &check {
                Some(check) => check_rows(&*mapper, &**check, &tables, record, &before, &mut out),
                None => Ok(()),
            });
            if let Err(error) = checked {
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
        // Every table of the mapper, with or without rows: a snapshot batch
        // tells the sink this way which tables it stages and swaps.
        let commit = CommitBatch {
            tenant: tenant.clone(),
            stream: stream.clone(),
            deleted,
            tables: tables
                .iter()
                .zip(out.tables)
                .map(|(schema, rows)| TableRows { schema: Arc::clone(schema), rows })
                .collect(),
            state: match &version {
                Some(v) => versioned::wrap(v, batch.state),
                None => batch.state,
            },
            synced_at: Utc::now(),
            snapshot: batch.snapshot,
        };
        if commit_tx.send((commit, record_count)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Checks the rows `record` appended to `out` (those past `before`); on the
/// first the sink refuses, replaces them by what the mapper's error policy
/// makes of the record, and checks that in turn.
fn check_rows(
    mapper: &dyn RecordMapper,
    check: &dyn RowCheck,
    tables: &[SharedSchema],
    record: &Record,
    before: &(Vec<usize>, usize),
    out: &mut MappedRows,
) -> Result<(), Error> {
    let Some(reason) = first_refusal(check, tables, before, out) else { return Ok(()) };
    out.truncate(before);
    mapper.refused(record, reason.clone(), out)?;
    match first_refusal(check, tables, before, out) {
        None => Ok(()),
        Some(again) => Err(Error::data(format!(
            "{reason}; and the row replacing the record cannot be stored either: {again}"
        ))),
    }
}

fn first_refusal(
    check: &dyn RowCheck,
    tables: &[SharedSchema],
    (lens, _): &(Vec<usize>, usize),
    out: &MappedRows,
) -> Option<String> {
    tables.iter().zip(&out.tables).zip(lens).find_map(|((schema, rows), &from)| {
        rows.get(from..)?.iter().find_map(|row| check.check(schema, row).err())
    })
}

/// A snapshot batch needs staging tables (prepared only for a stream whose
/// definition declares snapshots) and cannot carry deleted records.
fn check_snapshot(batch: &SourceBatch, stream: &str, staged: bool) -> Result<(), Error> {
    if batch.snapshot.is_none() {
        return Ok(());
    }
    if !staged {
        return Err(Error::internal(format!(
            "stream {stream} sent a snapshot batch, but its definition does not declare snapshots"
        )));
    }
    if !batch.deleted.is_empty() {
        return Err(Error::internal(format!(
            "stream {stream} sent a snapshot batch with deleted records: a snapshot names deletions by leaving rows out"
        )));
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::{
        CommitStats, Committed, SnapshotPart, StreamDef, SyncMode, TableSchema, WriteMode,
    };

    /// Sends one batch, then waits for it to be committed, as a source that
    /// confirms upstream does; reports whether the wait ended in a commit.
    struct WaitingSource(Arc<Mutex<Option<bool>>>);

    #[async_trait]
    impl Source for WaitingSource {
        fn streams(&self) -> Vec<StreamDef> {
            vec![StreamDef {
                name: "s".into(),
                primary_key: vec!["id".into()],
                cursor_field: None,
                sync_mode: SyncMode::Full,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: false,
            }]
        }

        async fn read(
            &self,
            request: ReadRequest,
            out: mpsc::Sender<SourceBatch>,
        ) -> Result<ReadSummary, Error> {
            let mut committed: Committed = request.committed;
            let record = Record::from_json_str("{}").expect("json");
            let batch = SourceBatch::new(vec![record], StreamState(serde_json::json!(1)));
            if out.send(batch).await.is_ok() {
                let durable = committed.wait_for(1).await;
                *self.0.lock().expect("lock") = Some(durable);
            }
            Ok(ReadSummary::default())
        }
    }

    /// Fails every record with an error that is not a data or config error.
    struct FailingMapper(Vec<SharedSchema>);

    impl RecordMapper for FailingMapper {
        fn tables(&self) -> &[SharedSchema] {
            &self.0
        }

        fn map_record(&self, _: &Record, _: &mut MappedRows) -> Result<(), Error> {
            Err(Error::internal("mapper broke"))
        }
    }

    struct NullSink;

    #[async_trait]
    impl Sink for NullSink {
        async fn prepare(&mut self, _: &[SharedSchema], _: bool) -> Result<(), Error> {
            Ok(())
        }

        async fn read_state(&mut self, _: &str, _: &str) -> Result<Option<StreamState>, Error> {
            Ok(None)
        }

        async fn commit(&mut self, _: CommitBatch) -> Result<CommitStats, Error> {
            Ok(CommitStats::default())
        }
    }

    #[tokio::test]
    async fn a_source_waiting_for_a_commit_learns_that_none_will_come() {
        let waited = Arc::new(Mutex::new(None));
        let schema = Arc::new(TableSchema {
            name: "t".into(),
            columns: vec![],
            primary_key: vec![],
            parent_key: None,
        });
        let pipeline = Pipeline::new(
            "acme",
            "s",
            Arc::new(WaitingSource(Arc::clone(&waited))),
            Arc::new(FailingMapper(vec![schema])),
            Box::new(NullSink),
            CancellationToken::new(),
        );
        let result = tokio::time::timeout(Duration::from_secs(10), pipeline.run())
            .await
            .expect("the run ends instead of hanging");
        assert_eq!(result.expect_err("the mapper failed").kind(), ErrorKind::Internal);
        assert_eq!(*waited.lock().expect("lock"), Some(false), "told the batch never committed");
    }

    /// Sends the given batches of stream `s`, whose definition declares
    /// snapshots or not.
    struct ListSource {
        snapshots: bool,
        batches: Mutex<Vec<SourceBatch>>,
    }

    #[async_trait]
    impl Source for ListSource {
        fn streams(&self) -> Vec<StreamDef> {
            vec![StreamDef {
                name: "s".into(),
                primary_key: vec!["id".into()],
                cursor_field: None,
                sync_mode: SyncMode::Full,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: self.snapshots,
            }]
        }

        async fn read(
            &self,
            _: ReadRequest,
            out: mpsc::Sender<SourceBatch>,
        ) -> Result<ReadSummary, Error> {
            let batches = std::mem::take(&mut *self.batches.lock().expect("lock"));
            for batch in batches {
                if out.send(batch).await.is_err() {
                    break;
                }
            }
            Ok(ReadSummary::default())
        }
    }

    /// One row per record in the first of its tables, none in the others.
    struct FirstTableMapper(Vec<SharedSchema>);

    impl RecordMapper for FirstTableMapper {
        fn tables(&self) -> &[SharedSchema] {
            &self.0
        }

        fn map_record(&self, _: &Record, out: &mut MappedRows) -> Result<(), Error> {
            out.tables[0].push(Row(vec![Value::Int(1)]));
            Ok(())
        }
    }

    /// Records what `prepare` was asked to stage and every batch committed;
    /// a clone sees what the pipeline's copy recorded.
    #[derive(Default, Clone)]
    struct RecordingSink {
        staged: Arc<Mutex<Option<bool>>>,
        batches: Arc<Mutex<Vec<CommitBatch>>>,
    }

    #[async_trait]
    impl Sink for RecordingSink {
        async fn prepare(&mut self, _: &[SharedSchema], staged: bool) -> Result<(), Error> {
            *self.staged.lock().expect("lock") = Some(staged);
            Ok(())
        }

        async fn read_state(&mut self, _: &str, _: &str) -> Result<Option<StreamState>, Error> {
            Ok(None)
        }

        async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, Error> {
            self.batches.lock().expect("lock").push(batch);
            Ok(CommitStats::default())
        }
    }

    fn schema(name: &str) -> SharedSchema {
        Arc::new(TableSchema {
            name: name.into(),
            columns: vec![crate::Column::new("id", crate::ColumnType::Int, false)],
            primary_key: vec!["id".into()],
            parent_key: None,
        })
    }

    fn run_list(snapshots: bool, batches: Vec<SourceBatch>) -> (Pipeline, RecordingSink) {
        let sink = RecordingSink::default();
        let recorded = sink.clone();
        let pipeline = Pipeline::new(
            "acme",
            "s",
            Arc::new(ListSource { snapshots, batches: Mutex::new(batches) }),
            Arc::new(FirstTableMapper(vec![schema("parents"), schema("children")])),
            Box::new(sink),
            CancellationToken::new(),
        );
        (pipeline, recorded)
    }

    fn record() -> Record {
        Record::from_json_str("{}").expect("json")
    }

    #[tokio::test]
    async fn snapshot_parts_reach_the_sink_with_every_table_listed() {
        let state = |n: i64| StreamState(serde_json::json!(n));
        let (pipeline, RecordingSink { staged, batches: committed }) = run_list(
            true,
            vec![
                SourceBatch::snapshot_part(vec![record()], state(1), SnapshotPart::FIRST),
                SourceBatch::snapshot_part(vec![], state(2), SnapshotPart::LAST),
                SourceBatch::new(vec![record(), record()], state(3)),
            ],
        );
        pipeline.run().await.expect("run");
        assert_eq!(*staged.lock().expect("lock"), Some(true), "staging tables prepared");
        let committed = committed.lock().expect("lock");
        let got: Vec<_> = committed
            .iter()
            .map(|b| {
                let tables: Vec<_> =
                    b.tables.iter().map(|t| (t.schema.name.as_str(), t.rows.len())).collect();
                (b.snapshot, tables, b.state.clone())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(SnapshotPart::FIRST), vec![("parents", 1), ("children", 0)], state(1)),
                (Some(SnapshotPart::LAST), vec![("parents", 0), ("children", 0)], state(2)),
                (None, vec![("parents", 2), ("children", 0)], state(3)),
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_that_declares_no_snapshots_prepares_no_staging_and_may_not_send_one() {
        let (pipeline, RecordingSink { staged, batches: committed }) = run_list(
            false,
            vec![
                SourceBatch::new(vec![record()], StreamState(serde_json::json!(1))),
                SourceBatch::snapshot_part(
                    vec![record()],
                    StreamState(serde_json::json!(2)),
                    SnapshotPart::WHOLE,
                ),
            ],
        );
        let e = pipeline.run().await.expect_err("an undeclared snapshot");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(
            e.to_string().contains(
                "stream s sent a snapshot batch, but its definition does not declare snapshots"
            ),
            "{e}"
        );
        assert_eq!(*staged.lock().expect("lock"), Some(false));
        let committed = committed.lock().expect("lock");
        assert_eq!(committed.len(), 1, "the ordinary batch before it committed");
        assert_eq!(committed[0].snapshot, None);
    }

    /// Remembers the state it was asked to resume from, then sends one
    /// batch whose state is cursor 2.
    struct ResumingSource(Arc<Mutex<Option<Option<StreamState>>>>);

    #[async_trait]
    impl Source for ResumingSource {
        fn streams(&self) -> Vec<StreamDef> {
            vec![StreamDef {
                name: "s".into(),
                primary_key: vec!["id".into()],
                cursor_field: Some("updated_at".into()),
                sync_mode: SyncMode::Incremental,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: false,
            }]
        }

        async fn read(
            &self,
            request: ReadRequest,
            out: mpsc::Sender<SourceBatch>,
        ) -> Result<ReadSummary, Error> {
            *self.0.lock().expect("lock") = Some(request.state);
            let batch =
                SourceBatch::new(vec![record()], StreamState(serde_json::json!({"cursor": 2})));
            let _ = out.send(batch).await;
            Ok(ReadSummary::default())
        }
    }

    /// [`FirstTableMapper`] with a mapping version.
    struct VersionedMapper(Vec<SharedSchema>, Option<&'static str>);

    impl RecordMapper for VersionedMapper {
        fn tables(&self) -> &[SharedSchema] {
            &self.0
        }

        fn version(&self) -> Option<String> {
            self.1.map(str::to_owned)
        }

        fn map_record(&self, _: &Record, out: &mut MappedRows) -> Result<(), Error> {
            out.tables[0].push(Row(vec![Value::Int(1)]));
            Ok(())
        }
    }

    /// A sink holding `stored` as the committed state; records the states
    /// committed after it.
    #[derive(Clone)]
    struct StoredSink {
        stored: Option<StreamState>,
        committed: Arc<Mutex<Vec<StreamState>>>,
    }

    #[async_trait]
    impl Sink for StoredSink {
        async fn prepare(&mut self, _: &[SharedSchema], _: bool) -> Result<(), Error> {
            Ok(())
        }

        async fn read_state(&mut self, _: &str, _: &str) -> Result<Option<StreamState>, Error> {
            Ok(self.stored.clone())
        }

        async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, Error> {
            self.committed.lock().expect("lock").push(batch.state);
            Ok(CommitStats::default())
        }
    }

    /// Runs one stream with `stored` committed and a mapper of `version`:
    /// the state the source was handed, and the states committed.
    async fn resume_with(
        stored: Option<serde_json::Value>,
        version: Option<&'static str>,
    ) -> (Option<StreamState>, Vec<StreamState>) {
        let asked = Arc::new(Mutex::new(None));
        let sink = StoredSink { stored: stored.map(StreamState), committed: Arc::default() };
        let committed = Arc::clone(&sink.committed);
        let pipeline = Pipeline::new(
            "acme",
            "s",
            Arc::new(ResumingSource(Arc::clone(&asked))),
            Arc::new(VersionedMapper(vec![schema("parents")], version)),
            Box::new(sink),
            CancellationToken::new(),
        );
        pipeline.run().await.expect("run");
        let asked = asked.lock().expect("lock").clone().expect("the source was asked to read");
        let committed = committed.lock().expect("lock").clone();
        (asked, committed)
    }

    #[tokio::test]
    async fn a_changed_mapping_version_hands_the_source_no_state_and_commits_the_new_version() {
        let stored = serde_json::json!({"mapping_version": "m1-old", "source": {"cursor": 1}});
        let (asked, committed) = resume_with(Some(stored), Some("m1-new")).await;
        assert_eq!(asked, None, "read again from the start");
        assert_eq!(
            committed,
            vec![StreamState(
                serde_json::json!({"mapping_version": "m1-new", "source": {"cursor": 2}})
            )]
        );
    }

    #[tokio::test]
    async fn the_same_mapping_version_resumes_from_the_sources_own_state() {
        let stored = serde_json::json!({"mapping_version": "m1-a", "source": {"cursor": 1}});
        let (asked, committed) = resume_with(Some(stored), Some("m1-a")).await;
        assert_eq!(asked, Some(StreamState(serde_json::json!({"cursor": 1}))));
        assert_eq!(
            committed,
            vec![StreamState(
                serde_json::json!({"mapping_version": "m1-a", "source": {"cursor": 2}})
            )]
        );
    }

    #[tokio::test]
    async fn a_state_from_before_mapping_versions_resumes_without_a_re_read() {
        let (asked, committed) =
            resume_with(Some(serde_json::json!({"cursor": 1})), Some("m1-a")).await;
        assert_eq!(asked, Some(StreamState(serde_json::json!({"cursor": 1}))));
        assert_eq!(
            committed,
            vec![StreamState(
                serde_json::json!({"mapping_version": "m1-a", "source": {"cursor": 2}})
            )]
        );
    }

    #[tokio::test]
    async fn a_mapper_without_a_version_keeps_the_state_as_the_source_wrote_it() {
        let stored = serde_json::json!({"mapping_version": "m1-a", "source": {"cursor": 1}});
        let (asked, committed) = resume_with(Some(stored), None).await;
        assert_eq!(asked, Some(StreamState(serde_json::json!({"cursor": 1}))));
        assert_eq!(committed, vec![StreamState(serde_json::json!({"cursor": 2}))]);
    }

    /// Refuses rows whose first value is `Int(666)`; and, to test the reject
    /// row's own check, any row of a table named `unstorable`.
    struct DevilCheck;

    impl RowCheck for DevilCheck {
        fn check(&self, schema: &TableSchema, row: &Row) -> Result<(), String> {
            if schema.name == "unstorable" {
                return Err(format!("table {}: nothing fits", schema.name));
            }
            match row.0.first() {
                Some(Value::Int(666)) => {
                    Err(format!("table {}, column id, key (666): no", schema.name))
                }
                _ => Ok(()),
            }
        }
    }

    /// A [`RecordingSink`] that checks rows with [`DevilCheck`].
    struct CheckingSink(RecordingSink);

    #[async_trait]
    impl Sink for CheckingSink {
        async fn prepare(&mut self, t: &[SharedSchema], staged: bool) -> Result<(), Error> {
            self.0.prepare(t, staged).await
        }

        async fn read_state(&mut self, t: &str, s: &str) -> Result<Option<StreamState>, Error> {
            self.0.read_state(t, s).await
        }

        async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, Error> {
            self.0.commit(batch).await
        }

        fn row_check(&self) -> Option<Arc<dyn RowCheck>> {
            Some(Arc::new(DevilCheck))
        }
    }

    /// Maps `{"id": n}` to one row `(n)` in its first table; a refused record
    /// becomes a row `(-n, reason)` in its last table when `reject`.
    struct IdMapper {
        tables: Vec<SharedSchema>,
        reject: bool,
    }

    impl RecordMapper for IdMapper {
        fn tables(&self) -> &[SharedSchema] {
            &self.tables
        }

        fn map_record(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error> {
            let v: serde_json::Value = serde_json::from_str(record.json()).expect("json");
            out.tables[0].push(Row(vec![Value::Int(v["id"].as_i64().expect("id"))]));
            Ok(())
        }

        fn refused(
            &self,
            record: &Record,
            reason: String,
            out: &mut MappedRows,
        ) -> Result<(), Error> {
            if !self.reject {
                return Err(Error::data(format!("record {}: {reason}", record.json())));
            }
            let last = out.tables.len() - 1;
            out.tables[last].push(Row(vec![Value::Text(reason)]));
            Ok(())
        }
    }

    fn id_records(ids: &[i64]) -> Vec<Record> {
        ids.iter()
            .map(|id| Record::from_json_str(&format!(r#"{{"id":{id}}}"#)).expect("json"))
            .collect()
    }

    fn run_checked(reject: bool, rejects_table: &str) -> (Pipeline, RecordingSink) {
        let sink = RecordingSink::default();
        let recorded = sink.clone();
        let batches = vec![
            SourceBatch::new(id_records(&[1, 666, 3]), StreamState(serde_json::json!(1))),
            SourceBatch::new(id_records(&[4]), StreamState(serde_json::json!(2))),
        ];
        let pipeline = Pipeline::new(
            "acme",
            "s",
            Arc::new(ListSource { snapshots: false, batches: Mutex::new(batches) }),
            Arc::new(IdMapper { tables: vec![schema("orders"), schema(rejects_table)], reject }),
            Box::new(CheckingSink(sink)),
            CancellationToken::new(),
        );
        (pipeline, recorded)
    }

    #[tokio::test]
    async fn a_row_the_sink_cannot_store_is_rejected_and_the_stream_moves_on() {
        let (pipeline, RecordingSink { batches, .. }) = run_checked(true, "_rejects");
        pipeline.run().await.expect("the refused row is rejected, not fatal");
        let batches = batches.lock().expect("lock");
        let got: Vec<_> = batches
            .iter()
            .map(|b| (b.tables[0].rows.clone(), b.tables[1].rows.clone(), b.state.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    vec![Row(vec![Value::Int(1)]), Row(vec![Value::Int(3)])],
                    vec![Row(vec![Value::Text("table orders, column id, key (666): no".into())])],
                    StreamState(serde_json::json!(1)),
                ),
                (vec![Row(vec![Value::Int(4)])], vec![], StreamState(serde_json::json!(2))),
            ]
        );
    }

    #[tokio::test]
    async fn a_row_the_sink_cannot_store_fails_the_stream_under_fail() {
        let (pipeline, RecordingSink { batches, .. }) = run_checked(false, "_rejects");
        let e = pipeline.run().await.expect_err("the refused row fails the run");
        assert_eq!(e.kind(), ErrorKind::Data);
        assert_eq!(
            e.to_string(),
            r#"data error: tenant acme, stream s: record {"id":666}: table orders, column id, key (666): no"#
        );
        assert!(batches.lock().expect("lock").is_empty(), "nothing of the batch is committed");
    }

    #[tokio::test]
    async fn a_reject_row_the_sink_cannot_store_either_fails_the_stream() {
        let (pipeline, _) = run_checked(true, "unstorable");
        let e = pipeline.run().await.expect_err("nowhere to put the record");
        assert_eq!(
            e.to_string(),
            "data error: tenant acme, stream s: table orders, column id, key (666): no; and the row replacing the record cannot be stored either: table unstorable: nothing fits"
        );
    }
}
