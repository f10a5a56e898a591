//! Injected 5xx, 429 bursts, cut connections, truncated bodies and GraphQL
//! errors give the same final database as a clean run.

use std::time::Duration;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::Harness;
use centra_sim::SimConfig;
use centra_sim::faults::FaultConfig;
use centra_sim::ratelimit::Tier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_in_the_same_database_as_a_clean_run() {
    let faults = FaultConfig {
        seed: 7,
        p500: 0.06,
        p502: 0.06,
        p503: 0.06,
        p429_burst: 0.04,
        burst_len: 3,
        p_cut: 0.06,
        p_truncate: 0.06,
        p_gql_error: 0.04,
        retry_after: Duration::from_secs(1),
        ..FaultConfig::default()
    };
    let sim = SimConfig {
        orders: 1_500,
        seed: 51,
        tier: Tier::Unlimited,
        faults,
        ..SimConfig::default()
    };
    let h = Harness::start(
        crate::BIN,
        sim,
        TestDatabase::sqlite(),
        "page_size: 50\nmax_retries: 12\nmax_backoff_ms: 200",
    )
    .await;
    let report = h.sync_ok().await;
    let stats = h.simulator().stats();
    assert!(stats.faults_injected >= 5, "too few faults to mean anything: {stats:?}");
    assert!(report.retries + report.rate_limited >= 5, "{}", report.stdout);
    h.assert_matches_truth().await;
}
