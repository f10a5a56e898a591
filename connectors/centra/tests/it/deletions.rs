//! Deleted orders from Centra's events: each event is confirmed only after
//! the batch marking it is committed, whatever point a run stops at.

use cartage_core::{Committed, Error, ErrorKind, ReadRequest, Source, SourceBatch, StreamState};
use centra_sim::RunningSim;
use centra_sim::auth::TokenSpec;
use centra_sim::control::OrderSelection;
use connector_centra::CentraSource;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::*;

/// Each batch's deleted order numbers and state.
type Batches = Vec<(Vec<i64>, Value)>;

/// Reads the orders stream with a stand-in for the pipeline that commits
/// every batch it receives, or (`commit: false`) commits nothing and stops
/// the run once a batch of deletions arrives, as a crash before its commit.
async fn read_as_pipeline(
    source: &CentraSource,
    state: Option<Value>,
    commit: bool,
) -> (Batches, Result<(), Error>) {
    let (tx, mut rx) = mpsc::channel::<SourceBatch>(2);
    let (committed_tx, committed) = Committed::channel();
    let cancel = CancellationToken::new();
    let request = ReadRequest {
        tenant: "acme".into(),
        stream: "orders".into(),
        selection: None,
        state: state.map(StreamState),
        cancel: cancel.clone(),
        committed,
    };
    let pipeline = async move {
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            let numbers: Vec<i64> = batch
                .deleted
                .iter()
                .map(|r| {
                    serde_json::from_str::<Value>(r.json()).unwrap()["number"].as_i64().unwrap()
                })
                .collect();
            let deletes = !numbers.is_empty();
            batches.push((numbers, batch.state.0));
            if commit {
                committed_tx.send_replace(batches.len() as u64);
            } else if deletes {
                cancel.cancel();
            }
        }
        batches
    };
    let (result, batches) = tokio::join!(source.read(request, tx), pipeline);
    (batches, result.map(drop))
}

fn queued(running: &RunningSim) -> usize {
    let bytes = running.sim().execute_raw(
        "{ events(where: {objectType: [Order], changeType: [DELETED]}, limit: 100) { id } }",
        serde_json::json!({}),
    );
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    body["data"]["events"].as_array().unwrap_or_else(|| panic!("{body}")).len()
}

fn delete(running: &RunningSim, numbers: &[i64]) {
    let control = running.sim().control();
    control.advance_clock(60);
    control
        .delete_orders(&OrderSelection { count: None, numbers: Some(numbers.to_vec()) })
        .unwrap();
    control.advance_clock(2);
}

fn deleted(batches: &Batches) -> Vec<i64> {
    batches.iter().flat_map(|(numbers, _)| numbers.iter().copied()).collect()
}

#[tokio::test]
async fn events_are_confirmed_only_after_their_batch_commits() {
    let running = start_unlimited(120).await;
    let source = source(&running, serde_json::json!({ "track_deletions": true }));
    let (backfill, result) = read_as_pipeline(&source, None, true).await;
    result.unwrap();
    assert!(deleted(&backfill).is_empty());
    let before = backfill.last().unwrap().1.clone();

    // A run that stops before its deletion batch commits confirms nothing.
    delete(&running, &[5, 6]);
    let (stopped, result) = read_as_pipeline(&source, Some(before.clone()), false).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(deleted(&stopped), [5, 6]);
    assert_eq!(queued(&running), 2, "nothing was confirmed");
    let marked_state = stopped.last().unwrap().1.clone();
    assert_eq!(marked_state["confirm"].as_array().map(Vec::len), Some(2), "{marked_state}");

    // Had that batch not committed, the next run reads the events again.
    // Had it committed (the process dying before confirming), the next run
    // confirms them from the committed state and does not mark them again.
    let (resumed, result) = read_as_pipeline(&source, Some(marked_state), true).await;
    result.unwrap();
    assert!(deleted(&resumed).is_empty(), "already marked: {:?}", deleted(&resumed));
    assert_eq!(queued(&running), 0, "confirmed from the committed state");

    delete(&running, &[7]);
    let (stopped, result) = read_as_pipeline(&source, Some(before.clone()), false).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(deleted(&stopped), [7]);
    let (again, result) = read_as_pipeline(&source, Some(before), true).await;
    result.unwrap();
    assert_eq!(deleted(&again), [7], "read again: the first batch never committed");
    assert_eq!(queued(&running), 0);
    let last = &again.last().unwrap().1;
    assert!(last.get("window").is_some_and(Value::is_null), "the window is done: {last}");
}

#[tokio::test]
async fn a_token_without_event_permissions_fails_clearly() {
    let running = start(centra_sim::SimConfig {
        orders: 10,
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..centra_sim::SimConfig::default()
    })
    .await;
    // The simulator's default token has every permission; this one has no Event ones.
    running.sim().tokens().add(TokenSpec::with_permissions("orders-only", "erp", ["Order:read"]));
    let source =
        source(&running, serde_json::json!({ "track_deletions": true, "token": "orders-only" }));
    let (_, result) = read_as_pipeline(&source, None, true).await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
    assert!(error.to_string().contains("Event"), "{error}");
}
