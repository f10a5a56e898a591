//! Rate limits over real HTTP: 429 with Retry-After on every tier, the three Retry-After formats, the `rateLimits` query.

use std::time::{Duration, Instant};

use centra_sim::ratelimit::{RateLimiter, RetryAfterFormat, Tier};
use centra_sim::{RunningSim, SimConfig, Simulator};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(tier: Tier, retry_after: RetryAfterFormat) -> RunningSim {
    let sim = Simulator::new(SimConfig { orders: 20, tier, retry_after, ..SimConfig::default() });
    sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn post(running: &RunningSim, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(&running.graphql_url)
        .bearer_auth(&running.token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
}

const CHEAP: &str = "{ rateLimits { type } }";

/// Lets "another integration" `spend` the shared budget, then sends `query`,
/// until the answer is a 429 (a fast bucket can regain a token between the
/// spend and the request, so one attempt is not always enough).
async fn spend_until_429(
    running: &RunningSim,
    query: &str,
    spend: impl Fn(&RateLimiter),
) -> reqwest::Response {
    for _ in 0..50 {
        spend(running.sim().rate_limiter());
        let response = post(running, query).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return response;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    panic!("no 429 in 50 attempts");
}

/// Asserts a 429 with a JSON body and returns its `Retry-After`.
async fn expect_429(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = response.headers()["retry-after"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["category"], "rateLimit", "{body}");
    retry_after
}

#[tokio::test]
async fn each_tier_answers_429_once_its_ten_second_request_bucket_is_spent() {
    for tier in [Tier::Growth, Tier::Enhanced, Tier::HighVolume, Tier::Enterprise] {
        let running = start(tier, RetryAfterFormat::Seconds).await;
        let quota = tier.quota("REQUEST_COUNT", "TEN_SECONDS").unwrap();
        assert_eq!(post(&running, CHEAP).await.status(), StatusCode::OK, "{tier}");
        // Another integration spends the rest of the shared 10 s budget.
        let response =
            spend_until_429(&running, CHEAP, |l| l.consume_external(Instant::now(), quota, 0, 0))
                .await;
        let retry_after = expect_429(response).await;
        // One request comes back within 10 s / quota < 1 s, rounded up to whole seconds.
        assert_eq!(retry_after, "1", "{tier}");
        running.shutdown().await;
    }
}

#[tokio::test]
async fn each_tier_answers_429_once_its_ten_second_complexity_bucket_is_spent() {
    for tier in [Tier::Growth, Tier::Enhanced, Tier::HighVolume, Tier::Enterprise] {
        let running = start(tier, RetryAfterFormat::Seconds).await;
        let quota = tier.quota("QUERY_COMPLEXITY", "TEN_SECONDS").unwrap();
        // Nested lists make this query cost 100 × (1 + 10 × (2 + 50 × 3)) =
        // 152,100 points: under every tier's whole quota (larger ones are
        // never admitted), far more than the bucket regains in flight.
        let query = "{ orders(limit: 100) { lines { productSize { stock(limit: 50) { physicalQuantity } } } } }";
        let response =
            spend_until_429(&running, query, |l| l.consume_external(Instant::now(), 0, quota, 0))
                .await;
        let retry_after: u64 = expect_429(response).await.parse().unwrap();
        assert!((1..=10).contains(&retry_after), "{tier}: {retry_after}");
        running.shutdown().await;
    }
}

#[tokio::test]
async fn many_cheap_requests_hit_the_growth_request_limit_and_retry_after_is_honest() {
    let running = start(Tier::Growth, RetryAfterFormat::Seconds).await;
    let mut admitted = 0;
    let retry_after = loop {
        let response = post(&running, CHEAP).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break expect_429(response).await;
        }
        assert_eq!(response.status(), StatusCode::OK);
        admitted += 1;
        assert!(admitted < 2_000, "no 429 after {admitted} requests");
    };
    // 60 fit in the bucket; a few more refill while the loop runs.
    assert!(admitted >= 60, "{admitted}");
    assert_eq!(retry_after, "1");
    // Waiting as told is enough (nobody else spends the budget here).
    tokio::time::sleep(Duration::from_secs(retry_after.parse().unwrap())).await;
    assert_eq!(post(&running, CHEAP).await.status(), StatusCode::OK);
    running.shutdown().await;
}

#[tokio::test]
async fn mutation_bucket_limits_mutations_only() {
    let running = start(Tier::Growth, RetryAfterFormat::Seconds).await;
    let mutation = "mutation { confirmEvents(input: {eventsIds: []}) { userErrors { message } } }";
    let response =
        spend_until_429(&running, mutation, |l| l.consume_external(Instant::now(), 0, 0, 20)).await;
    let retry_after = expect_429(response).await;
    assert_eq!(retry_after, "1");
    assert_eq!(post(&running, CHEAP).await.status(), StatusCode::OK);
    running.shutdown().await;
}

fn parse_epoch(s: &str) -> DateTime<Utc> {
    DateTime::from_timestamp(s.parse().unwrap(), 0).unwrap()
}

fn parse_http_date(s: &str) -> DateTime<Utc> {
    DateTime::<Utc>::from(httpdate::parse_http_date(s).unwrap())
}

#[tokio::test]
async fn retry_after_can_be_an_http_date_or_epoch_seconds_in_simulated_time() {
    for (format, parse) in [
        (RetryAfterFormat::HttpDate, parse_http_date as fn(&str) -> DateTime<Utc>),
        (RetryAfterFormat::Epoch, parse_epoch),
    ] {
        let running = start(Tier::Growth, format).await;
        // Move the simulated clock far from the wall clock: the header must follow it.
        running.sim().control().advance_clock(30 * 24 * 3600);
        let before = running.sim().now();
        let response =
            spend_until_429(&running, CHEAP, |l| l.consume_external(Instant::now(), 60, 0, 0))
                .await;
        let header = expect_429(response).await;
        let after = running.sim().now();
        let resume = parse(&header);
        // The wait is under a second; the instant is rounded up to a whole second.
        assert!(resume > before, "{format}: {header} vs {before}");
        assert!(resume <= after + chrono::Duration::seconds(2), "{format}: {header} vs {after}");
        running.shutdown().await;
    }
}

#[tokio::test]
async fn rate_limits_query_reports_the_six_buckets_of_the_tier() {
    let running = start(Tier::Enhanced, RetryAfterFormat::Seconds).await;
    let t0 = Instant::now();
    running.sim().rate_limiter().consume_external(t0, 100, 400_000, 40);
    let response =
        post(&running, "{ rateLimits { type intervalSeconds quota usedQuota remainingQuota } }")
            .await;
    let elapsed = t0.elapsed().as_secs_f64();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let own_complexity = body["extensions"]["complexity"].as_u64().unwrap();
    let rows = body["data"]["rateLimits"].as_array().unwrap();
    // (type, interval, quota, window seconds, spent: external + this request)
    let expected = [
        ("REQUEST_COUNT", "TEN_SECONDS", 150, 10.0, 101),
        ("REQUEST_COUNT", "ONE_HOUR", 20_000, 3600.0, 101),
        ("QUERY_COMPLEXITY", "TEN_SECONDS", 900_000, 10.0, 400_000 + own_complexity),
        ("QUERY_COMPLEXITY", "ONE_HOUR", 90_000_000, 3600.0, 400_000 + own_complexity),
        ("MUTATION_COUNT", "TEN_SECONDS", 50, 10.0, 40),
        ("MUTATION_COUNT", "ONE_HOUR", 4_500, 3600.0, 40),
    ];
    assert_eq!(rows.len(), 6, "{body}");
    for (row, (kind, interval, quota, window, spent)) in rows.iter().zip(expected) {
        assert_eq!(row["type"], kind, "{body}");
        assert_eq!(row["intervalSeconds"], interval, "{body}");
        assert_eq!(row["quota"], quota, "{body}");
        let used = row["usedQuota"].as_u64().unwrap();
        assert_eq!(used + row["remainingQuota"].as_u64().unwrap(), quota, "{body}");
        // The buckets refill continuously: at most quota/window per second
        // since the external spend (plus one for flooring) came back.
        let refilled = (elapsed * quota as f64 / window).ceil() as u64 + 1;
        assert!(
            used <= spent && used + refilled >= spent,
            "{kind} {interval}: used {used}, spent {spent}, {elapsed} s"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn unlimited_never_answers_429() {
    let running = start(Tier::Unlimited, RetryAfterFormat::Seconds).await;
    running.sim().rate_limiter().consume_external(Instant::now(), u64::MAX, u64::MAX, u64::MAX);
    for _ in 0..20 {
        assert_eq!(post(&running, CHEAP).await.status(), StatusCode::OK);
    }
    running.shutdown().await;
}
