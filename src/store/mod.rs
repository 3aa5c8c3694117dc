//! Key-value storage behind a small object-safe trait (SECURITY.md ST-1).
//!
//! The store knows nothing about secrets: it holds opaque bytes in named trees. Everything that
//! must stay confidential is sealed by [`crate::vault`] before it reaches a store.
//!
//! Invariants every backend upholds (checked by one contract suite run against each backend):
//! - trees are isolated namespaces; a key in one tree is invisible in another;
//! - `scan_prefix` yields keys in ascending byte order;
//! - `compare_and_swap` is atomic: of any number of racing writers expecting the same old value,
//!   exactly one wins;
//! - writes are visible to later reads at once but are **not durable until [`Store::flush`]
//!   resolves**. Callers acknowledge a credential write only after awaiting `flush` (ST-1, ST-4).
//!
//! Backends: [`SledStore`] (production, sled 0.34; single process, holds a file lock) and
//! [`MemoryStore`] (tests and ephemeral use).

#![warn(missing_docs)]

mod memory;
mod sled;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod contract;

use std::future::Future;
use std::pin::Pin;

pub use self::memory::MemoryStore;
pub use self::sled::{SledStore, LOCK_WAIT};

/// A boxed, `Send` future, so that [`Store`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Iterator returned by [`Store::scan_prefix`]: `(key, value)` pairs in ascending key order.
pub type ScanIter<'a> =
    Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + Send + 'a>;

/// Errors of a storage backend. Messages name the path or operation, never stored values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (normally a running `icebroker serve`) holds the database lock.
    #[error(
        "the database at {path} is locked by another process (is `icebroker serve` running?); \
         stop it, or use its HTTP API instead of the CLI"
    )]
    Locked {
        /// Directory of the locked database.
        path: String,
    },
    /// The backend reported corrupted data. Nothing is recreated automatically (ST-5).
    #[error("the database at {path} is corrupt: {detail}; restore it from a backup")]
    Corrupt {
        /// Directory of the database.
        path: String,
        /// What the backend reported.
        detail: String,
    },
    /// A tree name was empty or too long.
    #[error("invalid tree name (must be 1..=64 bytes)")]
    InvalidTree,
    /// Any other backend failure (I/O and the like).
    #[error("storage {op} failed: {detail}")]
    Backend {
        /// The operation that failed (`open`, `get`, `flush`, …).
        op: &'static str,
        /// What the backend reported.
        detail: String,
    },
}

/// Longest tree name accepted, in bytes.
pub const MAX_TREE_NAME: usize = 64;

/// Rejects tree names that are empty or longer than [`MAX_TREE_NAME`].
pub(crate) fn check_tree(tree: &str) -> Result<(), StoreError> {
    if tree.is_empty() || tree.len() > MAX_TREE_NAME {
        return Err(StoreError::InvalidTree);
    }
    Ok(())
}

/// A transactional-enough key-value store: named trees, point reads and writes, atomic
/// compare-and-swap, ordered prefix scans and an explicit durable commit.
pub trait Store: Send + Sync + 'static {
    /// Reads the value under `key` in `tree`.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes `value` under `key`, replacing any old value. Not durable until [`Store::flush`].
    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`, returning the value it held. Not durable until [`Store::flush`].
    fn delete(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomically replaces `expected` (`None` = absent) by `new` (`None` = delete).
    /// Returns `Ok(false)` when the current value is not `expected` (nothing is written).
    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;

    /// Every `(key, value)` whose key starts with `prefix`, in ascending key order.
    fn scan_prefix<'a>(&'a self, tree: &str, prefix: &[u8]) -> ScanIter<'a>;

    /// Number of keys in `tree` (may cost a full scan).
    fn len(&self, tree: &str) -> Result<usize, StoreError>;

    /// Whether `tree` holds no keys.
    fn is_empty(&self, tree: &str) -> Result<bool, StoreError> {
        Ok(self.scan_prefix(tree, b"").next().transpose()?.is_none())
    }

    /// Durable commit of everything written so far (sled: `flush_async`). Awaited before
    /// acknowledging any credential write.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}
