//! Walking `limit`/`page` lists from the last page down.
//!
//! Centra's plain list queries (`purchaseOrders`, `purchaseOrderDeliveries`)
//! page by `limit`/`page` only. A forward page walk over a list that loses a
//! row mid-walk skips one: the rows after it move one place forward and the
//! first row of the next page slides into a page already read. Walking from
//! the last page down, a row leaving shifts only rows already read, and a row
//! added at the end (a higher id, the lists being sorted by id ascending)
//! lands beyond the pages still to read: nothing is skipped, a row is at
//! worst read twice, which the upsert absorbs. Rows added at the end are read
//! by the next run.

use std::collections::BTreeMap;

use cartage_core::{ReadSummary, Record, SnapshotPart, SourceBatch, StreamState};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::CentraClient;
use crate::error::CentraError;

/// One list query: its text (with `$limit` and `$page`), the field of
/// `data` that holds the list, and the other variables.
pub(crate) struct Paged<'a> {
    pub client: &'a CentraClient,
    pub query: String,
    pub field: &'static str,
    pub variables: serde_json::Value,
    pub page_size: u32,
}

impl Paged<'_> {
    /// The rows of page `page` (from 1).
    pub async fn page(
        &self,
        page: u32,
        summary: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<Vec<Box<RawValue>>, CentraError> {
        if cancel.is_cancelled() {
            return Err(CentraError::Cancelled);
        }
        let mut variables = self.variables.clone();
        variables["limit"] = self.page_size.into();
        variables["page"] = page.into();
        let mut response = self
            .client
            .query::<BTreeMap<String, Vec<Box<RawValue>>>>(&self.query, &variables, summary, cancel)
            .await?;
        response.data.remove(self.field).ok_or_else(|| CentraError::Response {
            endpoint: self.client.endpoint().to_owned(),
            message: format!("the answer has no {}", self.field),
        })
    }

    /// The number of non-empty pages: pages 1, 2, 4, … until one is empty,
    /// then a binary search. Use a query that asks only for `id`: the probes
    /// then cost little of the complexity budget.
    ///
    /// A server that ignores `page` (every page the same rows) would make
    /// the search report 2^31 pages and the walk down read them all: a
    /// probed page that repeats page 1 is an error instead.
    pub async fn last_page(
        &self,
        summary: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<u32, CentraError> {
        let first_rows = self.page(1, summary, cancel).await?;
        if first_rows.is_empty() {
            return Ok(0);
        }
        let first: Vec<&str> = first_rows.iter().map(|row| row.get()).collect();
        let mut has_rows = async |page: u32| -> Result<bool, CentraError> {
            let rows = self.page(page, summary, cancel).await?;
            if rows.len() == first.len()
                && rows.iter().map(|row| row.get()).eq(first.iter().copied())
            {
                return Err(CentraError::Response {
                    endpoint: self.client.endpoint().to_owned(),
                    message: format!(
                        "{} page {page} (limit {}) repeats page 1: the server ignores `page`, the walk would not end",
                        self.field, self.page_size
                    ),
                });
            }
            Ok(!rows.is_empty())
        };
        // Page `lo` has rows, page `hi` has none.
        let mut lo = 1u32;
        let mut hi = 2u32;
        while has_rows(hi).await? {
            lo = hi;
            hi = match hi.checked_mul(2) {
                Some(h) => h,
                None => return Ok(lo),
            };
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if has_rows(mid).await? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Reads pages `page`, `page - 1`, …, 1, one batch each, with the state
    /// `state_after(next)` (`next`: the page still to read, 0 when done) and
    /// the snapshot part `part(page)`. `false` if the pipeline stopped
    /// taking batches.
    pub async fn walk_down(
        &self,
        mut page: u32,
        state_after: impl Fn(u32) -> serde_json::Value,
        part: impl Fn(u32) -> Option<SnapshotPart>,
        out: &mpsc::Sender<SourceBatch>,
        summary: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<bool, CentraError> {
        while page >= 1 {
            let items = self.page(page, summary, cancel).await?;
            let next = page - 1;
            summary.records += items.len() as u64;
            let records = items.into_iter().map(Record::from_raw).collect();
            let mut batch = SourceBatch::new(records, StreamState(state_after(next)));
            batch.snapshot = part(page);
            if !send(out, batch, cancel).await? {
                return Ok(false);
            }
            page = next;
        }
        Ok(true)
    }
}

/// Sends a batch to the pipeline, giving up if the run is cancelled first;
/// `false` if the pipeline closed the channel (it stopped taking batches).
pub(crate) async fn send(
    out: &mpsc::Sender<SourceBatch>,
    batch: SourceBatch,
    cancel: &CancellationToken,
) -> Result<bool, CentraError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(CentraError::Cancelled),
        sent = out.send(batch) => Ok(sent.is_ok()),
    }
}
