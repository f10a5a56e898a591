//! Fault injection over real HTTP: every fault kind as a client sees it, and seeded reproducibility.

use std::time::{Duration, Instant};

use centra_sim::faults::{FAULT_HEADER, FaultConfig, FaultKind};
use centra_sim::ratelimit::Tier;
use centra_sim::{RunningSim, SimConfig, Simulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(faults: FaultConfig) -> RunningSim {
    let sim = Simulator::new(SimConfig {
        orders: 30,
        tier: Tier::Unlimited,
        faults,
        ..SimConfig::default()
    });
    sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

const QUERY: &str = "{ orders(limit: 20) { number status lines { quantity } } }";

async fn post(client: &reqwest::Client, running: &RunningSim) -> reqwest::Response {
    client
        .post(&running.graphql_url)
        .bearer_auth(&running.token)
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap()
}

fn fault_header(response: &reqwest::Response) -> Option<String> {
    response.headers().get(FAULT_HEADER).map(|v| v.to_str().unwrap().to_string())
}

/// A request to the control API, which faults never touch.
async fn control_call(client: &reqwest::Client, running: &RunningSim) {
    let response = client.get(format!("{}/__sim/now", running.base_url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fault_header(&response), None);
}

#[tokio::test]
async fn every_fault_kind_is_seen_by_an_http_client() {
    let config = FaultConfig::default()
        .with_schedule("1=500,2=502,3=503,4=429,5=slow:300ms,6=cut,7=truncate,8=gqlerror")
        .unwrap();
    let running = start(config).await;
    let client = reqwest::Client::new();

    // 1: HTTP 500 with a JSON error.
    control_call(&client, &running).await;
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fault_header(&r).as_deref(), Some("500; request=1"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "Internal server error");

    // 2 and 3: proxy-style HTML pages.
    for (status, n) in [(StatusCode::BAD_GATEWAY, 2), (StatusCode::SERVICE_UNAVAILABLE, 3)] {
        control_call(&client, &running).await;
        let r = post(&client, &running).await;
        assert_eq!(r.status(), status);
        assert_eq!(fault_header(&r), Some(format!("{}; request={n}", status.as_u16())));
        assert_eq!(r.headers()["content-type"], "text/html");
        assert!(r.text().await.unwrap().contains(&format!("<h1>{} ", status.as_u16())));
    }

    // 4: 429 with Retry-After, while the real limiter (unlimited) would admit it.
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");

    // 5: slow, then the normal answer.
    let started = Instant::now();
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fault_header(&r).as_deref(), Some("slow:300ms; request=5"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["orders"].as_array().unwrap().len(), 20);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // 6: status and headers arrive, the body does not complete.
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fault_header(&r).as_deref(), Some("cut; request=6"));
    let announced: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(announced > 100, "{announced}");
    let error = r.bytes().await.unwrap_err();
    assert!(error.is_body() || error.is_decode(), "{error:?}");

    // 7: a complete response with half a JSON document.
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fault_header(&r).as_deref(), Some("truncate; request=7"));
    let length: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    assert!(bytes.starts_with(b"{") && bytes.len() > 50, "{}", String::from_utf8_lossy(&bytes));
    let parse_error = serde_json::from_slice::<Value>(&bytes).unwrap_err();
    assert!(parse_error.is_eof(), "{parse_error}");

    // 8: HTTP 200, data null, an error.
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["message"], "Internal server error");

    // 9: nothing scheduled, a normal answer.
    control_call(&client, &running).await;
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fault_header(&r), None);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["orders"][0]["number"], 1);
    running.shutdown().await;
}

/// What one request looked like to the client.
async fn outcome(client: &reqwest::Client, running: &RunningSim) -> String {
    let r = post(client, running).await;
    let status = r.status().as_u16();
    let fault = fault_header(&r).unwrap_or_default();
    let body = match r.bytes().await {
        Ok(bytes) if serde_json::from_slice::<Value>(&bytes).is_ok() => "json",
        Ok(_) => "bad-json",
        Err(_) => "incomplete",
    };
    format!("{status} {body} {fault}")
}

#[tokio::test]
async fn same_seed_same_faults_over_http() {
    let spec = "seed=20261128,p500=0.08,p502=0.05,p503=0.08,p429burst=0.05:2,pcut=0.05,ptruncate=0.08,pgqlerror=0.08";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let running = start(FaultConfig::parse(spec).unwrap()).await;
        let client = reqwest::Client::new();
        let mut seen = Vec::new();
        for _ in 0..80 {
            seen.push(outcome(&client, &running).await);
        }
        runs.push(seen);
        running.shutdown().await;
    }
    assert_eq!(runs[0], runs[1], "seed 20261128 gave different faults on two runs");

    // The faults are the ones the config predicts, request by request.
    let plan = FaultConfig::parse(spec).unwrap().plan(80);
    let faulted: Vec<(u64, String)> = runs[0]
        .iter()
        .enumerate()
        .filter(|(_, o)| o.contains("request="))
        .map(|(i, o)| (i as u64 + 1, o.clone()))
        .collect();
    assert_eq!(faulted.len(), plan.len(), "{faulted:?}");
    for ((n, seen), (planned_n, kind)) in faulted.iter().zip(&plan) {
        assert_eq!(n, planned_n);
        assert!(seen.ends_with(&format!("{kind}; request={n}")), "{seen}");
        let expected_start = match kind {
            FaultKind::Status500 => "500 json",
            FaultKind::Status502 => "502 bad-json",
            FaultKind::Status503 => "503 bad-json",
            FaultKind::TooManyRequests => "429 json",
            FaultKind::Cut => "200 incomplete",
            FaultKind::Truncate => "200 bad-json",
            FaultKind::GraphqlError => "200 json",
            FaultKind::Slow(_) => "200 json",
        };
        assert!(seen.starts_with(expected_start), "request {n}: {seen}");
    }
    // The spec is busy enough that every kind in it shows up.
    for kind in ["500", "502", "503", "429", "cut", "truncate", "gqlerror"] {
        assert!(plan.iter().any(|(_, k)| k.to_string() == kind), "{kind} never planned");
    }
    // Unfaulted requests are whole JSON answers.
    assert!(
        runs[0].iter().filter(|o| !o.contains("request=")).all(|o| o == "200 json "),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn injected_429s_follow_the_configured_retry_after() {
    let mut config =
        FaultConfig::parse("seed=1,retryafter=7s").unwrap().with_schedule("1-2=429").unwrap();
    config.retry_after_format = centra_sim::ratelimit::RetryAfterFormat::HttpDate;
    let running = start(config).await;
    let client = reqwest::Client::new();
    let before = running.sim().now();
    let r = post(&client, &running).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fault_header(&r).as_deref(), Some("429; request=1"));
    let header = r.headers()["retry-after"].to_str().unwrap().to_string();
    let resume = chrono::DateTime::<chrono::Utc>::from(httpdate::parse_http_date(&header).unwrap());
    // Seven seconds of simulated time after the request.
    assert!(resume >= before + chrono::Duration::seconds(7), "{header} vs {before}");
    assert!(resume <= running.sim().now() + chrono::Duration::seconds(8), "{header}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["category"], "rateLimit");
    assert_eq!(post(&client, &running).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(post(&client, &running).await.status(), StatusCode::OK);
    running.shutdown().await;
}
