//! Pacing policies of a target: retry backoff, rate limit, quarantine.

use crate::config::{QuarantinePolicy, RetryPolicy};
use rand::Rng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The delay before attempt `attempt + 1` after a retryable failure:
/// exponential from `initial_backoff`, capped at `max_backoff`, with "equal
/// jitter" (half fixed, half random) so that retries of many operations
/// spread out, and never sooner than what the target asked for, up to
/// `max_backoff`: a target asking for more (`Retry-After: 9999999999`)
/// would otherwise park the account's queue for centuries.
pub fn backoff(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let (shortest, longest) = backoff_range(policy, attempt);
    let jittered = rand::rng().random_range(shortest..=longest);
    jittered.max(retry_after.unwrap_or_default().min(policy.max_backoff))
}

/// The shortest and longest delay [`backoff`] chooses after `attempt`
/// (before any `retry-after`).
pub fn backoff_range(policy: &RetryPolicy, attempt: u32) -> (Duration, Duration) {
    let exponent = attempt.saturating_sub(1).min(30);
    let base = policy
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(policy.max_backoff);
    (base / 2, base)
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32) -> Self {
        TokenBucket {
            rate,
            burst: burst as f64,
            tokens: burst as f64,
            last: Instant::now(),
        }
    }

    /// Takes a token if one is there; otherwise says how long until one is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The recent outcomes of a target's calls, to decide quarantine.
#[derive(Debug)]
pub struct FailureWindow {
    policy: QuarantinePolicy,
    recent: VecDeque<bool>,
    failures: usize,
}

impl FailureWindow {
    pub fn new(policy: QuarantinePolicy) -> Self {
        FailureWindow {
            policy,
            recent: VecDeque::with_capacity(policy.window),
            failures: 0,
        }
    }

    /// Records one outcome; returns the failure rate when it crosses the
    /// threshold (the target should be quarantined).
    pub fn record(&mut self, failed: bool) -> Option<f64> {
        if !self.policy.enabled {
            return None;
        }
        if self.recent.len() == self.policy.window && self.recent.pop_front() == Some(true) {
            self.failures -= 1;
        }
        self.recent.push_back(failed);
        self.failures += failed as usize;
        let rate = self.failures as f64 / self.recent.len() as f64;
        (self.recent.len() >= self.policy.min_calls && rate >= self.policy.failure_rate)
            .then_some(rate)
    }

    /// Forgets the window (when an operator lifts a quarantine).
    pub fn clear(&mut self) {
        self.recent.clear();
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_jitters_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for (attempt, base) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            for _ in 0..50 {
                let d = backoff(&policy, attempt, None).as_millis() as u64;
                assert!((base / 2..=base).contains(&d), "attempt {attempt}: {d} ms");
            }
        }
        assert_eq!(
            backoff(&policy, 1, Some(Duration::from_millis(900))),
            Duration::from_millis(900),
            "a target's retry-after within max_backoff is honoured"
        );
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| backoff(&policy, 4, None)).collect();
        assert!(spread.len() > 10, "jittered");
    }

    #[test]
    fn the_default_retries_ride_out_half_an_hour() {
        let policy = RetryPolicy::default();
        let (shortest, longest) = (1..policy.max_attempts)
            .map(|attempt| backoff_range(&policy, attempt))
            .fold((Duration::ZERO, Duration::ZERO), |(s, l), (a, b)| {
                (s + a, l + b)
            });
        // What docs/engine.md and the RetryPolicy doc promise.
        assert_eq!(policy.max_attempts, 21);
        assert!(shortest >= Duration::from_secs(31 * 60), "{shortest:?}");
        assert!(longest <= Duration::from_secs(64 * 60), "{longest:?}");
    }

    #[test]
    fn a_retry_after_beyond_max_backoff_waits_max_backoff() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(300),
        };
        let asked = Duration::from_millis(u64::MAX);
        assert_eq!(backoff(&policy, 1, Some(asked)), Duration::from_secs(300));
        assert_eq!(
            backoff(&policy, 1, Some(Duration::from_secs(9_999_999_999))),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn token_bucket_allows_bursts_then_paces() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3);
        for _ in 0..3 {
            assert!(bucket.try_take(start).is_ok());
        }
        let wait = bucket.try_take(start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(bucket.try_take(start + Duration::from_millis(100)).is_ok());
        assert!(bucket.try_take(start + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn the_failure_window_trips_at_the_threshold() {
        let mut window = FailureWindow::new(QuarantinePolicy {
            enabled: true,
            window: 10,
            min_calls: 4,
            failure_rate: 0.5,
            ..QuarantinePolicy::default()
        });
        assert_eq!(window.record(true), None, "too few calls");
        assert_eq!(window.record(true), None);
        assert_eq!(window.record(false), None);
        assert_eq!(window.record(true), Some(0.75));
        window.clear();
        for _ in 0..10 {
            assert_eq!(window.record(false), None);
        }
        for _ in 0..4 {
            window.record(true);
        }
        assert_eq!(window.record(true), Some(0.5), "old successes slid out");
    }
}
