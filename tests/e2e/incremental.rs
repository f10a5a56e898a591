//! An incremental run after changes reads exactly the changed and new orders.

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TENANT};
use centra_sim::SimConfig;
use centra_sim::control::{OrderSelection, UpdateOrders};
use centra_sim::ratelimit::Tier;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_run_reads_exactly_the_changed_and_new_orders() {
    let sim = SimConfig { orders: 1_200, seed: 21, tier: Tier::Unlimited, ..SimConfig::default() };
    // No lookback: the run must read exactly what changed, nothing more.
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "lookback_secs: 0").await;
    assert_eq!(h.sync_ok().await.records, 1_200);
    let first_run_end = last_synced_at(&h).await;

    let control = h.simulator().control();
    control.advance_clock(3_600);
    let updated = control
        .update_orders(&UpdateOrders {
            select: OrderSelection { count: Some(40), numbers: None },
            status: None,
        })
        .expect("updating orders");
    let mut changed: BTreeSet<String> = updated.iter().map(|o| o.id.clone()).collect();
    let cancelled = control
        .cancel_orders(&OrderSelection { count: None, numbers: Some(vec![3, 4, 5]) })
        .expect("cancelling orders");
    changed.extend(cancelled.iter().map(|o| o.id.clone()));
    let created = control.create_orders(25);
    changed.extend(created.iter().map(|o| o.id.clone()));

    h.let_time_pass();
    let report = h.sync_ok().await;
    assert_eq!(report.records as usize, changed.len(), "{}", report.stdout);
    h.assert_matches_truth().await;

    // The rows the second run wrote are exactly the changed and new orders.
    let tables = h.tables();
    let sink = h.db().sink().await;
    let rows = sink.read_table(&tables["orders"], TENANT).await.expect("reading orders");
    let rewritten: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.synced_at > first_run_end)
        .map(|r| match &r.row.0[1] {
            cartage_core::Value::Text(id) => id.clone(),
            other => panic!("order_id is text, got {other:?}"),
        })
        .collect();
    assert_eq!(rewritten, changed);
}

async fn last_synced_at(h: &Harness) -> chrono::DateTime<chrono::Utc> {
    let tables = h.tables();
    let sink = h.db().sink().await;
    let rows = sink.read_table(&tables["orders"], TENANT).await.expect("reading orders");
    rows.iter().map(|r| r.synced_at).max().expect("the first run wrote orders")
}
