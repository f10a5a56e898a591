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
        let mut search = LastPage::new();
        while let Some(page) = search.probe() {
            search.found(has_rows(page).await?);
        }
        Ok(search.last())
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

/// The search for the last page with rows of a list whose page 1 has rows:
/// pages 2, 4, 8, … until one is empty, then a binary search. The caller
/// asks for each [`LastPage::probe`] and tells [`LastPage::found`].
#[derive(Debug)]
pub(crate) struct LastPage {
    /// A page with rows.
    lo: u32,
    /// A page without (or, while doubling, the page to probe next).
    hi: u32,
    doubling: bool,
}

impl LastPage {
    pub fn new() -> Self {
        LastPage { lo: 1, hi: 2, doubling: true }
    }

    /// The page to ask about next; `None` when the search is done.
    pub fn probe(&self) -> Option<u32> {
        if self.doubling {
            Some(self.hi)
        } else {
            (self.hi - self.lo > 1).then(|| self.lo + (self.hi - self.lo) / 2)
        }
    }

    /// Whether the page last probed has rows.
    pub fn found(&mut self, has_rows: bool) {
        let Some(page) = self.probe() else { return };
        match (self.doubling, has_rows) {
            (true, true) => {
                self.lo = page;
                match page.checked_mul(2) {
                    Some(next) => self.hi = next,
                    // Past u32: take what has rows as the last page.
                    None => {
                        self.hi = page;
                        self.doubling = false;
                    }
                }
            }
            (true, false) => self.doubling = false,
            (false, true) => self.lo = page,
            (false, false) => self.hi = page,
        }
    }

    /// The last page with rows, once [`LastPage::probe`] says `None`.
    pub fn last(&self) -> u32 {
        self.lo
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

#[cfg(test)]
mod tests {
    use super::LastPage;

    fn search(pages: u32) -> (u32, usize) {
        let mut search = LastPage::new();
        let mut probes = 0;
        while let Some(page) = search.probe() {
            probes += 1;
            search.found(page <= pages);
        }
        (search.last(), probes)
    }

    #[test]
    fn the_search_finds_the_last_page_in_logarithmic_probes() {
        for pages in 1..=300 {
            let (last, probes) = search(pages);
            assert_eq!(last, pages);
            assert!(probes <= 2 * (32 - pages.leading_zeros() as usize) + 1, "{pages}: {probes}");
        }
        // Every page has rows: the doubling stops at the largest power of two.
        assert_eq!(search(u32::MAX).0, 1 << 31);
    }
}
