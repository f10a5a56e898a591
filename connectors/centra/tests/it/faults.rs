//! Injected faults end with the same records as a clean run.

use std::time::Duration;

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

/// An injected 429 burst in each `Retry-After` form ends with the same records.
#[tokio::test]
async fn bursts_of_429_in_every_retry_after_form_end_with_the_same_records() {
    for format in [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate, RetryAfterFormat::Epoch] {
        let running = start(faulty("3-5=429", format)).await;
        let source = source(&running, serde_json::json!({"page_size": 100}));
        let run = read(&source, None).await;
        let got = seen(&run.records());
        let truth = truth(&running);
        assert_eq!(got, truth, "{format}: {}", diff(&got, &truth));
        assert_eq!(run.summary().rate_limited, 3, "{format}");
        running.shutdown().await;
    }
}

/// The simulator's real rate limiter says in `Retry-After` exactly when the
/// refused request fits; a retry any sooner is refused again. So exactly one
/// 429 proves the client waited long enough, by the server's clock: the
/// simulated clock runs months behind the local one, and a client that read
/// an HTTP date or epoch by its own clock would retry at once, and again.
#[tokio::test]
async fn a_real_429_is_retried_once_after_exactly_what_retry_after_says() {
    for format in [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate, RetryAfterFormat::Epoch] {
        let config = SimConfig {
            seed: 2,
            orders: 150,
            tier: Tier::Growth,
            retry_after: format,
            ..SimConfig::default()
        };
        let running = start(config).await;
        let source = source(&running, serde_json::json!({}));
        // Another integration used every request of the hour: the next one
        // fits in 0.72 s (5,000 per hour), so our first request is refused.
        running.sim().rate_limiter().consume_external(std::time::Instant::now(), 5_000, 0, 0);
        let run = read(&source, None).await;
        let got = seen(&run.records());
        let truth = truth(&running);
        assert_eq!(got, truth, "{format}: {}", diff(&got, &truth));
        assert_eq!(run.summary().rate_limited, 1, "{format}");
        assert_eq!(running.sim().stats().rate_limited, 1, "{format}");
        running.shutdown().await;
    }
}
