//! A client-side mirror of an API's rate limits, so that a sync waits before
//! a request instead of being refused with HTTP 429.
//!
//! APIs meter two things: how many requests (Centra: per 10 s and per hour)
//! and what they cost (Centra's query complexity, Shopify's calculated query
//! cost). Both are token buckets: a bucket holds up to its capacity and
//! refills continuously, from empty to full in its window (a leaky bucket
//! with a restore rate is the same bucket: window = capacity / rate). Before
//! a request, [`BudgetState::delay`] says how long to wait until every
//! bucket holds the request's cost (1 request, and the cost the same request
//! shape had last time), then [`BudgetState::charge`] takes it; the cost
//! the server reports corrects the charge. A connector that can read the
//! server's own view of its buckets (a `rateLimits` query, a
//! `throttleStatus` in every response) sets them with
//! [`BudgetState::set_bucket`], which also accounts for other clients of
//! the same limits.
//!
//! [`BudgetState`] is a pure function of the instants passed in (tests drive
//! it with a fake clock); [`Budget`] wraps it for async callers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// A budget wait at least this long is logged: a sync that stands still
/// for a minute should say why.
const LONG_WAIT: Duration = Duration::from_secs(60);

/// What a bucket meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Requests: every request costs 1.
    Requests,
    /// The request's cost as the server computes it (complexity, points).
    Cost,
}

/// One token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub resource: Resource,
    /// From empty to full.
    pub window: Duration,
    pub capacity: f64,
    pub level: f64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(resource: Resource, window: Duration, capacity: f64) -> Self {
        Bucket { resource, window, capacity, level: capacity }
    }

    /// A bucket described by its restore rate (tokens per second), as
    /// leaky-bucket APIs publish it.
    pub fn with_rate(resource: Resource, capacity: f64, per_second: f64) -> Self {
        let window = Duration::try_from_secs_f64(capacity / per_second)
            .ok()
            .filter(|w| !w.is_zero())
            .unwrap_or(Duration::from_secs(1));
        Bucket::new(resource, window, capacity)
    }

    /// Tokens per second.
    fn rate(&self) -> f64 {
        self.capacity / self.window.as_secs_f64()
    }

    /// How long refilling `missing` tokens takes, at most the bucket's
    /// window. The server's bucket is full again one window after it was
    /// last drained, so a longer wait (a tiny capacity, a deep debt after an
    /// expensive request) only mirrors our model's arithmetic: send after
    /// the window, and let a 429's `Retry-After` speak if the server
    /// disagrees. A bucket that never refills (capacity 0) waits the window
    /// too, instead of dividing by zero.
    fn refill_time(&self, missing: f64) -> Duration {
        let secs = missing / self.rate();
        match Duration::try_from_secs_f64(secs) {
            Ok(wait) if secs.is_finite() => wait.min(self.window),
            _ => self.window,
        }
    }

    fn cost(&self, cost: f64) -> f64 {
        match self.resource {
            Resource::Requests => 1.0,
            Resource::Cost => cost,
        }
    }
}

/// The buckets and the per-request-shape cost estimates, at explicit instants.
#[derive(Debug, Clone)]
pub struct BudgetState {
    buckets: Vec<Bucket>,
    updated: Instant,
    blocked_until: Option<Instant>,
    estimates: HashMap<u64, f64>,
    default_estimate: f64,
    /// The server reported no limits at all: nothing to wait for.
    unlimited: bool,
}

impl BudgetState {
    /// `buckets` as given, at `now`; a request shape never answered yet is
    /// guessed to cost `default_estimate`.
    pub fn new(buckets: Vec<Bucket>, default_estimate: f64, now: Instant) -> Self {
        BudgetState {
            buckets,
            updated: now,
            blocked_until: None,
            estimates: HashMap::new(),
            default_estimate,
            unlimited: false,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        if elapsed > 0.0 {
            for bucket in &mut self.buckets {
                bucket.level = (bucket.level + elapsed * bucket.rate()).min(bucket.capacity);
            }
            self.updated = now;
        }
    }

    /// The cost a request of `shape` is expected to have. A request never
    /// answered yet is guessed to cost as much as the dearest seen so far
    /// (at least the default guess): a run that moves on to a new stream's
    /// query, with the bucket drained by the last stream, then waits for
    /// room instead of meeting a 429.
    pub fn estimate(&self, shape: u64) -> f64 {
        match self.estimates.get(&shape) {
            Some(&known) => known,
            None => self.estimates.values().copied().fold(self.default_estimate, f64::max),
        }
    }

    /// How long to wait, from `now`, until every bucket holds a request of
    /// `cost` (a cost above a bucket's capacity waits for a full bucket).
    pub fn delay(&mut self, cost: f64, now: Instant) -> Duration {
        self.refill(now);
        let mut wait =
            self.blocked_until.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        if self.unlimited {
            return wait;
        }
        for bucket in &self.buckets {
            let need = bucket.cost(cost).min(bucket.capacity);
            let missing = need - bucket.level;
            // Sub-token shortfalls are float noise from the refill arithmetic.
            if missing > 1e-6 {
                wait = wait.max(bucket.refill_time(missing));
            }
        }
        wait
    }

    /// Takes a request of `cost` from every bucket.
    pub fn charge(&mut self, cost: f64, now: Instant) {
        self.refill(now);
        for bucket in &mut self.buckets {
            bucket.level -= bucket.cost(cost);
        }
    }

    /// Replaces the charged estimate of a request of `shape` by the cost the
    /// server reported, and remembers it for the next one.
    pub fn correct(&mut self, shape: u64, charged: f64, actual: f64, now: Instant) {
        self.refill(now);
        for bucket in &mut self.buckets {
            if bucket.resource == Resource::Cost {
                bucket.level = (bucket.level - (actual - charged)).min(bucket.capacity);
            }
        }
        self.estimates.insert(shape, actual);
    }

    /// Sets bucket `index` to what the server reports: its capacity (and
    /// window, if the server says) and the tokens it has left.
    pub fn set_bucket(
        &mut self,
        index: usize,
        capacity: f64,
        window: Option<Duration>,
        level: f64,
        now: Instant,
    ) {
        self.refill(now);
        if let Some(bucket) = self.buckets.get_mut(index) {
            bucket.capacity = capacity;
            if let Some(window) = window.filter(|w| !w.is_zero()) {
                bucket.window = window;
            }
            bucket.level = level.min(capacity);
        }
    }

    /// The server says it has no limits (or has them again).
    pub fn set_unlimited(&mut self, unlimited: bool) {
        self.unlimited = unlimited;
    }

    /// The guess for a request shape never answered yet.
    pub fn set_default_estimate(&mut self, estimate: f64) {
        self.default_estimate = estimate;
    }

    /// The buckets, for calibration and tests.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The cost one request may have: half of the smallest cost bucket, so a
    /// request never waits for a whole bucket (and is never dearer than
    /// one); infinite without limits.
    pub fn request_cost_cap(&self) -> f64 {
        if self.unlimited {
            return f64::INFINITY;
        }
        self.buckets
            .iter()
            .filter(|b| b.resource == Resource::Cost)
            .map(|b| b.capacity)
            .fold(f64::INFINITY, f64::min)
            / 2.0
    }

    /// Holds every request back until `until` (after an HTTP 429).
    pub fn block_until(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |t| t.max(until)));
    }
}

/// A charged request: settle it with the cost the server reported.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    shape: u64,
    charged: f64,
    /// How long the budget held the request back.
    pub waited: Duration,
}

/// The run was cancelled while the budget held a request back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// The budget of one tenant, shared by all of its reads.
#[derive(Debug)]
pub struct Budget {
    state: Mutex<BudgetState>,
}

impl Budget {
    pub fn new(state: BudgetState) -> Self {
        Budget { state: Mutex::new(state) }
    }

    /// The state, to read or calibrate.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // No code path panics while holding the lock, and the state stays
        // consistent between statements, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the buckets hold a request of `shape`, then charges it.
    pub async fn acquire(
        &self,
        shape: u64,
        cancel: &CancellationToken,
    ) -> Result<Permit, Cancelled> {
        let mut waited = Duration::ZERO;
        loop {
            let delay = {
                let mut state = self.lock();
                let now = Instant::now();
                let estimate = state.estimate(shape);
                let delay = state.delay(estimate, now);
                if delay.is_zero() {
                    state.charge(estimate, now);
                    return Ok(Permit { shape, charged: estimate, waited });
                }
                delay
            };
            if delay >= LONG_WAIT {
                warn!(
                    wait_secs = delay.as_secs(),
                    "the rate-limit budget holds requests back (the share of the limits or the quotas left are small)"
                );
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(Cancelled),
                _ = tokio::time::sleep(delay) => waited += delay,
            }
        }
    }

    /// Corrects a permit's charge to the cost the server reported.
    pub fn settle(&self, permit: &Permit, actual: Option<f64>) {
        if let Some(actual) = actual {
            self.lock().correct(permit.shape, permit.charged, actual, Instant::now());
        }
    }

    /// Holds every request back for `wait` from now (after an HTTP 429);
    /// a wait beyond what an `Instant` can hold blocks as long as it can.
    pub fn block_for(&self, wait: Duration) {
        let now = Instant::now();
        // One year: no wait comes near it after the `Retry-After` cap.
        let until = now.checked_add(wait).unwrap_or(now + Duration::from_secs(365 * 86_400));
        self.lock().block_until(until);
    }

    /// See [`BudgetState::request_cost_cap`].
    pub fn request_cost_cap(&self) -> f64 {
        self.lock().request_cost_cap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(10)
    }

    /// A leaky cost bucket of 1,000 points restoring 50 per second, as
    /// cost-metered GraphQL APIs publish theirs.
    fn leaky(now: Instant) -> BudgetState {
        BudgetState::new(vec![Bucket::with_rate(Resource::Cost, 1000.0, 50.0)], 100.0, now)
    }

    #[test]
    fn a_leaky_bucket_paces_at_its_restore_rate() {
        let t0 = Instant::now();
        let mut s = leaky(t0);
        assert_eq!(s.buckets()[0].window, Duration::from_secs(20));
        for _ in 0..10 {
            assert_eq!(s.delay(100.0, t0), Duration::ZERO);
            s.charge(100.0, t0);
        }
        // Empty: 100 points take 2 s at 50 per second.
        assert!(close(s.delay(100.0, t0), secs(2.0)));
        assert_eq!(s.delay(100.0, t0 + secs(2.0)), Duration::ZERO);
    }

    #[test]
    fn the_servers_report_replaces_the_model() {
        let t0 = Instant::now();
        let mut s = leaky(t0);
        // Another client of the same shop used most of the bucket.
        s.set_bucket(0, 2000.0, Some(secs(20.0)), 150.0, t0);
        assert_eq!(s.buckets()[0].capacity, 2000.0);
        // 250 points: 100 missing at 100 per second.
        assert!(close(s.delay(250.0, t0), secs(1.0)));
        assert_eq!(s.request_cost_cap(), 1000.0);
    }

    #[test]
    fn requests_and_costs_are_metered_apart_and_corrected() {
        let t0 = Instant::now();
        let mut s = BudgetState::new(
            vec![
                Bucket::new(Resource::Requests, secs(10.0), 2.0),
                Bucket::new(Resource::Cost, secs(10.0), 1000.0),
            ],
            10.0,
            t0,
        );
        s.charge(10.0, t0);
        s.correct(7, 10.0, 400.0, t0);
        assert_eq!(s.estimate(7), 400.0);
        // A new shape is guessed as dear as the dearest seen.
        assert_eq!(s.estimate(8), 400.0);
        let levels: Vec<f64> = s.buckets().iter().map(|b| b.level).collect();
        assert_eq!(levels, [1.0, 600.0]);
        s.charge(400.0, t0);
        // Out of requests: one refills in 5 s; the cost bucket holds 200.
        assert!(close(s.delay(400.0, t0), secs(5.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_and_a_cancel_ends_the_wait() {
        let budget = Budget::new(leaky(Instant::now()));
        let cancel = CancellationToken::new();
        for _ in 0..10 {
            let p = budget.acquire(1, &cancel).await.unwrap();
            budget.settle(&p, Some(100.0));
        }
        let p = budget.acquire(1, &cancel).await.unwrap();
        assert!(close(p.waited, secs(2.0)), "{:?}", p.waited);
        budget.block_for(Duration::from_secs(3600));
        cancel.cancel();
        assert_eq!(budget.acquire(1, &cancel).await.unwrap_err(), Cancelled);
    }
}
