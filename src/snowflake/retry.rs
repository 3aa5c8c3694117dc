//! Retry and polling schedules (SECURITY.md TR-9, TR-11).
//!
//! Retries use *full jitter* — `sleep = rand(0, min(cap, base · 2^attempt))` — so many clients
//! hitting a 429 do not come back in lock-step; a `Retry-After` from Snowflake wins over the
//! jitter (capped). A request stops retrying after `max_attempts` or when the next sleep would
//! cross `total_budget`. Polling a running statement uses a gentle growing interval instead.

use std::time::Duration;

/// How transient failures are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (SQL API default 5).
    pub max_attempts: u32,
    /// Base of the exponential backoff (default 200 ms).
    pub base: Duration,
    /// Upper bound of one sleep (default 30 s).
    pub cap: Duration,
    /// No new attempt starts once this much time has passed since the first (default 60 s).
    pub total_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            total_budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The sleep before attempt `attempt + 1` after `attempt` failed (1-based).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.cap);
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        full_jitter(ceiling)
    }
}

/// A uniformly random duration in `[0, ceiling]`.
fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    // getrandom failing is vanishingly rare; half the ceiling is still a sane sleep then.
    let random = getrandom::u64().unwrap_or(u64::MAX / 2);
    Duration::from_nanos(random % (nanos + 1))
}

/// How a running statement (202) is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    /// First interval (default 100 ms).
    pub initial: Duration,
    /// Largest interval (default 2 s).
    pub max: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl PollPolicy {
    /// The interval after `current`: ×1.5, at most `max`.
    pub(crate) fn next(&self, current: Duration) -> Duration {
        (current + current / 2).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_full_jitter_window() {
        let policy = RetryPolicy::default();
        for attempt in 1..=10 {
            let ceiling = (policy.base * 2u32.pow(attempt - 1)).min(policy.cap);
            for _ in 0..50 {
                assert!(
                    policy.backoff(attempt, None) <= ceiling,
                    "attempt {attempt}"
                );
            }
        }
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(3600))),
            policy.cap
        );
    }

    #[test]
    fn jitter_is_spread_out_not_constant() {
        let policy = RetryPolicy::default();
        let samples: std::collections::HashSet<_> =
            (0..20).map(|_| policy.backoff(5, None)).collect();
        assert!(samples.len() > 10, "jitter looks constant: {samples:?}");
    }

    #[test]
    fn polling_grows_gently_to_the_max() {
        let policy = PollPolicy::default();
        let mut interval = policy.initial;
        for _ in 0..20 {
            interval = policy.next(interval);
        }
        assert_eq!(interval, policy.max);
        assert_eq!(
            policy.next(Duration::from_millis(100)),
            Duration::from_millis(150)
        );
    }
}
