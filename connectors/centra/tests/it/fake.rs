//! A tiny fake Centra over real HTTP (axum on 127.0.0.1:0) answering each
//! request with a canned response, for the pathological cases the simulator
//! does not produce: lying pagination, huge bodies, absurd headers.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cartage_core::{Committed, ReadRequest, Source, SourceBatch, StreamState};
use connector_centra::{CentraConfig, CentraSource};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

type Handler = dyn Fn(&Value) -> Response + Send + Sync;

/// The request bodies the fake received, in order.
pub type Log = Arc<Mutex<Vec<Value>>>;

/// Serves `handler` at `/graphql`; `rateLimits` is answered with no limits
/// unless the handler answers it. Returns the endpoint and the request log.
pub async fn serve(
    handler: impl Fn(&Value) -> Option<Response> + Send + Sync + 'static,
) -> (String, Log) {
    let log: Log = Arc::default();
    let handler: Arc<Handler> = Arc::new(move |body: &Value| {
        handler(body).unwrap_or_else(|| {
            axum::Json(json!({"data": {"rateLimits": []}, "extensions": {"complexity": 1}}))
                .into_response()
        })
    });
    let state = (handler, Arc::clone(&log));
    let app = Router::new().route("/graphql", post(answer)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, log)
}

async fn answer(State((handler, log)): State<(Arc<Handler>, Log)>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    let response = handler(&body);
    log.lock().unwrap().push(body);
    response
}

/// `Some(json)` as a 200 response.
pub fn ok(data: Value) -> Option<Response> {
    Some(axum::Json(json!({"data": data, "extensions": {"complexity": 10}})).into_response())
}

pub fn is_rate_limits(body: &Value) -> bool {
    body["query"].as_str().unwrap_or("").contains("rateLimits")
}

/// A source for the fake at `url`; `extra` overrides config keys.
pub fn source(url: &str, extra: Value) -> CentraSource {
    let mut config =
        json!({"endpoint": url, "token": "tok-fake", "max_backoff_ms": 10, "max_retries": 1});
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    serde_json::from_value::<CentraConfig>(config).unwrap().build("acme").unwrap()
}

/// Reads `stream` to its end (at most 50 batches): each batch's records and
/// state, and the result.
pub async fn read_stream(
    source: &CentraSource,
    stream: &str,
    state: Option<Value>,
) -> (Vec<(Vec<Value>, Value)>, Result<cartage_core::ReadSummary, cartage_core::Error>) {
    let (tx, mut rx) = mpsc::channel::<SourceBatch>(2);
    let request = ReadRequest {
        tenant: "acme".into(),
        stream: stream.into(),
        selection: None,
        state: state.map(StreamState),
        cancel: CancellationToken::new(),
        committed: Committed::channel().1,
    };
    let collect = async move {
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            let records =
                batch.records.iter().map(|r| serde_json::from_str(r.json()).unwrap()).collect();
            batches.push((records, batch.state.0));
            if batches.len() >= 50 {
                break;
            }
        }
        batches
    };
    let read = async move {
        tokio::time::timeout(std::time::Duration::from_secs(30), source.read(request, tx)).await
    };
    let (result, batches) = tokio::join!(read, collect);
    (batches, result.expect("the read should end within 30 s"))
}
