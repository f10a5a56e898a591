//! Shared helpers: start a simulator, build a source for it, read a stream.

use std::collections::BTreeMap;

use cartage_core::{Error, ReadRequest, ReadSummary, Source, StreamState};
use centra_sim::{RunningSim, SimConfig, Simulator};
use chrono::{DateTime, Utc};
use connector_centra::{CentraConfig, CentraSource};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Trusts the simulator's clock however far it is from the local one (ten
/// years): its fixed epoch is a test fixture, not a broken clock.
pub const SIM_CLOCK_SKEW_SECS: u64 = 10 * 365 * 86_400;

pub async fn start(config: SimConfig) -> RunningSim {
    Simulator::new(config).serve("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A sim with `orders` orders, no rate limits (fast), seed 11.
pub async fn start_unlimited(orders: u64) -> RunningSim {
    start(SimConfig {
        seed: 11,
        orders,
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..SimConfig::default()
    })
    .await
}

/// A source for the sim with short backoffs; `extra` overrides config keys.
pub fn source(running: &RunningSim, extra: Value) -> CentraSource {
    let mut config = serde_json::json!({
        "endpoint": running.graphql_url,
        "token": running.token,
        "max_backoff_ms": 50,
        // The simulator's clock starts at 2026-03-01, months from ours.
        "max_clock_skew_secs": SIM_CLOCK_SKEW_SECS,
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    serde_json::from_value::<CentraConfig>(config).unwrap().build("acme").unwrap()
}

/// What one read produced.
pub struct Run {
    /// Each batch's records (parsed) and state.
    pub batches: Vec<(Vec<Value>, Value)>,
    pub result: Result<ReadSummary, Error>,
}

impl Run {
    pub fn records(&self) -> Vec<Value> {
        self.batches.iter().flat_map(|(records, _)| records.iter().cloned()).collect()
    }

    pub fn last_state(&self) -> Value {
        self.batches.last().expect("at least one batch").1.clone()
    }

    pub fn summary(&self) -> &ReadSummary {
        match &self.result {
            Ok(summary) => summary,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

pub async fn read(source: &CentraSource, state: Option<Value>) -> Run {
    read_with(source, state, CancellationToken::new(), usize::MAX).await
}

/// Reads the orders stream, keeping at most `keep` batches (then the
/// receiver closes, as a stopped pipeline's would).
pub async fn read_with(
    source: &CentraSource,
    state: Option<Value>,
    cancel: CancellationToken,
    keep: usize,
) -> Run {
    let (tx, mut rx) = mpsc::channel::<cartage_core::SourceBatch>(2);
    let request = ReadRequest {
        tenant: "acme".into(),
        stream: "orders".into(),
        selection: None,
        state: state.map(StreamState),
        cancel,
        committed: cartage_core::Committed::channel().1,
    };
    let collect = async move {
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            let records =
                batch.records.iter().map(|r| serde_json::from_str(r.json()).unwrap()).collect();
            batches.push((records, batch.state.0));
            if batches.len() >= keep {
                break;
            }
        }
        batches
    };
    let (result, batches) = tokio::join!(source.read(request, tx), collect);
    Run { batches, result }
}

/// An order as read or as the simulator holds it: number and updatedAt.
pub type Seen = BTreeMap<String, (i64, DateTime<Utc>)>;

pub fn updated_at(record: &Value) -> DateTime<Utc> {
    connector_centra::orders::parse_centra_instant(record["updatedAt"].as_str().unwrap()).unwrap()
}

/// Upserts records by id, as a sink does.
pub fn upsert(into: &mut Seen, records: &[Value]) {
    for r in records {
        into.insert(
            r["id"].as_str().unwrap().to_owned(),
            (r["number"].as_i64().unwrap(), updated_at(r)),
        );
    }
}

pub fn seen(records: &[Value]) -> Seen {
    let mut out = Seen::new();
    upsert(&mut out, records);
    out
}

pub fn truth(running: &RunningSim) -> Seen {
    running.sim().orders().map(|o| (o.id.clone(), (o.number, o.updated_at))).collect()
}

/// Asserts no id appears twice in `records`.
pub fn assert_unique(records: &[Value]) {
    let distinct = seen(records).len();
    assert_eq!(distinct, records.len(), "{} records, {distinct} distinct ids", records.len());
}

/// The differences between two order sets, for readable failures.
pub fn diff(got: &Seen, want: &Seen) -> String {
    let missing: Vec<_> =
        want.iter().filter(|(k, v)| got.get(*k) != Some(v)).map(|(_, v)| v.0).take(10).collect();
    let extra: Vec<_> =
        got.iter().filter(|(k, v)| want.get(*k) != Some(v)).map(|(_, v)| v.0).take(10).collect();
    format!("missing or stale (numbers): {missing:?}; extra or stale: {extra:?}")
}
