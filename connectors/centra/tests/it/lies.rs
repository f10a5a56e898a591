//! Pagination that lies: a server fault must be an error naming the request,
//! never the silent end of a stream nor an endless walk.

use serde_json::{Value, json};

use crate::fake::*;

fn order(number: i64) -> Value {
    json!({"cursor": format!("c{number}"), "node": {"id": format!("id{number}"), "number": number}})
}

/// Regression: an empty page with `hasNextPage: true` ended the walk, and
/// the window was checkpointed as read with its later pages unread.
#[tokio::test]
async fn an_empty_order_page_that_promises_more_is_an_error_not_the_end() {
    let (url, _) = serve(|body| {
        if is_rate_limits(body) {
            return None;
        }
        let page = match body["variables"]["after"].as_str() {
            None => {
                json!({"edges": [order(1)], "pageInfo": {"hasNextPage": true, "endCursor": "c1"}})
            }
            Some(_) => json!({"edges": [], "pageInfo": {"hasNextPage": true, "endCursor": "c9"}}),
        };
        ok(json!({"orderConnection": page}))
    })
    .await;
    let (batches, result) = read_stream(&source(&url, json!({})), "orders", None).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains(
            "orderConnection page after cursor \"c1\" of the updatedAt window open to 20"
        ) && error.contains("has no orders but hasNextPage is true"),
        "{error}"
    );
    assert!(
        error.starts_with(&format!("data error: centra at {url} sent an unusable response")),
        "{error}"
    );
    // The first page's batch was sent as a window in progress, never as done.
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].1["after"], "c1");
    assert!(batches[0].1["window"].is_object());
}

/// Regression: an `endCursor` equal to the `after` just sent made the walk
/// ask for the same page for ever.
#[tokio::test]
async fn an_end_cursor_that_does_not_advance_is_an_error_not_an_endless_walk() {
    let (url, log) = serve(|body| {
        if is_rate_limits(body) {
            return None;
        }
        let page = match body["variables"]["after"].as_str() {
            None => {
                json!({"edges": [order(1)], "pageInfo": {"hasNextPage": true, "endCursor": "c1"}})
            }
            Some(_) => {
                json!({"edges": [order(2)], "pageInfo": {"hasNextPage": true, "endCursor": "c1"}})
            }
        };
        ok(json!({"orderConnection": page}))
    })
    .await;
    let (_, result) = read_stream(&source(&url, json!({})), "orders", None).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains(
            "orderConnection page after cursor \"c1\" of the updatedAt window open to 20"
        ) && error.contains("returned endCursor \"c1\", a cursor already sent"),
        "{error}"
    );
    assert_eq!(log.lock().unwrap().len(), 3, "the probe and two pages");
}

/// Regression: a list server that ignores `page` made the probe's search
/// report 2^31 pages, and the walk down would have read them all.
#[tokio::test]
async fn a_list_that_ignores_page_is_an_error_not_two_billion_pages() {
    let (url, log) = serve(|body| {
        if is_rate_limits(body) {
            return None;
        }
        ok(json!({"purchaseOrders": [{"id": 1}, {"id": 2}]}))
    })
    .await;
    let (batches, result) = read_stream(&source(&url, json!({})), "purchase_orders", None).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains(
            "purchaseOrders page 2 (limit 200) repeats page 1: the server ignores `page`"
        ),
        "{error}"
    );
    assert!(batches.is_empty());
    assert_eq!(log.lock().unwrap().len(), 3, "the probe and pages 1 and 2");
}
