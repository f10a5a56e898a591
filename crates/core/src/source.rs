//! The `Source` trait: how connectors hand records to the pipeline.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{Error, StreamDef, StreamState};

/// One source record as the source API sent it: raw JSON text, parsed only
/// by the mapping (which can then keep just the fields it maps).
#[derive(Debug, Clone)]
pub struct Record(pub Box<RawValue>);

impl Record {
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Record(raw)
    }

    /// Builds a record from JSON text; fails if the text is not JSON.
    pub fn from_json_str(json: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json.to_owned()).map(Record)
    }

    pub fn json(&self) -> &str {
        self.0.get()
    }
}

/// Where a batch stands in a snapshot: a full read of a stream that the
/// sink stages and swaps in whole (see [`SourceBatch::snapshot`]).
///
/// A snapshot of one batch has both flags set. Batches in between have
/// neither. Only a stream whose [`StreamDef::snapshots`] is set may send
/// snapshot batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPart {
    /// This batch starts a new snapshot: anything staged before for this
    /// tenant and the stream's tables (an abandoned snapshot) is discarded
    /// first.
    pub first: bool,
    /// After staging this batch's rows, swap the snapshot in: the staged rows
    /// become the live rows, and live rows the snapshot lacks get
    /// `_deleted_at`.
    pub last: bool,
}

impl SnapshotPart {
    /// The first batch of a snapshot that has more to come.
    pub const FIRST: SnapshotPart = SnapshotPart { first: true, last: false };
    /// A batch in the middle of a snapshot.
    pub const MIDDLE: SnapshotPart = SnapshotPart { first: false, last: false };
    /// The batch that completes a snapshot.
    pub const LAST: SnapshotPart = SnapshotPart { first: false, last: true };
    /// A snapshot of one batch.
    pub const WHOLE: SnapshotPart = SnapshotPart { first: true, last: true };
}

/// A batch of records and the checkpoint that covers them.
///
/// `state` is what the stream resumes from once this batch *and every batch
/// before it* are committed. The sink writes it in the same transaction as
/// the batch's rows, so data and state can never disagree after a crash.
#[derive(Debug)]
pub struct SourceBatch {
    pub records: Vec<Record>,
    /// Records the source reports deleted. Each is a JSON object naming the
    /// record by the fields the source knows of it (an order deleted upstream
    /// may be just `{"number": 1234}`); the mapping turns it into the rows
    /// to mark.
    /// Empty in a snapshot batch: what a snapshot lacks is what was deleted.
    pub deleted: Vec<Record>,
    pub state: StreamState,
    /// `None`: an ordinary batch, upserted into the live tables. `Some`: part
    /// of a snapshot, staged until the batch marked `last` swaps the whole
    /// snapshot in. The same stream may send both kinds (an incremental run
    /// between full reads). The state of a staged batch commits with the
    /// staged rows, so a snapshot interrupted by a crash resumes where its
    /// state says, with the rows staged so far kept.
    pub snapshot: Option<SnapshotPart>,
}

impl SourceBatch {
    /// An ordinary batch of records, none deleted.
    pub fn new(records: Vec<Record>, state: StreamState) -> Self {
        SourceBatch { records, deleted: Vec::new(), state, snapshot: None }
    }

    /// A batch of records that is part `part` of a snapshot.
    pub fn snapshot_part(records: Vec<Record>, state: StreamState, part: SnapshotPart) -> Self {
        SourceBatch { records, deleted: Vec::new(), state, snapshot: Some(part) }
    }
}

/// How many of this run's batches the pipeline has committed: a source that
/// must act only once its data is durable (confirming events it consumed)
/// waits on it.
#[derive(Debug, Clone)]
pub struct Committed(watch::Receiver<u64>);

impl Committed {
    /// The pipeline's end (it sends the count after each commit) and the
    /// source's.
    pub fn channel() -> (watch::Sender<u64>, Committed) {
        let (tx, rx) = watch::channel(0);
        (tx, Committed(rx))
    }

    /// Waits until at least `batches` batches are committed. `false` if the
    /// pipeline stopped first: those batches may never be committed.
    pub async fn wait_for(&mut self, batches: u64) -> bool {
        self.0.wait_for(|&n| n >= batches).await.is_ok()
    }
}

/// What the pipeline asks a source to read.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub tenant: String,
    pub stream: String,
    /// The GraphQL selection (or column list) the mapping needs for one
    /// record; `None` lets the source use its default.
    pub selection: Option<String>,
    /// The committed checkpoint to resume from; `None` on a first run, and
    /// when the mapping changed since the stored rows were written (the
    /// pipeline re-reads the stream so the rows get the new columns). Either
    /// way the source reads as on a first run; anything it kept in its state
    /// to do upstream (events to confirm) must be safe to lose, e.g. because
    /// the upstream keeps it queued until confirmed.
    pub state: Option<StreamState>,
    /// Set when the run must stop: the source stops issuing requests, sends
    /// nothing more and returns `Err(Error::cancelled())` or `Ok` promptly.
    pub cancel: CancellationToken,
    /// How many of the batches sent on `out` are committed.
    pub committed: Committed,
}

/// Counters a source reports when it is done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSummary {
    pub records: u64,
    pub requests: u64,
    /// Requests sent again after a retriable failure.
    pub retries: u64,
    /// Responses that were HTTP 429.
    pub rate_limited: u64,
    /// Times the client-side budget held a request back, and for how long.
    pub throttle_waits: u64,
    pub throttle_wait: Duration,
}

/// A stream a run is about to read, as [`Source::check`] is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCheck {
    pub stream: String,
    /// The selection the mapping will ask for (see [`ReadRequest::selection`]).
    pub selection: Option<String>,
}

/// A connector's read side.
///
/// Contract:
/// - The pipeline calls [`Source::read`] once per stream and run, and drives
///   nothing else: the source pages through its API and sends
///   [`SourceBatch`]es in order on `out`. The channel is bounded, so a slow
///   sink slows the source instead of filling memory.
/// - Each batch's `state` must be safe to resume from after that batch is
///   committed: resuming may re-read at most that one batch's worth of
///   records (upserts absorb the overlap), and must never skip a record.
/// - A source that consumes something upstream (confirms events) does so
///   only after [`ReadRequest::committed`] shows the batch carrying it is
///   committed, and keeps what it has yet to confirm in its state.
/// - `Ok` means the stream was read to its end. `Err` means it stopped;
///   batches already sent stay valid and are committed by the pipeline.
///   If `out` is closed (the pipeline stopped), return `Ok` or the error.
/// - Retries, timeouts and rate limits live inside the source's client; an
///   error that reaches the pipeline has already exhausted them. Its
///   [`Error::is_retriable`] says whether a later run can succeed.
///
/// Stored as `Box<dyn Source>`/`Arc<dyn Source>`, hence `#[async_trait]`.
#[async_trait]
pub trait Source: Send + Sync {
    /// The streams this source offers.
    fn streams(&self) -> Vec<StreamDef>;

    /// Checks, before the runner touches any sink, that the source answers,
    /// accepts the credentials, and can read each of `streams` as the run
    /// will (its real request, with the mapping's selection): a bad token, a
    /// missing permission or a field the source does not have then fails
    /// with nothing written. Only what these streams need is asked for.
    /// The default does nothing.
    async fn check(&self, streams: &[StreamCheck]) -> Result<(), Error> {
        let _ = streams;
        Ok(())
    }

    /// Reads one stream from `request.state` to its end.
    async fn read(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
    ) -> Result<ReadSummary, Error>;
}
