//! Request-rate limits and the per-connection cap on concurrent upstream requests
//! (SECURITY.md PX-7).
//!
//! Invariants:
//! - limits are GCRA (`governor`) per API key and per `(connection, identifier)`; limiter keys are
//!   64-bit keyed hashes (random per process), so no identifier is held in, or printed from,
//!   this module;
//! - keyed state never grows without bound: a background sweep drops every key whose state is
//!   indistinguishable from a fresh one ([`Limits::sweep`]);
//! - a concurrency slot is held by an [`Admission`] guard and released when it drops, also when
//!   the request future is cancelled.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsSettings;
use crate::metrics::Counter;

/// How often idle limiter keys are evicted.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Which limit turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The API key's request rate.
    ApiKey,
    /// The `(connection, identifier)` request rate.
    Identifier,
    /// The connection's cap on concurrent upstream requests.
    ConnectionConcurrency,
}

impl LimitKind {
    /// Every kind, in label order.
    pub const ALL: [LimitKind; 3] = [Self::ApiKey, Self::Identifier, Self::ConnectionConcurrency];

    /// The `limit` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Identifier => "identifier",
            Self::ConnectionConcurrency => "connection_concurrency",
        }
    }
}

/// A request turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The limit that was hit.
    pub kind: LimitKind,
    /// When a retry may succeed, in whole seconds (at least 1).
    pub retry_after_secs: u64,
    /// The configured rate or cap that was hit (for the message).
    pub limit: u32,
}

/// Holds a concurrency slot of a connection (if a cap is configured) until dropped.
#[derive(Debug)]
pub struct Admission {
    slot: Option<Arc<AtomicU32>>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            slot.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

struct Rate {
    limiter: DefaultKeyedRateLimiter<u64>,
    per_second: u32,
}

impl Rate {
    fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            per_second,
        })
    }

    /// `Err(seconds to wait)` when `key` is over its rate.
    fn check(&self, key: u64) -> Result<(), u64> {
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Retry-After is whole seconds; round up so a retry at that time succeeds.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// The configured limits and their state.
pub struct Limits {
    api_key: Option<Rate>,
    identifier: Option<Rate>,
    max_concurrent: u32,
    in_flight: RwLock<HashMap<Box<str>, Arc<AtomicU32>>>,
    hasher: std::hash::RandomState,
    rejected: [Counter; LimitKind::ALL.len()],
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// Limits as configured (a zero rate or cap switches that limit off).
    pub fn new(settings: &LimitsSettings) -> Self {
        Self {
            api_key: Rate::new(settings.api_key_per_second, settings.api_key_burst),
            identifier: Rate::new(settings.identifier_per_second, settings.identifier_burst),
            max_concurrent: settings.connection_max_concurrent,
            in_flight: RwLock::new(HashMap::new()),
            hasher: std::hash::RandomState::new(),
            rejected: Default::default(),
        }
    }

    /// [`Limits::new`] plus a background task (on the current tokio runtime) that evicts idle
    /// keys every [`SWEEP_INTERVAL`] and ends when the limits are dropped.
    pub fn start(settings: &LimitsSettings) -> Arc<Self> {
        let limits = Arc::new(Self::new(settings));
        let weak: Weak<Self> = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(limits) => limits.sweep(),
                    None => break,
                }
            }
        });
        limits
    }

    /// Admits one call of API key `key_id` through `connection` for `identifier` (if the call is
    /// made for an end user), or says which limit it hit.
    pub fn admit(
        &self,
        key_id: &str,
        connection: &str,
        identifier: Option<&str>,
    ) -> Result<Admission, Rejection> {
        if let Some(rate) = &self.api_key {
            rate.check(self.hash(&(0u8, key_id)))
                .map_err(|secs| self.reject(LimitKind::ApiKey, secs, rate.per_second))?;
        }
        if let (Some(rate), Some(identifier)) = (&self.identifier, identifier) {
            rate.check(self.hash(&(1u8, connection, identifier)))
                .map_err(|secs| self.reject(LimitKind::Identifier, secs, rate.per_second))?;
        }
        if self.max_concurrent == 0 {
            return Ok(Admission { slot: None });
        }
        let slot = self.slot(connection);
        if slot.fetch_add(1, Ordering::AcqRel) >= self.max_concurrent {
            slot.fetch_sub(1, Ordering::AcqRel);
            return Err(self.reject(LimitKind::ConnectionConcurrency, 1, self.max_concurrent));
        }
        Ok(Admission { slot: Some(slot) })
    }

    /// Requests turned away by `kind` since start.
    pub fn rejected(&self, kind: LimitKind) -> u64 {
        self.rejected[kind as usize].get()
    }

    /// Upstream requests in flight per connection (only when a cap is configured).
    pub fn in_flight(&self) -> Vec<(String, u32)> {
        let map = self.in_flight.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = map
            .iter()
            .map(|(name, n)| (name.to_string(), n.load(Ordering::Relaxed)))
            .collect();
        all.sort();
        all
    }

    /// Keys held by the rate limiters (API keys, `(connection, identifier)` pairs).
    pub fn tracked_keys(&self) -> usize {
        [&self.api_key, &self.identifier]
            .into_iter()
            .flatten()
            .map(|rate| rate.limiter.len())
            .sum()
    }

    /// Drops limiter keys that are back to a fresh state and idle connection slots.
    pub fn sweep(&self) {
        for rate in [&self.api_key, &self.identifier].into_iter().flatten() {
            rate.limiter.retain_recent();
            rate.limiter.shrink_to_fit();
        }
        let mut map = self.in_flight.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, slot| Arc::strong_count(slot) > 1 || slot.load(Ordering::Acquire) > 0);
    }

    fn reject(&self, kind: LimitKind, retry_after_secs: u64, limit: u32) -> Rejection {
        self.rejected[kind as usize].inc();
        Rejection {
            kind,
            retry_after_secs,
            limit,
        }
    }

    fn hash(&self, value: &impl Hash) -> u64 {
        self.hasher.hash_one(value)
    }

    fn slot(&self, connection: &str) -> Arc<AtomicU32> {
        if let Some(slot) = self
            .in_flight
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(connection)
        {
            return slot.clone();
        }
        let mut map = self.in_flight.write().unwrap_or_else(|p| p.into_inner());
        map.entry(connection.into()).or_default().clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn settings(key: u32, key_burst: u32, id: u32, id_burst: u32, cap: u32) -> LimitsSettings {
        LimitsSettings {
            api_key_per_second: key,
            api_key_burst: key_burst,
            identifier_per_second: id,
            identifier_burst: id_burst,
            connection_max_concurrent: cap,
        }
    }

    #[test]
    fn the_request_after_the_burst_is_rejected_with_a_whole_second_retry_after() {
        let limits = Limits::new(&settings(1, 3, 0, 0, 0));
        for _ in 0..3 {
            limits.admit("k1", "c", None).unwrap();
        }
        let rejection = limits.admit("k1", "c", None).unwrap_err();
        assert_eq!(rejection.kind, LimitKind::ApiKey);
        assert_eq!(rejection.retry_after_secs, 1);
        assert!(
            limits.admit("k2", "c", None).is_ok(),
            "other keys unaffected"
        );
        assert_eq!(limits.rejected(LimitKind::ApiKey), 1);
    }

    #[test]
    fn identifiers_are_limited_per_connection_and_calls_without_one_are_not() {
        let limits = Limits::new(&settings(0, 0, 1, 1, 0));
        limits.admit("k", "c1", Some("alice")).unwrap();
        assert_eq!(
            limits.admit("k", "c1", Some("alice")).unwrap_err().kind,
            LimitKind::Identifier
        );
        limits.admit("k", "c2", Some("alice")).unwrap();
        limits.admit("k", "c1", Some("bob")).unwrap();
        for _ in 0..10 {
            limits.admit("k", "c1", None).unwrap();
        }
    }

    #[test]
    fn the_concurrency_cap_counts_held_admissions_per_connection() {
        let limits = Limits::new(&settings(0, 0, 0, 0, 2));
        let a = limits.admit("k", "c", None).unwrap();
        let _b = limits.admit("k", "c", None).unwrap();
        let rejection = limits.admit("k", "c", None).unwrap_err();
        assert_eq!(rejection.kind, LimitKind::ConnectionConcurrency);
        let _other = limits.admit("k", "d", None).unwrap();
        drop(a);
        let _c = limits.admit("k", "c", None).unwrap();
        assert_eq!(limits.in_flight(), vec![("c".into(), 2), ("d".into(), 1)]);
    }

    #[test]
    fn idle_keys_are_evicted_by_the_sweep() {
        let limits = Limits::new(&settings(1000, 1, 1000, 1, 1));
        for i in 0..500 {
            limits
                .admit(&format!("key{i}"), "c", Some(&format!("user{i}")))
                .unwrap();
        }
        assert_eq!(limits.tracked_keys(), 1000);
        std::thread::sleep(Duration::from_millis(20));
        limits.sweep();
        assert_eq!(limits.tracked_keys(), 0);
        assert!(
            limits.in_flight().is_empty(),
            "idle connection slots go too"
        );
    }
}
