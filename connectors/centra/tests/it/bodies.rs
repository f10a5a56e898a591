//! Response bodies are capped at `max_response_mib`, counted after
//! decompression, with an error naming the endpoint and the limit.

use std::io::Write;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::fake::*;

const MIB: usize = 1024 * 1024;

/// A valid JSON answer padded with `padding` bytes of whitespace.
fn padded(data: Value, padding: usize) -> Vec<u8> {
    let mut body = " ".repeat(padding).into_bytes();
    body.extend_from_slice(json!({"data": data}).to_string().as_bytes());
    body
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gzipped(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_ENCODING, "gzip"), (header::CONTENT_TYPE, "application/json")], gzip(&bytes))
        .into_response()
}

fn empty_page() -> Value {
    json!({"orderConnection": {"edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}})
}

async fn read_error(answer: fn(&Value) -> Option<Response>) -> String {
    let (url, log) = serve(answer).await;
    let source = source(&url, json!({"max_response_mib": 1}));
    let (_, result) = read_stream(&source, "orders", None).await;
    let error = result.unwrap_err();
    assert!(!error.is_retriable(), "{error}");
    assert_eq!(log.lock().unwrap().len(), 2, "the probe and one page, not retried");
    let text = error.to_string();
    assert!(text.contains(&format!("centra at {url} sent an unusable response")), "{text}");
    text
}

/// Regression: `response.bytes()` read a body of any size into memory.
#[tokio::test]
async fn a_body_announcing_more_than_the_cap_is_refused() {
    let text = read_error(|body| {
        (!is_rate_limits(body)).then(|| padded(empty_page(), 2 * MIB).into_response())
    })
    .await;
    assert!(
        text.ends_with(&format!(
            "the response body announces {} bytes, more than max_response_mib = 1 (1048576 bytes, \
             decompressed); lower page_size or raise max_response_mib",
            padded(empty_page(), 2 * MIB).len()
        )),
        "{text}"
    );
}

/// Without a `Content-Length` (chunked), the cap counts while reading.
#[tokio::test]
async fn a_chunked_body_beyond_the_cap_is_refused_while_reading() {
    let text = read_error(|body| {
        if is_rate_limits(body) {
            return None;
        }
        let chunks = padded(empty_page(), 2 * MIB)
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>();
        Some(Body::from_stream(futures::stream::iter(chunks)).into_response())
    })
    .await;
    assert!(
        text.contains("the response body exceeds max_response_mib = 1 (1048576 bytes"),
        "{text}"
    );
}

/// A gzip bomb: 8 KiB on the wire, 8 MiB inflated. The probe's small gzip
/// answer passes, so compression itself works.
#[tokio::test]
async fn a_gzip_body_is_capped_after_decompression() {
    let text = read_error(|body| {
        if is_rate_limits(body) {
            return Some(gzipped(padded(json!({"rateLimits": []}), 1000)));
        }
        Some(gzipped(padded(empty_page(), 8 * MIB)))
    })
    .await;
    assert!(text.contains("the response body exceeds max_response_mib = 1"), "{text}");
}
