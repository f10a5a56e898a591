//! The GraphQL client: bearer token, timeouts, the client-side budget,
//! retries with backoff for retriable failures, and `Retry-After` on 429.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use cartage_core::{ReadSummary, Secret};
use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::budget::{Budget, RateLimitRow};
use crate::error::CentraError;
use cartage_http_source::{BodyError, RetryPolicy, describe, parse_retry_after, read_capped};

/// The probe and calibration query: cheap, needs no permission.
pub const RATE_LIMITS_QUERY: &str = "query CartageRateLimits { rateLimits { type intervalSeconds quota usedQuota remainingQuota } }";

/// Retries of the connection check: a wrong endpoint should fail in
/// seconds, not after the full backoff of a sync.
const CHECK_RETRIES: u32 = 2;

pub use cartage_http_source::MIB;

/// Recalibrate the budget from `rateLimits` after this many requests.
const CALIBRATE_EVERY: u32 = 50;

/// Give up on a request after this many HTTP 429 in a row: the environment
/// is saturated by someone else, and a later run is the better retry.
const MAX_RATE_LIMITED_IN_A_ROW: u32 = 100;

/// What [`CentraClient::new`] needs.
#[derive(Debug)]
pub struct ClientOptions {
    pub endpoint: Url,
    pub token: Secret,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub budget: Arc<Budget>,
    /// The largest response body read, in bytes, after decompression.
    pub max_response_bytes: u64,
}

/// A successful GraphQL response.
#[derive(Debug)]
pub struct Response<T> {
    pub data: T,
    /// `extensions.complexity`, what the request cost.
    pub complexity: Option<u64>,
    /// The response's `Date` header: the server's clock.
    pub server_date: Option<SystemTime>,
}

/// A Centra GraphQL Integration API client for one endpoint and token.
#[derive(Debug)]
pub struct CentraClient {
    http: reqwest::Client,
    endpoint: Url,
    token: Secret,
    retry: RetryPolicy,
    budget: Arc<Budget>,
    max_response_bytes: u64,
    since_calibration: AtomicU32,
    calibrate_next: AtomicBool,
}

/// The outcome of one HTTP attempt.
#[derive(Debug)]
enum Outcome<T> {
    Done(Response<T>),
    /// A failure that can pass on retry.
    Retry(String),
    /// HTTP 429: wait this long (`None`: the header was missing or unreadable).
    RateLimited(Option<Duration>),
    Fatal(CentraError),
}

impl CentraClient {
    pub fn new(options: ClientOptions) -> Result<Self, CentraError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", options.token.expose()))
            .map_err(|_| {
                CentraError::Config(
                    "centra token contains characters not allowed in an http header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("cartage/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            // A redirect could lead the token elsewhere or downgrade to http.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(options.endpoint.scheme() == "https")
            .build()
            .map_err(|e| {
                CentraError::Config(format!("cannot build the centra http client: {e}"))
            })?;
        Ok(CentraClient {
            http,
            endpoint: options.endpoint,
            token: options.token,
            retry: options.retry,
            budget: options.budget,
            max_response_bytes: options.max_response_bytes,
            since_calibration: AtomicU32::new(0),
            calibrate_next: AtomicBool::new(false),
        })
    }

    /// The endpoint, for messages.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The complexity one request may cost (see
    /// [`BudgetState::request_complexity_cap`](crate::budget::BudgetState::request_complexity_cap)).
    pub fn request_complexity_cap(&self) -> f64 {
        self.budget.request_complexity_cap()
    }

    /// Sends the `rateLimits` query, calibrates the budget from it, and
    /// returns the server's clock from the response's `Date` header.
    pub async fn probe(
        &self,
        stats: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<Option<SystemTime>, CentraError> {
        #[derive(Deserialize)]
        struct Data {
            #[serde(rename = "rateLimits")]
            rate_limits: Vec<RateLimitRow>,
        }
        let response: Response<Data> = self
            .send(
                RATE_LIMITS_QUERY,
                &serde_json::json!({}),
                true,
                self.retry.max_retries,
                stats,
                cancel,
            )
            .await?;
        self.budget.calibrate(&response.data.rate_limits);
        self.since_calibration.store(0, Ordering::Relaxed);
        self.calibrate_next.store(false, Ordering::Relaxed);
        debug!(rows = response.data.rate_limits.len(), "calibrated centra budget");
        Ok(response.server_date)
    }

    /// Runs a query, waiting for the budget, retrying retriable failures and
    /// honouring `Retry-After`. Every attempt is counted in `stats`.
    pub async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: &serde_json::Value,
        stats: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<Response<T>, CentraError> {
        self.send(query, variables, false, self.retry.max_retries, stats, cancel).await
    }

    /// Checks that the endpoint answers and accepts the token, with few
    /// retries (`rateLimits` needs no permission); also calibrates the budget.
    pub async fn check(&self, cancel: &CancellationToken) -> Result<(), CentraError> {
        #[derive(Deserialize)]
        struct Data {
            #[serde(rename = "rateLimits")]
            rate_limits: Vec<RateLimitRow>,
        }
        let mut stats = ReadSummary::default();
        let empty = serde_json::json!({});
        let response: Response<Data> =
            self.send(RATE_LIMITS_QUERY, &empty, true, CHECK_RETRIES, &mut stats, cancel).await?;
        self.budget.calibrate(&response.data.rate_limits);
        Ok(())
    }

    /// Sends one query of a stream as a check, with few retries: a field
    /// Centra does not have, or a permission the token lacks, fails here.
    /// Returns the complexity Centra reported for it.
    pub async fn check_query(
        &self,
        query: &str,
        variables: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<Option<u64>, CentraError> {
        let mut stats = ReadSummary::default();
        let response: Response<serde_json::Value> =
            self.send(query, variables, false, CHECK_RETRIES, &mut stats, cancel).await?;
        Ok(response.complexity)
    }

    fn needs_calibration(&self) -> bool {
        self.calibrate_next.load(Ordering::Relaxed)
            || self.since_calibration.load(Ordering::Relaxed) >= CALIBRATE_EVERY
    }

    async fn send<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: &serde_json::Value,
        is_probe: bool,
        max_retries: u32,
        stats: &mut ReadSummary,
        cancel: &CancellationToken,
    ) -> Result<Response<T>, CentraError> {
        let shape = shape_of(query, variables);
        let body =
            serde_json::to_vec(&serde_json::json!({ "query": query, "variables": variables }))
                .map_err(|e| CentraError::Config(format!("cannot encode a centra request: {e}")))?;
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            if !is_probe && self.needs_calibration() {
                Box::pin(self.probe(stats, cancel)).await?;
            }
            let permit = self.budget.acquire(shape, cancel).await?;
            if !permit.waited.is_zero() {
                stats.throttle_waits += 1;
                stats.throttle_wait += permit.waited;
            }
            stats.requests += 1;
            self.since_calibration.fetch_add(1, Ordering::Relaxed);
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(CentraError::Cancelled),
                outcome = self.attempt::<T>(body.clone()) => outcome,
            };
            let wait = match outcome {
                Outcome::Done(response) => {
                    self.budget.settle(&permit, response.complexity);
                    return Ok(response);
                }
                Outcome::Fatal(error) => return Err(error),
                Outcome::RateLimited(retry_after) => {
                    stats.rate_limited += 1;
                    rate_limited += 1;
                    if rate_limited > MAX_RATE_LIMITED_IN_A_ROW {
                        return Err(self.transient(
                            failures + rate_limited,
                            format!("HTTP 429 {rate_limited} times in a row"),
                        ));
                    }
                    let wait = self.retry.rate_limited_wait(retry_after, rate_limited);
                    // Hold every request of this tenant back, not just this one,
                    // and recalibrate before the next.
                    self.budget.block_for(wait);
                    self.calibrate_next.store(true, Ordering::Relaxed);
                    warn!(
                        wait_ms = wait.as_millis() as u64,
                        rate_limited,
                        "centra rate limit hit (HTTP 429), waiting as Retry-After says"
                    );
                    wait
                }
                Outcome::Retry(message) => {
                    failures += 1;
                    if failures > max_retries {
                        return Err(self.transient(failures + rate_limited, message));
                    }
                    let wait = self.retry.backoff(failures, &mut rand::rng());
                    warn!(attempt = failures, error = %message, backoff_ms = wait.as_millis() as u64, "retrying centra request");
                    wait
                }
            };
            stats.retries += 1;
            tokio::select! {
                _ = cancel.cancelled() => return Err(CentraError::Cancelled),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn transient(&self, attempts: u32, message: String) -> CentraError {
        CentraError::Transient { endpoint: self.endpoint.to_string(), attempts, message }
    }

    async fn attempt<T: DeserializeOwned>(&self, body: Vec<u8>) -> Outcome<T> {
        let response = match self.http.post(self.endpoint.clone()).body(body).send().await {
            Ok(response) => response,
            Err(error) => return Outcome::Retry(self.token.redact(&describe(&error))),
        };
        let status = response.status().as_u16();
        let server_date = response
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        if status == 429 {
            let wait = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, server_date, SystemTime::now()));
            return Outcome::RateLimited(wait);
        }
        if let Some(location) =
            response.headers().get(header::LOCATION).filter(|_| (300..400).contains(&status))
        {
            let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
            return Outcome::Fatal(self.response_error(format!(
                "HTTP {status}, redirected to {location} (use that endpoint)"
            )));
        }
        let bytes = match self.read_body(response).await {
            Ok(bytes) => bytes,
            Err(outcome) => return outcome,
        };
        classify(status, server_date, &bytes, self.endpoint.as_str(), &self.token)
    }

    /// Reads the body, at most `max_response_bytes` of it (after
    /// decompression, see [`read_capped`]). Too large is fatal: the same
    /// request gets the same answer again.
    async fn read_body<T>(&self, response: reqwest::Response) -> Result<Vec<u8>, Outcome<T>> {
        let limit = self.max_response_bytes;
        read_capped(response, limit).await.map_err(|error| match error {
            BodyError::TooLarge(what) => Outcome::Fatal(self.response_error(format!(
                "the response body {what} max_response_mib = {} ({limit} bytes, decompressed); lower page_size or raise max_response_mib",
                limit / MIB
            ))),
            BodyError::Read(message) => Outcome::Retry(self.token.redact(&message)),
        })
    }

    fn response_error(&self, message: String) -> CentraError {
        CentraError::Response {
            endpoint: self.endpoint.to_string(),
            message: self.token.redact(&message),
        }
    }
}

/// A query's shape: its text and page size decide its complexity.
fn shape_of(query: &str, variables: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    query.hash(&mut hasher);
    variables.get("first").map(|v| v.to_string()).hash(&mut hasher);
    hasher.finish()
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    errors: Option<Vec<GraphQlError>>,
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct Extensions {
    complexity: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    locations: Option<Vec<Location>>,
    path: Option<Vec<serde_json::Value>>,
    extensions: Option<ErrorExtensions>,
}

#[derive(Debug, Deserialize)]
struct Location {
    line: u64,
    column: u64,
}

#[derive(Debug, Deserialize)]
struct ErrorExtensions {
    category: Option<String>,
}

impl GraphQlError {
    fn category(&self) -> Option<&str> {
        self.extensions.as_ref().and_then(|e| e.category.as_deref())
    }

    /// Centra marks these with the category `authorization`; the message
    /// ("You need Order:read permission to …") is the fallback for servers
    /// that wrap it (e.g. as "resolver error: You need …").
    fn is_authorization(&self) -> bool {
        self.category() == Some("authorization") || missing_permission(&self.message).is_some()
    }

    /// Validation errors come before execution: they point at the query
    /// text and have no result path.
    fn is_validation(&self) -> bool {
        matches!(
            self.category(),
            Some("graphql" | "validation" | "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED")
        ) || (self.path.is_none() && self.locations.as_ref().is_some_and(|l| !l.is_empty()))
    }

    /// `message (line L:C)` for every location.
    fn located(&self) -> String {
        let locations: Vec<String> =
            self.locations.iter().flatten().map(|l| format!("{}:{}", l.line, l.column)).collect();
        if locations.is_empty() {
            self.message.clone()
        } else {
            format!("{} (line {})", self.message, locations.join(", "))
        }
    }
}

/// The permission named in Centra's "You need Order:read permission to …".
fn missing_permission(message: &str) -> Option<&str> {
    let rest = message.split("You need ").nth(1)?;
    let end = rest.find(" permission")?;
    Some(&rest[..end])
}

/// Sorts one response into done, retriable, rate limited or fatal.
fn classify<T: DeserializeOwned>(
    status: u16,
    server_date: Option<SystemTime>,
    body: &[u8],
    endpoint: &str,
    token: &Secret,
) -> Outcome<T> {
    let fatal_response = |message: String| {
        Outcome::Fatal(CentraError::Response {
            endpoint: endpoint.to_owned(),
            message: token.redact(&message),
        })
    };
    let envelope: Result<Envelope<'_>, _> = serde_json::from_slice(body);
    let errors = envelope.as_ref().ok().and_then(|e| e.errors.as_deref()).unwrap_or(&[]);
    let first_message = errors.first().map(|e| e.message.clone());
    if status == 401 || status == 403 {
        let message = first_message.unwrap_or_else(|| "no graphql error message".to_owned());
        return Outcome::Fatal(CentraError::Unauthorized {
            status,
            endpoint: endpoint.to_owned(),
            message: token.redact(&message),
        });
    }
    if let Some(error) = errors.iter().find(|e| e.is_authorization()) {
        let permission = missing_permission(&error.message).unwrap_or("a required").to_owned();
        let message = error.message.strip_prefix("resolver error: ").unwrap_or(&error.message);
        return Outcome::Fatal(CentraError::Permission {
            permission,
            endpoint: endpoint.to_owned(),
            message: token.redact(message),
        });
    }
    if status >= 500 || status == 408 {
        let detail = first_message.map(|m| format!(": {m}")).unwrap_or_default();
        return Outcome::Retry(token.redact(&format!("HTTP {status}{detail}")));
    }
    let envelope = match &envelope {
        Ok(envelope) => envelope,
        Err(error) if (200..300).contains(&status) => {
            return Outcome::Retry(format!(
                "unparseable JSON body ({} bytes): {error}",
                body.len()
            ));
        }
        Err(_) => {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return fatal_response(format!("HTTP {status}: {snippet}"));
        }
    };
    // Validation happens before execution, so a validation failure has no data.
    if envelope.data.is_none() && errors.iter().any(GraphQlError::is_validation) {
        let messages: Vec<String> = errors.iter().map(GraphQlError::located).collect();
        return Outcome::Fatal(CentraError::InvalidQuery {
            endpoint: endpoint.to_owned(),
            messages: token.redact(&messages.join("; ")),
        });
    }
    if !(200..300).contains(&status) {
        let detail = first_message.unwrap_or_else(|| "no graphql error message".to_owned());
        return fatal_response(format!("HTTP {status}: {detail}"));
    }
    let Some(data) = envelope.data else {
        let detail = first_message.unwrap_or_else(|| "no errors either".to_owned());
        return Outcome::Retry(token.redact(&format!("graphql response without data: {detail}")));
    };
    if !errors.is_empty() {
        let messages: Vec<String> = errors.iter().map(GraphQlError::located).collect();
        return fatal_response(format!("graphql errors: {}", messages.join("; ")));
    }
    match serde_json::from_str::<T>(data.get()) {
        Ok(data) => Outcome::Done(Response {
            data,
            complexity: envelope.extensions.as_ref().and_then(|e| e.complexity),
            server_date,
        }),
        Err(error) => fatal_response(format!("unexpected response shape: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENDPOINT: &str = "https://acme.centra.com/graphql";

    #[derive(Debug, Deserialize, PartialEq)]
    struct Data {
        n: u32,
    }

    fn check(status: u16, body: &str) -> Outcome<Data> {
        classify(status, None, body.as_bytes(), ENDPOINT, &Secret::new("tok-123"))
    }

    fn fatal(status: u16, body: &str) -> String {
        match check(status, body) {
            Outcome::Fatal(error) => {
                let text = cartage_core::Error::from(error).to_string();
                assert!(!text.contains("tok-123"), "{text}");
                text
            }
            other => panic!("expected a fatal error, got {other:?}"),
        }
    }

    fn retriable(status: u16, body: &str) -> String {
        match check(status, body) {
            Outcome::Retry(message) => message,
            other => panic!("expected a retriable failure, got {other:?}"),
        }
    }

    #[test]
    fn data_and_complexity_are_returned() {
        match check(200, r#"{"data":{"n":3},"extensions":{"complexity":42,"permissionsUsed":[]}}"#)
        {
            Outcome::Done(r) => {
                assert_eq!(r.data, Data { n: 3 });
                assert_eq!(r.complexity, Some(42));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_token_is_fatal_and_names_the_endpoint_not_the_token() {
        let body = r#"{"errors":[{"message":"Invalid token tok-123","extensions":{"category":"authentication"}}]}"#;
        assert_eq!(
            fatal(401, body),
            "authentication error: centra refused the token (HTTP 401) for https://acme.centra.com/graphql: Invalid token ***"
        );
        assert!(fatal(403, "forbidden").contains("(HTTP 403)"));
    }

    #[test]
    fn a_missing_permission_is_fatal_and_named() {
        let body = r#"{"errors":[{"message":"You need Order:read permission to access orderConnection.",
            "extensions":{"category":"authorization"},"locations":[{"line":1,"column":3}],"path":["orderConnection"]}],
            "data":null,"extensions":{"complexity":50}}"#;
        let text = fatal(200, body);
        assert!(
            text.starts_with("authentication error: centra token lacks the Order:read permission"),
            "{text}"
        );
    }

    #[test]
    fn a_wrapped_permission_message_is_still_a_missing_permission() {
        let body = r#"{"errors":[{"message":"resolver error: You need Order:read permission to access orderConnection.",
            "extensions":{"category":"graphql"},"locations":[{"line":2,"column":3}]}],"data":null}"#;
        assert_eq!(
            fatal(200, body),
            "authentication error: centra token lacks the Order:read permission at https://acme.centra.com/graphql: \
             You need Order:read permission to access orderConnection."
        );
    }

    #[test]
    fn validation_errors_are_fatal_with_line_and_column() {
        let body = r#"{"errors":[{"message":"Cannot query field \"nope\" on type \"Order\".","locations":[{"line":3,"column":17}]}]}"#;
        assert_eq!(
            fatal(200, body),
            "configuration error: centra rejected the query sent to https://acme.centra.com/graphql: \
             Cannot query field \"nope\" on type \"Order\". (line 3:17)"
        );
        assert!(fatal(400, body).contains("(line 3:17)"));
    }

    #[test]
    fn server_errors_truncation_and_null_data_are_retriable() {
        assert_eq!(retriable(503, "busy"), "HTTP 503");
        assert_eq!(retriable(500, r#"{"errors":[{"message":"boom"}]}"#), "HTTP 500: boom");
        assert!(retriable(200, r#"{"data":{"n":"#).starts_with("unparseable JSON body (13 bytes)"));
        assert_eq!(
            retriable(
                200,
                r#"{"data":null,"errors":[{"message":"Internal error","path":["orderConnection"]}]}"#
            ),
            "graphql response without data: Internal error"
        );
        assert!(retriable(200, r#"{"data":null}"#).starts_with("graphql response without data"));
    }

    #[test]
    fn other_client_errors_and_bad_shapes_are_fatal() {
        assert!(fatal(404, "<html>not found</html>").contains("HTTP 404: <html>not found</html>"));
        assert!(fatal(200, r#"{"data":{"n":"three"}}"#).contains("unexpected response shape"));
        assert!(
            fatal(200, r#"{"data":{"n":1},"errors":[{"message":"partial","path":["x"]}]}"#)
                .contains("graphql errors: partial")
        );
    }

    #[test]
    fn the_missing_permission_is_read_from_centras_message() {
        assert_eq!(
            missing_permission("You need Order:read permission to access orders."),
            Some("Order:read")
        );
        assert_eq!(
            missing_permission(
                "You need Order.shippingAddress:read permission to access shippingAddress."
            ),
            Some("Order.shippingAddress:read")
        );
        assert_eq!(missing_permission("nope"), None);
    }

    #[test]
    fn shapes_differ_by_query_and_page_size_only() {
        let a = shape_of("q1", &serde_json::json!({"first": 200, "after": "x"}));
        assert_eq!(a, shape_of("q1", &serde_json::json!({"first": 200, "after": "y"})));
        assert_ne!(a, shape_of("q1", &serde_json::json!({"first": 100})));
        assert_ne!(a, shape_of("q2", &serde_json::json!({"first": 200})));
    }
}
