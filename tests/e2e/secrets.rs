//! The token appears in no log line, error, state or output.

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TOKEN_ENV};
use centra_sim::SimConfig;
use centra_sim::ratelimit::Tier;

const TOKEN: &str = "sekret-e2e-Token-7f3a9c";

fn assert_no_token(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(TOKEN), "the token leaked into {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_never_reaches_logs_errors_state_or_output() {
    let sim = SimConfig {
        orders: 300,
        token: TOKEN.to_owned(),
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "page_size: 100").await;
    let config = h.config.to_string_lossy().into_owned();
    for format in ["human", "json"] {
        let output = h
            .command(&["sync", "--config", &config, "--log-format", format])
            .env("RUST_LOG", "trace")
            .output()
            .await
            .expect("running cartage");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_no_token("stdout", &output.stdout);
        assert_no_token("the logs", &output.stderr);
    }
    // A failing run: the server refuses a token that differs only slightly.
    let wrong = format!("{TOKEN}x");
    let output = h
        .command(&["sync", "--config", &config])
        .env(TOKEN_ENV, &wrong)
        .env("RUST_LOG", "trace")
        .output()
        .await
        .expect("running cartage");
    assert_eq!(output.status.code(), Some(1));
    assert_no_token("the error output", &output.stderr);
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&wrong));

    // State and data: every file of the database.
    let path = h.db().sqlite_path().expect("sqlite");
    let dir = path.parent().expect("a directory");
    for entry in std::fs::read_dir(dir).expect("listing the database directory") {
        let entry = entry.expect("entry");
        assert_no_token(
            &entry.path().display().to_string(),
            &std::fs::read(entry.path()).expect("read"),
        );
    }
}
