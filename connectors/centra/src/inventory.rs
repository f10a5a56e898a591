//! The `inventory` stream: stock per warehouse and product size, as full
//! snapshots swapped in whole, and between them incremental re-reads of the
//! sizes that can have changed.
//!
//! Centra's `Stock` has no id, no date and no events, so there is no
//! incremental feed of stock. A **full snapshot** reads every row through
//! `warehouses { stock(limit, page) }`: one request reads a page of every
//! warehouse of a group (up to 200 rows each). Its pages are walked from the
//! last down (`paging.rs` explains why a backward walk skips no row when rows
//! leave), and every batch is a [`SnapshotPart`]: the sink stages the rows
//! and the last batch swaps the whole snapshot in, marking the rows it did
//! not see `_deleted_at`. A snapshot that stops half-way changes nothing a
//! reader sees; its state resumes the walk.
//!
//! Between full snapshots (`inventory_snapshot_interval_secs`), a run
//! collects the sizes that can have changed since the last run, over an
//! `updatedAt`/`createdAt` window closed at the server's clock:
//! - the stock change ledger (`stockChangeConnection`, by `createdAt`):
//!   deliveries accepted, manual changes;
//! - orders updated (`orderConnection` by `updatedAt`): allocations,
//!   shipments, cancellations, which Centra records on the order only;
//! - purchase orders updated and deliveries created: incoming quantities.
//!
//! and re-reads only those sizes (`stock(where: {productSizeId: [...]})`),
//! upserting them directly. What this cannot see (a warehouse threshold
//! edited, stock set by a path that records no stock change) the next full
//! snapshot corrects. If the token lacks a permission one of those queries
//! needs, or the set is too large to be worth it, the run takes a full
//! snapshot instead.
//!
//! Cost: the snapshot asks only for what the mapping reads; with the
//! standard mapping that is `freeToAllocateQuantity`, which is free in
//! Centra's complexity (the other quantities cost 2 each per row). Requests
//! are sized from the complexity the connection check measured for a
//! one-row page, so that one request never costs more than half of the
//! budget's 10-second complexity bucket.

use std::collections::BTreeSet;
use std::time::SystemTime;

use cartage_core::{ReadRequest, ReadSummary, Record, SnapshotPart, SourceBatch, StreamState};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::CentraError;
use crate::paging;
use crate::source::{CentraSource, resume};
use cartage_http_source::Checkpoint;

/// The stream's name (the data model's table is `inventory_levels`).
pub const INVENTORY_STREAM: &str = "inventory";

/// The version of [`InventoryState`] this crate writes.
pub const STATE_VERSION: u32 = 1;

/// What the stream reads per stock row when the mapping names no selection:
/// the free quantity (free in complexity) and the row's identity.
pub const DEFAULT_INVENTORY_SELECTION: &str = "
    freeToAllocateQuantity
    warehouse { id }
    productSize { id }
";

/// Stock rows per warehouse per request at most (Centra's largest `limit`).
const MAX_ROWS: u32 = 200;

/// Warehouses per request at most (Centra's largest `limit`).
const MAX_WAREHOUSES: usize = 200;

/// Product sizes per incremental re-read request at most.
const MAX_SIZES: usize = 200;

/// Above this many changed sizes, a run takes a full snapshot instead of
/// re-reading them one by one: the re-reads would cost about as much.
pub const MAX_DIRTY_SIZES: usize = 20_000;

/// Pages of changed purchase orders or new deliveries one run reads at most
/// (100 each) before it takes a full snapshot instead.
const MAX_CHANGE_PAGES: u32 = 100;

/// The checkpoint.
///
/// - `snapshot_at`: when the last full snapshot began (the server's clock);
///   the next one is due `inventory_snapshot_interval_secs` later.
/// - `cursor`: every change up to this instant is reflected in the rows;
///   the next incremental run collects changes from `cursor - lookback`.
/// - `walk`: a full snapshot in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryState {
    pub v: u32,
    pub snapshot_at: Option<DateTime<Utc>>,
    pub cursor: Option<DateTime<Utc>>,
    pub walk: Option<SnapshotWalk>,
}

/// A full snapshot in progress: the warehouse groups it reads, the page size,
/// and where it stands (group `group`, pages `next_page`, …, 1 still to read;
/// `next_page` `None`: the group's last page is not known yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotWalk {
    /// Changes up to this instant of the server's clock are in the
    /// snapshot; `None` without a server clock (the next run takes a full
    /// snapshot again, as changes cannot be windowed).
    pub bound: Option<DateTime<Utc>>,
    pub groups: Vec<Vec<i64>>,
    pub rows: u32,
    pub group: usize,
    pub next_page: Option<u32>,
}

impl Checkpoint for InventoryState {
    const VERSION: u32 = STATE_VERSION;
}

impl InventoryState {
    fn idle(snapshot_at: Option<DateTime<Utc>>, cursor: Option<DateTime<Utc>>) -> Self {
        InventoryState { v: STATE_VERSION, snapshot_at, cursor, walk: None }
    }
}

/// The stock page query: per warehouse of `$warehouses`, page `$page` of
/// `$rows` stock rows, each read with `selection`; with `by_size`, only the
/// rows of the sizes in `$sizes`.
pub fn stock_query(selection: &str, by_size: bool) -> String {
    let (param, filter) =
        if by_size { (", $sizes: [Int!]!", ", where: {productSizeId: $sizes}") } else { ("", "") };
    format!(
        "query CartageStock($warehouses: [Int!]!, $warehouseCount: Int!, $rows: Int!, $page: Int!{param}) {{
  warehouses(where: {{id: $warehouses}}, sort: [id_ASC], limit: $warehouseCount) {{
    stock(limit: $rows, page: $page{filter}) {{
      {selection}
    }}
  }}
}}"
    )
}

/// The connection check's stock query: one row of one warehouse.
pub fn stock_check_query(selection: &str) -> String {
    format!(
        "query CartageStockCheck {{
  warehouses(sort: [id_ASC], limit: 1) {{
    stock(limit: 1) {{
      {selection}
    }}
  }}
}}"
    )
}

/// The warehouse list query (ids only).
pub const WAREHOUSES_QUERY: &str = "query CartageWarehouses($page: Int!) {
  warehouses(sort: [id_ASC], limit: 200, page: $page) { id }
}";

/// Stock changes created in a window, with the sizes they moved.
pub const STOCK_CHANGES_QUERY: &str = "query CartageStockChanges($after: String, $from: DateTimeTz!, $to: DateTimeTz!) {
  stockChangeConnection(first: 50, after: $after, where: {createdAt: {from: $from, to: $to}}, sort: [id_ASC]) {
    edges { node { lines(limit: 200) { productSize { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Orders updated in a window, with the sizes on their lines.
pub const CHANGED_ORDERS_QUERY: &str = "query CartageChangedOrders($after: String, $from: DateTimeTz!, $to: DateTimeTz!) {
  orderConnection(first: 100, after: $after, where: {updatedAt: {from: $from, to: $to}}, sort: [number_ASC]) {
    edges { node { lines(includeFullyCancelled: true) { productSize { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Purchase orders updated in a window, with the sizes on their lines.
pub const CHANGED_PURCHASE_ORDERS_QUERY: &str = "query CartageChangedPurchaseOrders($page: Int!, $from: DateTimeTz!, $to: DateTimeTz!) {
  purchaseOrders(where: {updatedAt: {from: $from, to: $to}}, sort: [id_ASC], limit: 100, page: $page) {
    lines { productSize { id } }
  }
}";

/// Deliveries created in a window, with the sizes on their lines.
pub const NEW_DELIVERIES_QUERY: &str = "query CartageNewDeliveries($page: Int!, $from: DateTimeTz!, $to: DateTimeTz!) {
  purchaseOrderDeliveries(where: {createdAt: {from: $from, to: $to}}, sort: [id_ASC], limit: 100, page: $page) {
    lines { productSize { id } }
  }
}";

#[derive(Deserialize)]
struct StockPage {
    warehouses: Vec<WarehouseStock>,
}

#[derive(Deserialize)]
struct WarehouseStock {
    stock: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Ids {
    id: i64,
}

#[derive(Deserialize)]
struct WarehouseIds {
    warehouses: Vec<Ids>,
}

#[derive(Deserialize)]
struct SizeRef {
    #[serde(rename = "productSize")]
    product_size: Option<Ids>,
}

impl SizeRef {
    fn id(&self) -> Option<i64> {
        self.product_size.as_ref().map(|s| s.id)
    }
}

#[derive(Deserialize)]
struct WithLines {
    lines: Vec<SizeRef>,
}

#[derive(Deserialize)]
struct LinesEdge {
    node: WithLines,
}

#[derive(Deserialize)]
struct LinesConnection {
    edges: Vec<LinesEdge>,
    #[serde(rename = "pageInfo")]
    page_info: crate::orders::PageInfo,
}

/// How a snapshot's requests are sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// Warehouses per request.
    pub warehouses: usize,
    /// Stock rows per warehouse per request.
    pub rows: u32,
}

/// Sizes stock requests so that one costs at most `cap` complexity, given
/// what a request of one warehouse and one row cost (`one`, as measured),
/// with at most `max_rows` rows per warehouse (the connection's `page_size`).
/// Centra's formula: a list costs its limit times an item, an object 1 plus
/// its fields, so a request of `w` warehouses and `r` rows costs about
/// `w * (1 + r * row)`, where `row = one - 1`.
pub fn size_requests(one: f64, cap: f64, warehouses: usize, max_rows: u32) -> Sizing {
    let row = (one - 1.0).max(1.0);
    let warehouses = warehouses.clamp(1, MAX_WAREHOUSES);
    let max_rows = max_rows.clamp(1, MAX_ROWS);
    if !cap.is_finite() {
        return Sizing { warehouses, rows: max_rows };
    }
    let per_warehouse = 1.0 + f64::from(max_rows) * row;
    let fit = (cap / per_warehouse).floor();
    if fit >= 1.0 {
        // Precision loss is irrelevant: both are small.
        let fit = fit.min(warehouses as f64) as usize;
        return Sizing { warehouses: fit, rows: max_rows };
    }
    let rows = ((cap - 1.0) / row).floor().clamp(1.0, f64::from(max_rows)) as u32;
    Sizing { warehouses: 1, rows }
}

impl CentraSource {
    /// Reads the `inventory` stream: a snapshot in progress, a full snapshot
    /// when one is due, else the sizes changed since the last run.
    pub(crate) async fn read_inventory(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let state: Option<InventoryState> = resume(&request, INVENTORY_STREAM)?;
        let selection = crate::orders::normalize_selection(
            request.selection.as_deref().unwrap_or(DEFAULT_INVENTORY_SELECTION),
        )
        .map_err(CentraError::Config)?;
        let cancel = &request.cancel;
        let reader = StockReader { source: self, selection, out: &out, cancel };
        let state = state.unwrap_or(InventoryState::idle(None, None));
        if let Some(walk) = state.walk.clone() {
            info!(tenant = %self.tenant, group = walk.group, page = ?walk.next_page, "resuming an inventory snapshot in progress");
            reader.snapshot(walk, false, summary).await?;
            return Ok(());
        }
        let server = self.client.probe(summary, cancel).await?;
        let now = match self.windows.server_clock(server, SystemTime::now()) {
            Ok(now) => now,
            Err(reason) => {
                warn!(tenant = %self.tenant, %reason, "taking a full inventory snapshot: changes cannot be windowed without the server's clock");
                let walk = reader.plan(None, summary).await?;
                reader.snapshot(walk, true, summary).await?;
                return Ok(());
            }
        };
        let bound = self.windows.to(now - TimeDelta::seconds(1));
        let due = match state.snapshot_at {
            None => true,
            Some(at) => {
                let interval =
                    TimeDelta::from_std(self.inventory_interval).unwrap_or(TimeDelta::MAX);
                at.checked_add_signed(interval).is_none_or(|due| due <= now)
            }
        };
        let cursor = match state.cursor {
            Some(cursor) if !due => cursor,
            _ => {
                debug!(tenant = %self.tenant, "taking a full inventory snapshot");
                let walk = reader.plan(Some(bound), summary).await?;
                reader.snapshot(walk, true, summary).await?;
                return Ok(());
            }
        };
        let (window, unbounded) = self.windows.next_window(Some(cursor), server, SystemTime::now());
        let (Some(from), Some(to)) = (window.from, window.to) else {
            let reason = unbounded.unwrap_or_else(|| "no lower bound".into());
            warn!(tenant = %self.tenant, %reason, "taking a full inventory snapshot: this run's changes cannot be windowed");
            let walk = reader.plan(Some(bound), summary).await?;
            return reader.snapshot(walk, true, summary).await;
        };
        match reader.changed_sizes(from, to, summary).await? {
            Some(sizes) => {
                info!(tenant = %self.tenant, sizes = sizes.len(), "re-reading the stock of changed sizes");
                reader.reread(sizes, state.snapshot_at, cursor, to, summary).await
            }
            None => {
                let walk = reader.plan(Some(bound), summary).await?;
                reader.snapshot(walk, true, summary).await
            }
        }
    }
}

struct StockReader<'a> {
    source: &'a CentraSource,
    selection: String,
    out: &'a mpsc::Sender<SourceBatch>,
    cancel: &'a CancellationToken,
}

impl StockReader<'_> {
    fn endpoint(&self) -> String {
        self.source.client.endpoint().to_owned()
    }

    async fn send(&self, batch: SourceBatch) -> Result<bool, CentraError> {
        paging::send(self.out, batch, self.cancel).await
    }

    /// Every warehouse id, and the request sizing for this selection.
    async fn plan(
        &self,
        bound: Option<DateTime<Utc>>,
        summary: &mut ReadSummary,
    ) -> Result<SnapshotWalk, CentraError> {
        let client = &self.source.client;
        let mut ids = Vec::new();
        for page in 1u32.. {
            let variables = serde_json::json!({ "page": page });
            let response = client
                .query::<WarehouseIds>(WAREHOUSES_QUERY, &variables, summary, self.cancel)
                .await?;
            let got = response.data.warehouses.len();
            ids.extend(response.data.warehouses.into_iter().map(|w| w.id));
            if got < MAX_WAREHOUSES {
                break;
            }
        }
        let sizing = self.sizing(&ids, summary).await?;
        let groups: Vec<Vec<i64>> = ids.chunks(sizing.warehouses).map(<[i64]>::to_vec).collect();
        debug!(
            warehouses = ids.len(),
            per_request = sizing.warehouses,
            rows = sizing.rows,
            "planned an inventory snapshot"
        );
        Ok(SnapshotWalk { bound, groups, rows: sizing.rows, group: 0, next_page: None })
    }

    /// Measures what one warehouse and one row cost with this selection, and
    /// sizes requests to half of the 10-second complexity bucket.
    async fn sizing(&self, ids: &[i64], summary: &mut ReadSummary) -> Result<Sizing, CentraError> {
        let cap = self.source.client.request_complexity_cap();
        let Some(&first) = ids.first() else {
            return Ok(Sizing { warehouses: 1, rows: self.source.page_size.clamp(1, MAX_ROWS) });
        };
        let variables = serde_json::json!({
            "warehouses": [first], "warehouseCount": 1, "rows": 1, "page": 1,
        });
        let response = self
            .source
            .client
            .query::<StockPage>(
                &stock_query(&self.selection, false),
                &variables,
                summary,
                self.cancel,
            )
            .await?;
        // Without a reported complexity, assume a row of three objects.
        let one = response.complexity.map_or(4.0, |c| c as f64);
        Ok(size_requests(one, cap, ids.len(), self.source.page_size))
    }

    /// One page of stock for a group of warehouses: every row, as records.
    async fn page(
        &self,
        query: &str,
        group: &[i64],
        rows: u32,
        page: u32,
        sizes: Option<&[i64]>,
        summary: &mut ReadSummary,
    ) -> Result<Vec<Record>, CentraError> {
        if self.cancel.is_cancelled() {
            return Err(CentraError::Cancelled);
        }
        let mut variables = serde_json::json!({
            "warehouses": group, "warehouseCount": group.len(), "rows": rows, "page": page,
        });
        if let Some(sizes) = sizes {
            variables["sizes"] = serde_json::json!(sizes);
        }
        let response =
            self.source.client.query::<StockPage>(query, &variables, summary, self.cancel).await?;
        Ok(response
            .data
            .warehouses
            .into_iter()
            .flat_map(|w| w.stock)
            .map(Record::from_raw)
            .collect())
    }

    /// The number of pages of the group's longest warehouse: pages 1, 2, 4,
    /// … until one is empty in every warehouse, then a binary search, each
    /// probe asking only for the free quantity.
    async fn last_page(
        &self,
        group: &[i64],
        rows: u32,
        summary: &mut ReadSummary,
    ) -> Result<u32, CentraError> {
        let probe = stock_query("freeToAllocateQuantity", false);
        if self.page(&probe, group, rows, 1, None, summary).await?.is_empty() {
            return Ok(0);
        }
        let mut search = paging::LastPage::new();
        while let Some(page) = search.probe() {
            let rows = self.page(&probe, group, rows, page, None, summary).await?;
            search.found(!rows.is_empty());
        }
        Ok(search.last())
    }

    /// Sends one query of the changed-sizes collection; `None` when the
    /// token lacks a permission it needs (the run then takes a full
    /// snapshot, which needs fewer).
    async fn changes<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        variables: &serde_json::Value,
        field: &str,
        summary: &mut ReadSummary,
    ) -> Result<Option<T>, CentraError> {
        let response = self
            .source
            .client
            .query::<std::collections::BTreeMap<String, T>>(query, variables, summary, self.cancel)
            .await;
        match response {
            Ok(response) => {
                response.data.into_values().next().map(Some).ok_or_else(|| CentraError::Response {
                    endpoint: self.endpoint(),
                    message: format!("the answer has no {field}"),
                })
            }
            Err(CentraError::Permission { permission, .. }) => {
                warn!(tenant = %self.source.tenant, %permission, "the token cannot read what changes stock ({field}); taking a full inventory snapshot instead");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Walks a snapshot from where `walk` stands to its end, sending every
    /// page as a snapshot batch. `fresh`: the snapshot starts now (its first
    /// batch discards anything staged before).
    async fn snapshot(
        &self,
        mut walk: SnapshotWalk,
        fresh: bool,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let query = stock_query(&self.selection, false);
        if fresh {
            // An empty first batch opens the snapshot: whatever the groups
            // hold, staging starts clean and the state records the walk.
            let state = InventoryState {
                v: STATE_VERSION,
                snapshot_at: None,
                cursor: None,
                walk: Some(walk.clone()),
            };
            let part = SnapshotPart { first: true, last: false };
            if !self.send(snapshot_batch(Vec::new(), &state, part)).await? {
                return Ok(());
            }
        }
        while walk.group < walk.groups.len() {
            let group = walk.groups[walk.group].clone();
            let page = match walk.next_page {
                Some(page) => page,
                None => self.last_page(&group, walk.rows, summary).await?,
            };
            if page == 0 {
                walk.group += 1;
                walk.next_page = None;
                continue;
            }
            let records = self.page(&query, &group, walk.rows, page, None, summary).await?;
            summary.records += records.len() as u64;
            if page > 1 {
                walk.next_page = Some(page - 1);
            } else {
                walk.group += 1;
                walk.next_page = None;
            }
            let state = InventoryState {
                v: STATE_VERSION,
                snapshot_at: None,
                cursor: None,
                walk: Some(walk.clone()),
            };
            let part = SnapshotPart { first: false, last: false };
            if !self.send(snapshot_batch(records, &state, part)).await? {
                return Ok(());
            }
        }
        // The closing batch swaps the snapshot in. Every change up to the
        // bound, fixed before the walk, is in it.
        let done = InventoryState::idle(Some(walk.bound.unwrap_or_else(Utc::now)), walk.bound);
        let part = SnapshotPart { first: false, last: true };
        self.send(snapshot_batch(Vec::new(), &done, part)).await?;
        Ok(())
    }

    /// The sizes whose stock can have changed in `[from, to]`, or `None` when
    /// a full snapshot is the better (or the only sure) read.
    async fn changed_sizes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        summary: &mut ReadSummary,
    ) -> Result<Option<BTreeSet<i64>>, CentraError> {
        let mut sizes = BTreeSet::new();
        let dates = &self.source.windows;
        let (from, to) = (dates.date_variable(from), dates.date_variable(to));
        let connections = [
            (STOCK_CHANGES_QUERY, "stockChangeConnection", Some(200usize)),
            (CHANGED_ORDERS_QUERY, "orderConnection", None),
        ];
        for (query, field, line_limit) in connections {
            let mut after: Option<String> = None;
            // Cursors sent: one coming back means the keyset does not advance.
            let mut sent = std::collections::HashSet::new();
            loop {
                let variables = serde_json::json!({ "after": after, "from": from, "to": to });
                let Some(connection) =
                    self.changes::<LinesConnection>(query, &variables, field, summary).await?
                else {
                    return Ok(None);
                };
                for edge in &connection.edges {
                    if line_limit.is_some_and(|limit| edge.node.lines.len() >= limit) {
                        // A stock change with more lines than one request
                        // reads: its other sizes are unknown.
                        info!(tenant = %self.source.tenant, "a stock change moved more sizes than one request reads; taking a full inventory snapshot");
                        return Ok(None);
                    }
                    sizes.extend(edge.node.lines.iter().filter_map(SizeRef::id));
                }
                if sizes.len() > MAX_DIRTY_SIZES {
                    return Ok(None);
                }
                if !connection.page_info.has_next_page {
                    break;
                }
                let next = connection.page_info.end_cursor;
                if connection.edges.is_empty() || next.is_none() || !sent.insert(next.clone()) {
                    return Err(CentraError::Response {
                        endpoint: self.endpoint(),
                        message: format!(
                            "{field} claims a next page but sent no rows or a cursor that does not advance"
                        ),
                    });
                }
                after = next;
            }
        }
        let lists = [
            (CHANGED_PURCHASE_ORDERS_QUERY, "purchaseOrders"),
            (NEW_DELIVERIES_QUERY, "purchaseOrderDeliveries"),
        ];
        for (query, field) in lists {
            for page in 1u32.. {
                if page > MAX_CHANGE_PAGES {
                    // A server ignoring `page` would go on for ever; so many
                    // changes are better read as a snapshot anyway.
                    return Ok(None);
                }
                let variables = serde_json::json!({ "page": page, "from": from, "to": to });
                let Some(items) =
                    self.changes::<Vec<WithLines>>(query, &variables, field, summary).await?
                else {
                    return Ok(None);
                };
                sizes.extend(items.iter().flat_map(|i| &i.lines).filter_map(SizeRef::id));
                if sizes.len() > MAX_DIRTY_SIZES {
                    return Ok(None);
                }
                if items.len() < 100 {
                    break;
                }
            }
        }
        Ok(Some(sizes))
    }

    /// Re-reads the stock of `sizes` in every warehouse and upserts it; the
    /// last batch moves the cursor from `cursor` to `bound`.
    async fn reread(
        &self,
        sizes: BTreeSet<i64>,
        snapshot_at: Option<DateTime<Utc>>,
        cursor: DateTime<Utc>,
        bound: DateTime<Utc>,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let walk = self.plan(Some(bound), summary).await?;
        let query = stock_query(&self.selection, true);
        let sizes: Vec<i64> = sizes.into_iter().collect();
        // Each warehouse answers one row per size: a chunk of sizes fills a
        // page of `rows`, so one request per (group, chunk) reads it all.
        let chunk = (walk.rows as usize).clamp(1, MAX_SIZES);
        let done = InventoryState::idle(snapshot_at, Some(bound));
        // Until the last batch, a crash re-collects the same sizes.
        let pending = InventoryState::idle(snapshot_at, Some(cursor));
        let mut batches = Vec::new();
        for group in &walk.groups {
            for ids in sizes.chunks(chunk) {
                batches.push((group, ids));
            }
        }
        let total = batches.len();
        for (i, (group, ids)) in batches.into_iter().enumerate() {
            let records = self.page(&query, group, chunk as u32, 1, Some(ids), summary).await?;
            summary.records += records.len() as u64;
            let state = if i + 1 == total { &done } else { &pending };
            if !self.send(SourceBatch::new(records, StreamState(state.to_json()))).await? {
                return Ok(());
            }
        }
        if total == 0 {
            self.send(SourceBatch::new(Vec::new(), StreamState(done.to_json()))).await?;
        }
        Ok(())
    }
}

fn snapshot_batch(records: Vec<Record>, state: &InventoryState, part: SnapshotPart) -> SourceBatch {
    let mut batch = SourceBatch::new(records, StreamState(state.to_json()));
    batch.snapshot = Some(part);
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fit_half_a_bucket() {
        // The standard selection: a row is 3 objects.
        let s = size_requests(4.0, 125_000.0, 20, 200);
        assert_eq!(s, Sizing { warehouses: 20, rows: 200 });
        // Six expensive quantities (2 each) on top: 15 per row.
        let s = size_requests(16.0, 125_000.0, 80, 200);
        assert_eq!(s, Sizing { warehouses: 41, rows: 200 });
        // A tiny share: fewer rows, one warehouse, never zero.
        assert_eq!(size_requests(4.0, 100.0, 20, 200), Sizing { warehouses: 1, rows: 33 });
        assert_eq!(size_requests(4.0, 0.0, 20, 200), Sizing { warehouses: 1, rows: 1 });
        assert_eq!(
            size_requests(4.0, f64::INFINITY, 500, 200),
            Sizing { warehouses: 200, rows: 200 }
        );
        // The connection's page size bounds the rows.
        assert_eq!(size_requests(4.0, 125_000.0, 3, 10), Sizing { warehouses: 3, rows: 10 });
    }

    #[test]
    fn the_queries_validate_against_the_schema() {
        use apollo_compiler::{ExecutableDocument, Schema};
        let schema =
            Schema::parse_and_validate(include_str!("../schema.graphql"), "schema.graphql")
                .unwrap();
        for query in [
            stock_query(DEFAULT_INVENTORY_SELECTION, false),
            stock_query(DEFAULT_INVENTORY_SELECTION, true),
            stock_check_query(DEFAULT_INVENTORY_SELECTION),
            WAREHOUSES_QUERY.to_owned(),
            STOCK_CHANGES_QUERY.to_owned(),
            CHANGED_ORDERS_QUERY.to_owned(),
            CHANGED_PURCHASE_ORDERS_QUERY.to_owned(),
            NEW_DELIVERIES_QUERY.to_owned(),
        ] {
            ExecutableDocument::parse_and_validate(&schema, &query, "q.graphql")
                .unwrap_or_else(|e| panic!("{query}\n{e}"));
        }
    }

    #[test]
    fn the_state_round_trips() {
        let state = InventoryState {
            v: STATE_VERSION,
            snapshot_at: None,
            cursor: None,
            walk: Some(SnapshotWalk {
                bound: DateTime::from_timestamp(1_700_000_000, 0),
                groups: vec![vec![1, 2], vec![3]],
                rows: 200,
                group: 1,
                next_page: Some(4),
            }),
        };
        assert_eq!(InventoryState::from_json(&state.to_json()).unwrap(), state);
    }
}
