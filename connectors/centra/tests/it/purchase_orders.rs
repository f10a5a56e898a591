//! The list streams (`purchase_orders`, `indeliveries`): pages from the
//! last down, resumable mid-walk.

use std::collections::BTreeSet;

use cartage_core::{Committed, ReadRequest, Source, SourceBatch, StreamState};
use connector_centra::CentraSource;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::*;

/// Reads `stream`, keeping at most `keep` batches: each batch's record ids
/// and state.
async fn read_list(
    source: &CentraSource,
    stream: &str,
    state: Option<Value>,
    keep: usize,
) -> Vec<(Vec<i64>, Value)> {
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

    let first = read_list(&source, "purchase_orders", None, 2).await;
    assert_eq!(first.len(), 2);
    // Pages 5 (7 rows) and 4 first: the highest ids.
    assert_eq!(first[0].0, (41..=47).collect::<Vec<i64>>());
    assert_eq!(first[1].0, (31..=40).collect::<Vec<i64>>());
    let stopped = first[1].1.clone();
    assert_eq!(stopped["next_page"], 3, "{stopped}");

    let rest = read_list(&source, "purchase_orders", Some(stopped), usize::MAX).await;
    let read: BTreeSet<i64> =
        first.iter().chain(&rest).flat_map(|(ids, _)| ids.iter().copied()).collect();
    assert_eq!(read, all);
    let done = &rest.last().unwrap().1;
    assert!(done["window"].is_null() && done["cursor"].is_string(), "{done}");

    // Nothing changed: the next run reads an empty window.
    running.sim().control().advance_clock(5);
    let next = read_list(&source, "purchase_orders", Some(done.clone()), usize::MAX).await;
    assert!(next.iter().all(|(ids, _)| ids.is_empty()), "{next:?}");
}

#[tokio::test]
async fn deliveries_are_read_whole_each_run_and_resume_mid_walk() {
    let running = start(centra_sim::SimConfig {
        orders: 5,
        purchase_orders: 60,
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..centra_sim::SimConfig::default()
    })
    .await;
    let source = source(&running, serde_json::json!({ "page_size": 4 }));
    let all: BTreeSet<i64> = running.sim().deliveries().iter().map(|d| d.id).collect();
    assert!(all.len() > 8, "enough deliveries for several pages: {}", all.len());

    let first = read_list(&source, "indeliveries", None, 1).await;
    let stopped = first[0].1.clone();
    assert!(stopped["next_page"].as_u64().is_some_and(|p| p >= 1), "{stopped}");
    let rest = read_list(&source, "indeliveries", Some(stopped), usize::MAX).await;
    let read: BTreeSet<i64> =
        first.iter().chain(&rest).flat_map(|(ids, _)| ids.iter().copied()).collect();
    assert_eq!(read, all);
    let done = rest.last().unwrap().1.clone();
    assert_eq!(done, serde_json::json!({"v": 1, "next_page": null}));

    // The next run reads every delivery again.
    let again = read_list(&source, "indeliveries", Some(done), usize::MAX).await;
    let read: BTreeSet<i64> = again.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
    assert_eq!(read, all);
}
