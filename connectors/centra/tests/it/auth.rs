//! Refused tokens and missing permissions fail fast with one clear error.

use cartage_core::{ErrorKind, Source, StreamCheck};
use centra_sim::auth::TokenSpec;

use crate::support::*;

#[tokio::test]
async fn a_bad_token_is_one_clear_fatal_error_without_the_token() {
    let running = start_unlimited(50).await;
    let source = source(&running, serde_json::json!({"token": "wrong-token-4711"}));
    let run = read(&source, None).await;
    let error = run.result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth);
    let text = error.to_string();
    let prefix = format!(
        "authentication error: centra refused the token (HTTP 401) for {}: ",
        running.graphql_url
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert!(!text.contains("wrong-token-4711"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(run.batches.is_empty());
    assert_eq!(running.sim().stats().requests, 1, "no retries on a refused token");
    running.shutdown().await;
}

#[tokio::test]
async fn a_missing_permission_names_it() {
    let running = start_unlimited(50).await;
    running.sim().tokens().add(TokenSpec::with_permissions("no-orders", "other", ["Product:read"]));
    let source = source(&running, serde_json::json!({"token": "no-orders"}));
    let run = read(&source, None).await;
    let error = run.result.unwrap_err();
    let text = error.to_string();
    assert_eq!(error.kind(), ErrorKind::Auth, "{text}");
    assert!(text.contains("centra token lacks the Order:read permission"), "{text}");
    assert!(!text.contains("no-orders"), "{text}");
    assert!(run.batches.is_empty());
    running.shutdown().await;
}

fn checks(streams: &[&str]) -> Vec<StreamCheck> {
    streams.iter().map(|s| StreamCheck { stream: (*s).into(), selection: None }).collect()
}

#[tokio::test]
async fn check_accepts_a_good_connection_and_refuses_bad_ones() {
    let running = start_unlimited(20).await;
    running.sim().tokens().add(TokenSpec::with_permissions("no-orders", "other", ["Product:read"]));
    let all = checks(&["orders", "inventory", "purchase_orders", "indeliveries"]);
    source(&running, serde_json::json!({})).check(&all).await.unwrap();

    let error = source(&running, serde_json::json!({"token": "wrong-token-4711"}))
        .check(&all)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth);
    assert!(!error.to_string().contains("wrong-token-4711"));

    let error = source(&running, serde_json::json!({"token": "no-orders"}))
        .check(&checks(&["orders"]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("lacks the Order:read permission"), "{error}");
    assert!(error.to_string().contains("checking stream orders"), "{error}");

    // Nothing listens on port 9 of the loopback: a clear, retriable error.
    let bad = serde_json::json!({"endpoint": "http://127.0.0.1:9/graphql", "token": "token-for-nowhere", "max_backoff_ms": 10});
    let error = serde_json::from_value::<connector_centra::CentraConfig>(bad)
        .unwrap()
        .build("acme")
        .unwrap()
        .check(&all)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient);
    let text = error.to_string();
    assert!(text.contains("centra request to http://127.0.0.1:9/graphql failed after 3 attempts: connection failed"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    running.shutdown().await;
}

/// Regression: the check used to send a fixed `orderConnection { id }`, so a
/// field Centra does not have (the old `totals.itemsValue`) first failed
/// mid-sync, and a supply-only token was refused for lacking `Order:read`.
#[tokio::test]
async fn check_sends_each_streams_real_query_and_needs_only_its_permissions() {
    let running = start_unlimited(20).await;
    let wrong = StreamCheck {
        stream: "orders".into(),
        selection: Some("id totals { itemsValue { valueInCents } }".into()),
    };
    let error = source(&running, serde_json::json!({})).check(&[wrong]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    let text = error.to_string();
    assert!(text.contains("checking stream orders"), "{text}");
    assert!(text.contains("itemsValue"), "the missing field is named: {text}");

    running.sim().tokens().add(TokenSpec::with_permissions(
        "supply-only",
        "supply",
        [
            "PurchaseOrder:read",
            "PurchaseOrderDelivery:read",
            "Warehouse:read",
            "Warehouse.stock:read",
            "ProductSize:read",
            "Product:read",
            "Supplier:read",
        ],
    ));
    let supply = source(&running, serde_json::json!({"token": "supply-only"}));
    supply.check(&checks(&["inventory", "purchase_orders", "indeliveries"])).await.unwrap();
    let error = supply.check(&checks(&["orders"])).await.unwrap_err();
    assert!(error.to_string().contains("lacks the Order:read permission"), "{error}");
    running.shutdown().await;
}
