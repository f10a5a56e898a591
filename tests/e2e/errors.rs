//! A bad token, a bad endpoint and a malformed configuration each give one
//! clear error line and their exit code, and write nothing.

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TOKEN_ENV};
use centra_sim::SimConfig;

fn error_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect()
}

async fn harness() -> Harness {
    Harness::start(
        crate::BIN,
        SimConfig { orders: 50, ..SimConfig::default() },
        TestDatabase::sqlite(),
        "",
    )
    .await
}

fn assert_nothing_written(h: &Harness) {
    let path = h.db().sqlite_path().expect("a SQLite test database");
    assert!(!path.exists(), "{} was created", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_fails_with_one_line_and_exit_1() {
    let h = harness().await;
    let config = h.config.to_string_lossy().into_owned();
    let output = h
        .command(&["sync", "--config", &config])
        .env(TOKEN_ENV, "not-the-right-token")
        .output()
        .await
        .expect("running cartage");
    assert_eq!(output.status.code(), Some(1));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("401") && errors[0].contains("token"), "{}", errors[0]);
    assert!(!errors[0].contains("not-the-right-token"));
    assert_nothing_written(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_fails_with_one_line_and_exit_1() {
    let h = harness().await;
    // Nothing listens on port 9 of the loopback address.
    h.write_config("http://127.0.0.1:9/graphql", "max_retries: 1\nmax_backoff_ms: 50");
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("127.0.0.1:9"), "{}", errors[0]);
    assert_nothing_written(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_is_refused_with_exit_2() {
    let h = harness().await;
    h.write_config("http://acme.centra.com/graphql", "");
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(2));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("https"), "{}", errors[0]);
    assert_nothing_written(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_config_fails_with_file_line_and_exit_2() {
    let h = harness().await;
    let text = std::fs::read_to_string(&h.config).expect("reading the config");
    std::fs::write(&h.config, text.replace("    streams:", "    strams:")).expect("writing");
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(2));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.contains("cartage.yaml") && e.contains("strams") && e.contains("line"), "{e}");
    assert_nothing_written(&h);

    std::fs::write(&h.config, "connections: [ {tenant: x\n").expect("writing");
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(error_lines(&output.stderr).len(), 1);
    assert_nothing_written(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_variable_is_a_configuration_error() {
    let h = harness().await;
    let config = h.config.to_string_lossy().into_owned();
    let output = h
        .command(&["sync", "--config", &config])
        .env_remove(TOKEN_ENV)
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&format!("environment variable {TOKEN_ENV} is not set")),
        "{}",
        errors[0]
    );
    assert_nothing_written(&h);
}

/// With `track_deletions`, a mapping whose `orders` has no column read
/// straight from `number` could never mark a deleted order: refused before
/// the run, not on the first deletion days later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_that_cannot_place_deletions_is_refused_with_exit_2() {
    let h = harness().await;
    let mapping = h.dir.path().join("no-number.yaml");
    std::fs::write(
        &mapping,
        format!(
            "extends: {}\ntables:\n  orders:\n    columns:\n      order_number: {{ path: number, default: 0 }}\n",
            cartage_tests::default_mapping().display()
        ),
    )
    .expect("writing the mapping");
    h.write_config_with_mapping(&h.sim.graphql_url, "track_deletions: true", &mapping);
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(2));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("no-number.yaml")
            && errors[0].contains("table orders has no column read straight from it"),
        "{}",
        errors[0]
    );
    assert_nothing_written(&h);

    // Without tracking the same mapping runs.
    h.write_config_with_mapping(&h.sim.graphql_url, "", &mapping);
    h.sync_ok().await;
}
