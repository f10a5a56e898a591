//! `CentraSource`: the `cartage_core::Source` of Centra, and the run loop of
//! the `orders` stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cartage_core::{
    Committed, Error, ReadRequest, ReadSummary, Record, Source, SourceBatch, StreamDef,
    StreamState, SyncMode, WriteMode,
};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::checkpoint::Checkpoint;
use crate::client::CentraClient;
use crate::deletions::{
    CONFIRM, ConfirmData, EVENTS, EVENTS_PER_PAGE, EventsData, LISTEN, LISTENERS, ListenData,
    deleted_order,
};
use crate::deliveries::{
    DEFAULT_DELIVERY_SELECTION, DELIVERIES_STREAM, DeliveriesState, deliveries_query,
};
use crate::error::CentraError;
use crate::orders::{
    DEFAULT_ORDER_SELECTION, OrdersPage, OrdersState, STATE_VERSION, Window, date_variable,
    node_updated_at, normalize_selection, orders_query,
};
use crate::paging::{self, Paged};
use crate::purchase_orders::{
    DEFAULT_PURCHASE_ORDER_SELECTION, PURCHASE_ORDERS_STREAM, PurchaseOrdersState,
    purchase_orders_query,
};

/// The orders stream: one record per order, its lines inside.
pub const ORDERS_STREAM: &str = "orders";

/// The Centra source of one tenant. Its reads share one rate-limit budget.
#[derive(Debug)]
pub struct CentraSource {
    tenant: String,
    client: Arc<CentraClient>,
    page_size: u32,
    lookback: Duration,
    track_deletions: bool,
}

/// The committed checkpoint `request` resumes `stream` from, if any.
fn resume<T: Checkpoint>(request: &ReadRequest, stream: &str) -> Result<Option<T>, CentraError> {
    request
        .state
        .as_ref()
        .map(|StreamState(json)| T::from_json(json))
        .transpose()
        .map_err(|message| CentraError::State { stream: stream.into(), message })
}

/// The state after reading a purchase orders page, `next` pages still to read.
fn po_state(window: Window, next: u32) -> serde_json::Value {
    let state = if next == 0 {
        PurchaseOrdersState::done(window.to)
    } else {
        PurchaseOrdersState {
            v: crate::purchase_orders::STATE_VERSION,
            cursor: None,
            window: Some(window),
            next_page: Some(next),
        }
    };
    state.to_json()
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
        lookback: Duration,
        track_deletions: bool,
    ) -> Self {
        CentraSource { tenant, client: Arc::new(client), page_size, lookback, track_deletions }
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
        // A lookback too large to subtract means "from the beginning".
        let from = cursor.and_then(|c| {
            TimeDelta::from_std(self.lookback)
                .ok()
                .and_then(|lookback| c.checked_sub_signed(lookback))
        });
        let window = match server_now {
            Some(now) => {
                // updatedAt has whole seconds: everything changed from the
                // server's `now` on carries updatedAt >= now, beyond `to`.
                Window { from, to: Some(DateTime::<Utc>::from(now) - TimeDelta::seconds(1)) }
            }
            None => {
                warn!(
                    endpoint = self.client.endpoint(),
                    "centra sent no Date header: reading an open-ended window, cursor from the largest updatedAt read"
                );
                Window { from, to: None }
            }
        };
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
            let list = self.purchase_orders_list(&selection, window);
            if !list.walk_down(page, |next| po_state(window, next), &out, summary, cancel).await? {
                return Ok(());
            }
            cursor = window.to;
        }
        let Some(now) = self.client.probe(summary, cancel).await? else {
            return Err(CentraError::Response {
                endpoint: self.client.endpoint().to_owned(),
                message: "centra sent no Date header: the purchase_orders window needs the server's clock".into(),
            });
        };
        let from = cursor.and_then(|c| {
            TimeDelta::from_std(self.lookback)
                .ok()
                .and_then(|lookback| c.checked_sub_signed(lookback))
        });
        let window = Window { from, to: Some(DateTime::<Utc>::from(now) - TimeDelta::seconds(1)) };
        let last = self.purchase_orders_list("id", window).last_page(summary, cancel).await?;
        debug!(tenant = %self.tenant, ?window, pages = last, "reading purchase orders window");
        if last == 0 {
            let done = PurchaseOrdersState::done(window.to);
            let batch = SourceBatch::new(Vec::new(), StreamState(done.to_json()));
            let _ = out.send(batch).await;
            return Ok(());
        }
        let list = self.purchase_orders_list(&selection, window);
        list.walk_down(last, |next| po_state(window, next), &out, summary, cancel).await?;
        Ok(())
    }

    fn purchase_orders_list(&self, selection: &str, window: Window) -> Paged<'_> {
        let mut variables = serde_json::json!({});
        if let Some(to) = window.to {
            variables["to"] = date_variable(to).into();
        }
        if let Some(from) = window.from {
            variables["from"] = date_variable(from).into();
        }
        Paged {
            client: &self.client,
            query: purchase_orders_query(selection, window.from.is_some()),
            field: "purchaseOrders",
            variables,
            page_size: self.page_size,
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
        let list = |selection: &str| Paged {
            client: &self.client,
            query: deliveries_query(selection),
            field: "purchaseOrderDeliveries",
            variables: serde_json::json!({}),
            page_size: self.page_size,
        };
        let start = match state.and_then(|s| s.next_page) {
            Some(page) => {
                info!(tenant = %self.tenant, page, "resuming a deliveries walk in progress");
                page
            }
            None => list("id").last_page(summary, cancel).await?,
        };
        if start == 0 {
            let batch =
                SourceBatch::new(Vec::new(), StreamState(DeliveriesState::done().to_json()));
            let _ = out.send(batch).await;
            return Ok(());
        }
        list(&selection)
            .walk_down(start, |next| DeliveriesState::after(next).to_json(), &out, summary, cancel)
            .await?;
        Ok(())
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
        loop {
            if self.cancel.is_cancelled() {
                return Err(CentraError::Cancelled);
            }
            let mut variables =
                serde_json::json!({ "first": self.source.page_size, "after": after });
            if let Some(from) = window.from {
                variables["from"] = date_variable(from).into();
            }
            if let Some(to) = window.to {
                variables["to"] = date_variable(to).into();
            }
            let page = self
                .source
                .client
                .query::<OrdersPage>(&query, &variables, summary, self.cancel)
                .await?;
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
            let done = !connection.page_info.has_next_page || records.is_empty();
            if !done && next_after.is_none() {
                return Err(CentraError::Response {
                    endpoint: self.source.client.endpoint().to_owned(),
                    message: "orderConnection has a next page but no endCursor".into(),
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
                snapshots: false,
            },
        ]
    }

    /// Sends the connection check (an order id, so `Order:read` is needed)
    /// and `rateLimits`, with few retries.
    ///
    /// With `track_deletions`, also reads the event listeners, so a token
    /// without `Event:read` fails here, before anything is written.
    async fn check(&self) -> Result<(), Error> {
        let cancel = CancellationToken::new();
        self.client.check(&cancel).await.map_err(Error::from)?;
        if self.track_deletions {
            let mut summary = ReadSummary::default();
            let empty = serde_json::json!({});
            self.client
                .query::<serde_json::Value>(LISTENERS, &empty, &mut summary, &cancel)
                .await
                .map_err(Error::from)?;
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
            other => {
                return Err(Error::config(format!(
                    "centra has no stream {other:?} (it offers: {ORDERS_STREAM}, {PURCHASE_ORDERS_STREAM}, {DELIVERIES_STREAM})"
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
