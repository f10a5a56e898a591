//! A sync during continuous churn, then one incremental run, ends equal to
//! the truth: nothing lost, nothing doubled.

use std::time::Duration;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TENANT, while_changing};
use centra_sim::SimConfig;
use centra_sim::ratelimit::Tier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_then_incremental_equals_truth() {
    churn_then_incremental("page_size: 40", false).await;
}

/// The same with orders deleted too, tracked from Centra's events: live rows
/// end equal to the truth, which no longer has the deleted orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_with_deletions_then_incremental_equals_truth() {
    churn_then_incremental("page_size: 40\ntrack_deletions: true", true).await;
}

async fn churn_then_incremental(source_extra: &str, deletes: bool) {
    let sim = SimConfig { orders: 3_000, seed: 31, tier: Tier::Unlimited, ..SimConfig::default() };
    // Small pages make the walk long enough for churn to hit it many times.
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), source_extra).await;

    // Churn: the simulator's own churn step (updates, creates, cancels and,
    // with `deletes`, deletions), as fast as it goes, for as long as the
    // first sync runs.
    let control = h.simulator().control();
    let (during, steps) =
        while_changing(move || control.churn_step(deletes), Duration::from_millis(2), h.sync_ok())
            .await;
    assert!(steps > 50, "churn must overlap the sync (only {steps} steps)");
    // Orders changed before the walk reached them left its window: the next
    // run reads them. So this run may read fewer than 3,000.
    assert!(during.records > 2_000, "{}", during.stdout);
    assert!(h.simulator().stats().orders_changed > 50);

    h.let_time_pass();
    h.sync_ok().await;
    h.assert_matches_truth().await;
    if deletes {
        let tables = h.tables();
        let sink = h.db.sink().await;
        let orders = sink.read_table(&tables["orders"], TENANT).await.expect("reading orders");
        let marked = orders.iter().filter(|r| r.deleted_at.is_some()).count();
        assert!(marked > 0, "churn deleted no order the sync had written ({steps} steps)");
    }
}
