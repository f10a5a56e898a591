//! A server without a `Date` header: the walk falls back to an open window
//! and takes its cursor from the largest `updatedAt` it read.
//!
//! Every real HTTP server stack sends `Date`, the simulator included, so
//! this test answers from a minimal HTTP/1.1 server written on a TCP socket.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

/// Serves `rateLimits` and two pages of orders; records each request body.
async fn dateless_server() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = socket.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        continue;
                    }
                    let body: Value =
                        serde_json::from_slice(&buffer[end + 4..end + 4 + length]).unwrap();
                    buffer.drain(..end + 4 + length);
                    let answer = respond(&body);
                    log.lock().unwrap().push(body);
                    let text = answer.to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    socket.write_all(response.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, seen)
}

fn order(number: i64, updated_at: &str) -> Value {
    json!({"cursor": format!("c{number}"), "node": {
        "id": format!("id{number}"), "number": number, "updatedAt": updated_at, "cartageUpdatedAt": updated_at
    }})
}

fn respond(body: &Value) -> Value {
    let query = body["query"].as_str().unwrap();
    if query.contains("rateLimits") {
        return json!({"data": {"rateLimits": []}, "extensions": {"complexity": 10}});
    }
    let page = match body["variables"]["after"].as_str() {
        None => {
            json!({"edges": [order(1, "2026-03-01T12:00:00+01:00"), order(2, "2026-03-01T12:05:00+01:00")],
                       "pageInfo": {"hasNextPage": true, "endCursor": "c2"}})
        }
        Some(_) => json!({"edges": [order(3, "2026-03-01T11:00:00+0100")],
                          "pageInfo": {"hasNextPage": false, "endCursor": "c3"}}),
    };
    json!({"data": {"orderConnection": page}, "extensions": {"complexity": 500}})
}

#[tokio::test]
async fn without_a_date_header_the_cursor_is_the_largest_updated_at_read() {
    let (url, requests) = dateless_server().await;
    let config = json!({"endpoint": url, "token": "t"});
    let source = serde_json::from_value::<connector_centra::CentraConfig>(config)
        .unwrap()
        .build("acme")
        .unwrap();

    let first = read(&source, None).await;
    assert_eq!(first.records().len(), 3);
    assert_eq!(
        first.batches[0].1,
        json!({"v": 1, "cursor": null, "window": {"from": null, "to": null}, "after": "c2", "seen": "2026-03-01T11:05:00Z"})
    );
    assert_eq!(
        first.last_state(),
        json!({"v": 1, "cursor": "2026-03-01T11:05:00Z", "window": null, "after": null})
    );
    {
        let requests = requests.lock().unwrap();
        let page = requests[1]["query"].as_str().unwrap();
        assert!(page.contains("cartageUpdatedAt: updatedAt") && !page.contains("where"), "{page}");
    }

    // The next run starts `lookback` (300 s) before that cursor, open-ended.
    let second = read(&source, Some(first.last_state())).await;
    assert_eq!(second.last_state()["cursor"], "2026-03-01T11:05:00Z");
    let requests = requests.lock().unwrap();
    let page = requests
        .iter()
        .rev()
        .find(|r| r["variables"]["after"].is_null() && r["variables"]["first"].is_number());
    let page = page.unwrap();
    // Naive Stockholm time (CET): 11:00 UTC.
    assert_eq!(page["variables"]["from"], "2026-03-01 12:00:00");
    assert!(page["variables"].get("to").is_none());
    assert!(page["query"].as_str().unwrap().contains("where: {updatedAt: {from: $from}}"));
}
