//! Counters tests assert on ("exactly one refresh", "executed exactly once"): token requests by
//! grant type, statement executions per `requestId`, requests per path, JWT rejections by reason.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::util::lock;

/// A point-in-time copy of every counter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CountersSnapshot {
    /// `POST /oauth/token-request` calls by `grant_type` (missing → `""`).
    pub token_requests: BTreeMap<String, u64>,
    /// Executions (statements actually run by the engine) per `requestId` of the submitting
    /// request, for the latest [`RECENT_REQUEST_IDS`] request ids; submissions without a
    /// `requestId` count under `""`.
    pub executions_by_request_id: BTreeMap<String, u64>,
    /// Statements run by the engine in total (a multi-statement request counts each child).
    pub statements_executed: u64,
    /// HTTP requests per path (Snowflake paths only, not `/_snowsim/`).
    pub requests_by_path: BTreeMap<String, u64>,
    /// Keypair-JWT rejections by reason key.
    pub jwt_rejections: BTreeMap<String, u64>,
    /// 401 answers for OAuth access tokens.
    pub oauth_token_rejections: u64,
}

impl CountersSnapshot {
    /// Token requests of one grant type.
    pub fn token_requests_for(&self, grant_type: &str) -> u64 {
        self.token_requests.get(grant_type).copied().unwrap_or(0)
    }

    /// Executions recorded for one request id.
    pub fn executions_for(&self, request_id: &str) -> u64 {
        self.executions_by_request_id
            .get(request_id)
            .copied()
            .unwrap_or(0)
    }

    /// Requests seen on one path.
    pub fn requests_for(&self, path: &str) -> u64 {
        self.requests_by_path.get(path).copied().unwrap_or(0)
    }
}

/// Thread-safe counters.
#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<CountersSnapshot>,
    executions: Mutex<RecentCounts>,
    statements: AtomicU64,
}

/// How many request ids the execution counts remember. Under a benchmark's load every call
/// has a fresh one, and an unbounded map grew by millions of entries per run, slowing every
/// later request (the drift BENCHMARKS.md used to leave unexplained).
pub const RECENT_REQUEST_IDS: usize = 100_000;

/// Execution counts of the latest [`RECENT_REQUEST_IDS`] request ids.
#[derive(Debug, Default)]
struct RecentCounts {
    counts: HashMap<String, u64>,
    /// Request ids in the order they were first counted.
    order: VecDeque<String>,
}

impl RecentCounts {
    fn count(&mut self, request_id: &str) {
        if let Some(n) = self.counts.get_mut(request_id) {
            *n += 1;
            return;
        }
        if self.order.len() >= RECENT_REQUEST_IDS {
            if let Some(oldest) = self.order.pop_front() {
                self.counts.remove(&oldest);
            }
        }
        self.counts.insert(request_id.to_owned(), 1);
        self.order.push_back(request_id.to_owned());
    }
}

impl Counters {
    /// Counts a token request.
    pub fn token_request(&self, grant_type: &str) {
        *lock(&self.inner)
            .token_requests
            .entry(grant_type.to_owned())
            .or_default() += 1;
    }

    /// Counts one execution of a submitted request.
    pub fn execution(&self, request_id: &str, statements: u64) {
        self.statements.fetch_add(statements, Ordering::Relaxed);
        lock(&self.executions).count(request_id);
    }

    /// Counts a request on a path.
    pub fn request(&self, path: &str) {
        let mut inner = lock(&self.inner);
        if let Some(n) = inner.requests_by_path.get_mut(path) {
            *n += 1;
        } else {
            inner.requests_by_path.insert(path.to_owned(), 1);
        }
    }

    /// Counts a JWT rejection.
    pub fn jwt_rejection(&self, kind: &str) {
        *lock(&self.inner)
            .jwt_rejections
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    /// Counts an OAuth access-token rejection.
    pub fn oauth_rejection(&self) {
        lock(&self.inner).oauth_token_rejections += 1;
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> CountersSnapshot {
        let mut snap = lock(&self.inner).clone();
        snap.statements_executed = self.statements.load(Ordering::Relaxed);
        snap.executions_by_request_id = lock(&self.executions)
            .counts
            .iter()
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        snap
    }

    /// Sets every counter to zero.
    pub fn reset(&self) {
        *lock(&self.inner) = CountersSnapshot::default();
        *lock(&self.executions) = RecentCounts::default();
        self.statements.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_counts_keep_the_latest_request_ids_only() {
        let counters = Counters::default();
        counters.execution("first", 1);
        counters.execution("first", 1);
        for n in 0..RECENT_REQUEST_IDS {
            counters.execution(&format!("id-{n}"), 1);
        }
        let snap = counters.snapshot();
        assert_eq!(snap.executions_for("first"), 0, "the oldest is forgotten");
        assert_eq!(snap.executions_for("id-0"), 1);
        assert_eq!(
            snap.executions_for(&format!("id-{}", RECENT_REQUEST_IDS - 1)),
            1
        );
        assert_eq!(snap.executions_by_request_id.len(), RECENT_REQUEST_IDS);
        assert_eq!(snap.statements_executed, RECENT_REQUEST_IDS as u64 + 2);
        counters.execution("id-5", 1);
        assert_eq!(counters.snapshot().executions_for("id-5"), 2);
        counters.reset();
        assert!(counters.snapshot().executions_by_request_id.is_empty());
    }
}
