//! Plain atomic counters and gauges that services own and `/metrics` reads at scrape time, so
//! the services need no handle on a registry and counting stays one relaxed atomic add.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use super::histogram::Histogram;

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (in-flight requests, waiters).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one until the returned guard is dropped (also when a future is cancelled).
    pub fn enter(&self) -> GaugeGuard<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self)
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Holds one unit of a [`Gauge`].
#[derive(Debug)]
pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Outcome of one OAuth refresh grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshResult {
    /// New tokens obtained and stored.
    Refreshed,
    /// `invalid_grant`, but another writer had already rotated the token (TR-6 benign race).
    Raced,
    /// `invalid_grant`: the account needs a new authorization.
    InvalidGrant,
    /// Snowflake rejected the client credentials.
    ClientRejected,
    /// The token endpoint failed or refused for another reason.
    UpstreamError,
    /// Tokens were obtained but could not be stored (TR-5).
    StoreFailed,
    /// The record changed under the lock; the stored token was used.
    Conflict,
    /// The answer was lost in flight: the token may be spent, the account expires.
    OutcomeUnknown,
}

impl RefreshResult {
    /// Every result, in label order.
    pub const ALL: [RefreshResult; 8] = [
        Self::Refreshed,
        Self::Raced,
        Self::InvalidGrant,
        Self::ClientRejected,
        Self::UpstreamError,
        Self::StoreFailed,
        Self::Conflict,
        Self::OutcomeUnknown,
    ];

    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refreshed => "refreshed",
            Self::Raced => "raced",
            Self::InvalidGrant => "invalid_grant",
            Self::ClientRejected => "client_rejected",
            Self::UpstreamError => "upstream_error",
            Self::StoreFailed => "store_failed",
            Self::Conflict => "conflict",
            Self::OutcomeUnknown => "outcome_unknown",
        }
    }
}

/// Why an account was marked as needing a new authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthReason {
    /// Snowflake answered `invalid_grant`.
    InvalidGrant,
    /// No refresh token is held.
    NoRefreshToken,
    /// Refreshed tokens could not be stored.
    StoreFailed,
    /// A refresh was interrupted (crash, lost answer) and the single-use token may be spent.
    Interrupted,
}

impl ReauthReason {
    /// Every reason, in label order.
    pub const ALL: [ReauthReason; 4] = [
        Self::InvalidGrant,
        Self::NoRefreshToken,
        Self::StoreFailed,
        Self::Interrupted,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::NoRefreshToken => "no_refresh_token",
            Self::StoreFailed => "store_failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// Counters of the OAuth token manager.
#[derive(Debug, Default)]
pub struct TokenStats {
    refreshes: [Counter; RefreshResult::ALL.len()],
    reauth: [Counter; ReauthReason::ALL.len()],
    /// Callers currently queued behind another caller's refresh of the same account.
    pub waiters: Gauge,
    /// Callers that had to queue behind another caller's refresh (single-flight hits).
    pub waits: Counter,
}

impl TokenStats {
    /// Counts one refresh outcome.
    pub fn refresh(&self, result: RefreshResult) {
        self.refreshes[result as usize].inc();
    }

    /// Refreshes with `result` so far.
    pub fn refreshes(&self, result: RefreshResult) -> u64 {
        self.refreshes[result as usize].get()
    }

    /// Counts an account marked as needing re-authorization.
    pub fn reauthorization_required(&self, reason: ReauthReason) {
        self.reauth[reason as usize].inc();
    }

    /// Accounts marked as needing re-authorization for `reason` so far.
    pub fn reauthorizations(&self, reason: ReauthReason) -> u64 {
        self.reauth[reason as usize].get()
    }
}

/// A vault operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultOp {
    /// Read and open a sealed value.
    Get,
    /// Seal and durably write a value.
    Put,
    /// Seal and durably compare-and-swap a value.
    CompareAndSwap,
    /// Durably delete a value.
    Delete,
}

impl VaultOp {
    /// Every operation, in label order.
    pub const ALL: [VaultOp; 4] = [Self::Get, Self::Put, Self::CompareAndSwap, Self::Delete];

    /// The `op` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Put => "put",
            Self::CompareAndSwap => "compare_and_swap",
            Self::Delete => "delete",
        }
    }
}

/// Latency and failures of one kind of vault operation.
#[derive(Debug, Default)]
pub struct OpStats {
    /// Duration of every call (its count is the number of calls).
    pub latency: Histogram,
    /// Calls that returned an error.
    pub errors: Counter,
}

/// Counters of the vault.
#[derive(Debug, Default)]
pub struct VaultStats {
    ops: [OpStats; VaultOp::ALL.len()],
}

impl VaultStats {
    /// Records one call of `op` that started at `started`.
    pub fn record(&self, op: VaultOp, started: Instant, ok: bool) {
        let stats = &self.ops[op as usize];
        stats.latency.observe(started.elapsed());
        if !ok {
            stats.errors.inc();
        }
    }

    /// The statistics of `op`.
    pub fn op(&self, op: VaultOp) -> &OpStats {
        &self.ops[op as usize]
    }
}
