//! The HTTP server: `POST /graphql` (auth, rate limits, faults, execution),
//! the control API under `/__sim/`, the simulated `Date` header, and churn.

use crate::control::{
    ChangeStock, DateHeader, DeliveryRequest, OrderSelection, RemoveDeliveries, UpdateOrders,
    UpdatePurchaseOrder,
};
use crate::graphql::{self, error_response, simple_error};
use crate::{RunningSim, SimError, Simulator, faults, ratelimit};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub(crate) async fn serve(
    sim: Simulator,
    addr: std::net::SocketAddr,
) -> std::io::Result<RunningSim> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let app = router(sim.clone());
    let mut tasks = vec![tokio::spawn(accept_loop(listener, app, cancel.clone()))];
    if sim.inner.config.churn_per_sec > 0.0 {
        tasks.push(tokio::spawn(churn(sim.clone(), cancel.clone())));
    }
    let base_url = format!("http://{addr}");
    Ok(RunningSim {
        graphql_url: format!("{base_url}/graphql"),
        base_url,
        token: sim.inner.config.token.clone(),
        addr,
        sim,
        cancel,
        tasks,
    })
}

/// Serves HTTP/1 connections until `cancel`, then lets open ones finish.
/// hyper's own `Date` header is turned off: the `date_header` middleware
/// writes it in simulated time, or leaves it out (axum's `serve` cannot).
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, cancel: CancellationToken) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(%e, "centra-sim accept failed");
                    continue;
                }
            },
        };
        // Small answers go out at once rather than waiting for a delayed ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%e, "centra-sim could not set TCP_NODELAY");
        }
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let cancel = cancel.clone();
        conns.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).auto_date_header(false);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%e, "centra-sim connection ended with an error");
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

async fn churn(sim: Simulator, cancel: CancellationToken) {
    let rate = sim.inner.config.churn_per_sec;
    let deletes = sim.inner.config.churn_deletes;
    let tick = Duration::from_millis(10).max(Duration::from_secs_f64((1.0 / rate).min(1.0)));
    let mut interval = tokio::time::interval(tick);
    let start = Instant::now();
    let mut done: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        let control = sim.control();
        while done < due {
            control.churn_step(deletes);
            done += 1;
        }
    }
}

fn router(sim: Simulator) -> Router {
    let clock_sim = sim.clone();
    let fault_state = faults::layer(sim.inner.config.faults.clone(), move || clock_sim.now());
    let graphql_routes = Router::new()
        .route("/graphql", post(graphql_handler))
        .route_layer(middleware::from_fn_with_state(fault_state, faults::middleware))
        .route_layer(middleware::from_fn_with_state(sim.clone(), count_requests));
    Router::new()
        .merge(graphql_routes)
        .route("/__sim/clock/advance", post(clock_advance))
        .route("/__sim/now", get(now))
        .route("/__sim/orders/update", post(orders_update))
        .route("/__sim/orders/create", post(orders_create))
        .route("/__sim/orders/cancel", post(orders_cancel))
        .route("/__sim/orders/delete", post(orders_delete))
        .route("/__sim/orders/{number}", get(order_truth))
        .route("/__sim/stock/change", post(stock_change))
        .route("/__sim/deliveries/create", post(deliveries_create))
        .route("/__sim/deliveries/accept", post(deliveries_accept))
        .route("/__sim/deliveries/remove", post(deliveries_remove))
        .route("/__sim/clock/date-header", post(clock_date_header).get(clock_date_header_get))
        .route("/__sim/purchase-orders/update", post(purchase_orders_update))
        .route("/__sim/stats", get(stats))
        .layer(middleware::from_fn_with_state(sim.clone(), date_header))
        .with_state(sim)
}

/// Every response carries `Date` in simulated time: the connector uses it as
/// the server clock. [`DateHeader`] can skew it or leave it out.
async fn date_header(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let skew = match sim.control().date_header() {
        DateHeader::Normal => 0,
        DateHeader::Skewed { seconds } => seconds,
        DateHeader::Absent => {
            // hyper's automatic `Date` is off (see `accept_loop`).
            resp.headers_mut().remove(header::DATE);
            return resp;
        }
    };
    let secs = sim.now().timestamp().saturating_add(skew).max(0) as u64;
    let t = std::time::UNIX_EPOCH + Duration::from_secs(secs);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

async fn count_requests(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    sim.inner.counters.requests.fetch_add(1, Ordering::Relaxed);
    next.run(req).await
}

fn json_response(r: graphql::Response) -> Response {
    let mut resp = Response::new(Body::from(r.bytes));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn graphql_handler(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = &sim.inner.counters;
    c.handled.fetch_add(1, Ordering::Relaxed);
    let token = match sim.inner.tokens.authenticate(&headers, sim.now()) {
        Ok(t) => t,
        Err(e) => {
            c.unauthorized.fetch_add(1, Ordering::Relaxed);
            let mut resp = axum::Json(e.graphql_body()).into_response();
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            return resp;
        }
    };
    let parsed: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(error_response(
                StatusCode::BAD_REQUEST,
                vec![simple_error(format!("Invalid JSON in request body: {e}"), "request")],
                0,
            ));
        }
    };
    let worker = sim.clone();
    let result = tokio::task::spawn_blocking(move || {
        let prepared = match graphql::prepare(&worker, &parsed) {
            Ok(p) => p,
            Err(r) => return Ok::<_, ratelimit::RateLimited>(r),
        };
        worker.inner.limiter.check(Instant::now(), prepared.complexity, prepared.is_mutation)?;
        Ok(graphql::run(&worker, &token, &prepared, false))
    })
    .await;
    match result {
        Ok(Ok(r)) => json_response(r),
        Ok(Err(limited)) => {
            c.rate_limited.fetch_add(1, Ordering::Relaxed);
            let retry_after = ratelimit::retry_after_header(
                sim.inner.config.retry_after,
                limited.retry_after,
                sim.now(),
            );
            match limited.oversized {
                Some(o) => {
                    c.oversized.fetch_add(1, Ordering::Relaxed);
                    let mut resp = ratelimit::too_many_requests(retry_after);
                    *resp.body_mut() = Body::from(o.body());
                    resp
                }
                None => ratelimit::too_many_requests(retry_after),
            }
        }
        Err(e) => json_response(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![simple_error(format!("internal simulator error: {e}"), "internal")],
            0,
        )),
    }
}

// Handlers answer with a `Response` by value anyway; boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        control_error(StatusCode::BAD_REQUEST, format!("invalid control request body: {e}"))
    })
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn sim_result<T: Serialize>(r: Result<T, SimError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e @ SimError::NotFound { .. }) => control_error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => control_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: i64,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Count {
    #[serde(default)]
    count: Option<usize>,
}

async fn clock_advance(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<Advance>(&body) {
        Ok(a) => axum::Json(serde_json::json!({ "now": sim.control().advance_clock(a.seconds) }))
            .into_response(),
        Err(r) => r,
    }
}

async fn now(State(sim): State<Simulator>) -> Response {
    axum::Json(serde_json::json!({ "now": sim.now() })).into_response()
}

fn numbers(orders: Vec<crate::model::Order>) -> serde_json::Value {
    serde_json::json!({ "numbers": orders.iter().map(|o| o.number).collect::<Vec<_>>() })
}

async fn orders_update(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<UpdateOrders>(&body) {
        Ok(req) => {
            blocking(move || sim_result(sim.control().update_orders(&req).map(numbers))).await
        }
        Err(r) => r,
    }
}

async fn orders_create(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<Count>(&body) {
        Ok(c) => {
            blocking(move || {
                axum::Json(numbers(sim.control().create_orders(c.count.unwrap_or(1))))
                    .into_response()
            })
            .await
        }
        Err(r) => r,
    }
}

async fn orders_cancel(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<OrderSelection>(&body) {
        Ok(sel) => {
            blocking(move || sim_result(sim.control().cancel_orders(&sel).map(numbers))).await
        }
        Err(r) => r,
    }
}

async fn orders_delete(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<OrderSelection>(&body) {
        Ok(sel) => {
            blocking(move || {
                sim_result(
                    sim.control().delete_orders(&sel).map(|n| serde_json::json!({ "numbers": n })),
                )
            })
            .await
        }
        Err(r) => r,
    }
}

async fn order_truth(State(sim): State<Simulator>, Path(number): Path<i64>) -> Response {
    match sim.order(number) {
        Some(o) => axum::Json(o).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("order {number} not found")),
    }
}

async fn stock_change(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<ChangeStock>(&body) {
        Ok(req) => {
            sim_result(sim.control().change_stock(&req).map(|s| serde_json::json!({ "stock": s })))
        }
        Err(r) => r,
    }
}

async fn deliveries_create(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<DeliveryRequest>(&body) {
        Ok(req) => sim_result(sim.control().create_delivery(&req)),
        Err(r) => r,
    }
}

async fn deliveries_accept(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<DeliveryRequest>(&body) {
        Ok(req) => sim_result(sim.control().accept_delivery(&req)),
        Err(r) => r,
    }
}

async fn deliveries_remove(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<RemoveDeliveries>(&body) {
        Ok(req) => sim_result(
            sim.control().remove_deliveries(&req).map(|ids| serde_json::json!({ "ids": ids })),
        ),
        Err(r) => r,
    }
}

async fn clock_date_header(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<DateHeader>(&body) {
        Ok(setting) => {
            sim.control().set_date_header(setting);
            axum::Json(setting).into_response()
        }
        Err(r) => r,
    }
}

async fn clock_date_header_get(State(sim): State<Simulator>) -> Response {
    axum::Json(sim.control().date_header()).into_response()
}

async fn purchase_orders_update(State(sim): State<Simulator>, body: Bytes) -> Response {
    match parse_body::<UpdatePurchaseOrder>(&body) {
        Ok(req) => sim_result(sim.control().update_purchase_order(&req)),
        Err(r) => r,
    }
}

async fn stats(State(sim): State<Simulator>) -> Response {
    let s = sim.stats();
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("now".into(), serde_json::json!(sim.now()));
    }
    axum::Json(v).into_response()
}

async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            control_error(StatusCode::INTERNAL_SERVER_ERROR, format!("control task failed: {e}"))
        }
    }
}
