//! Injected faults end with the same records as a clean run.

use std::time::{Duration, Instant};

use centra_sim::SimConfig;
use centra_sim::faults::FaultConfig;
use centra_sim::ratelimit::{RetryAfterFormat, Tier};

use crate::support::*;

fn faulty(schedule: &str, format: RetryAfterFormat) -> SimConfig {
    let faults = FaultConfig {
        seed: 5,
        retry_after: Duration::from_secs(1),
        retry_after_format: format,
        ..FaultConfig::default()
    }
    .with_schedule(schedule)
    .unwrap();
    SimConfig { seed: 11, orders: 700, tier: Tier::Unlimited, faults, ..SimConfig::default() }
}

#[tokio::test]
async fn every_fault_kind_is_retried_to_the_same_result_as_a_clean_run() {
    let clean = start_unlimited(700).await;
    let want =
        seen(&read(&source(&clean, serde_json::json!({"page_size": 100})), None).await.records());
    clean.shutdown().await;

    // Request 1 is the probe; pages follow. Each fault hits a different request.
    let running = start(faulty(
        "2=500,4=502,5=503,7=cut,9=truncate,11=gqlerror,12=slow:200ms",
        RetryAfterFormat::Seconds,
    ))
    .await;
    let source = source(&running, serde_json::json!({"page_size": 100}));
    let run = read(&source, None).await;
    let records = run.records();
    assert_unique(&records);
    let got = seen(&records);
    assert_eq!(got, want, "{}", diff(&got, &want));
    assert_eq!(run.summary().retries, 6, "one retry per failed request");
    assert_eq!(run.summary().requests, 1 + 7 + 6);
    assert_eq!(running.sim().stats().requests, run.summary().requests);
    running.shutdown().await;
}

#[tokio::test]
async fn retriable_failures_beyond_max_retries_end_in_a_transient_error() {
    let running = start(faulty("2-20=503", RetryAfterFormat::Seconds)).await;
    let source = source(&running, serde_json::json!({"max_retries": 3}));
    let run = read(&source, None).await;
    let error = run.result.unwrap_err();
    assert!(error.is_retriable());
    assert!(error.to_string().contains("failed after 4 attempts: HTTP 503"), "{error}");
    assert_eq!(running.sim().stats().requests, 5, "the probe and four attempts of the first page");
    running.shutdown().await;
}

/// A 429 burst in each `Retry-After` form: the client waits what the header
/// says (measured by the server's clock) before every retry, never less.
#[tokio::test]
async fn bursts_of_429_wait_out_retry_after_in_every_form() {
    for format in [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate, RetryAfterFormat::Epoch] {
        let running = start(faulty("3-5=429", format)).await;
        let source = source(&running, serde_json::json!({"page_size": 100}));
        let started = Instant::now();
        let run = read(&source, None).await;
        let elapsed = started.elapsed();
        let got = seen(&run.records());
        let truth = truth(&running);
        assert_eq!(got, truth, "{format}: {}", diff(&got, &truth));
        assert_eq!(run.summary().rate_limited, 3, "{format}");
        // Three waits of one second each. The simulated clock runs years
        // behind the local one: a client that read HTTP dates or epochs by
        // its own clock would not have waited at all.
        assert!(elapsed >= Duration::from_millis(2_900), "{format}: only {elapsed:?}");
        running.shutdown().await;
    }
}
