//! The client-side budget on a rate-limited tier keeps a sync clear of 429.
//!
//! The debug-built simulator serves big pages slower than the Growth tier's
//! complexity refill, so these tests pick page sizes that make the tier, not
//! the simulator, the bound: an environment whose quotas another integration
//! has nearly used up (which the `rateLimits` calibration must notice), and
//! pages small enough to be cheap to serve.

use std::time::{Duration, Instant};

use cartage_core::ReadSummary;
use centra_sim::ratelimit::Tier;
use centra_sim::{RunningSim, SimConfig};

use crate::support::*;

async fn growth_backfill(
    orders: u64,
    page_size: u32,
    drained: (u64, u64),
) -> (RunningSim, ReadSummary, Duration) {
    let running =
        start(SimConfig { seed: 3, orders, tier: Tier::Growth, ..SimConfig::default() }).await;
    if drained != (0, 0) {
        // Another integration of the brand used part of the 10 s quotas.
        running.sim().rate_limiter().consume_external(
            std::time::Instant::now(),
            drained.0,
            drained.1,
            0,
        );
        // The 10 s buckets, drained to zero, refill a little before we start.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source = source(&running, serde_json::json!({"tier": "growth", "page_size": page_size}));
    let started = Instant::now();
    let run = read(&source, None).await;
    let elapsed = started.elapsed();
    let summary = run.summary().clone();
    let truth = truth(&running);
    let got = seen(&run.records());
    assert_eq!(got, truth, "{}", diff(&got, &truth));
    assert_eq!(summary.rate_limited, 0, "the budget must keep a normal sync clear of 429");
    assert_eq!(running.sim().stats().rate_limited, 0);
    assert!(summary.throttle_waits > 0, "the budget should have paced this sync");
    (running, summary, elapsed)
}

#[tokio::test]
async fn a_growth_tier_backfill_paced_by_request_count_gets_no_429() {
    // Another integration used 50 of the 60 requests per 10 s: 10 are left,
    // then one every 1/6 s; 31 requests of 5 orders need 3.5 s at least.
    let (running, summary, elapsed) = growth_backfill(150, 5, (50, 0)).await;
    let floor = Duration::from_secs_f64(summary.requests.saturating_sub(10) as f64 / 6.0);
    eprintln!(
        "growth, request-bound: {} requests in {elapsed:?}, tier floor {floor:?} ({:.3}x), {} waits totalling {:?}",
        summary.requests,
        elapsed.as_secs_f64() / floor.as_secs_f64(),
        summary.throttle_waits,
        summary.throttle_wait
    );
    running.shutdown().await;
}

#[tokio::test]
async fn calibration_sees_complexity_used_by_another_integration() {
    // 10k of the hour's 30M complexity left: it refills at 8,333 per second.
    let (running, summary, elapsed) = growth_backfill(200, 25, (0, 29_990_000)).await;
    let complexity = running.sim().stats().complexity_total;
    // 10k left, plus what 0.1 s refilled before the read started.
    let hourly = 30_000_000.0 / 3_600.0;
    let floor =
        Duration::from_secs_f64((complexity as f64 - 10_000.0 - 0.1 * hourly).max(0.0) / hourly);
    eprintln!(
        "growth, hour-complexity-bound: complexity {complexity} in {elapsed:?}, tier floor {floor:?} ({:.3}x), \
         {} requests, {} waits totalling {:?}",
        elapsed.as_secs_f64() / floor.as_secs_f64(),
        summary.requests,
        summary.throttle_waits,
        summary.throttle_wait
    );
    running.shutdown().await;
}

/// A page of 200 orders costs more than a small share of the complexity
/// bucket allows one request: the check measures a page of one, and the
/// walk asks for pages that fit instead of one request the budget would
/// have to run into debt for.
#[tokio::test]
async fn pages_shrink_to_what_a_small_budget_share_allows_one_request() {
    let running =
        start(SimConfig { seed: 5, orders: 60, tier: Tier::Growth, ..SimConfig::default() }).await;
    // Growth's 250k per 10 s times 0.05, halved: one request may cost 6,250.
    let source = source(&running, serde_json::json!({"tier": "growth", "budget_share": 0.05}));
    let checks = [cartage_core::StreamCheck { stream: "orders".into(), selection: None }];
    cartage_core::Source::check(&source, &checks).await.unwrap();
    let before = running.sim().stats();
    let run = read(&source, None).await;
    let after = running.sim().stats();
    let truth = truth(&running);
    let got = seen(&run.records());
    assert_eq!(got, truth, "{}", diff(&got, &truth));
    let requests = after.graphql_handled - before.graphql_handled;
    let complexity = after.complexity_total - before.complexity_total;
    // More requests than one page of 200 (all 60 orders cost about 9k),
    // none dearer on average than a request may be, and no 429.
    assert!(requests >= 3, "{requests} requests for 60 orders");
    assert!(complexity / requests <= 6_250, "{complexity} complexity over {requests} requests");
    assert_eq!(after.rate_limited, 0);
}
