//! Operational metrics, served in the Prometheus/OpenMetrics text format at `GET /metrics`
//! (SECURITY.md OP-1, OA-12).
//!
//! Invariants:
//! - no label ever carries an identifier, a token, a key or statement text: labels are route
//!   *patterns*, methods, statuses, connection *names* (admin-chosen slugs) and fixed enums;
//! - recording is a few relaxed atomic adds on series found through per-worker caches; the
//!   shared maps below are locked only when a worker meets a series for the first time and at
//!   scrape time.
//!
//! Map: [`histogram`] (lock-free latency buckets), [`stats`] (counters services own and
//! `/metrics` reads), [`render`] (the exposition), this file (HTTP and upstream series).

pub mod histogram;
pub mod render;
pub mod stats;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;

pub use histogram::Histogram;
pub use stats::{Counter, Gauge, GaugeGuard};

/// Distinguishes instances in per-thread caches (tests run several brokers in one process).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The HTTP methods that get their own label value; anything else is `other`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Key of one HTTP request series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RequestKey {
    route: Box<str>,
    method: &'static str,
    status: u16,
}

/// What came back from (or instead of) an upstream call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// An HTTP status.
    Status(u16),
    /// No answer within the read timeout.
    Timeout,
    /// Connect or transport failure.
    Unreachable,
}

/// Status values that get their own label; others are counted by class (`4xx`, `5xx`, …).
const UPSTREAM_CODES: [u16; 13] = [
    200, 202, 400, 401, 403, 404, 408, 422, 429, 500, 502, 503, 504,
];
const UPSTREAM_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
const UPSTREAM_SLOTS: usize = UPSTREAM_CODES.len() + UPSTREAM_CLASSES.len() + 3;

impl UpstreamOutcome {
    fn slot(self) -> usize {
        match self {
            Self::Status(code) => match UPSTREAM_CODES.iter().position(|c| *c == code) {
                Some(i) => i,
                None => match code {
                    200..=599 => UPSTREAM_CODES.len() + usize::from(code / 100 - 2),
                    _ => UPSTREAM_SLOTS - 3,
                },
            },
            Self::Timeout => UPSTREAM_SLOTS - 2,
            Self::Unreachable => UPSTREAM_SLOTS - 1,
        }
    }

    fn label(slot: usize) -> String {
        if let Some(code) = UPSTREAM_CODES.get(slot) {
            return code.to_string();
        }
        if let Some(class) = UPSTREAM_CLASSES.get(slot - UPSTREAM_CODES.len()) {
            return (*class).to_owned();
        }
        match UPSTREAM_SLOTS - slot {
            3 => "other",
            2 => "timeout",
            _ => "unreachable",
        }
        .to_owned()
    }
}

/// Upstream calls through one connection.
#[derive(Debug, Default)]
pub struct UpstreamSeries {
    latency: Histogram,
    outcomes: [Counter; UPSTREAM_SLOTS],
}

/// Connection name → series.
type UpstreamMap = HashMap<Box<str>, Arc<UpstreamSeries>>;

thread_local! {
    /// metrics instance id → connection name → series, per worker thread.
    static UPSTREAM: RefCell<HashMap<u64, UpstreamMap>> = RefCell::new(HashMap::new());
}

/// The broker's metrics that are not owned by a service (see the module doc).
pub struct Metrics {
    id: u64,
    requests: Mutex<HashMap<RequestKey, Arc<Histogram>>>,
    upstream: Mutex<HashMap<Box<str>, Arc<UpstreamSeries>>>,
    /// Requests being served right now.
    pub in_flight: Gauge,
    /// When set, `/metrics` demands `Authorization: Bearer <token>`.
    token: Option<SecretString>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("id", &self.id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Empty metrics; `token` protects the scrape endpoint when set.
    pub fn new(token: Option<SecretString>) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            requests: Mutex::new(HashMap::new()),
            upstream: Mutex::new(HashMap::new()),
            in_flight: Gauge::default(),
            token,
        }
    }

    /// This instance's id, for per-thread caches of series handles.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The scrape token, if one is configured.
    pub fn token(&self) -> Option<&SecretString> {
        self.token.as_ref()
    }

    /// The series of `(route pattern, method, status)`. Takes a lock: callers cache the handle
    /// per worker (the request middleware does).
    pub fn request_series(&self, route: &str, method: &'static str, status: u16) -> Arc<Histogram> {
        let key = RequestKey {
            route: route.into(),
            method,
            status,
        };
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().clone()
    }

    /// Records one upstream call through `connection` (a connection name, never an identifier).
    pub fn upstream(&self, connection: &str, outcome: UpstreamOutcome, elapsed: Duration) {
        let series = UPSTREAM.with(|cache| {
            let mut cache = cache.borrow_mut();
            let mine = cache.entry(self.id).or_default();
            if let Some(series) = mine.get(connection) {
                return series.clone();
            }
            let mut shared = self.upstream.lock().unwrap_or_else(|p| p.into_inner());
            let series = shared.entry(connection.into()).or_default().clone();
            mine.insert(connection.into(), series.clone());
            series
        });
        series.latency.observe(elapsed);
        series.outcomes[outcome.slot()].inc();
    }

    fn request_snapshot(&self) -> Vec<(RequestKey, Arc<Histogram>)> {
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn upstream_snapshot(&self) -> Vec<(Box<str>, Arc<UpstreamSeries>)> {
        let map = self.upstream.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_outcomes_map_to_bounded_labels() {
        let label = |o: UpstreamOutcome| UpstreamOutcome::label(o.slot());
        assert_eq!(label(UpstreamOutcome::Status(200)), "200");
        assert_eq!(label(UpstreamOutcome::Status(504)), "504");
        assert_eq!(label(UpstreamOutcome::Status(418)), "4xx");
        assert_eq!(label(UpstreamOutcome::Status(302)), "3xx");
        assert_eq!(label(UpstreamOutcome::Status(599)), "5xx");
        assert_eq!(label(UpstreamOutcome::Status(101)), "other");
        assert_eq!(label(UpstreamOutcome::Timeout), "timeout");
        assert_eq!(label(UpstreamOutcome::Unreachable), "unreachable");
    }

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
    }
}
