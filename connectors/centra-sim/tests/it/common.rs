//! Helpers shared by the core tests: start a simulator, POST GraphQL, call the control API.

use centra_sim::ratelimit::Tier;
use centra_sim::{RunningSim, SimConfig, Simulator};
use serde_json::{Value, json};

/// A small unlimited simulator with `orders` orders.
pub fn config(orders: u64) -> SimConfig {
    SimConfig { orders, tier: Tier::Unlimited, ..SimConfig::default() }
}

pub async fn start(config: SimConfig) -> RunningSim {
    Simulator::new(config)
        .serve("127.0.0.1:0".parse().expect("literal address"))
        .await
        .expect("simulator binds a free port")
}

/// POSTs a query; returns status and the raw body bytes.
pub async fn post_raw(running: &RunningSim, query: &str, variables: Value) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(&running.graphql_url)
        .bearer_auth(&running.token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request reaches the simulator");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

/// POSTs a query and parses the JSON body.
pub async fn gql(running: &RunningSim, query: &str, variables: Value) -> Value {
    let (status, bytes) = post_raw(running, query, variables).await;
    let v: Value = serde_json::from_slice(&bytes).expect("JSON body");
    assert_eq!(status, 200, "{v}");
    v
}

/// POSTs a query that must succeed; returns `data`.
pub async fn data(running: &RunningSim, query: &str, variables: Value) -> Value {
    let v = gql(running, query, variables).await;
    assert!(v.get("errors").is_none(), "unexpected errors: {v}");
    v["data"].clone()
}

/// POSTs to the control API.
pub async fn control(running: &RunningSim, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/{path}", running.base_url))
        .json(&body)
        .send()
        .await
        .expect("control request reaches the simulator");
    assert!(resp.status().is_success(), "control {path} failed: {}", resp.status());
    resp.json().await.expect("control answers JSON")
}

/// The `number`s of a list of orders.
pub fn numbers(list: &Value) -> Vec<i64> {
    list.as_array().expect("a list").iter().map(|o| o["number"].as_i64().expect("number")).collect()
}
