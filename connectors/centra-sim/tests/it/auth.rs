//! Authentication and permissions over real HTTP: 401s, Centra's authorization error, response extensions.

use centra_sim::auth::TokenSpec;
use centra_sim::ratelimit::Tier;
use centra_sim::{RunningSim, SimConfig, Simulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start() -> RunningSim {
    let sim =
        Simulator::new(SimConfig { orders: 50, tier: Tier::Unlimited, ..SimConfig::default() });
    sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// POSTs `query` with `auth` applied; returns status and JSON body.
async fn post(
    running: &RunningSim,
    query: &str,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (StatusCode, Value) {
    let request =
        reqwest::Client::new().post(&running.graphql_url).json(&json!({ "query": query }));
    let response = auth(request).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body)
}

const ORDERS: &str = "{ orders(limit: 2) { number } }";

fn assert_authentication_error(status: StatusCode, body: &Value, message: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errors"][0]["message"], message, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["category"], "authentication", "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
}

#[tokio::test]
async fn missing_token_gets_401_with_a_graphql_error() {
    let running = start().await;
    let (status, body) = post(&running, ORDERS, |r| r).await;
    assert_authentication_error(
        status,
        &body,
        "Access token is missing. Send it as \"Authorization: Bearer <token>\" or as the graphql-access cookie.",
    );
    // A non-bearer scheme is no token either.
    let (status, body) =
        post(&running, ORDERS, |r| r.header("Authorization", "Basic Zm9vOmJhcg==")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_token_gets_401() {
    let running = start().await;
    let (status, body) = post(&running, ORDERS, |r| r.bearer_auth("not-a-token")).await;
    assert_authentication_error(status, &body, "Access token is invalid.");
    let (status, body) =
        post(&running, ORDERS, |r| r.header("Cookie", "graphql-access=not-a-token")).await;
    assert_authentication_error(status, &body, "Access token is invalid.");
    running.shutdown().await;
}

#[tokio::test]
async fn expired_token_gets_401_by_the_simulated_clock() {
    let running = start().await;
    let sim = running.sim();
    sim.tokens().add(
        TokenSpec::all_permissions("old", "erp")
            .expiring_at(sim.now() - chrono::Duration::seconds(1)),
    );
    let (status, body) = post(&running, ORDERS, |r| r.bearer_auth("old")).await;
    assert_authentication_error(status, &body, "Access token has expired.");

    // Valid for another hour of simulated time: works until the clock is advanced past it.
    sim.tokens().add(
        TokenSpec::all_permissions("soon", "erp")
            .expiring_at(sim.now() + chrono::Duration::hours(1)),
    );
    let (status, body) = post(&running, ORDERS, |r| r.bearer_auth("soon")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["orders"].as_array().unwrap().len(), 2);
    sim.control().advance_clock(2 * 3600);
    let (status, body) = post(&running, ORDERS, |r| r.bearer_auth("soon")).await;
    assert_authentication_error(status, &body, "Access token has expired.");
    running.shutdown().await;
}

#[tokio::test]
async fn bearer_header_and_cookie_are_both_accepted() {
    let running = start().await;
    let token = running.token.clone();
    let (status, body) = post(&running, ORDERS, |r| r.bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        post(&running, ORDERS, |r| r.header("Cookie", format!("x=1; graphql-access={token}")))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["orders"][0]["number"], 1);
    running.shutdown().await;
}

#[tokio::test]
async fn token_without_order_read_gets_centras_authorization_error() {
    let running = start().await;
    running.sim().tokens().add(TokenSpec::with_permissions(
        "stock-only",
        "wms",
        ["Warehouse:read"],
    ));
    let (status, body) =
        post(&running, "{ orders(limit: 1) { number } }", |r| r.bearer_auth("stock-only")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["message"], "You need Order:read permission to access orders.", "{body}");
    assert_eq!(error["extensions"]["category"], "authorization", "{body}");
    assert_eq!(error["path"], json!(["orders"]), "{body}");
    assert!(error["locations"][0]["line"].is_number(), "{body}");
    assert!(body["extensions"]["complexity"].is_number(), "{body}");

    // What it may read still works; a nested permission it lacks is refused alone.
    let (status, body) =
        post(&running, "{ warehouses { id stock(limit: 1) { physicalQuantity } } }", |r| {
            r.bearer_auth("stock-only")
        })
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["errors"][0]["message"], "You need Warehouse.stock:read permission to access stock.",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["category"], "authorization", "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_complexity_and_permissions_used() {
    let running = start().await;
    let token = running.token.clone();
    let (status, body) = post(
        &running,
        "{ orders(limit: 2) { number shippingAddress { city } } warehouses { id } }",
        |r| r.bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["extensions"]["complexity"].as_u64().unwrap() > 0, "{body}");
    let used: Vec<&str> = body["extensions"]["permissionsUsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in ["Order:read", "Order.shippingAddress:read", "Warehouse:read"] {
        assert!(used.contains(&p), "{p} missing from {used:?}");
    }
    assert!(!used.contains(&"Order.billingAddress:read"), "{used:?}");

    // rateLimits needs no permission.
    let (status, body) = post(&running, "{ rateLimits { type } }", |r| r.bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extensions"]["permissionsUsed"], json!([]), "{body}");
    assert!(body["extensions"]["complexity"].is_number(), "{body}");
    running.shutdown().await;
}
