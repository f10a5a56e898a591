//! A full backfill equals the simulator's truth on every backend.

use cartage_sinks::testing::TestDatabase;
use cartage_tests::Harness;
use centra_sim::SimConfig;
use centra_sim::ratelimit::Tier;

async fn backfill_equals_truth(db: TestDatabase, orders: u64) {
    let sim = SimConfig { orders, seed: 11, tier: Tier::Unlimited, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, db, "").await;
    let report = h.sync_ok().await;
    assert_eq!(report.records, orders, "{}", report.stdout);
    assert_eq!(report.rate_limited, 0);
    h.assert_matches_truth().await;

    // A second run finds nothing new, and the data stays equal to the truth.
    let again = h.sync_ok().await;
    assert_eq!(again.records, 0, "{}", again.stdout);
    h.assert_matches_truth().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_into_sqlite_equals_truth() {
    backfill_equals_truth(TestDatabase::sqlite(), 3_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_into_postgres_equals_truth() {
    backfill_equals_truth(TestDatabase::postgres().await, 1_500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_into_mariadb_equals_truth() {
    backfill_equals_truth(TestDatabase::mysql().await, 1_500).await;
}
