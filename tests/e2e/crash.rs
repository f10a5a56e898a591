//! A sync killed mid-way (SIGKILL to the process) and run again ends equal
//! to the truth, redoing at most one batch.

use std::process::Stdio;
use std::time::Duration;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::Harness;
use centra_sim::SimConfig;
use centra_sim::faults::FaultConfig;
use centra_sim::ratelimit::Tier;

const ORDERS: u64 = 2_000;
const PAGE: u64 = 40;

/// A harness whose simulator answers slowly (so a signal lands mid-walk)
/// and a running `cartage sync` that has committed at least `batches` pages.
async fn sync_in_progress(seed: u64, batches: u64) -> (Harness, tokio::process::Child) {
    // Every response is slowed down so the signal lands mid-walk.
    let faults = FaultConfig {
        p_slow: 1.0,
        slow_delay: Duration::from_millis(40),
        ..FaultConfig::default()
    };
    let sim =
        SimConfig { orders: ORDERS, seed, tier: Tier::Unlimited, faults, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), &format!("page_size: {PAGE}"))
        .await;
    let config = h.config.to_string_lossy().into_owned();
    let mut child = h
        .command(&["sync", "--config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting cartage");
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let n = h.try_live_rows("orders").await.map_or(0, |rows| rows.len() as u64);
        if n >= batches * PAGE {
            break;
        }
        assert!(child.try_wait().expect("polling cartage").is_none(), "cartage ended too early");
    }
    (h, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sync_resumes_without_loss_or_duplicates() {
    let (h, mut child) = sync_in_progress(41, 5).await;
    child.start_kill().expect("killing cartage");
    let status = child.wait().await.expect("reaping cartage");
    assert!(!status.success());
    let at_kill = h.live_rows("orders").await.len() as u64;
    assert!((5 * PAGE..ORDERS).contains(&at_kill), "killed too late: {at_kill} orders committed");

    let report = h.sync_ok().await;
    // The rerun resumes after the last committed page: it reads what was not
    // committed, plus at most the one batch whose commit the kill interrupted.
    let remaining = ORDERS - at_kill;
    assert!(
        report.records >= remaining && report.records <= remaining + PAGE,
        "rerun read {} orders, {remaining} were left",
        report.records
    );
    h.assert_matches_truth().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_after_a_whole_batch_and_exits_130() {
    let (h, mut child) = sync_in_progress(42, 3).await;
    let pid = nix::unistd::Pid::from_raw(child.id().expect("a running child") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("sending SIGTERM");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("cartage exits soon after SIGTERM")
        .expect("reaping cartage");
    assert_eq!(status.code(), Some(130));
    // Whole batches only: the committed orders are a multiple of the page.
    let committed = h.live_rows("orders").await.len() as u64;
    assert_eq!(committed % PAGE, 0, "{committed} orders committed: a partial batch");
    assert!(committed < ORDERS);

    let report = h.sync_ok().await;
    assert_eq!(report.records, ORDERS - committed);
    h.assert_matches_truth().await;
}
