//! Seeded fault injection for `/graphql`: HTTP 500/502/503, 429 bursts, slow answers, cut connections, truncated JSON, GraphQL errors.
//!
//! # Applying it (sim-core)
//!
//! ```text
//! let faults = faults::layer(config, move || clock.now()); // FaultState, cheap to clone
//! let app = Router::new()
//!     .route("/graphql", post(graphql).layer(axum::middleware::from_fn_with_state(faults, faults::middleware)))
//!     .nest("/__sim", control_routes);
//! ```
//!
//! The middleware wraps the whole GraphQL handler (authentication, rate
//! limits and execution), so it runs first. It never touches paths under
//! `/__sim/`, even when applied to the whole router.
//!
//! # What is injected, and when
//!
//! Every request that reaches the middleware (outside `/__sim/`) gets the next
//! number, starting at 1, in arrival order. Its fault depends only on the
//! seed and that number, so **the same seed and the same request order give
//! the same faults**. For request `n`:
//!
//! 1. the schedule's fault for `n`, if any; else
//! 2. `429`, if `n` falls in a burst: request `m` starts a burst when its
//!    roll (below) picks `429`, and the burst covers `m .. m + len − 1`
//!    (requests the schedule names are neither in a burst nor start one); else
//! 3. the roll: a uniform number `u ∈ [0, 1)` from ChaCha8 seeded with the
//!    seed, stream `n`, picks the first kind whose cumulative probability
//!    exceeds `u`, in the order `500, 502, 503, 429, slow, cut, truncate,
//!    gqlerror`; no fault when `u` is past the sum of the probabilities.
//!
//! The kinds ([`FaultKind`]):
//! - `500`: HTTP 500 with a GraphQL-shaped JSON error; the handler does not run.
//! - `502`, `503`: an HTML page as a proxy sends it; the handler does not run.
//! - `429`: HTTP 429 with `Retry-After` ([`FaultConfig::retry_after`] in
//!   [`FaultConfig::retry_after_format`], dates in simulated time); the handler does not run.
//! - `slow:<duration>`: waits that long, then runs the handler normally.
//! - `cut`: runs the handler, sends the status, the headers (with the full
//!   `Content-Length`) and the first half of the body, then aborts the
//!   connection: the client sees an incomplete body.
//! - `truncate`: runs the handler and sends a complete HTTP response whose
//!   body is the first half of the JSON (`Content-Length` matches): invalid JSON.
//! - `gqlerror`: HTTP 200 with `{"data": null, "errors": [...]}`; the handler does not run.
//!
//! For `cut` and `truncate` the request was executed (a mutation took
//! effect) even though the client cannot read the answer. Every injected
//! answer carries the header `x-centra-sim-fault: <kind>; request=<n>`, and
//! each injection is logged with the seed, so a failing test can print the
//! seed and reproduce the run ([`FaultConfig::plan`] lists the faults of the
//! first requests without a server).
//!
//! # Spec grammar (the `--faults` and `--fault-schedule` options)
//!
//! `--faults` ([`FaultConfig::parse`]) is a comma-separated list of `key=value`:
//!
//! | key          | value                    | meaning                                     |
//! |--------------|--------------------------|---------------------------------------------|
//! | `seed`       | u64                      | the seed (default: random, and logged)      |
//! | `p500`, `p502`, `p503` | probability     | chance of that status per request           |
//! | `p429burst`  | probability`[:len]`      | chance a 429 burst starts; len default 3    |
//! | `pslow`      | probability`[:duration]` | chance of a slow answer; default 1000ms     |
//! | `pcut`       | probability              | chance of a connection cut mid-body         |
//! | `ptruncate`  | probability              | chance of a truncated JSON body             |
//! | `pgqlerror`  | probability              | chance of a GraphQL error with `data: null` |
//! | `retryafter` | duration                 | `Retry-After` of injected 429s (default 1s) |
//!
//! A probability is a decimal in `0..=1`; their sum must not exceed 1. A
//! duration is `<n>ms` or `<n>s` (a bare number is milliseconds). Example:
//! `seed=7,p500=0.02,p503=0.02,p429burst=0.01:3,pslow=0.01:800ms,pcut=0.01,ptruncate=0.01,pgqlerror=0.01`.
//!
//! `--fault-schedule` ([`FaultConfig::with_schedule`]) is a comma-separated
//! list of `<n>=<kind>` or `<first>-<last>=<kind>` (request numbers from 1,
//! ranges inclusive, no overlaps), with kinds `500`, `502`, `503`, `429`,
//! `slow`, `slow:<duration>` (plain `slow` takes the `pslow` duration), `cut`,
//! `truncate`, `gqlerror`. Example: `5=503,10-14=429,20=cut`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ratelimit::{RetryAfterFormat, retry_after_header, too_many_requests};

/// The header naming the injected fault on every injected answer.
pub const FAULT_HEADER: &str = "x-centra-sim-fault";

/// The default length of a 429 burst.
pub const DEFAULT_BURST_LEN: u32 = 3;
/// The default delay of a slow answer.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_millis(1000);
/// The default `Retry-After` of an injected 429.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// HTTP 500 with a JSON error body.
    Status500,
    /// HTTP 502 with an HTML body, as a proxy sends it.
    Status502,
    /// HTTP 503 with an HTML body, as a proxy sends it.
    Status503,
    /// HTTP 429 with `Retry-After` (one request of a burst).
    TooManyRequests,
    /// The answer comes after this delay.
    Slow(Duration),
    /// Headers and half the body, then the connection is aborted.
    Cut,
    /// A complete response whose JSON body is cut in half.
    Truncate,
    /// HTTP 200 with a GraphQL error and `data: null`.
    GraphqlError,
}

impl fmt::Display for FaultKind {
    /// The schedule spelling: `500`, `429`, `slow:800ms`, `cut`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Status500 => f.write_str("500"),
            FaultKind::Status502 => f.write_str("502"),
            FaultKind::Status503 => f.write_str("503"),
            FaultKind::TooManyRequests => f.write_str("429"),
            FaultKind::Slow(d) => write!(f, "slow:{}", fmt_duration(*d)),
            FaultKind::Cut => f.write_str("cut"),
            FaultKind::Truncate => f.write_str("truncate"),
            FaultKind::GraphqlError => f.write_str("gqlerror"),
        }
    }
}

/// What to inject. `Default` injects nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// The seed of the per-request rolls.
    pub seed: u64,
    /// Probability of HTTP 500 per request.
    pub p500: f64,
    /// Probability of HTTP 502 per request.
    pub p502: f64,
    /// Probability of HTTP 503 per request.
    pub p503: f64,
    /// Probability that a request starts a burst of 429s.
    pub p429_burst: f64,
    /// How many consecutive requests a 429 burst covers.
    pub burst_len: u32,
    /// Probability of a slow answer.
    pub p_slow: f64,
    /// How long a slow answer waits.
    pub slow_delay: Duration,
    /// Probability of a connection cut mid-body.
    pub p_cut: f64,
    /// Probability of a truncated JSON body.
    pub p_truncate: f64,
    /// Probability of a GraphQL error with `data: null`.
    pub p_gql_error: f64,
    /// Faults by request number (from 1); these win over the rolls.
    pub schedule: BTreeMap<u64, FaultKind>,
    /// The `Retry-After` wait of injected 429s.
    pub retry_after: Duration,
    /// How injected 429s write `Retry-After` (set it like the rate limiter's).
    pub retry_after_format: RetryAfterFormat,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            p500: 0.0,
            p502: 0.0,
            p503: 0.0,
            p429_burst: 0.0,
            burst_len: DEFAULT_BURST_LEN,
            p_slow: 0.0,
            slow_delay: DEFAULT_SLOW_DELAY,
            p_cut: 0.0,
            p_truncate: 0.0,
            p_gql_error: 0.0,
            schedule: BTreeMap::new(),
            retry_after: DEFAULT_RETRY_AFTER,
            retry_after_format: RetryAfterFormat::Seconds,
        }
    }
}

/// A `--faults` or `--fault-schedule` string that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultSpecError {
    /// An item is not `key=value`.
    #[error("{option}: item {item:?} is not key=value")]
    NotKeyValue {
        /// `--faults` or `--fault-schedule`.
        option: &'static str,
        /// The offending item.
        item: String,
    },
    /// A key `--faults` does not know.
    #[error(
        "--faults: unknown key {0:?} (expected one of seed, p500, p502, p503, p429burst, pslow, pcut, ptruncate, pgqlerror, retryafter)"
    )]
    UnknownKey(String),
    /// A key given twice.
    #[error("--faults: key {0:?} given twice")]
    DuplicateKey(String),
    /// A value that does not parse.
    #[error("{option}: bad value {value:?} for {key}: {reason}")]
    BadValue {
        /// `--faults` or `--fault-schedule`.
        option: &'static str,
        /// The key or request the value belongs to.
        key: String,
        /// The offending value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The probabilities add up to more than 1.
    #[error("--faults: the probabilities add up to {0}, more than 1")]
    TooLikely(f64),
    /// A fault kind the schedule does not know.
    #[error(
        "--fault-schedule: unknown fault {0:?} (expected one of 500, 502, 503, 429, slow, slow:<duration>, cut, truncate, gqlerror)"
    )]
    UnknownKind(String),
    /// Two schedule entries name the same request.
    #[error("--fault-schedule: request {0} is scheduled twice")]
    Overlap(u64),
}

const FAULTS: &str = "--faults";
const SCHEDULE: &str = "--fault-schedule";

impl FaultConfig {
    /// Parses a `--faults` spec (grammar in the module docs). Without
    /// `seed=`, the seed is random (the middleware logs it). An empty spec
    /// means no faults.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut config = FaultConfig { seed: rand::random(), ..FaultConfig::default() };
        let mut seen = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) =
                item.split_once('=').map(|(k, v)| (k.trim(), v.trim())).ok_or_else(|| {
                    FaultSpecError::NotKeyValue { option: FAULTS, item: item.to_string() }
                })?;
            if seen.contains(&key) {
                return Err(FaultSpecError::DuplicateKey(key.to_string()));
            }
            seen.push(key);
            let (main, extra) = match value.split_once(':') {
                Some((m, e)) => (m, Some(e)),
                None => (value, None),
            };
            let no_extra = |config_value: f64| -> Result<f64, FaultSpecError> {
                match extra {
                    None => Ok(config_value),
                    Some(_) => {
                        Err(bad(FAULTS, key, value, "expected a probability between 0 and 1"))
                    }
                }
            };
            match key {
                "seed" => {
                    config.seed = value
                        .parse()
                        .map_err(|_| bad(FAULTS, key, value, "expected an unsigned integer"))?
                }
                "p500" => config.p500 = no_extra(probability(key, main)?)?,
                "p502" => config.p502 = no_extra(probability(key, main)?)?,
                "p503" => config.p503 = no_extra(probability(key, main)?)?,
                "pcut" => config.p_cut = no_extra(probability(key, main)?)?,
                "ptruncate" => config.p_truncate = no_extra(probability(key, main)?)?,
                "pgqlerror" => config.p_gql_error = no_extra(probability(key, main)?)?,
                "p429burst" => {
                    config.p429_burst = probability(key, main)?;
                    if let Some(len) = extra {
                        config.burst_len =
                            len.parse().ok().filter(|l| *l > 0).ok_or_else(|| {
                                bad(
                                    FAULTS,
                                    key,
                                    value,
                                    "expected <probability>:<burst length >= 1>",
                                )
                            })?;
                    }
                }
                "pslow" => {
                    config.p_slow = probability(key, main)?;
                    if let Some(d) = extra {
                        config.slow_delay = duration(d).ok_or_else(|| {
                            bad(
                                FAULTS,
                                key,
                                value,
                                "expected <probability>:<duration> such as 0.01:800ms",
                            )
                        })?;
                    }
                }
                "retryafter" => {
                    config.retry_after = duration(value)
                        .ok_or_else(|| bad(FAULTS, key, value, "expected a duration such as 2s"))?
                }
                _ => return Err(FaultSpecError::UnknownKey(key.to_string())),
            }
        }
        let sum = config.probability_sum();
        if sum > 1.0 + 1e-9 {
            return Err(FaultSpecError::TooLikely(sum));
        }
        Ok(config)
    }

    /// Adds a `--fault-schedule` spec (grammar in the module docs) to this
    /// config; plain `slow` takes this config's `slow_delay`.
    pub fn with_schedule(mut self, spec: &str) -> Result<Self, FaultSpecError> {
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (requests, kind) =
                item.split_once('=').map(|(r, k)| (r.trim(), k.trim())).ok_or_else(|| {
                    FaultSpecError::NotKeyValue { option: SCHEDULE, item: item.to_string() }
                })?;
            let kind = self.kind(kind)?;
            let number = |s: &str| -> Result<u64, FaultSpecError> {
                s.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    bad(
                        SCHEDULE,
                        item,
                        requests,
                        "expected a request number >= 1 or a range such as 10-14",
                    )
                })
            };
            let (first, last) = match requests.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => (number(requests)?, number(requests)?),
            };
            if last < first {
                return Err(bad(SCHEDULE, item, requests, "the range ends before it starts"));
            }
            for n in first..=last {
                if self.schedule.insert(n, kind).is_some() {
                    return Err(FaultSpecError::Overlap(n));
                }
            }
        }
        Ok(self)
    }

    fn kind(&self, s: &str) -> Result<FaultKind, FaultSpecError> {
        Ok(match s {
            "500" => FaultKind::Status500,
            "502" => FaultKind::Status502,
            "503" => FaultKind::Status503,
            "429" => FaultKind::TooManyRequests,
            "slow" => FaultKind::Slow(self.slow_delay),
            "cut" => FaultKind::Cut,
            "truncate" => FaultKind::Truncate,
            "gqlerror" => FaultKind::GraphqlError,
            other => match other.strip_prefix("slow:") {
                Some(d) => FaultKind::Slow(duration(d).ok_or_else(|| {
                    bad(SCHEDULE, "slow", other, "expected a duration such as 800ms")
                })?),
                None => return Err(FaultSpecError::UnknownKind(other.to_string())),
            },
        })
    }

    fn probability_sum(&self) -> f64 {
        self.p500
            + self.p502
            + self.p503
            + self.p429_burst
            + self.p_slow
            + self.p_cut
            + self.p_truncate
            + self.p_gql_error
    }

    /// Whether this config can inject anything at all.
    pub fn is_active(&self) -> bool {
        self.probability_sum() > 0.0 || !self.schedule.is_empty()
    }

    /// The roll of request `n` alone (step 3 of the module docs).
    fn roll(&self, n: u64) -> Option<FaultKind> {
        if self.probability_sum() <= 0.0 {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(n);
        let u: f64 = rng.random();
        let mut cumulative = 0.0;
        let table = [
            (self.p500, FaultKind::Status500),
            (self.p502, FaultKind::Status502),
            (self.p503, FaultKind::Status503),
            (self.p429_burst, FaultKind::TooManyRequests),
            (self.p_slow, FaultKind::Slow(self.slow_delay)),
            (self.p_cut, FaultKind::Cut),
            (self.p_truncate, FaultKind::Truncate),
            (self.p_gql_error, FaultKind::GraphqlError),
        ];
        for (p, kind) in table {
            cumulative += p;
            if u < cumulative {
                return Some(kind);
            }
        }
        None
    }

    /// The fault of request number `n` (from 1), or `None`: a pure function
    /// of this config and `n`.
    pub fn fault_for(&self, n: u64) -> Option<FaultKind> {
        if n == 0 {
            return None;
        }
        if let Some(kind) = self.schedule.get(&n) {
            return Some(*kind);
        }
        if self.p429_burst > 0.0 {
            let first = n.saturating_sub(u64::from(self.burst_len.max(1)) - 1).max(1);
            let in_burst = (first..=n).any(|m| {
                !self.schedule.contains_key(&m) && self.roll(m) == Some(FaultKind::TooManyRequests)
            });
            if in_burst {
                return Some(FaultKind::TooManyRequests);
            }
        }
        self.roll(n)
    }

    /// The faults of requests `1..=requests`, for logs and for reproducing a run.
    pub fn plan(&self, requests: u64) -> Vec<(u64, FaultKind)> {
        (1..=requests).filter_map(|n| self.fault_for(n).map(|k| (n, k))).collect()
    }

    /// The schedule in `--fault-schedule` syntax, ranges merged.
    pub fn schedule_spec(&self) -> String {
        let mut items: Vec<(u64, u64, FaultKind)> = Vec::new();
        for (&n, &kind) in &self.schedule {
            match items.last_mut() {
                Some((_, last, k)) if *last + 1 == n && *k == kind => *last = n,
                _ => items.push((n, n, kind)),
            }
        }
        items
            .iter()
            .map(|(a, b, k)| if a == b { format!("{a}={k}") } else { format!("{a}-{b}={k}") })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for FaultConfig {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultConfig::parse(s)
    }
}

impl fmt::Display for FaultConfig {
    /// The `--faults` spec that reproduces this config (the schedule is
    /// [`FaultConfig::schedule_spec`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for (key, p) in [("p500", self.p500), ("p502", self.p502), ("p503", self.p503)] {
            if p > 0.0 {
                write!(f, ",{key}={p}")?;
            }
        }
        if self.p429_burst > 0.0 {
            write!(f, ",p429burst={}:{}", self.p429_burst, self.burst_len)?;
        }
        if self.p_slow > 0.0 {
            write!(f, ",pslow={}:{}", self.p_slow, fmt_duration(self.slow_delay))?;
        }
        for (key, p) in
            [("pcut", self.p_cut), ("ptruncate", self.p_truncate), ("pgqlerror", self.p_gql_error)]
        {
            if p > 0.0 {
                write!(f, ",{key}={p}")?;
            }
        }
        if self.retry_after != DEFAULT_RETRY_AFTER {
            write!(f, ",retryafter={}", fmt_duration(self.retry_after))?;
        }
        Ok(())
    }
}

fn bad(option: &'static str, key: &str, value: &str, reason: &'static str) -> FaultSpecError {
    FaultSpecError::BadValue { option, key: key.to_string(), value: value.to_string(), reason }
}

fn probability(key: &str, value: &str) -> Result<f64, FaultSpecError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| bad(FAULTS, key, value, "expected a probability between 0 and 1"))
}

/// `800ms`, `2s` or a bare number of milliseconds.
fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else if let Some(secs) = s.strip_suffix('s') {
        secs.parse().ok().map(Duration::from_secs)
    } else {
        s.parse().ok().map(Duration::from_millis)
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// The state of the fault middleware: the config, the request counter and
/// the simulated clock (for `Retry-After` dates). Cheap to clone.
#[derive(Clone)]
pub struct FaultState {
    inner: Arc<Inner>,
}

struct Inner {
    config: FaultConfig,
    active: bool,
    requests: AtomicU64,
    clock: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl fmt::Debug for FaultState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultState")
            .field("config", &self.inner.config)
            .field("requests", &self.inner.requests.load(Ordering::Relaxed))
            .finish()
    }
}

impl FaultState {
    /// The config in force.
    pub fn config(&self) -> &FaultConfig {
        &self.inner.config
    }

    /// How many requests the middleware has numbered so far.
    pub fn requests_seen(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

/// Builds the middleware state from `config` and the simulated clock `sim_clock`;
/// apply it with `axum::middleware::from_fn_with_state(layer(..), middleware)`
/// (see the module docs). Logs the seed and spec when any fault is configured.
pub fn layer(
    config: FaultConfig,
    sim_clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
) -> FaultState {
    let active = config.is_active();
    if active {
        tracing::info!(
            seed = config.seed,
            faults = %config,
            schedule = %config.schedule_spec(),
            "fault injection on; reproduce with the same --faults and --fault-schedule and the same request order"
        );
    }
    FaultState {
        inner: Arc::new(Inner {
            config,
            active,
            requests: AtomicU64::new(0),
            clock: Box::new(sim_clock),
        }),
    }
}

/// The middleware: numbers the request and injects its fault, if any.
pub async fn middleware(State(state): State<FaultState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/__sim/") {
        return next.run(req).await;
    }
    let n = state.inner.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if !state.inner.active {
        return next.run(req).await;
    }
    let config = &state.inner.config;
    let Some(kind) = config.fault_for(n) else {
        return next.run(req).await;
    };
    tracing::info!(request = n, fault = %kind, seed = config.seed, "injecting fault");
    let mut response = match kind {
        FaultKind::Status500 => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"errors":[{"message":"Internal server error","extensions":{"category":"internal"}}]}"#,
        ),
        FaultKind::Status502 => html_response(StatusCode::BAD_GATEWAY, "502 Bad Gateway"),
        FaultKind::Status503 => {
            html_response(StatusCode::SERVICE_UNAVAILABLE, "503 Service Temporarily Unavailable")
        }
        FaultKind::TooManyRequests => too_many_requests(retry_after_header(
            config.retry_after_format,
            config.retry_after,
            (state.inner.clock)(),
        )),
        FaultKind::Slow(delay) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        FaultKind::Cut => cut(next.run(req).await).await,
        FaultKind::Truncate => truncate(next.run(req).await).await,
        FaultKind::GraphqlError => json_response(
            StatusCode::OK,
            r#"{"data":null,"errors":[{"message":"Internal server error","extensions":{"category":"internal"}}],"extensions":{"complexity":0,"permissionsUsed":[]}}"#,
        ),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("{kind}; request={n}")) {
        response.headers_mut().insert(HeaderName::from_static(FAULT_HEADER), value);
    }
    response
}

fn json_response(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn html_response(status: StatusCode, title: &str) -> Response {
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    (status, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

/// The handler's whole body; on a body error, the 500 the client would see anyway.
async fn collect(response: Response) -> Result<(axum::http::response::Parts, Bytes), Response> {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(error) => {
            tracing::warn!(%error, "reading the answer to fault-inject it");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// Status, headers with the full `Content-Length`, half the body, then an abort.
async fn cut(response: Response) -> Response {
    let (mut parts, bytes) = match collect(response).await {
        Ok(collected) => collected,
        Err(response) => return response,
    };
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let sent = bytes.slice(..bytes.len() / 2);
    // The pause lets hyper flush the headers and the first half before the
    // error aborts the connection (it does not flush after a body error).
    let stream = futures::stream::iter([Ok::<Bytes, std::io::Error>(sent)]).chain(
        futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "centra-sim fault: connection cut",
            ))
        }),
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A complete response whose body is the first half of the handler's.
async fn truncate(response: Response) -> Response {
    let (mut parts, bytes) = match collect(response).await {
        Ok(collected) => collected,
        Err(response) => return response,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use FaultKind::*;

    fn config(spec: &str) -> FaultConfig {
        FaultConfig::parse(spec).unwrap()
    }

    #[test]
    fn default_injects_nothing() {
        let c = FaultConfig::default();
        assert!(!c.is_active());
        assert!(c.plan(10_000).is_empty());
        assert!(!config("").is_active());
    }

    #[test]
    fn parses_the_documented_example() {
        let c = config(
            "seed=7,p500=0.02,p503=0.02,p429burst=0.01:3,pslow=0.01:800ms,pcut=0.01,ptruncate=0.01,pgqlerror=0.01",
        );
        assert_eq!(c.seed, 7);
        assert_eq!((c.p500, c.p502, c.p503), (0.02, 0.0, 0.02));
        assert_eq!((c.p429_burst, c.burst_len), (0.01, 3));
        assert_eq!((c.p_slow, c.slow_delay), (0.01, Duration::from_millis(800)));
        assert_eq!((c.p_cut, c.p_truncate, c.p_gql_error), (0.01, 0.01, 0.01));
        assert_eq!(c.retry_after, Duration::from_secs(1));
        // Display gives a spec that parses back to the same config.
        assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);
        assert_eq!(
            c.to_string(),
            "seed=7,p500=0.02,p503=0.02,p429burst=0.01:3,pslow=0.01:800ms,pcut=0.01,ptruncate=0.01,pgqlerror=0.01"
        );
        let c = config(" seed = 1 , pslow=0.5:2s, retryafter=3s ");
        assert_eq!(
            (c.seed, c.slow_delay, c.retry_after),
            (1, Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!(c.to_string(), "seed=1,pslow=0.5:2s,retryafter=3s");
    }

    #[test]
    fn rejects_bad_specs_with_a_message_naming_the_place() {
        let err = |spec: &str| FaultConfig::parse(spec).unwrap_err().to_string();
        assert_eq!(
            err("p404=0.1"),
            r#"--faults: unknown key "p404" (expected one of seed, p500, p502, p503, p429burst, pslow, pcut, ptruncate, pgqlerror, retryafter)"#
        );
        assert_eq!(
            err("p500=1.5"),
            r#"--faults: bad value "1.5" for p500: expected a probability between 0 and 1"#
        );
        assert_eq!(err("p500"), r#"--faults: item "p500" is not key=value"#);
        assert_eq!(err("p500=0.1,p500=0.2"), r#"--faults: key "p500" given twice"#);
        assert_eq!(
            err("p500=0.6,p503=0.6"),
            "--faults: the probabilities add up to 1.2, more than 1"
        );
        assert_eq!(
            err("seed=-1"),
            r#"--faults: bad value "-1" for seed: expected an unsigned integer"#
        );
        assert!(err("p429burst=0.1:0").contains("burst length"));
        assert!(err("pslow=0.1:soon").contains("duration"));
        assert!(err("pcut=0.1:3").contains("probability"));
        let sched =
            |spec: &str| FaultConfig::default().with_schedule(spec).unwrap_err().to_string();
        assert_eq!(
            sched("5=404"),
            r#"--fault-schedule: unknown fault "404" (expected one of 500, 502, 503, 429, slow, slow:<duration>, cut, truncate, gqlerror)"#
        );
        assert_eq!(sched("5=503,3-6=429"), "--fault-schedule: request 5 is scheduled twice");
        assert!(sched("0=503").contains("request number >= 1"));
        assert!(sched("9-3=503").contains("ends before it starts"));
        assert!(sched("x=503").contains("request number"));
        assert!(sched("503").contains("is not key=value"));
    }

    #[test]
    fn schedule_names_requests_and_ranges() {
        let c = config("seed=1,pslow=0:250ms")
            .with_schedule(
                "5=503,10-14=429,2=slow,3=slow:50ms,20=cut,21=truncate,22=gqlerror,23=500,24=502",
            )
            .unwrap();
        assert_eq!(
            c.plan(30),
            [
                (2, Slow(Duration::from_millis(250))),
                (3, Slow(Duration::from_millis(50))),
                (5, Status503),
                (10, TooManyRequests),
                (11, TooManyRequests),
                (12, TooManyRequests),
                (13, TooManyRequests),
                (14, TooManyRequests),
                (20, Cut),
                (21, Truncate),
                (22, GraphqlError),
                (23, Status500),
                (24, Status502),
            ]
        );
        assert_eq!(
            c.schedule_spec(),
            "2=slow:250ms,3=slow:50ms,5=503,10-14=429,20=cut,21=truncate,22=gqlerror,23=500,24=502"
        );
        assert!(c.is_active());
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let spec = "p500=0.05,p502=0.05,p503=0.05,p429burst=0.02:4,pslow=0.05:10ms,pcut=0.05,ptruncate=0.05,pgqlerror=0.05";
        let a = config(&format!("seed=42,{spec}"));
        let b = config(&format!("seed=42,{spec}"));
        let c = config(&format!("seed=43,{spec}"));
        assert_eq!(a.plan(5_000), b.plan(5_000));
        assert_ne!(a.plan(5_000), c.plan(5_000));
        // The decision for a request does not depend on which requests were asked before.
        for n in [1, 17, 4_999] {
            assert_eq!(a.fault_for(n), b.plan(n).last().filter(|(m, _)| *m == n).map(|(_, k)| *k));
        }
    }

    #[test]
    fn rolls_follow_the_probabilities() {
        let c = config("seed=9,p500=0.1,p503=0.2,pcut=0.05,pgqlerror=0.15");
        let plan = c.plan(20_000);
        let count = |k: FaultKind| plan.iter().filter(|(_, f)| *f == k).count() as f64 / 20_000.0;
        assert!((count(Status500) - 0.1).abs() < 0.01, "{}", count(Status500));
        assert!((count(Status503) - 0.2).abs() < 0.01, "{}", count(Status503));
        assert!((count(Cut) - 0.05).abs() < 0.01, "{}", count(Cut));
        assert!((count(GraphqlError) - 0.15).abs() < 0.01, "{}", count(GraphqlError));
        assert_eq!(count(Status502), 0.0);
        // Everything at probability 1 is that one fault.
        assert!(config("seed=3,ptruncate=1").plan(100).iter().all(|(_, k)| *k == Truncate));
        assert_eq!(config("seed=3,ptruncate=1").plan(100).len(), 100);
    }

    #[test]
    fn a_429_burst_covers_the_following_requests() {
        let c = config("seed=5,p429burst=0.01:4");
        let plan = c.plan(50_000);
        assert!(plan.iter().all(|(_, k)| *k == TooManyRequests));
        // Every start (a request whose own roll is 429) is followed by 3 more 429s.
        let starts: Vec<u64> =
            (1..=50_000).filter(|n| c.roll(*n) == Some(TooManyRequests)).collect();
        assert!(starts.len() > 300, "{}", starts.len());
        for s in &starts {
            for m in *s..*s + 4 {
                assert_eq!(c.fault_for(m), Some(TooManyRequests), "start {s}, request {m}");
            }
        }
        // And nothing else is a 429: each one lies within 4 requests after a start.
        for (n, _) in &plan {
            assert!(starts.iter().any(|s| s <= n && *n < s + 4), "{n}");
        }
    }

    #[test]
    fn schedule_wins_over_rolls() {
        let c = config("seed=3,p500=1").with_schedule("2=gqlerror").unwrap();
        assert_eq!(c.fault_for(1), Some(Status500));
        assert_eq!(c.fault_for(2), Some(GraphqlError));
        assert_eq!(c.fault_for(0), None);
    }

    #[test]
    fn without_a_seed_the_seed_is_random_and_printed() {
        let a = config("p500=0.1");
        let b = config("p500=0.1");
        assert_ne!(a.seed, b.seed);
        assert!(a.to_string().starts_with(&format!("seed={},", a.seed)));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration("800ms"), Some(Duration::from_millis(800)));
        assert_eq!(duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(duration("15"), Some(Duration::from_millis(15)));
        assert_eq!(duration("2m"), None);
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
    }
}
