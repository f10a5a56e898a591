//! On the Growth tier a backfill meets no 429 and takes no more than 1.15×
//! the time the tier's limits allow.

use std::time::Instant;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::Harness;
use centra_sim::SimConfig;
use centra_sim::ratelimit::Tier;

/// The least time the tier's token buckets allow for `requests` requests
/// costing `complexity` in total, starting from full buckets: a bucket of
/// capacity Q refilled at Q per window admits at most Q + Q·t/window in t.
fn least_time_allowed(tier: Tier, requests: u64, complexity: u64) -> f64 {
    let [req_10s, req_1h, cx_10s, cx_1h, _, _] = tier.quotas();
    let bound = |used: u64, quota: u64, window: f64| {
        (used.saturating_sub(quota)) as f64 / (quota as f64 / window)
    };
    bound(requests, req_10s, 10.0)
        .max(bound(requests, req_1h, 3600.0))
        .max(bound(complexity, cx_10s, 10.0))
        .max(bound(complexity, cx_1h, 3600.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_tier_backfill_gets_no_429_and_runs_near_the_limit() {
    let sim = SimConfig { orders: 4_000, seed: 61, tier: Tier::Growth, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "tier: growth").await;
    let started = Instant::now();
    let report = h.sync_ok().await;
    let elapsed = started.elapsed().as_secs_f64();
    let stats = h.simulator().stats();
    assert_eq!(report.records, 4_000);
    assert_eq!(stats.rate_limited, 0, "the simulator sent 429s: {stats:?}");
    assert_eq!(report.rate_limited, 0);

    let allowed = least_time_allowed(Tier::Growth, stats.graphql_handled, stats.complexity_total);
    assert!(
        allowed > 5.0,
        "the test must be limit-bound to mean anything: {allowed:.1} s ({stats:?})"
    );
    assert!(
        elapsed <= 1.15 * allowed,
        "the backfill took {elapsed:.1} s; the Growth tier allows it in {allowed:.1} s ({stats:?})"
    );
    h.assert_matches_truth().await;
}

#[test]
fn least_time_allowed_follows_the_buckets() {
    // 60 requests fit the burst; 120 need 60 more at 6/s.
    assert_eq!(least_time_allowed(Tier::Growth, 60, 0), 0.0);
    assert_eq!(least_time_allowed(Tier::Growth, 120, 0), 10.0);
    // 500k complexity: 250k burst, then 25k/s.
    assert_eq!(least_time_allowed(Tier::Growth, 1, 500_000), 10.0);
}

/// Orders, inventory and the supplier streams in one run on the Growth
/// tier: each new stream's first query meets buckets the last one drained,
/// and the budget still keeps every request under the limits, within 1.15x
/// of the least time the tier's buckets allow for what the run asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_tier_run_of_every_stream_gets_no_429_and_runs_near_the_limit() {
    let sim = SimConfig {
        orders: 4_000,
        products: 400,
        warehouses: 4,
        purchase_orders: 120,
        seed: 62,
        tier: Tier::Growth,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    let default = cartage_tests::default_mapping();
    let supply = cartage_tests::supply_mapping();
    h.write_config_with_mappings(&h.sim.graphql_url, "", &[&default, &supply], None);
    let started = Instant::now();
    let report = h.sync_ok().await;
    let elapsed = started.elapsed().as_secs_f64();
    for stream in ["orders", "inventory", "purchase_orders", "indeliveries"] {
        assert!(report.stdout.contains(&format!("stream {stream}:")), "{}", report.stdout);
    }
    let stats = h.simulator().stats();
    assert_eq!(report.rate_limited, 0, "{}", report.stdout);
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    let allowed = least_time_allowed(Tier::Growth, stats.graphql_handled, stats.complexity_total);
    assert!(
        allowed > 5.0,
        "the test must be limit-bound to mean anything: {allowed:.1} s ({stats:?})"
    );
    assert!(
        elapsed <= 1.15 * allowed,
        "the run took {elapsed:.1} s; the Growth tier allows it in {allowed:.1} s ({stats:?})"
    );
    eprintln!(
        "growth tier, every stream: {elapsed:.1} s, least allowed {allowed:.1} s ({stats:?})"
    );
}
