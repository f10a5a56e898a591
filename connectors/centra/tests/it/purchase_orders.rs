//! The `purchase_orders` stream: pages from the last down, resumable mid-walk.

use std::collections::BTreeSet;

use cartage_core::{Committed, ReadRequest, Source, SourceBatch, StreamState};
use connector_centra::CentraSource;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::*;

/// Reads `purchase_orders`, keeping at most `keep` batches: each batch's
/// purchase order ids and state.
async fn read_pos(
    source: &CentraSource,
    state: Option<Value>,
    keep: usize,
) -> Vec<(Vec<i64>, Value)> {
    let (tx, mut rx) = mpsc::channel::<SourceBatch>(2);
    let request = ReadRequest {
        tenant: "acme".into(),
        stream: "purchase_orders".into(),
        selection: None,
        state: state.map(StreamState),
        cancel: CancellationToken::new(),
        committed: Committed::channel().1,
    };
    let collect = async move {
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            let ids = batch
                .records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.json()).unwrap()["id"].as_i64().unwrap())
                .collect();
            batches.push((ids, batch.state.0));
            if batches.len() >= keep {
                break;
            }
        }
        batches
    };
    let (result, batches) = tokio::join!(source.read(request, tx), collect);
    result.unwrap();
    batches
}

#[tokio::test]
async fn a_walk_goes_from_the_last_page_down_and_resumes_where_it_stopped() {
    let running = start(centra_sim::SimConfig {
        orders: 5,
        purchase_orders: 47,
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..centra_sim::SimConfig::default()
    })
    .await;
    let source = source(&running, serde_json::json!({ "page_size": 10 }));
    let all: BTreeSet<i64> = running.sim().purchase_orders().iter().map(|p| p.id).collect();

    let first = read_pos(&source, None, 2).await;
    assert_eq!(first.len(), 2);
    // Pages 5 (7 rows) and 4 first: the highest ids.
    assert_eq!(first[0].0, (41..=47).collect::<Vec<i64>>());
    assert_eq!(first[1].0, (31..=40).collect::<Vec<i64>>());
    let stopped = first[1].1.clone();
    assert_eq!(stopped["next_page"], 3, "{stopped}");

    let rest = read_pos(&source, Some(stopped), usize::MAX).await;
    let read: BTreeSet<i64> =
        first.iter().chain(&rest).flat_map(|(ids, _)| ids.iter().copied()).collect();
    assert_eq!(read, all);
    let done = &rest.last().unwrap().1;
    assert!(done["window"].is_null() && done["cursor"].is_string(), "{done}");

    // Nothing changed: the next run reads an empty window.
    running.sim().control().advance_clock(5);
    let next = read_pos(&source, Some(done.clone()), usize::MAX).await;
    assert!(next.iter().all(|(ids, _)| ids.is_empty()), "{next:?}");
}
