//! Orders deleted in Centra: with `track_deletions`, the next run marks them
//! and their lines deleted, from Centra's events, and confirms the events.

use std::collections::BTreeSet;

use cartage_core::Value;
use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TENANT};
use centra_sim::SimConfig;
use centra_sim::control::OrderSelection;
use centra_sim::ratelimit::Tier;

/// Event ids still queued for Deleted orders, as Centra would list them.
fn queued_deletions(h: &Harness) -> usize {
    let bytes = h.simulator().execute_raw(
        "{ events(where: {objectType: [Order], changeType: [DELETED]}, limit: 100) { id } }",
        serde_json::json!({}),
    );
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    body["data"]["events"].as_array().unwrap_or_else(|| panic!("events: {body}")).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_orders_are_marked_deleted_with_their_lines() {
    let sim = SimConfig { orders: 600, seed: 33, tier: Tier::Unlimited, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "track_deletions: true").await;
    assert_eq!(h.sync_ok().await.records, 600);

    let control = h.simulator().control();
    control.advance_clock(60);
    let numbers = vec![3, 10, 11, 417];
    control
        .delete_orders(&OrderSelection { count: None, numbers: Some(numbers.clone()) })
        .expect("deleting orders");
    assert_eq!(queued_deletions(&h), numbers.len(), "the first run subscribed to deletions");

    h.let_time_pass();
    let report = h.sync_ok().await;
    assert_eq!(report.records, 0, "nothing changed but the deletions: {}", report.stdout);
    let marked_line = |table: &str| {
        report.stdout.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(table))
                .then(|| words.collect::<Vec<_>>().join(" "))
                .filter(|rest| rest.ends_with("rows marked deleted"))
        })
    };
    assert_eq!(
        marked_line("orders").as_deref(),
        Some("4 rows marked deleted"),
        "{}",
        report.stdout
    );
    assert!(marked_line("order_lines").is_some(), "{}", report.stdout);
    // Live rows equal the truth, which no longer has the deleted orders.
    h.assert_matches_truth().await;
    assert_eq!(queued_deletions(&h), 0, "the events were confirmed after the commit");

    // The deleted orders are kept, marked, with their lines.
    let tables = h.tables();
    let sink = h.db().sink().await;
    let orders = sink.read_table(&tables["orders"], TENANT).await.expect("orders");
    assert_eq!(orders.len(), 600);
    let number_col = tables["orders"].column_index("order_number").expect("order_number");
    let id_col = tables["orders"].column_index("order_id").expect("order_id");
    let marked: BTreeSet<i64> = orders
        .iter()
        .filter(|r| r.deleted_at.is_some())
        .map(|r| match &r.row.0[number_col] {
            Value::Int(n) => *n,
            other => panic!("order_number is an integer, got {other:?}"),
        })
        .collect();
    assert_eq!(marked, numbers.iter().copied().collect());
    let deleted_ids: Vec<&Value> =
        orders.iter().filter(|r| r.deleted_at.is_some()).map(|r| &r.row.0[id_col]).collect();
    let lines = sink.read_table(&tables["order_lines"], TENANT).await.expect("lines");
    let line_order = tables["order_lines"].column_index("order_id").expect("order_id");
    // (Lines of live orders were compared with the truth above.)
    let of_deleted: Vec<_> =
        lines.iter().filter(|r| deleted_ids.contains(&&r.row.0[line_order])).collect();
    assert!(!of_deleted.is_empty());
    assert!(of_deleted.iter().all(|r| r.deleted_at.is_some()), "lines of deleted orders");

    // A later run finds nothing more to mark.
    h.let_time_pass();
    let again = h.sync_ok().await;
    assert_eq!(again.records, 0);
    h.assert_matches_truth().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tracking_no_listener_is_set() {
    let sim = SimConfig { orders: 50, seed: 34, tier: Tier::Unlimited, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    h.sync_ok().await;
    h.simulator()
        .control()
        .delete_orders(&OrderSelection { count: None, numbers: Some(vec![1]) })
        .expect("deleting an order");
    assert_eq!(queued_deletions(&h), 0, "no queue is filled for an integration that did not ask");
}
