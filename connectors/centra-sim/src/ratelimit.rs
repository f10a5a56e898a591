//! Centra's rate limits: six token buckets shared by every integration of an environment.
//!
//! # The model (a client can mirror it exactly to pace itself)
//!
//! There are three kinds of budget, each over two windows, so six buckets:
//!
//! | kind               | one request costs                      |
//! |--------------------|----------------------------------------|
//! | `REQUEST_COUNT`    | 1                                      |
//! | `QUERY_COMPLEXITY` | the request's complexity               |
//! | `MUTATION_COUNT`   | 1 if the operation is a mutation, else 0 |
//!
//! and the windows `TEN_SECONDS` (10 s) and `ONE_HOUR` (3600 s). The quotas per
//! [`Tier`] are Centra's published ones (see [`Tier::quota`]).
//!
//! Each bucket holds at most `quota` tokens, starts full, and refills
//! continuously at `quota / window` tokens per second (so an empty 10 s
//! bucket of 60 requests gains one token every 1/6 s and is full again after
//! 10 s). The level is kept exactly (integer arithmetic in nanoseconds), not
//! in steps.
//!
//! A request whose complexity exceeds the whole `QUERY_COMPLEXITY`
//! `TEN_SECONDS` quota is **never admitted** (Centra denies a request unless
//! "the bucket contains enough tokens"; that such a request can never pass
//! is inferred): it gets HTTP 429 with a `Retry-After` (the time until that
//! bucket is full, at least one second) and the body of [`Oversized::body`].
//!
//! Any other request with costs `c` is **admitted only if every bucket whose
//! cost is not zero holds at least `c` tokens**. Admission charges all six
//! buckets their costs at once (levels never drop below zero). A refused
//! request charges **nothing** and gets HTTP 429 with `Retry-After` set to the
//! exact time until every one of its buckets has room (the longest of the
//! per-bucket waits `(min(c, quota) − level) · window / quota`), never zero;
//! with [`RetryAfterFormat::Seconds`] that time is rounded **up** to whole
//! seconds. Waiting that long and retrying the same request succeeds unless
//! someone else spent the budget meanwhile (limits are per environment and
//! shared by all integrations: [`RateLimiter::consume_external`] plays "the
//! other integration"; it drains buckets down to zero, never below).
//!
//! The `rateLimits` query ([`RateLimiter::snapshot`]) reports per bucket
//! `remainingQuota = floor(level)` clamped to `0..=quota` and
//! `usedQuota = quota − remainingQuota`.
//!
//! [`Tier::Unlimited`] (test-only) never refuses; its buckets have a quota of
//! 2,147,483,647 (the largest GraphQL `Int`) and still count what is used.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// The six buckets in the order of the `rateLimits` rows: (kind, interval, window).
const BUCKETS: [(&str, &str, Duration); 6] = [
    ("REQUEST_COUNT", "TEN_SECONDS", Duration::from_secs(10)),
    ("REQUEST_COUNT", "ONE_HOUR", Duration::from_secs(3600)),
    ("QUERY_COMPLEXITY", "TEN_SECONDS", Duration::from_secs(10)),
    ("QUERY_COMPLEXITY", "ONE_HOUR", Duration::from_secs(3600)),
    ("MUTATION_COUNT", "TEN_SECONDS", Duration::from_secs(10)),
    ("MUTATION_COUNT", "ONE_HOUR", Duration::from_secs(3600)),
];

/// The position of the `QUERY_COMPLEXITY` `TEN_SECONDS` bucket in [`BUCKETS`].
const COMPLEXITY_TEN_SECONDS: usize = 2;

/// The quota of every bucket of [`Tier::Unlimited`]: the largest GraphQL `Int`.
const UNLIMITED_QUOTA: u64 = i32::MAX as u64;

/// A Centra rate-limit tier (the plan of the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// Centra's default plan.
    #[default]
    Growth,
    /// The Enhanced plan.
    Enhanced,
    /// The High volume plan.
    HighVolume,
    /// The Enterprise plan.
    Enterprise,
    /// Test-only: never limits.
    Unlimited,
}

impl Tier {
    /// Every tier, in the order of the CLI help.
    pub const ALL: [Tier; 5] =
        [Tier::Growth, Tier::Enhanced, Tier::HighVolume, Tier::Enterprise, Tier::Unlimited];

    /// The CLI spelling: `growth`, `enhanced`, `high-volume`, `enterprise`, `unlimited`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Growth => "growth",
            Tier::Enhanced => "enhanced",
            Tier::HighVolume => "high-volume",
            Tier::Enterprise => "enterprise",
            Tier::Unlimited => "unlimited",
        }
    }

    /// The quotas of the six buckets, in the order of the `rateLimits` rows
    /// (requests 10 s, 1 h; complexity 10 s, 1 h; mutations 10 s, 1 h).
    pub fn quotas(self) -> [u64; 6] {
        match self {
            Tier::Growth => [60, 5_000, 250_000, 30_000_000, 20, 1_800],
            Tier::Enhanced => [150, 20_000, 900_000, 90_000_000, 50, 4_500],
            Tier::HighVolume => [450, 40_000, 1_800_000, 180_000_000, 150, 7_000],
            Tier::Enterprise => [1_500, 85_000, 4_000_000, 400_000_000, 500, 25_000],
            Tier::Unlimited => [UNLIMITED_QUOTA; 6],
        }
    }

    /// The quota of one bucket, by its `rateLimits` names (`REQUEST_COUNT`,
    /// `TEN_SECONDS`, …); `None` for names that are not a bucket.
    pub fn quota(self, kind: &str, interval: &str) -> Option<u64> {
        BUCKETS
            .iter()
            .position(|(k, i, _)| *k == kind && *i == interval)
            .map(|at| self.quotas()[at])
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| ParseNameError {
            what: "rate-limit tier",
            value: s.to_string(),
            expected: "growth, enhanced, high-volume, enterprise, unlimited",
        })
    }
}

/// How the `Retry-After` header of a 429 is written. Centra says it "contains
/// the timestamp of when you can resume" without showing the format, so the
/// simulator can send each of the three a client must parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetryAfterFormat {
    /// Whole seconds to wait, rounded up, at least 1 (`Retry-After: 7`).
    #[default]
    Seconds,
    /// An HTTP date in simulated time (`Retry-After: Sun, 06 Nov 1994 08:49:37 GMT`).
    HttpDate,
    /// Unix epoch seconds in simulated time (`Retry-After: 784111777`).
    Epoch,
}

impl RetryAfterFormat {
    /// The CLI spelling: `seconds`, `http-date`, `epoch`.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryAfterFormat::Seconds => "seconds",
            RetryAfterFormat::HttpDate => "http-date",
            RetryAfterFormat::Epoch => "epoch",
        }
    }
}

impl fmt::Display for RetryAfterFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetryAfterFormat {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate, RetryAfterFormat::Epoch]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseNameError {
                what: "retry-after format",
                value: s.to_string(),
                expected: "seconds, http-date, epoch",
            })
    }
}

/// A name on the command line that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of {expected})")]
pub struct ParseNameError {
    what: &'static str,
    value: String,
    expected: &'static str,
}

impl ParseNameError {
    pub(crate) fn new(what: &'static str, value: &str, expected: &'static str) -> Self {
        Self { what, value: value.to_string(), expected }
    }
}

/// One bucket. The level is kept scaled by the window length in nanoseconds,
/// so refilling (`quota` scaled units per elapsed nanosecond) is exact.
#[derive(Debug, Clone)]
struct Bucket {
    quota: u64,
    window_ns: i128,
    /// Tokens × `window_ns`; may be negative (debt) after an oversized request.
    level: i128,
    /// When `level` was last brought up to date; `None` until first used (full).
    last: Option<Instant>,
}

impl Bucket {
    fn new(quota: u64, window: Duration) -> Self {
        let window_ns = window.as_nanos() as i128;
        Self { quota, window_ns, level: quota as i128 * window_ns, last: None }
    }

    fn full(&self) -> i128 {
        self.quota as i128 * self.window_ns
    }

    /// Brings the level up to `now`. Calls may arrive slightly out of order
    /// from concurrent requests; time never runs backwards for a bucket.
    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            // Past one window the bucket is full anyway; the cap keeps the product small.
            let elapsed =
                (now.saturating_duration_since(last).as_nanos() as i128).min(self.window_ns);
            self.level = (self.level + elapsed * self.quota as i128).min(self.full());
            if now > last {
                self.last = Some(now);
            }
        } else {
            self.last = Some(now);
        }
    }

    /// Scaled tokens that must be present to admit a cost of `cost`.
    fn needed(&self, cost: u64) -> i128 {
        cost.min(self.quota) as i128 * self.window_ns
    }

    /// Exact time until the bucket has room for `cost` (zero if it has now).
    fn wait_for(&self, cost: u64) -> Duration {
        let deficit = self.needed(cost) - self.level;
        if deficit <= 0 || self.quota == 0 {
            return Duration::ZERO;
        }
        let quota = self.quota as i128;
        let nanos = (deficit + quota - 1) / quota;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn charge(&mut self, cost: u64, allow_debt: bool) {
        let after = self.level - cost as i128 * self.window_ns;
        self.level = if allow_debt { after } else { after.max(self.level.min(0)) };
    }

    fn remaining(&self) -> u64 {
        (self.level / self.window_ns).clamp(0, self.quota as i128) as u64
    }
}

/// The token buckets of one simulated environment. There is one limiter per
/// environment, shared by all integrations and tokens, as in Centra.
#[derive(Debug)]
pub struct RateLimiter {
    tier: Tier,
    buckets: Mutex<[Bucket; 6]>,
}

/// A refused request: answer HTTP 429 with a `Retry-After` of `retry_after`
/// (see [`retry_after_header`] and [`too_many_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The exact time until every bucket of the request has room; never zero.
    /// For an oversized request: the time until the complexity bucket is
    /// full again (at least one second), though retrying cannot help.
    pub retry_after: Duration,
    /// Set when the request costs more than the whole 10-second complexity
    /// quota: it is never admitted.
    pub oversized: Option<Oversized>,
}

/// A request whose complexity exceeds the 10-second complexity quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// The request's complexity.
    pub complexity: u64,
    /// The `QUERY_COMPLEXITY` `TEN_SECONDS` quota.
    pub quota: u64,
}

impl Oversized {
    /// The GraphQL error message of the 429 answer.
    pub fn message(&self) -> String {
        format!(
            "query complexity {} exceeds the QUERY_COMPLEXITY quota {} per TEN_SECONDS",
            self.complexity, self.quota
        )
    }

    /// The 429 body: `{"errors":[{"message":…,"extensions":{"category":"rate-limit"}}]}`.
    pub fn body(&self) -> String {
        // The message holds only digits and ASCII letters: no JSON escaping needed.
        format!(
            r#"{{"errors":[{{"message":"{}","extensions":{{"category":"rate-limit"}}}}]}}"#,
            self.message()
        )
    }
}

/// One row of the `rateLimits` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRow {
    /// `REQUEST_COUNT`, `QUERY_COMPLEXITY` or `MUTATION_COUNT`.
    pub kind: &'static str,
    /// `TEN_SECONDS` or `ONE_HOUR`.
    pub interval: &'static str,
    /// The bucket's capacity.
    pub quota: u64,
    /// `quota - remaining`.
    pub used: u64,
    /// Whole tokens in the bucket now.
    pub remaining: u64,
}

impl RateLimiter {
    /// Full buckets for `tier`.
    pub fn new(tier: Tier) -> Self {
        let quotas = tier.quotas();
        let buckets = std::array::from_fn(|at| Bucket::new(quotas[at], BUCKETS[at].2));
        Self { tier, buckets: Mutex::new(buckets) }
    }

    /// The tier this limiter enforces.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    fn costs(requests: u64, complexity: u64, mutations: u64) -> [u64; 6] {
        [requests, requests, complexity, complexity, mutations, mutations]
    }

    /// Admits and charges one request of `complexity` (plus one mutation if
    /// `is_mutation`), or refuses it without charging anything.
    pub fn check(
        &self,
        now: Instant,
        complexity: u64,
        is_mutation: bool,
    ) -> Result<(), RateLimited> {
        let costs = Self::costs(1, complexity, u64::from(is_mutation));
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let quota = buckets[COMPLEXITY_TEN_SECONDS].quota;
        if complexity > quota && self.tier != Tier::Unlimited {
            let bucket = &mut buckets[COMPLEXITY_TEN_SECONDS];
            bucket.refill(now);
            let wait = bucket.wait_for(quota).max(Duration::from_secs(1));
            return Err(RateLimited {
                retry_after: wait,
                oversized: Some(Oversized { complexity, quota }),
            });
        }
        let mut wait = Duration::ZERO;
        for (bucket, &cost) in buckets.iter_mut().zip(&costs) {
            bucket.refill(now);
            if cost > 0 {
                wait = wait.max(bucket.wait_for(cost));
            }
        }
        if wait > Duration::ZERO && self.tier != Tier::Unlimited {
            return Err(RateLimited { retry_after: wait, oversized: None });
        }
        let allow_debt = self.tier != Tier::Unlimited;
        for (bucket, &cost) in buckets.iter_mut().zip(&costs) {
            bucket.charge(cost, allow_debt);
        }
        Ok(())
    }

    /// The six rows of the `rateLimits` query at `now`, in the order
    /// requests (10 s, 1 h), complexity (10 s, 1 h), mutations (10 s, 1 h).
    pub fn snapshot(&self, now: Instant) -> Vec<RateLimitRow> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets
            .iter_mut()
            .zip(BUCKETS)
            .map(|(bucket, (kind, interval, _))| {
                bucket.refill(now);
                let remaining = bucket.remaining();
                RateLimitRow {
                    kind,
                    interval,
                    quota: bucket.quota,
                    used: bucket.quota - remaining,
                    remaining,
                }
            })
            .collect()
    }

    /// Spends budget as another integration of the same environment would:
    /// `requests` requests, `complexity` points and `mutations` mutations,
    /// each bucket drained at most down to zero.
    pub fn consume_external(&self, now: Instant, requests: u64, complexity: u64, mutations: u64) {
        let costs = Self::costs(requests, complexity, mutations);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        for (bucket, &cost) in buckets.iter_mut().zip(&costs) {
            bucket.refill(now);
            bucket.charge(cost, false);
        }
    }
}

/// The `Retry-After` value for a wait of `wait` in `format`. The HTTP date and
/// epoch forms name the instant `sim_now + wait` in simulated time, rounded up
/// to the next whole second; the seconds form is `wait` rounded up, at least 1.
pub fn retry_after_header(
    format: RetryAfterFormat,
    wait: Duration,
    sim_now: DateTime<Utc>,
) -> HeaderValue {
    match format {
        RetryAfterFormat::Seconds => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            HeaderValue::from(secs.max(1))
        }
        RetryAfterFormat::HttpDate => {
            let at = std::time::SystemTime::from(resume_at(wait, sim_now));
            // An HTTP date is visible ASCII, always a valid header value.
            HeaderValue::from_str(&httpdate::fmt_http_date(at))
                .unwrap_or(HeaderValue::from_static("1"))
        }
        RetryAfterFormat::Epoch => HeaderValue::from(resume_at(wait, sim_now).timestamp()),
    }
}

/// `sim_now + wait`, rounded up to a whole second (never earlier than the
/// buckets allow; an HTTP date cannot say fractions).
fn resume_at(wait: Duration, sim_now: DateTime<Utc>) -> DateTime<Utc> {
    let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    let at = sim_now.checked_add_signed(wait).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let frac = at.timestamp_subsec_nanos();
    if frac == 0 { at } else { DateTime::from_timestamp(at.timestamp() + 1, 0).unwrap_or(at) }
}

/// The body of a 429 answer, GraphQL-shaped so a client can log the message.
pub const TOO_MANY_REQUESTS_BODY: &str = r#"{"errors":[{"message":"Too many requests: API rate limit exceeded.","extensions":{"category":"rateLimit"}}]}"#;

/// The whole 429 answer: status, `Retry-After: retry_after` and
/// [`TOO_MANY_REQUESTS_BODY`]. The fault injector sends the same answer.
pub fn too_many_requests(retry_after: HeaderValue) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, retry_after),
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        ],
        TOO_MANY_REQUESTS_BODY,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn row<'a>(rows: &'a [RateLimitRow], kind: &str, interval: &str) -> &'a RateLimitRow {
        rows.iter().find(|r| r.kind == kind && r.interval == interval).unwrap()
    }

    #[test]
    fn tiers_parse_and_print() {
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>().unwrap(), tier);
        }
        assert_eq!(Tier::default(), Tier::Growth);
        assert_eq!(
            "gold".parse::<Tier>().unwrap_err().to_string(),
            r#"unknown rate-limit tier "gold" (expected one of growth, enhanced, high-volume, enterprise, unlimited)"#
        );
        for f in [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate, RetryAfterFormat::Epoch] {
            assert_eq!(f.as_str().parse::<RetryAfterFormat>().unwrap(), f);
        }
        assert_eq!(RetryAfterFormat::default(), RetryAfterFormat::Seconds);
        assert!("date".parse::<RetryAfterFormat>().is_err());
    }

    #[test]
    fn quotas_are_centras_published_numbers() {
        assert_eq!(Tier::Growth.quota("REQUEST_COUNT", "TEN_SECONDS"), Some(60));
        assert_eq!(Tier::Growth.quota("REQUEST_COUNT", "ONE_HOUR"), Some(5_000));
        assert_eq!(Tier::Growth.quota("MUTATION_COUNT", "TEN_SECONDS"), Some(20));
        assert_eq!(Tier::Growth.quota("MUTATION_COUNT", "ONE_HOUR"), Some(1_800));
        assert_eq!(Tier::Growth.quota("QUERY_COMPLEXITY", "TEN_SECONDS"), Some(250_000));
        assert_eq!(Tier::Growth.quota("QUERY_COMPLEXITY", "ONE_HOUR"), Some(30_000_000));
        assert_eq!(Tier::Enhanced.quota("REQUEST_COUNT", "TEN_SECONDS"), Some(150));
        assert_eq!(Tier::Enhanced.quota("QUERY_COMPLEXITY", "TEN_SECONDS"), Some(900_000));
        assert_eq!(Tier::HighVolume.quota("MUTATION_COUNT", "ONE_HOUR"), Some(7_000));
        assert_eq!(Tier::HighVolume.quota("QUERY_COMPLEXITY", "ONE_HOUR"), Some(180_000_000));
        assert_eq!(Tier::Enterprise.quota("REQUEST_COUNT", "ONE_HOUR"), Some(85_000));
        assert_eq!(Tier::Enterprise.quota("QUERY_COMPLEXITY", "TEN_SECONDS"), Some(4_000_000));
        assert_eq!(Tier::Growth.quota("REQUEST_COUNT", "ONE_DAY"), None);
    }

    #[test]
    fn fresh_limiter_reports_six_full_buckets() {
        let limiter = RateLimiter::new(Tier::Growth);
        let rows = limiter.snapshot(Instant::now());
        let names: Vec<_> = rows.iter().map(|r| (r.kind, r.interval)).collect();
        assert_eq!(
            names,
            [
                ("REQUEST_COUNT", "TEN_SECONDS"),
                ("REQUEST_COUNT", "ONE_HOUR"),
                ("QUERY_COMPLEXITY", "TEN_SECONDS"),
                ("QUERY_COMPLEXITY", "ONE_HOUR"),
                ("MUTATION_COUNT", "TEN_SECONDS"),
                ("MUTATION_COUNT", "ONE_HOUR"),
            ]
        );
        for (r, q) in rows.iter().zip(Tier::Growth.quotas()) {
            assert_eq!((r.quota, r.used, r.remaining), (q, 0, q));
        }
    }

    #[test]
    fn admission_charges_every_bucket() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        limiter.check(t0, 120, false).unwrap();
        limiter.check(t0, 30, true).unwrap();
        let rows = limiter.snapshot(t0);
        assert_eq!(row(&rows, "REQUEST_COUNT", "TEN_SECONDS").used, 2);
        assert_eq!(row(&rows, "REQUEST_COUNT", "ONE_HOUR").used, 2);
        assert_eq!(row(&rows, "QUERY_COMPLEXITY", "TEN_SECONDS").used, 150);
        assert_eq!(row(&rows, "QUERY_COMPLEXITY", "ONE_HOUR").remaining, 30_000_000 - 150);
        assert_eq!(row(&rows, "MUTATION_COUNT", "TEN_SECONDS").used, 1);
        assert_eq!(row(&rows, "MUTATION_COUNT", "ONE_HOUR").used, 1);
        for r in &rows {
            assert_eq!(r.used + r.remaining, r.quota);
        }
    }

    #[test]
    fn request_bucket_refuses_the_61st_request_and_names_the_exact_wait() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        for _ in 0..60 {
            limiter.check(t0, 1, false).unwrap();
        }
        // Empty 10 s bucket of 60: one token comes back every 1/6 s.
        let refused = limiter.check(t0, 1, false).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_nanos(166_666_667));
        // Nothing was charged by the refusal.
        assert_eq!(row(&limiter.snapshot(t0), "REQUEST_COUNT", "ONE_HOUR").used, 60);
        // One nanosecond early is still too early; on time is admitted.
        assert!(
            limiter.check(t0 + refused.retry_after - Duration::from_nanos(1), 1, false).is_err()
        );
        limiter.check(t0 + refused.retry_after, 1, false).unwrap();
    }

    #[test]
    fn refill_is_continuous_and_capped_at_the_quota() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        limiter.consume_external(t0, 60, 0, 0);
        assert_eq!(row(&limiter.snapshot(t0), "REQUEST_COUNT", "TEN_SECONDS").remaining, 0);
        // 2.5 s of a 60-per-10-s bucket is 15 tokens.
        assert_eq!(
            row(&limiter.snapshot(t0 + secs(2.5)), "REQUEST_COUNT", "TEN_SECONDS").remaining,
            15
        );
        // The hour bucket refills at 5000/3600 per second: 3 tokens in 2.5 s (3.47 floored).
        assert_eq!(
            row(&limiter.snapshot(t0 + secs(2.5)), "REQUEST_COUNT", "ONE_HOUR").remaining,
            5_000 - 60 + 3
        );
        // Never above the quota, however long it idles.
        assert_eq!(
            row(&limiter.snapshot(t0 + secs(100_000.0)), "REQUEST_COUNT", "TEN_SECONDS").remaining,
            60
        );
    }

    #[test]
    fn complexity_bucket_limits_on_its_own() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        limiter.check(t0, 200_000, false).unwrap();
        // 50,000 left; 100,000 needs 50,000 more at 25,000 per second: 2 s.
        let refused = limiter.check(t0, 100_000, false).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        limiter.check(t0, 50_000, false).unwrap();
    }

    #[test]
    fn wait_is_the_longest_of_the_buckets_that_lack_room() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        // Requests: 1 short of empty; mutations: empty.
        limiter.consume_external(t0, 59, 0, 20);
        // A query does not touch the mutation buckets.
        limiter.check(t0, 1, false).unwrap();
        // Now requests are empty too: a mutation waits for the slower bucket,
        // mutations (20 per 10 s: 0.5 s) rather than requests (1/6 s).
        let refused = limiter.check(t0, 1, true).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
    }

    #[test]
    fn hour_bucket_wait_spans_minutes() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        limiter.consume_external(t0, 5_000, 0, 0);
        // The 10 s bucket is empty too; the hour bucket is slower: 3600/5000 s per request.
        let refused = limiter.check(t0, 1, false).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(720));
        // After 10 s the 10 s bucket is full but the hour bucket has only 13 tokens (13.9).
        let t1 = t0 + secs(10.0);
        for _ in 0..13 {
            limiter.check(t1, 1, false).unwrap();
        }
        let refused = limiter.check(t1, 1, false).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(80));
    }

    #[test]
    fn an_oversized_request_is_never_admitted_and_charges_nothing() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        // 250,001 exceeds the 250,000 bucket: refused even when the bucket is full.
        let refused = limiter.check(t0, 250_001, false).unwrap_err();
        assert_eq!(refused.oversized, Some(Oversized { complexity: 250_001, quota: 250_000 }));
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(
            refused.oversized.unwrap().body(),
            r#"{"errors":[{"message":"query complexity 250001 exceeds the QUERY_COMPLEXITY quota 250000 per TEN_SECONDS","extensions":{"category":"rate-limit"}}]}"#
        );
        let rows = limiter.snapshot(t0);
        assert_eq!(row(&rows, "QUERY_COMPLEXITY", "TEN_SECONDS").remaining, 250_000);
        assert_eq!(row(&rows, "REQUEST_COUNT", "TEN_SECONDS").remaining, 60);
        assert!(limiter.check(t0 + secs(60.0), 250_001, false).is_err());
        // Exactly the quota passes on a full bucket, and leaves it empty, not in debt.
        limiter.check(t0, 250_000, false).unwrap();
        assert_eq!(row(&limiter.snapshot(t0), "QUERY_COMPLEXITY", "TEN_SECONDS").remaining, 0);
        let refused = limiter.check(t0, 1, false).unwrap_err();
        assert_eq!(refused.oversized, None);
        assert_eq!(refused.retry_after, Duration::from_micros(40));
        // Unlimited admits anything.
        RateLimiter::new(Tier::Unlimited).check(t0, 5_000_000_000, false).unwrap();
    }

    #[test]
    fn external_consumption_drains_to_zero_not_below() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        limiter.consume_external(t0, 1_000, 10_000_000, 1_000);
        let rows = limiter.snapshot(t0);
        assert_eq!(row(&rows, "REQUEST_COUNT", "TEN_SECONDS").remaining, 0);
        assert_eq!(row(&rows, "REQUEST_COUNT", "ONE_HOUR").remaining, 4_000);
        assert_eq!(row(&rows, "QUERY_COMPLEXITY", "ONE_HOUR").remaining, 20_000_000);
        assert_eq!(row(&rows, "MUTATION_COUNT", "ONE_HOUR").remaining, 800);
        let refused = limiter.check(t0, 1, false).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_nanos(166_666_667));
    }

    #[test]
    fn every_tier_refuses_one_request_past_its_ten_second_quota() {
        for tier in [Tier::Growth, Tier::Enhanced, Tier::HighVolume, Tier::Enterprise] {
            let limiter = RateLimiter::new(tier);
            let t0 = Instant::now();
            let quota = tier.quotas()[0];
            for _ in 0..quota {
                limiter.check(t0, 1, false).unwrap();
            }
            let refused = limiter.check(t0, 1, false).unwrap_err();
            let expected = Duration::from_nanos(10_000_000_000u64.div_ceil(quota));
            assert_eq!(refused.retry_after, expected, "{tier}");
        }
    }

    #[test]
    fn unlimited_never_refuses_but_counts() {
        let limiter = RateLimiter::new(Tier::Unlimited);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            limiter.check(t0, 1_000_000, true).unwrap();
        }
        limiter.check(t0, u64::MAX, true).unwrap();
        let rows = limiter.snapshot(t0);
        assert_eq!(row(&rows, "REQUEST_COUNT", "TEN_SECONDS").used, 10_001);
        assert_eq!(row(&rows, "QUERY_COMPLEXITY", "TEN_SECONDS").remaining, 0);
        assert!(rows.iter().all(|r| r.quota == i32::MAX as u64));
    }

    #[test]
    fn out_of_order_instants_do_not_run_time_backwards() {
        let limiter = RateLimiter::new(Tier::Growth);
        let t0 = Instant::now();
        let t1 = t0 + secs(1.0);
        limiter.consume_external(t1, 60, 0, 0);
        // A request stamped before the last update sees no refill and no panic.
        assert!(limiter.check(t0, 1, false).is_err());
        assert_eq!(
            row(&limiter.snapshot(t1 + secs(1.0)), "REQUEST_COUNT", "TEN_SECONDS").remaining,
            6
        );
    }

    #[test]
    fn retry_after_seconds_rounds_up_and_is_never_zero() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let check = |wait: Duration, expected: &str| {
            assert_eq!(
                retry_after_header(RetryAfterFormat::Seconds, wait, now),
                expected,
                "{wait:?}"
            );
        };
        check(Duration::from_nanos(1), "1");
        check(Duration::ZERO, "1");
        check(Duration::from_secs(2), "2");
        check(Duration::from_nanos(2_000_000_001), "3");
        check(Duration::from_millis(720), "1");
        check(Duration::from_secs(3_600), "3600");
    }

    #[test]
    fn retry_after_dates_are_in_simulated_time_rounded_up() {
        // 2023-11-14T22:13:20.250Z, a simulated clock far from the wall clock.
        let now = DateTime::from_timestamp(1_700_000_000, 250_000_000).unwrap();
        let wait = Duration::from_millis(1_500);
        // 22:13:21.750 rounds up to 22:13:22.
        assert_eq!(retry_after_header(RetryAfterFormat::Epoch, wait, now), "1700000002");
        assert_eq!(
            retry_after_header(RetryAfterFormat::HttpDate, wait, now),
            "Tue, 14 Nov 2023 22:13:22 GMT"
        );
        // A whole-second instant stays as is.
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            retry_after_header(RetryAfterFormat::Epoch, Duration::from_secs(7), now),
            "1700000007"
        );
        let parsed = httpdate::parse_http_date(
            retry_after_header(RetryAfterFormat::HttpDate, Duration::from_secs(7), now)
                .to_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(DateTime::<Utc>::from(parsed).timestamp(), 1_700_000_007);
    }

    #[test]
    fn too_many_requests_answer_has_status_header_and_json_body() {
        let response = too_many_requests(HeaderValue::from_static("3"));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        let body: serde_json::Value = serde_json::from_str(TOO_MANY_REQUESTS_BODY).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["category"], "rateLimit");
    }
}
