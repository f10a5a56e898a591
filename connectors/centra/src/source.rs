//! `CentraSource`: the `cartage_core::Source` of Centra, and the run loop of
//! the `orders` stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::time::SystemTime;

use async_trait::async_trait;
use cartage_core::{
    Committed, Error, ReadRequest, ReadSummary, Record, SnapshotPart, Source, SourceBatch,
    StreamCheck, StreamDef, StreamState, SyncMode, WriteMode,
};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::client::CentraClient;
use crate::deletions::{
    CONFIRM, ConfirmData, EVENTS, EVENTS_PER_PAGE, EventsData, LISTEN, LISTENERS, ListenData,
    deleted_order,
};
use crate::deliveries::{
    DEFAULT_DELIVERY_SELECTION, DELIVERIES_STREAM, DeliveriesState, deliveries_query,
};
use crate::error::CentraError;
use crate::inventory::{DEFAULT_INVENTORY_SELECTION, INVENTORY_STREAM, stock_check_query};
use crate::orders::{
    DEFAULT_ORDER_SELECTION, OrdersPage, OrdersState, STATE_VERSION, Window, node_updated_at,
    normalize_selection, orders_query,
};
use crate::paging::{self, Paged};
use crate::purchase_orders::{
    DEFAULT_PURCHASE_ORDER_SELECTION, PURCHASE_ORDERS_STREAM, PurchaseOrdersState,
    purchase_orders_query,
};
use crate::window::WindowPolicy;
use cartage_http_source::Checkpoint;

/// The orders stream: one record per order, its lines inside.
pub const ORDERS_STREAM: &str = "orders";

/// The Centra source of one tenant. Its reads share one rate-limit budget.
#[derive(Debug)]
pub struct CentraSource {
    pub(crate) tenant: String,
    pub(crate) client: Arc<CentraClient>,
    pub(crate) page_size: u32,
    pub(crate) windows: WindowPolicy,
    pub(crate) track_deletions: bool,
    /// How often the inventory stream takes a full snapshot.
    pub(crate) inventory_interval: Duration,
    /// What each stream's check request (a page of one) cost, by stream:
    /// pages are sized from it.
    measured: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

/// The committed checkpoint `request` resumes `stream` from, if any.
pub(crate) fn resume<T: Checkpoint>(
    request: &ReadRequest,
    stream: &str,
) -> Result<Option<T>, CentraError> {
    request
        .state
        .as_ref()
        .map(|StreamState(json)| T::from_json(json))
        .transpose()
        .map_err(|message| CentraError::State { stream: stream.into(), message })
}

/// The state after reading a purchase orders page, `next` pages still to read.
fn po_state(window: Window, limit: u32, next: u32) -> serde_json::Value {
    let state = if next == 0 {
        PurchaseOrdersState::done(window.to)
    } else {
        PurchaseOrdersState {
            v: crate::purchase_orders::STATE_VERSION,
            cursor: None,
            window: Some(window),
            next_page: Some(next),
            limit: Some(limit),
        }
    };
    state.to_json()
}

/// The largest page size up to `page_size` whose cost, at `one` per record
/// (`None`: not measured), stays within `cap`; at least 1.
pub(crate) fn fit_page(page_size: u32, one: Option<u64>, cap: f64) -> u32 {
    match one {
        Some(one) if cap.is_finite() => {
            let fit = (cap / one.max(1) as f64).floor();
            // Both are small: the cast cannot lose anything that matters.
            (fit.clamp(1.0, f64::from(page_size.max(1)))) as u32
        }
        _ => page_size,
    }
}

/// Pages of deletion events one run reads at most (100 events each).
const MAX_EVENT_PAGES: usize = 100;

/// How a window's walk ended.
enum Walk {
    /// Read to the end; the cursor the final batch committed.
    Done(Option<DateTime<Utc>>),
    /// The pipeline closed the channel: stop quietly.
    Stopped,
}

impl CentraSource {
    pub(crate) fn new(
        tenant: String,
        client: CentraClient,
        page_size: u32,
        windows: WindowPolicy,
        track_deletions: bool,
        inventory_interval: Duration,
    ) -> Self {
        CentraSource {
            tenant,
            client: Arc::new(client),
            page_size,
            windows,
            track_deletions,
            inventory_interval,
            measured: std::sync::Mutex::default(),
        }
    }

    /// The page size of `stream`'s requests: `page_size`, or fewer records
    /// when a page of `page_size` would cost more than one request may (half
    /// of the 10-second complexity bucket; Centra refuses a request dearer
    /// than the whole bucket for good). The cost of one record is what the
    /// check's page of one cost, fixed overhead included, so the estimate
    /// errs high.
    pub(crate) fn fitting_page_size(&self, stream: &str) -> u32 {
        let one = self
            .measured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(stream)
            .copied();
        fit_page(self.page_size, one, self.client.request_complexity_cap())
    }

    /// The tenant this source reads for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    async fn read_orders(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let state: Option<OrdersState> = resume(&request, ORDERS_STREAM)?;
        let selection =
            normalize_selection(request.selection.as_deref().unwrap_or(DEFAULT_ORDER_SELECTION))
                .map_err(CentraError::Config)?;
        if self.track_deletions {
            // Events the last committed batch marked but the run did not
            // get to confirm: the marks are durable, confirm them now.
            if let Some(pending) = state.as_ref().map(|s| &s.confirm).filter(|c| !c.is_empty()) {
                self.confirm_events(pending, summary, &request.cancel).await?;
            }
            // Before the window, so a deletion during the walk is queued.
            self.listen_for_deletions(summary, &request.cancel).await?;
        }
        let reader = WindowReader {
            source: self,
            selection,
            out: &out,
            cancel: &request.cancel,
            sent: AtomicU64::new(0),
        };

        let mut cursor = state.as_ref().and_then(|s| s.cursor);
        if let Some(OrdersState { window: Some(window), after, seen, .. }) = state {
            info!(tenant = %self.tenant, ?window, "resuming an orders window in progress");
            match reader.walk(window, after, seen, cursor, summary).await? {
                Walk::Done(new_cursor) => cursor = new_cursor,
                Walk::Stopped => return Ok(()),
            }
        }

        let server_now = self.client.probe(summary, &request.cancel).await?;
        let (window, unbounded) = self.windows.next_window(cursor, server_now, SystemTime::now());
        if let Some(reason) = unbounded {
            warn!(
                endpoint = self.client.endpoint(),
                %reason,
                "reading an open-ended orders window, cursor from the largest updatedAt read"
            );
        }
        debug!(tenant = %self.tenant, ?window, "reading orders window");
        let cursor = match reader.walk(window, None, None, cursor, summary).await? {
            Walk::Done(cursor) => cursor,
            Walk::Stopped => return Ok(()),
        };
        if self.track_deletions {
            reader.deletions(cursor, request.committed.clone(), summary).await?;
        }
        Ok(())
    }

    /// Reads the `purchase_orders` stream: the window in progress (if a run
    /// stopped in one), then a new window up to the server's clock, each
    /// walked from its last page down (see `purchase_orders.rs` for why).
    async fn read_purchase_orders(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let state: Option<PurchaseOrdersState> = resume(&request, PURCHASE_ORDERS_STREAM)?;
        let selection = normalize_selection(
            request.selection.as_deref().unwrap_or(DEFAULT_PURCHASE_ORDER_SELECTION),
        )
        .map_err(CentraError::Config)?;
        let cancel = &request.cancel;
        let mut cursor = state.as_ref().and_then(|s| s.cursor);
        if let Some(PurchaseOrdersState { window: Some(window), next_page: Some(page), .. }) = state
        {
            info!(tenant = %self.tenant, ?window, page, "resuming a purchase orders window in progress");
            // A walk goes on with the page size it started with (pages of
            // another size would start at other rows).
            let limit = state.as_ref().and_then(|s| s.limit).unwrap_or(self.page_size);
            let list = self.purchase_orders_list(&selection, window, limit);
            let state_after = |next| po_state(window, limit, next);
            if !list.walk_down(page, state_after, |_| None, &out, summary, cancel).await? {
                return Ok(());
            }
            cursor = window.to;
        }
        let server_now = self.client.probe(summary, cancel).await?;
        // A page walk stays exact only under a fixed upper bound (see
        // `purchase_orders.rs`), and the checkpoint has no room for the
        // largest updatedAt read: without a trusted server clock, stop
        // with the reason rather than read a window that can lose rows.
        let (window, unbounded) = self.windows.next_window(cursor, server_now, SystemTime::now());
        if let Some(reason) = unbounded {
            return Err(CentraError::Response {
                endpoint: self.client.endpoint().to_owned(),
                message: format!(
                    "{reason}: the purchase_orders window needs the server's clock (see max_clock_skew_secs)"
                ),
            });
        }
        let limit = self.fitting_page_size(PURCHASE_ORDERS_STREAM);
        let last =
            self.purchase_orders_list("id", window, limit).last_page(summary, cancel).await?;
        debug!(tenant = %self.tenant, ?window, pages = last, "reading purchase orders window");
        if last == 0 {
            let done = PurchaseOrdersState::done(window.to);
            let batch = SourceBatch::new(Vec::new(), StreamState(done.to_json()));
            let _ = out.send(batch).await;
            return Ok(());
        }
        let list = self.purchase_orders_list(&selection, window, limit);
        let state_after = |next| po_state(window, limit, next);
        list.walk_down(last, state_after, |_| None, &out, summary, cancel).await?;
        Ok(())
    }

    fn purchase_orders_list(&self, selection: &str, window: Window, limit: u32) -> Paged<'_> {
        let mut variables = serde_json::json!({});
        if let Some(to) = window.to {
            variables["to"] = self.windows.date_variable(to).into();
        }
        if let Some(from) = window.from {
            variables["from"] = self.windows.date_variable(from).into();
        }
        Paged {
            client: &self.client,
            query: purchase_orders_query(selection, window.from.is_some()),
            field: "purchaseOrders",
            variables,
            page_size: limit,
        }
    }

    /// Reads the `indeliveries` stream: every delivery, each run, from the
    /// last page down (Centra cannot filter deliveries by `updatedAt`).
    async fn read_deliveries(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let state: Option<DeliveriesState> = resume(&request, DELIVERIES_STREAM)?;
        let selection =
            normalize_selection(request.selection.as_deref().unwrap_or(DEFAULT_DELIVERY_SELECTION))
                .map_err(CentraError::Config)?;
        let cancel = &request.cancel;
        // A walk goes on with the page size it started with.
        let limit = match &state {
            Some(DeliveriesState { next_page: Some(_), limit, .. }) => {
                limit.unwrap_or(self.page_size)
            }
            _ => self.fitting_page_size(DELIVERIES_STREAM),
        };
        let list = |selection: &str| Paged {
            client: &self.client,
            query: deliveries_query(selection),
            field: "purchaseOrderDeliveries",
            variables: serde_json::json!({}),
            page_size: limit,
        };
        // Each whole read is a snapshot: the sink stages its pages and the
        // last one swaps them in, marking deliveries Centra no longer has.
        let (start, fresh) = match state.and_then(|s| s.next_page) {
            Some(page) => {
                info!(tenant = %self.tenant, page, "resuming a deliveries walk in progress");
                (page, false)
            }
            None => (list("id").last_page(summary, cancel).await?, true),
        };
        if start == 0 {
            let mut batch =
                SourceBatch::new(Vec::new(), StreamState(DeliveriesState::done().to_json()));
            batch.snapshot = Some(SnapshotPart { first: true, last: true });
            let _ = paging::send(&out, batch, cancel).await?;
            return Ok(());
        }
        let part =
            |page: u32| Some(SnapshotPart { first: fresh && page == start, last: page == 1 });
        list(&selection)
            .walk_down(
                start,
                |next| DeliveriesState::after(next, limit).to_json(),
                part,
                &out,
                summary,
                cancel,
            )
            .await?;
        Ok(())
    }

    /// A stream's real first request with a page of one: what
    /// [`Source::check`] sends.
    fn check_request(
        &self,
        check: &StreamCheck,
    ) -> Result<(String, serde_json::Value), CentraError> {
        let selection = |default: &str| {
            normalize_selection(check.selection.as_deref().unwrap_or(default))
                .map_err(CentraError::Config)
        };
        Ok(match check.stream.as_str() {
            ORDERS_STREAM => (
                orders_query(&selection(DEFAULT_ORDER_SELECTION)?, false, false, false),
                serde_json::json!({ "first": 1, "after": null }),
            ),
            PURCHASE_ORDERS_STREAM => (
                purchase_orders_query(&selection(DEFAULT_PURCHASE_ORDER_SELECTION)?, false),
                serde_json::json!({
                    "limit": 1, "page": 1, "to": self.windows.date_variable(Utc::now()),
                }),
            ),
            DELIVERIES_STREAM => (
                deliveries_query(&selection(DEFAULT_DELIVERY_SELECTION)?),
                serde_json::json!({ "limit": 1, "page": 1 }),
            ),
            INVENTORY_STREAM => {
                (stock_check_query(&selection(DEFAULT_INVENTORY_SELECTION)?), serde_json::json!({}))
            }
            other => {
                return Err(CentraError::Config(format!(
                    "centra has no stream {other:?} (it offers: {ORDERS_STREAM}, {INVENTORY_STREAM}, {PURCHASE_ORDERS_STREAM}, {DELIVERIES_STREAM})"
                )));
            }
        })
    }

    async fn listen_for_deletions(
        &self,
        summary: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<(), CentraError> {
        let empty = serde_json::json!({});
        let response = self.client.query::<ListenData>(LISTEN, &empty, summary, cancel).await?;
        if let Some(error) = response.data.payload.user_errors.first() {
            return Err(CentraError::Response {
                endpoint: self.client.endpoint().to_owned(),
                message: format!("subscribing to deleted orders: {}", error.message),
            });
        }
        Ok(())
    }

    async fn confirm_events(
        &self,
        ids: &[i64],
        summary: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<(), CentraError> {
        let variables = serde_json::json!({ "ids": ids });
        let response =
            self.client.query::<ConfirmData>(CONFIRM, &variables, summary, cancel).await?;
        // An id no longer queued (confirmed before a crash) is reported as a
        // user error; the others are removed all the same.
        for error in &response.data.payload.user_errors {
            debug!(tenant = %self.tenant, message = %error.message, "confirming deletion events");
        }
        Ok(())
    }
}

struct WindowReader<'a> {
    source: &'a CentraSource,
    selection: String,
    out: &'a mpsc::Sender<SourceBatch>,
    cancel: &'a CancellationToken,
    /// Batches sent on `out` in this run.
    sent: AtomicU64,
}

impl WindowReader<'_> {
    /// Sends a batch; `false` if the pipeline closed the channel.
    async fn send(&self, batch: SourceBatch) -> Result<bool, CentraError> {
        let sent = paging::send(self.out, batch, self.cancel).await?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(sent)
    }

    /// Hands the queued order deletions to the pipeline, a page at a time,
    /// confirming each page's events once its batch is committed.
    async fn deletions(
        &self,
        cursor: Option<DateTime<Utc>>,
        mut committed: Committed,
        summary: &mut ReadSummary,
    ) -> Result<(), CentraError> {
        let client = &self.source.client;
        let variables = serde_json::json!({ "limit": EVENTS_PER_PAGE });
        let mut confirmed = std::collections::HashSet::new();
        for _ in 0..MAX_EVENT_PAGES {
            let page = client.query::<EventsData>(EVENTS, &variables, summary, self.cancel).await?;
            let events = page.data.events;
            if events.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
            if let Some(id) = ids.iter().find(|id| confirmed.contains(*id)) {
                // Reading on would mark and "confirm" the same page forever.
                return Err(CentraError::Response {
                    endpoint: client.endpoint().to_owned(),
                    message: format!(
                        "event {id} is still queued after cartage confirmed it; check that no other integration shares this token's integration name"
                    ),
                });
            }
            let mut deleted = Vec::with_capacity(events.len());
            for e in &events {
                let record =
                    Record::from_json_str(&deleted_order(e.object_reference)).map_err(|err| {
                        CentraError::Response {
                            endpoint: client.endpoint().to_owned(),
                            message: format!("deletion event {}: {err}", e.id),
                        }
                    })?;
                deleted.push(record);
            }
            info!(tenant = %self.source.tenant, orders = events.len(), "orders deleted in centra");
            let mut state = OrdersState::done(cursor);
            state.confirm = ids.clone();
            let batch = SourceBatch {
                records: Vec::new(),
                deleted,
                state: StreamState(state.to_json()),
                snapshot: None,
            };
            if !self.send(batch).await? {
                return Ok(());
            }
            let sent = self.sent.load(Ordering::Relaxed);
            let durable = tokio::select! {
                _ = self.cancel.cancelled() => return Err(CentraError::Cancelled),
                durable = committed.wait_for(sent) => durable,
            };
            if !durable {
                // The pipeline stopped before the commit: leave the events queued.
                return Ok(());
            }
            self.source.confirm_events(&ids, summary, self.cancel).await?;
            confirmed.extend(ids);
        }
        // Deletions arriving faster than a run drains them: the rest wait
        // for the next run, so one run does not go on for ever.
        info!(tenant = %self.source.tenant, pages = MAX_EVENT_PAGES, "more orders deleted than one run takes; the rest wait for the next run");
        Ok(())
    }

    /// Walks `window` from the connection cursor `after`, one batch per page.
    /// Without an upper bound (no server clock) the cursor becomes the
    /// largest `updatedAt` read (`seen`), else the window's `to`.
    async fn walk(
        &self,
        window: Window,
        mut after: Option<String>,
        mut seen: Option<DateTime<Utc>>,
        cursor: Option<DateTime<Utc>>,
        summary: &mut ReadSummary,
    ) -> Result<Walk, CentraError> {
        let open_ended = window.to.is_none();
        let query =
            orders_query(&self.selection, window.from.is_some(), window.to.is_some(), open_ended);
        let endpoint = || self.source.client.endpoint().to_owned();
        // Connection cursors this walk has sent: one coming back means the
        // server's keyset does not advance, and the walk would never end.
        let mut sent_cursors = std::collections::HashSet::new();
        // Keyset pages may change size mid-walk: start from the check's
        // measure, and shrink when a page costs more than a request may.
        let mut first = self.source.fitting_page_size(ORDERS_STREAM);
        let cap = self.source.client.request_complexity_cap();
        loop {
            if self.cancel.is_cancelled() {
                return Err(CentraError::Cancelled);
            }
            let mut variables = serde_json::json!({ "first": first, "after": after });
            let dates = &self.source.windows;
            if let Some(from) = window.from {
                variables["from"] = dates.date_variable(from).into();
            }
            if let Some(to) = window.to {
                variables["to"] = dates.date_variable(to).into();
            }
            let page = self
                .source
                .client
                .query::<OrdersPage>(&query, &variables, summary, self.cancel)
                .await?;
            if let Some(cost) = page.complexity.map(|c| c as f64).filter(|&c| c > cap) {
                let fewer = (f64::from(first) * cap / cost).floor().max(1.0) as u32;
                debug!(
                    first,
                    cost, cap, fewer, "an orders page cost more than a request may: smaller pages"
                );
                first = fewer.min(first);
            }
            let connection = page.data.connection;
            let next_after = connection
                .page_info
                .end_cursor
                .clone()
                .or_else(|| connection.edges.last().map(|e| e.cursor.clone()));
            let mut records = Vec::with_capacity(connection.edges.len());
            for edge in connection.edges {
                if open_ended {
                    let updated_at =
                        node_updated_at(&edge.node).map_err(|message| CentraError::Response {
                            endpoint: self.source.client.endpoint().to_owned(),
                            message,
                        })?;
                    seen = seen.max(Some(updated_at));
                }
                records.push(Record::from_raw(edge.node));
            }
            // The server's `hasNextPage` decides the end. A page that says
            // more follow but brings nothing, or whose cursor does not move,
            // is a server fault: stopping there would checkpoint the window
            // as read with the rest unread, and following it would loop.
            let done = !connection.page_info.has_next_page;
            let request = || {
                let bound =
                    |at: Option<DateTime<Utc>>| at.map_or("open".to_owned(), |t| t.to_rfc3339());
                let page = after
                    .as_ref()
                    .map_or("first page".to_owned(), |c| format!("page after cursor {c:?}"));
                format!(
                    "orderConnection {page} of the updatedAt window {} to {}",
                    bound(window.from),
                    bound(window.to)
                )
            };
            if !done && records.is_empty() {
                return Err(CentraError::Response {
                    endpoint: endpoint(),
                    message: format!("{} has no orders but hasNextPage is true", request()),
                });
            }
            if !done && next_after.is_none() {
                return Err(CentraError::Response {
                    endpoint: endpoint(),
                    message: format!("{} has a next page but no endCursor", request()),
                });
            }
            if let Some(after) = after.as_ref() {
                sent_cursors.insert(after.clone());
            }
            if let Some(repeated) =
                next_after.as_ref().filter(|c| !done && sent_cursors.contains(*c))
            {
                return Err(CentraError::Response {
                    endpoint: endpoint(),
                    message: format!(
                        "{} returned endCursor {repeated:?}, a cursor already sent: the walk does not advance",
                        request()
                    ),
                });
            }
            let final_cursor = if open_ended { seen.max(cursor) } else { window.to };
            let state = if done {
                OrdersState::done(final_cursor)
            } else {
                OrdersState {
                    v: STATE_VERSION,
                    cursor,
                    window: Some(window),
                    after: next_after.clone(),
                    seen: if open_ended { seen } else { None },
                    confirm: Vec::new(),
                }
            };
            summary.records += records.len() as u64;
            let batch = SourceBatch::new(records, StreamState(state.to_json()));
            if !self.send(batch).await? {
                return Ok(Walk::Stopped);
            }
            if done {
                return Ok(Walk::Done(final_cursor));
            }
            after = next_after;
        }
    }
}

#[async_trait]
impl Source for CentraSource {
    fn streams(&self) -> Vec<StreamDef> {
        vec![
            StreamDef {
                name: ORDERS_STREAM.into(),
                primary_key: vec!["id".into()],
                cursor_field: Some("updatedAt".into()),
                sync_mode: SyncMode::Incremental,
                write_mode: WriteMode::Upsert,
                deleted_by: if self.track_deletions { vec!["number".into()] } else { Vec::new() },
                snapshots: false,
            },
            StreamDef {
                name: PURCHASE_ORDERS_STREAM.into(),
                primary_key: vec!["id".into()],
                cursor_field: Some("updatedAt".into()),
                sync_mode: SyncMode::Incremental,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: false,
            },
            StreamDef {
                name: DELIVERIES_STREAM.into(),
                primary_key: vec!["id".into()],
                cursor_field: None,
                sync_mode: SyncMode::Full,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: true,
            },
            StreamDef {
                name: INVENTORY_STREAM.into(),
                primary_key: vec!["warehouse.id".into(), "productSize.id".into()],
                cursor_field: None,
                sync_mode: SyncMode::Incremental,
                write_mode: WriteMode::Upsert,
                deleted_by: Vec::new(),
                snapshots: true,
            },
        ]
    }

    /// Sends `rateLimits` (the endpoint and the token), then each stream's
    /// real query with the mapping's selection and a page of one, with few
    /// retries: a field Centra does not have or a permission the token
    /// lacks fails here, naming it, before anything is written. Only the
    /// selected streams' permissions are needed.
    ///
    /// With `track_deletions` and the orders stream, also reads the event
    /// listeners, so a token without `Event:read` fails here too.
    async fn check(&self, streams: &[StreamCheck]) -> Result<(), Error> {
        let cancel = CancellationToken::new();
        self.client.check(&cancel).await.map_err(Error::from)?;
        for check in streams {
            let in_stream = |e: CentraError| {
                Error::from(e).context(format!("checking stream {}", check.stream))
            };
            let (query, variables) = self.check_request(check).map_err(in_stream)?;
            let cost =
                self.client.check_query(&query, &variables, &cancel).await.map_err(in_stream)?;
            if let Some(cost) = cost {
                self.measured
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(check.stream.clone(), cost);
            }
            if check.stream == ORDERS_STREAM && self.track_deletions {
                let empty = serde_json::json!({});
                self.client.check_query(LISTENERS, &empty, &cancel).await.map_err(in_stream)?;
            }
        }
        Ok(())
    }

    async fn read(
        &self,
        request: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
    ) -> Result<ReadSummary, Error> {
        let mut summary = ReadSummary::default();
        let started = SystemTime::now();
        let result = match request.stream.as_str() {
            ORDERS_STREAM => self.read_orders(request, out, &mut summary).await,
            PURCHASE_ORDERS_STREAM => self.read_purchase_orders(request, out, &mut summary).await,
            DELIVERIES_STREAM => self.read_deliveries(request, out, &mut summary).await,
            INVENTORY_STREAM => self.read_inventory(request, out, &mut summary).await,
            other => {
                return Err(Error::config(format!(
                    "centra has no stream {other:?} (it offers: {ORDERS_STREAM}, {INVENTORY_STREAM}, {PURCHASE_ORDERS_STREAM}, {DELIVERIES_STREAM})"
                )));
            }
        };
        debug!(
            tenant = %self.tenant,
            records = summary.records,
            requests = summary.requests,
            retries = summary.retries,
            rate_limited = summary.rate_limited,
            elapsed_ms = started.elapsed().map(|d| d.as_millis() as u64).unwrap_or(0),
            "centra read finished"
        );
        result.map(|()| summary).map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::fit_page;

    #[test]
    fn pages_fit_what_one_request_may_cost() {
        // Unmeasured or unlimited: the configured page size.
        assert_eq!(fit_page(200, None, 125_000.0), 200);
        assert_eq!(fit_page(200, Some(150), f64::INFINITY), 200);
        // 150 per order within 125k: all 200 fit; within 2,500: 16.
        assert_eq!(fit_page(200, Some(150), 125_000.0), 200);
        assert_eq!(fit_page(200, Some(150), 2_500.0), 16);
        // Never below one record, whatever the record costs.
        assert_eq!(fit_page(200, Some(1_000_000), 2_500.0), 1);
        assert_eq!(fit_page(200, Some(0), 0.0), 1);
    }
}
