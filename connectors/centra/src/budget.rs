//! Centra's rate limits as the shared toolkit's budget
//! ([`cartage_http_source::budget`]), so that a sync waits before a request
//! instead of being refused with HTTP 429.
//!
//! Centra keeps, per environment and shared by every integration, token
//! buckets for request count and query complexity over 10 s and 1 h windows:
//! a bucket holds up to its quota and refills continuously at quota/window.
//! [`BudgetState`] keeps the same four buckets, sized at `quota × share`;
//! the response's `extensions.complexity` corrects each charge, and the
//! `rateLimits` query recalibrates the levels to what the server reports,
//! which also accounts for other integrations.

use std::time::Duration;

use cartage_http_source::budget::{self as toolkit, Bucket, Resource};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::error::CentraError;

pub use toolkit::Permit;

const TEN_SECONDS: Duration = Duration::from_secs(10);
const ONE_HOUR: Duration = Duration::from_secs(3600);

/// A tier's quotas, per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierQuotas {
    pub requests_10s: u64,
    pub requests_1h: u64,
    pub complexity_10s: u64,
    pub complexity_1h: u64,
}

/// One row of Centra's `rateLimits` query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RateLimitRow {
    /// `REQUEST_COUNT`, `QUERY_COMPLEXITY` or `MUTATION_COUNT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `TEN_SECONDS` or `ONE_HOUR`.
    #[serde(rename = "intervalSeconds")]
    pub interval: String,
    pub quota: u64,
    #[serde(rename = "usedQuota")]
    pub used: u64,
    #[serde(rename = "remainingQuota")]
    pub remaining: u64,
}

/// Whether `row` reports on `bucket`.
fn matches(bucket: &Bucket, row: &RateLimitRow) -> bool {
    let kind = match bucket.resource {
        Resource::Requests => "REQUEST_COUNT",
        Resource::Cost => "QUERY_COMPLEXITY",
    };
    let window = if bucket.window == TEN_SECONDS { "TEN_SECONDS" } else { "ONE_HOUR" };
    row.kind == kind && row.interval == window
}

/// Centra's four buckets at explicit instants.
#[derive(Debug, Clone)]
pub struct BudgetState {
    inner: toolkit::BudgetState,
    share: f64,
}

impl BudgetState {
    /// Full buckets sized from the tier, at `now`.
    pub fn new(quotas: TierQuotas, share: f64, now: Instant) -> Self {
        let sized = |q: u64| q as f64 * share;
        let buckets = vec![
            Bucket::new(Resource::Requests, TEN_SECONDS, sized(quotas.requests_10s)),
            Bucket::new(Resource::Requests, ONE_HOUR, sized(quotas.requests_1h)),
            Bucket::new(Resource::Cost, TEN_SECONDS, sized(quotas.complexity_10s)),
            Bucket::new(Resource::Cost, ONE_HOUR, sized(quotas.complexity_1h)),
        ];
        // A guess for a query never sent before: a twentieth of the 10 s
        // complexity quota; corrected by the first response.
        let default_estimate = sized(quotas.complexity_10s) / 20.0;
        BudgetState { inner: toolkit::BudgetState::new(buckets, default_estimate, now), share }
    }

    /// See [`toolkit::BudgetState::estimate`].
    pub fn estimate(&self, shape: u64) -> f64 {
        self.inner.estimate(shape)
    }

    /// See [`toolkit::BudgetState::delay`].
    pub fn delay(&mut self, complexity: f64, now: Instant) -> Duration {
        self.inner.delay(complexity, now)
    }

    /// See [`toolkit::BudgetState::charge`].
    pub fn charge(&mut self, complexity: f64, now: Instant) {
        self.inner.charge(complexity, now);
    }

    /// See [`toolkit::BudgetState::correct`].
    pub fn correct(&mut self, shape: u64, charged: f64, actual: u64, now: Instant) {
        self.inner.correct(shape, charged, actual as f64, now);
    }

    /// Sets the buckets to what the server's `rateLimits` reports: quotas
    /// (times our share) and remaining tokens. Rows of other kinds (mutations)
    /// are ignored; a server that reports no rows has no limits.
    pub fn calibrate(&mut self, rows: &[RateLimitRow], now: Instant) {
        calibrate(&mut self.inner, self.share, rows, now);
    }

    /// The complexity one request may cost: half of the 10-second
    /// complexity bucket, so a request never waits for a whole bucket (and
    /// is never dearer than one); infinite without limits.
    pub fn request_complexity_cap(&self) -> f64 {
        self.inner.request_cost_cap()
    }

    /// Holds every request back until `until` (after an HTTP 429).
    pub fn block_until(&mut self, until: Instant) {
        self.inner.block_until(until);
    }

    #[cfg(test)]
    fn levels(&self) -> Vec<f64> {
        self.inner.buckets().iter().map(|b| b.level).collect()
    }
}

fn calibrate(state: &mut toolkit::BudgetState, share: f64, rows: &[RateLimitRow], now: Instant) {
    state.set_unlimited(rows.is_empty());
    let buckets: Vec<Bucket> = state.buckets().to_vec();
    for (index, bucket) in buckets.iter().enumerate() {
        let Some(row) = rows.iter().find(|row| matches(bucket, row)) else { continue };
        if row.quota == 0 {
            // A bucket that holds nothing admits nothing: a quirk of the
            // report, not a limit to plan by. Keep our sizing; a real
            // refusal arrives as a 429 with Retry-After.
            warn!(
                kind = %row.kind,
                interval = %row.interval,
                "centra rateLimits reports a quota of 0; keeping the previous quota for this bucket"
            );
            continue;
        }
        let capacity = row.quota as f64 * share;
        state.set_bucket(index, capacity, None, row.remaining as f64, now);
        if bucket.resource == Resource::Cost && bucket.window == TEN_SECONDS {
            state.set_default_estimate(capacity / 20.0);
        }
    }
}

/// The budget of one tenant, shared by all of its reads.
#[derive(Debug)]
pub struct Budget {
    inner: toolkit::Budget,
    share: f64,
}

impl Budget {
    pub fn new(quotas: TierQuotas, share: f64) -> Self {
        let state = BudgetState::new(quotas, share, Instant::now());
        Budget { inner: toolkit::Budget::new(state.inner), share }
    }

    /// Waits until the buckets hold a request of `shape`, then charges it.
    pub async fn acquire(
        &self,
        shape: u64,
        cancel: &CancellationToken,
    ) -> Result<Permit, CentraError> {
        self.inner.acquire(shape, cancel).await.map_err(|toolkit::Cancelled| CentraError::Cancelled)
    }

    /// Corrects a permit's charge to the complexity the server reported.
    pub fn settle(&self, permit: &Permit, actual: Option<u64>) {
        self.inner.settle(permit, actual.map(|a| a as f64));
    }

    /// See [`BudgetState::calibrate`].
    pub fn calibrate(&self, rows: &[RateLimitRow]) {
        calibrate(&mut self.inner.lock(), self.share, rows, Instant::now());
    }

    /// See [`toolkit::Budget::block_for`].
    pub fn block_for(&self, wait: Duration) {
        self.inner.block_for(wait);
    }

    /// See [`BudgetState::request_complexity_cap`].
    pub fn request_complexity_cap(&self) -> f64 {
        self.inner.request_cost_cap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROWTH: TierQuotas = TierQuotas {
        requests_10s: 60,
        requests_1h: 5_000,
        complexity_10s: 250_000,
        complexity_1h: 30_000_000,
    };

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn row(kind: &str, interval: &str, quota: u64, remaining: u64) -> RateLimitRow {
        RateLimitRow {
            kind: kind.into(),
            interval: interval.into(),
            quota,
            used: quota - remaining,
            remaining,
        }
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(10)
    }

    #[test]
    fn a_full_bucket_lets_the_burst_through_then_paces_at_the_refill_rate() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        for _ in 0..60 {
            assert_eq!(b.delay(100.0, t0), Duration::ZERO);
            b.charge(100.0, t0);
        }
        // 60 requests per 10 s refill one request every 1/6 s.
        let d = b.delay(100.0, t0);
        assert!(close(d, secs(1.0 / 6.0)), "{d:?}");
        assert_eq!(b.delay(100.0, t0 + d), Duration::ZERO);
    }

    #[test]
    fn complexity_paces_when_queries_are_expensive() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        // 50k per request: the 250k bucket holds five, then 25k/s refills one per 2 s.
        for _ in 0..5 {
            assert_eq!(b.delay(50_000.0, t0), Duration::ZERO);
            b.charge(50_000.0, t0);
        }
        assert!(close(b.delay(50_000.0, t0), secs(2.0)));
        assert!(close(b.delay(50_000.0, t0 + secs(0.5)), secs(1.5)));
    }

    #[test]
    fn the_share_scales_capacity_and_refill() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 0.5, t0);
        for _ in 0..30 {
            b.charge(1.0, t0);
        }
        // 30 per 10 s: one request every 1/3 s.
        assert!(close(b.delay(1.0, t0), secs(1.0 / 3.0)));
    }

    #[test]
    fn corrections_learn_the_shapes_cost_and_fix_the_levels() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        assert_eq!(b.estimate(7), 12_500.0, "a first guess is 1/20 of the 10 s complexity quota");
        b.charge(12_500.0, t0);
        b.correct(7, 12_500.0, 40_000, t0);
        assert_eq!(b.estimate(7), 40_000.0);
        assert_eq!(b.estimate(8), 40_000.0, "a new query is guessed at the dearest seen");
        assert_eq!(b.levels()[2], 210_000.0);
        // A smaller actual cost gives tokens back, never beyond the capacity.
        b.correct(7, 40_000.0, 10, t0);
        assert_eq!(b.levels()[2], 249_990.0);
    }

    #[test]
    fn an_overdrawn_bucket_waits_until_it_is_positive_again() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        b.charge(1.0, t0);
        b.correct(1, 1.0, 300_000, t0);
        assert_eq!(b.levels()[2], -50_000.0);
        // 50k missing plus 1k needed, at 25k/s.
        assert!(close(b.delay(1_000.0, t0), secs(51_000.0 / 25_000.0)));
    }

    #[test]
    fn calibration_sets_levels_to_the_servers_remaining_quota() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        let rows = vec![
            row("REQUEST_COUNT", "TEN_SECONDS", 60, 6),
            row("REQUEST_COUNT", "ONE_HOUR", 5_000, 4_000),
            row("QUERY_COMPLEXITY", "TEN_SECONDS", 250_000, 250_000),
            row("QUERY_COMPLEXITY", "ONE_HOUR", 30_000_000, 29_000_000),
            row("MUTATION_COUNT", "TEN_SECONDS", 20, 20),
        ];
        b.calibrate(&rows, t0);
        assert_eq!(b.levels(), vec![6.0, 4_000.0, 250_000.0, 29_000_000.0]);
        for _ in 0..6 {
            b.charge(10.0, t0);
        }
        assert!(close(b.delay(10.0, t0), secs(1.0 / 6.0)));
    }

    #[test]
    fn calibration_adopts_the_servers_quotas_times_the_share() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 0.5, t0);
        let rows = vec![
            row("REQUEST_COUNT", "TEN_SECONDS", 150, 150),
            row("REQUEST_COUNT", "ONE_HOUR", 20_000, 20_000),
            row("QUERY_COMPLEXITY", "TEN_SECONDS", 900_000, 900_000),
            row("QUERY_COMPLEXITY", "ONE_HOUR", 90_000_000, 90_000_000),
        ];
        b.calibrate(&rows, t0);
        assert_eq!(b.levels(), vec![75.0, 10_000.0, 450_000.0, 45_000_000.0]);
        assert_eq!(b.estimate(1), 22_500.0);
        for _ in 0..75 {
            b.charge(1.0, t0);
        }
        assert!(close(b.delay(1.0, t0), secs(10.0 / 75.0)));
    }

    #[test]
    fn a_server_without_limits_never_holds_requests_back() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        b.calibrate(&[], t0);
        for _ in 0..1_000 {
            b.charge(1_000_000.0, t0);
        }
        assert_eq!(b.delay(1_000_000.0, t0), Duration::ZERO);
    }

    #[test]
    fn a_block_after_429_holds_every_request_until_it_ends() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        b.block_until(t0 + secs(3.0));
        b.block_until(t0 + secs(1.0));
        assert_eq!(b.delay(1.0, t0), secs(3.0));
        assert_eq!(b.delay(1.0, t0 + secs(3.0)), Duration::ZERO);
    }

    #[test]
    fn the_hour_bucket_limits_a_long_run() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        let mut now = t0;
        let mut sent = 0u32;
        // Send as fast as allowed for two hours of fake time.
        while now < t0 + Duration::from_secs(7_200) {
            let d = b.delay(10.0, now);
            now += d;
            b.charge(10.0, now);
            sent += 1;
        }
        // 5,000 at once, then 5,000 per hour: about 15,000 (the 10 s bucket is never the bound).
        assert!((14_950..=15_010).contains(&sent), "{sent}");
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_sleeps_for_the_delay_and_reports_it() {
        let budget = Budget::new(GROWTH, 1.0);
        let cancel = CancellationToken::new();
        let mut waited = Duration::ZERO;
        for _ in 0..61 {
            let permit = budget.acquire(1, &cancel).await.unwrap();
            budget.settle(&permit, Some(100));
            waited += permit.waited;
        }
        assert!(waited >= secs(1.0 / 6.0) && waited < secs(0.2), "{waited:?}");
        cancel.cancel();
        for _ in 0..100 {
            if let Err(e) = budget.acquire(1, &cancel).await {
                assert!(matches!(e, CentraError::Cancelled));
                return;
            }
        }
        panic!("a cancelled acquire kept charging");
    }

    /// Regression: a `rateLimits` row with quota 0 made a bucket of capacity
    /// 0 whose refill rate is 0, and the wait `missing / 0` (infinite)
    /// panicked in `Duration::from_secs_f64`.
    #[test]
    fn a_quota_of_zero_neither_panics_nor_waits_for_ever() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1.0, t0);
        let rows = vec![
            row("REQUEST_COUNT", "TEN_SECONDS", 0, 0),
            row("REQUEST_COUNT", "ONE_HOUR", 0, 0),
            row("QUERY_COMPLEXITY", "TEN_SECONDS", 0, 0),
            row("QUERY_COMPLEXITY", "ONE_HOUR", 0, 0),
        ];
        b.calibrate(&rows, t0);
        let mut now = t0;
        for _ in 0..200 {
            let d = b.delay(20_000.0, now);
            assert!(d <= Duration::from_secs(3_600), "{d:?}");
            now += d;
            b.charge(20_000.0, now);
        }
        // The tier's sizing was kept: 4M complexity at 25k per second.
        assert!(now - t0 < Duration::from_secs(600), "{:?}", now - t0);
    }

    /// Regression: a share of 1e-9 left buckets of 6e-8 requests refilling
    /// at 6e-9 per second: the first request waited five years.
    #[test]
    fn a_tiny_share_waits_at_most_a_window_never_for_years() {
        let t0 = Instant::now();
        let mut b = BudgetState::new(GROWTH, 1e-9, t0);
        let mut now = t0;
        for _ in 0..3 {
            let d = b.delay(15_000.0, now);
            assert!(d <= Duration::from_secs(3_600), "{d:?}");
            now += d;
            b.charge(15_000.0, now);
            b.correct(1, 15_000.0, 40_000, now);
        }
        let zero = BudgetState::new(
            TierQuotas { requests_10s: 0, requests_1h: 0, complexity_10s: 0, complexity_1h: 0 },
            1.0,
            t0,
        );
        let mut zero = zero;
        zero.charge(1.0, t0);
        assert_eq!(zero.delay(1.0, t0), Duration::from_secs(3_600));
    }
}
