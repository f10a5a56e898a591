//! The server's clock: a `Date` header far from the local clock must not
//! bound a window (it would set the cursor into the future and skip every
//! update until then).

use std::time::{Duration, SystemTime};

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::fake::*;

/// A year ahead of the local clock.
fn future_date() -> String {
    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(365 * 86_400))
}

fn answer(body: &Value) -> Option<axum::response::Response> {
    let data = if is_rate_limits(body) {
        json!({"rateLimits": []})
    } else if body["query"].as_str().unwrap().contains("orderConnection") {
        let node =
            json!({"id": "id1", "number": 1, "cartageUpdatedAt": "2026-12-04T10:00:00+01:00"});
        json!({"orderConnection": {"edges": [{"cursor": "c1", "node": node}],
               "pageInfo": {"hasNextPage": false, "endCursor": "c1"}}})
    } else {
        json!({"purchaseOrders": []})
    };
    let response = axum::Json(json!({"data": data, "extensions": {"complexity": 10}}));
    Some(([(header::DATE, future_date())], response).into_response())
}

/// Regression: a `Date` a year ahead became the window's `to` and the
/// cursor, and every update of the coming year was skipped.
#[tokio::test]
async fn a_date_header_a_year_ahead_does_not_move_the_orders_cursor_into_the_future() {
    let (url, log) = serve(answer).await;
    let (batches, result) = read_stream(&source(&url, json!({})), "orders", None).await;
    result.unwrap();
    // Open-ended, the cursor from the largest updatedAt read.
    assert_eq!(
        batches.last().unwrap().1,
        json!({"v": 1, "cursor": "2026-12-04T09:00:00Z", "window": null, "after": null})
    );
    let log = log.lock().unwrap();
    let page = &log[1];
    assert!(page["variables"].get("to").is_none(), "{page}");
    assert!(page["query"].as_str().unwrap().contains("cartageUpdatedAt: updatedAt"));
}

#[tokio::test]
async fn a_date_header_a_year_ahead_stops_purchase_orders_with_the_reason() {
    let (url, _) = serve(answer).await;
    let (batches, result) = read_stream(&source(&url, json!({})), "purchase_orders", None).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains(
            "s ahead of the local clock, more than max_clock_skew_secs = 300: \
                        the purchase_orders window needs the server's clock"
        ),
        "{error}"
    );
    assert!(batches.is_empty());
    // Trusting that clock is a choice the configuration can make.
    let (url, _) = serve(answer).await;
    let trusting = source(&url, json!({"max_clock_skew_secs": 400 * 86_400}));
    let (_, result) = read_stream(&trusting, "purchase_orders", None).await;
    result.unwrap();
}

/// Regression: `Retry-After: 1e22` on a 429 panicked the read (epoch
/// arithmetic overflow). It is capped at `max_retry_after_secs` and the
/// request is sent again.
#[tokio::test]
async fn an_absurd_retry_after_is_capped_and_the_read_goes_on() {
    for value in ["1e22", "18446744073709551615", "Fri, 31 Dec 9999 23:59:59 GMT", "-5"] {
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let once = std::sync::Arc::clone(&refused);
        let (url, log) = serve(move |body| {
            if !is_rate_limits(body) && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let headers = [(header::RETRY_AFTER, value)];
                return Some((axum::http::StatusCode::TOO_MANY_REQUESTS, headers).into_response());
            }
            if is_rate_limits(body) {
                return None;
            }
            ok(json!({"orderConnection": {"edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}}))
        })
        .await;
        let source = source(&url, json!({"max_retry_after_secs": 1}));
        let started = std::time::Instant::now();
        let (_, result) = read_stream(&source, "orders", None).await;
        let summary = result.unwrap_or_else(|e| panic!("Retry-After: {value}: {e}"));
        assert_eq!(summary.rate_limited, 1, "Retry-After: {value}");
        assert!(started.elapsed() < Duration::from_secs(10), "Retry-After: {value}");
        assert!(log.lock().unwrap().len() >= 3, "Retry-After: {value}");
    }
}
