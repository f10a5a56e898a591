//! A sync during continuous churn, then one incremental run, ends equal to
//! the truth: nothing lost, nothing doubled.

use std::time::Duration;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TENANT, while_changing};
use centra_sim::SimConfig;
use centra_sim::control::{OrderSelection, UpdateOrders};
use centra_sim::dates::DateFilterReading;
use centra_sim::ratelimit::Tier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_then_incremental_equals_truth() {
    churn_then_incremental("page_size: 40", false, DateFilterReading::HonourOffset).await;
}

/// The same against a Centra that ignores offsets in date filters and reads
/// their digits as instance-local time (the other reading of its docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_then_incremental_equals_truth_when_offsets_are_ignored() {
    churn_then_incremental("page_size: 40", false, DateFilterReading::IgnoreOffset).await;
}

/// The same with orders deleted too, tracked from Centra's events: live rows
/// end equal to the truth, which no longer has the deleted orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_with_deletions_then_incremental_equals_truth() {
    let extra = "page_size: 40\ntrack_deletions: true";
    churn_then_incremental(extra, true, DateFilterReading::HonourOffset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_during_churn_with_deletions_equals_truth_when_offsets_are_ignored() {
    let extra = "page_size: 40\ntrack_deletions: true";
    churn_then_incremental(extra, true, DateFilterReading::IgnoreOffset).await;
}

/// Incremental runs with no lookback on either side of both DST changes of
/// 2026 (and inside the autumn fold, when every wall-clock time names two
/// instants), in both readings of Centra's date filters: every update is
/// read. With dates sent in UTC as `+00:00` and offsets ignored, the autumn
/// change left a gap of an hour between two windows.
///
/// A run whose window ends in the fold's second hour counts it read only up
/// to the first instant its wall-clock end names (Centra may read it so):
/// updates of that hour wait for the first run after the fold, which the
/// test checks instead of the run inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_across_both_dst_changes_lose_no_update() {
    for reading in [DateFilterReading::IgnoreOffset, DateFilterReading::HonourOffset] {
        let sim = SimConfig {
            orders: 400,
            seed: 33,
            tier: Tier::Unlimited,
            date_filter: reading,
            ..SimConfig::default()
        };
        let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "lookback_secs: 0").await;
        h.sync_ok().await;
        let control = h.simulator().control();
        // UTC instants: spring change at 01:00 UTC on 29 March, autumn change
        // at 01:00 UTC on 25 October (02:00-03:00 local happens twice).
        for at in [
            "2026-03-29T00:40:00Z",
            "2026-03-29T01:20:00Z",
            "2026-10-25T00:20:00Z",
            "2026-10-25T00:50:00Z",
            "2026-10-25T01:20:00Z",
            "2026-10-25T01:50:00Z",
            "2026-10-25T03:00:00Z",
        ] {
            let at: chrono::DateTime<chrono::Utc> = at.parse().expect("an instant");
            let now = h.simulator().now();
            control.advance_clock((at - now).num_seconds().max(0));
            control
                .update_orders(&UpdateOrders {
                    select: OrderSelection { count: Some(5), numbers: None },
                    status: None,
                })
                .expect("updating orders");
            h.let_time_pass();
            h.sync_ok().await;
            let fold: [chrono::DateTime<chrono::Utc>; 2] =
                ["2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"]
                    .map(|t| t.parse().expect("an instant"));
            if !(fold[0]..fold[1]).contains(&at) {
                h.assert_matches_truth().await;
            }
        }
    }
}

async fn churn_then_incremental(source_extra: &str, deletes: bool, reading: DateFilterReading) {
    let sim = SimConfig {
        orders: 3_000,
        seed: 31,
        tier: Tier::Unlimited,
        date_filter: reading,
        ..SimConfig::default()
    };
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
        let sink = h.db().sink().await;
        let orders = sink.read_table(&tables["orders"], TENANT).await.expect("reading orders");
        let marked = orders.iter().filter(|r| r.deleted_at.is_some()).count();
        assert!(marked > 0, "churn deleted no order the sync had written ({steps} steps)");
    }
}
