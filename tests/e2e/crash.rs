//! A sync killed mid-way (SIGKILL to the process) and run again ends equal
//! to the truth, redoing at most one batch.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cartage_sinks::testing::{SinkUnderTest, TestDatabase, TestSink};
use cartage_tests::{Harness, TENANT};
use centra_sim::SimConfig;
use centra_sim::faults::FaultConfig;
use centra_sim::ratelimit::Tier;

const ORDERS: u64 = 2_000;
const PAGE: u64 = 40;

/// A harness whose simulator answers slowly (so a signal lands mid-walk)
/// and a running `cartage sync` into `sink` that has committed at least
/// `batches` pages.
async fn sync_in_progress(
    seed: u64,
    batches: u64,
    sink: impl Into<TestSink>,
) -> (Harness, tokio::process::Child) {
    // Every response is slowed down so the signal lands mid-walk.
    let faults = FaultConfig {
        p_slow: 1.0,
        slow_delay: Duration::from_millis(40),
        ..FaultConfig::default()
    };
    let sim =
        SimConfig { orders: ORDERS, seed, tier: Tier::Unlimited, faults, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, sink, &format!("page_size: {PAGE}")).await;
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
    let (h, child) = sync_in_progress(41, 5, TestDatabase::sqlite()).await;
    kill_and_rerun(&h, child, 5).await;
}

/// Kills `child` (SIGKILL) after it committed at least `batches` pages,
/// then runs the sync again: the rerun resumes after the last committed
/// page (it reads what was not committed, plus at most the one batch whose
/// commit the kill interrupted) and ends equal to the truth.
async fn kill_and_rerun(h: &Harness, mut child: tokio::process::Child, batches: u64) {
    child.start_kill().expect("killing cartage");
    let status = child.wait().await.expect("reaping cartage");
    assert!(!status.success());
    let at_kill = h.live_rows("orders").await.len() as u64;
    assert!(
        (batches * PAGE..ORDERS).contains(&at_kill),
        "killed too late: {at_kill} orders committed"
    );

    let report = h.sync_ok().await;
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
    let (h, mut child) = sync_in_progress(42, 3, TestDatabase::sqlite()).await;
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

/// The file sink killed mid-sync: while the sync runs, is killed and runs
/// again, every data file a reader can see (any name but the `.tmp-` ones)
/// is a whole Parquet file; the rerun ends equal to the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_file_sync_never_shows_a_partial_file_and_resumes() {
    let sink = TestSink::new(SinkUnderTest::Parquet).await;
    let tenant_dir = sink.files_config().expect("a file sink").path.join(TENANT);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let dir = tenant_dir.clone();
        std::thread::spawn(move || watch_files(&dir, &stop))
    };

    let (h, child) = sync_in_progress(43, 5, sink).await;
    kill_and_rerun(&h, child, 5).await;
    stop.store(true, Ordering::Relaxed);
    let checked = watcher.join().expect("the watcher ended");
    assert!(checked.files >= 10, "the watcher read {} files", checked.files);
    assert!(checked.bad.is_empty(), "partial files were visible: {:?}", checked.bad);
}

#[derive(Debug, Default)]
struct Watched {
    /// Distinct visible files read whole.
    files: usize,
    /// Visible files that did not read as whole Parquet files, with why.
    bad: Vec<(PathBuf, String)>,
}

/// Reads every visible data file under `dir`'s table folders, again and
/// again until `stop`, as a reader globbing `*.parquet` would.
fn watch_files(dir: &Path, stop: &AtomicBool) -> Watched {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let mut seen = std::collections::BTreeSet::new();
    let mut out = Watched::default();
    while !stop.load(Ordering::Relaxed) {
        let tables = std::fs::read_dir(dir).into_iter().flatten().flatten();
        for table in tables.filter(|e| e.path().is_dir()) {
            for file in std::fs::read_dir(table.path()).into_iter().flatten().flatten() {
                let path = file.path();
                let name = file.file_name().to_string_lossy().into_owned();
                if name.starts_with(".tmp-") {
                    continue;
                }
                // Gone since the listing (an orphan removed by the rerun).
                let Ok(handle) = std::fs::File::open(&path) else { continue };
                let whole =
                    SerializedFileReader::new(handle).map_err(|e| e.to_string()).and_then(|r| {
                        let expected = r.metadata().file_metadata().num_rows();
                        let rows = r.get_row_iter(None).map_err(|e| e.to_string())?;
                        let mut read = 0;
                        for row in rows {
                            row.map_err(|e| e.to_string())?;
                            read += 1;
                        }
                        if read == expected {
                            Ok(())
                        } else {
                            Err(format!("{read} of {expected} rows"))
                        }
                    });
                match whole {
                    Ok(()) => {
                        seen.insert(path);
                    }
                    Err(e) => out.bad.push((path, e)),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out.files = seen.len();
    out
}
