//! Retry timing: exponential backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tracing::warn;

/// The first backoff's upper bound; each further retry doubles it.
const BASE_BACKOFF: Duration = Duration::from_millis(200);

/// Numbers at least this large in `Retry-After` are epoch timestamps, not
/// delays: 10^9 s is 2001-09-09, and no server asks for a 31-year wait.
const EPOCH_SECONDS_FLOOR: f64 = 1e9;
/// Numbers at least this large are epoch timestamps in milliseconds.
const EPOCH_MILLIS_FLOOR: f64 = 1e12;

/// When and how often to retry retriable failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff's upper bound.
    pub base: Duration,
    /// No backoff is longer than this.
    pub max_backoff: Duration,
    /// No wait a `Retry-After` asks for is longer than this.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn new(max_retries: u32, max_backoff: Duration, max_retry_after: Duration) -> Self {
        RetryPolicy { max_retries, base: BASE_BACKOFF, max_backoff, max_retry_after }
    }

    /// The wait after the `rate_limited`-th HTTP 429 in a row, `asked` being
    /// what its `Retry-After` says ([`parse_retry_after`]). Without a
    /// readable value: the backoff ceiling, at least 1 s. A value beyond
    /// `max_retry_after` (a broken header: 10^22 s, a date centuries ahead)
    /// is capped with a warning: after the capped wait the request is sent
    /// again, and a server that still means it answers 429 again.
    pub fn rate_limited_wait(&self, asked: Option<Duration>, rate_limited: u32) -> Duration {
        let wait = asked.unwrap_or_else(|| self.ceiling(rate_limited).max(Duration::from_secs(1)));
        if wait > self.max_retry_after {
            warn!(
                asked_secs = wait.as_secs(),
                max_retry_after_secs = self.max_retry_after.as_secs(),
                "Retry-After asks for an absurd wait; waiting max_retry_after_secs instead"
            );
            return self.max_retry_after;
        }
        wait
    }

    /// The upper bound of the wait before retry number `retry` (1-based):
    /// `min(max_backoff, base * 2^(retry-1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max_backoff)
    }

    /// The wait before retry number `retry`: uniform in `[0, ceiling]` ("full
    /// jitter"), so clients that failed together do not retry together.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// How long a `Retry-After` header asks us to wait.
///
/// Accepts every form seen in the wild: a delay in (possibly fractional)
/// seconds, an HTTP date, an RFC 3339 timestamp, and a Unix epoch timestamp
/// in seconds or milliseconds. Absolute forms are measured against the
/// response's `Date` header (`server_date`, the server's clock) when there is
/// one, else against `local_now`: the local clock may disagree with the
/// server's, and waiting by the wrong clock means retrying too early. The
/// `Date` header is truncated to whole seconds, so the result never
/// undershoots the server's intent. `None` if the value is unreadable
/// (negative, not a number, not finite).
///
/// Never panics: a value too large for a `Duration` or a `SystemTime` (10^22,
/// `u64::MAX` milliseconds) is `Duration::MAX`, which
/// [`RetryPolicy::rate_limited_wait`] caps.
pub fn parse_retry_after(
    value: &str,
    server_date: Option<SystemTime>,
    local_now: SystemTime,
) -> Option<Duration> {
    let value = value.trim();
    let reference = server_date.unwrap_or(local_now);
    let until = |at: SystemTime| Some(at.duration_since(reference).unwrap_or(Duration::ZERO));
    let epoch_plus = |secs: f64| {
        Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .map_or(Some(Duration::MAX), until)
    };
    if let Ok(number) = value.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        if number >= EPOCH_MILLIS_FLOOR {
            return epoch_plus(number / 1000.0);
        }
        if number >= EPOCH_SECONDS_FLOOR {
            return epoch_plus(number);
        }
        return Some(Duration::try_from_secs_f64(number).unwrap_or(Duration::MAX));
    }
    if let Ok(at) = httpdate::parse_http_date(value) {
        return until(at);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return until(SystemTime::from(at));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 2026-11-28T07:00:00Z
    const NOW: u64 = 1_795_849_200;

    fn check(value: &str, date: Option<u64>, local: u64, expected: Option<Duration>) {
        assert_eq!(
            parse_retry_after(value, date.map(at), at(local)),
            expected,
            "Retry-After: {value}"
        );
    }

    #[test]
    fn delay_seconds_are_taken_as_is() {
        check("7", Some(NOW), NOW, Some(Duration::from_secs(7)));
        check(" 0 ", None, NOW, Some(Duration::ZERO));
        check("1.5", None, NOW, Some(Duration::from_millis(1500)));
        check("-3", None, NOW, None);
        check("soon", None, NOW, None);
    }

    #[test]
    fn http_dates_are_measured_against_the_servers_date_header() {
        let retry_at = httpdate::fmt_http_date(at(NOW + 12));
        // The server's clock says NOW; ours runs 100 s ahead: the server's wins.
        check(&retry_at, Some(NOW), NOW + 100, Some(Duration::from_secs(12)));
        // Ours runs behind: still 12 s, not 112.
        check(&retry_at, Some(NOW), NOW - 100, Some(Duration::from_secs(12)));
        // Without a Date header, the local clock is all there is.
        check(&retry_at, None, NOW + 2, Some(Duration::from_secs(10)));
        // A time already past means go now.
        check(&retry_at, Some(NOW + 20), NOW, Some(Duration::ZERO));
    }

    #[test]
    fn epoch_timestamps_in_seconds_and_millis_are_absolute() {
        check(&(NOW + 9).to_string(), Some(NOW), NOW + 50, Some(Duration::from_secs(9)));
        check(
            &((NOW + 9) * 1000 + 500).to_string(),
            Some(NOW),
            NOW,
            Some(Duration::from_millis(9500)),
        );
        check(&(NOW + 4).to_string(), None, NOW, Some(Duration::from_secs(4)));
    }

    #[test]
    fn rfc3339_timestamps_are_absolute() {
        // NOW + 30 s, written in Stockholm's winter offset.
        check("2026-11-28T08:00:30+01:00", Some(NOW), NOW - 7, Some(Duration::from_secs(30)));
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::new(10, Duration::from_secs(5), Duration::from_secs(900));
        assert_eq!(policy.ceiling(1), Duration::from_millis(200));
        assert_eq!(policy.ceiling(2), Duration::from_millis(400));
        assert_eq!(policy.ceiling(4), Duration::from_millis(1600));
        assert_eq!(policy.ceiling(6), Duration::from_secs(5));
        assert_eq!(policy.ceiling(60), Duration::from_secs(5));
    }

    #[test]
    fn backoff_is_jittered_within_its_bounds() {
        let policy = RetryPolicy::new(10, Duration::from_secs(5), Duration::from_secs(900));
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=8 {
            let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(retry, &mut rng)).collect();
            let ceiling = policy.ceiling(retry);
            assert!(waits.iter().all(|w| *w <= ceiling), "retry {retry} exceeded {ceiling:?}");
            // Full jitter spreads over the whole range, not a narrow band.
            let low = waits.iter().filter(|w| **w < ceiling / 4).count();
            let high = waits.iter().filter(|w| **w > ceiling * 3 / 4).count();
            assert!(low > 20 && high > 20, "retry {retry}: {low} low, {high} high of 200");
        }
    }

    /// Regression: `Retry-After: 1e22` panicked (`Duration::from_secs_f64`
    /// overflow), and a date centuries ahead overflowed the budget's
    /// `Instant` arithmetic. Each absurd value is now capped or refused.
    #[test]
    fn absurd_retry_after_values_never_panic_and_are_capped() {
        let policy = RetryPolicy::new(3, Duration::from_secs(5), Duration::from_secs(900));
        let cap = Some(Duration::from_secs(900));
        let far_date = "Fri, 31 Dec 9999 23:59:59 GMT";
        let huge = u64::MAX.to_string();
        for (value, parsed, waited) in [
            ("1e22", Some(Duration::MAX), cap),
            ("1e400", None, None),
            (huge.as_str(), None, cap),
            ("18446744073709551615000", Some(Duration::MAX), cap),
            ("1e11", None, cap),
            (far_date, None, cap),
            ("2999-01-01T00:00:00+00:00", None, cap),
            ("-1", None, None),
            ("-1e22", None, None),
            ("NaN", None, None),
            ("inf", None, None),
            ("1.5.3", None, None),
            ("0x10", None, None),
            ("899.5", Some(Duration::from_millis(899_500)), Some(Duration::from_millis(899_500))),
            ("901", Some(Duration::from_secs(901)), cap),
        ] {
            let asked = parse_retry_after(value, Some(at(NOW)), at(NOW));
            if let Some(parsed) = parsed {
                assert_eq!(asked, Some(parsed), "Retry-After: {value}");
            }
            let wait = policy.rate_limited_wait(asked, 1);
            match waited {
                Some(waited) => assert_eq!(wait, waited, "Retry-After: {value}"),
                // Unreadable: the backoff ceiling, at least 1 s.
                None => {
                    assert_eq!(asked, None, "Retry-After: {value}");
                    assert_eq!(wait, Duration::from_secs(1), "Retry-After: {value}");
                }
            }
        }
    }
}
