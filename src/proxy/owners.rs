//! Who owns a statement (SECURITY.md TR-11): the handle of every statement submitted through the
//! proxy is remembered with its owner — the API key, the connection and, on OAuth connections,
//! the end user — and status, partition and cancel calls on a handle are allowed only for the
//! same owner. On a keypair connection every caller shares the Snowflake service user, so without
//! this any key allowed on the connection could read another key's results.
//!
//! Recent handles live in memory (bounded, oldest forgotten first); every handle is also written
//! to the store by a background task once a second, so ownership survives a restart. Owners are
//! kept as keyed hashes, never as identifiers. A handle the broker never saw (submitted elsewhere,
//! or in the last second before a crash) is left to Snowflake's own per-user check.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::vault::Vault;

/// Store tree of persisted owners: handle → owner hash (32 bytes) ‖ seconds since the epoch (8).
const TREE: &str = "statement_owners";
/// Handles kept in memory (≈ 100 bytes each).
const RECENT: usize = 65_536;
/// How often remembered handles are written to the store.
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// How long a persisted owner is kept: Snowflake keeps results for 24 hours.
const KEEP_SECS: u64 = 2 * 86_400;

/// A keyed hash of (API key, connection, end user).
pub type OwnerHash = [u8; 32];

/// The outcome of an ownership check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Submitted by this owner.
    Mine,
    /// Submitted by someone else.
    Other,
    /// Never seen by this broker.
    Unknown,
}

/// The statement-ownership registry.
pub struct StatementOwners {
    vault: Vault,
    recent: Mutex<Recent>,
    pending: Arc<Mutex<Vec<(String, OwnerHash)>>>,
}

#[derive(Default)]
struct Recent {
    owners: HashMap<String, OwnerHash>,
    order: VecDeque<String>,
}

impl StatementOwners {
    /// Starts the registry and its persistence task (inside a Tokio runtime).
    pub fn start(vault: Vault, clock: Arc<dyn Clock>) -> Self {
        let pending = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(persist(
            vault.clone(),
            Arc::downgrade(&pending),
            clock.clone(),
        ));
        Self {
            vault,
            recent: Mutex::new(Recent::default()),
            pending,
        }
    }

    /// The owner hash of a call: the API key, the connection and the end user (OAuth), or none
    /// (keypair: the caller's `X-Icebroker-Identifier` is only an audit tag, not an owner).
    pub fn owner(&self, api_key_id: &str, connection: &str, end_user: Option<&str>) -> OwnerHash {
        let mut data = Vec::with_capacity(api_key_id.len() + connection.len() + 40);
        for part in [api_key_id, connection, end_user.unwrap_or("")] {
            data.extend_from_slice(&(part.len() as u64).to_be_bytes());
            data.extend_from_slice(part.as_bytes());
        }
        data.push(u8::from(end_user.is_some()));
        self.vault.keyed_hash("statement-owner", &data)
    }

    /// Records that `owner` submitted the statement `handle`.
    pub fn remember(&self, handle: &str, owner: OwnerHash) {
        {
            let mut recent = lock(&self.recent);
            if recent.owners.insert(handle.to_owned(), owner).is_none() {
                recent.order.push_back(handle.to_owned());
                if recent.order.len() > RECENT {
                    if let Some(oldest) = recent.order.pop_front() {
                        recent.owners.remove(&oldest);
                    }
                }
            }
        }
        lock(&self.pending).push((handle.to_owned(), owner));
    }

    /// Whether `owner` may read or cancel `handle`.
    pub fn check(&self, handle: &str, owner: &OwnerHash) -> Ownership {
        let known = lock(&self.recent).owners.get(handle).copied();
        let known = known.or_else(|| {
            let stored = self.vault.store().get(TREE, handle.as_bytes()).ok()??;
            stored.get(..32)?.try_into().ok()
        });
        match known {
            Some(found) if subtle::ConstantTimeEq::ct_eq(&found[..], &owner[..]).into() => {
                Ownership::Mine
            }
            Some(_) => Ownership::Other,
            None => Ownership::Unknown,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes remembered handles to the store once a second and drops owners past [`KEEP_SECS`]
/// hourly; ends when the registry is dropped.
async fn persist(
    vault: Vault,
    pending: std::sync::Weak<Mutex<Vec<(String, OwnerHash)>>>,
    clock: Arc<dyn Clock>,
) {
    let mut tick = tokio::time::interval(PERSIST_EVERY);
    let mut sweep = tokio::time::interval(Duration::from_secs(3600));
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Some(pending) = pending.upgrade() else { break };
                std::mem::swap(&mut *lock(&pending), &mut batch);
                let now = clock.now();
                for (handle, owner) in batch.drain(..) {
                    let mut value = Vec::with_capacity(40);
                    value.extend_from_slice(&owner);
                    value.extend_from_slice(&now.to_be_bytes());
                    if let Err(e) = vault.store().put(TREE, handle.as_bytes(), &value) {
                        tracing::error!(error = %e, "statement owner not stored");
                    }
                }
            }
            _ = sweep.tick() => sweep_old(&vault, clock.now()),
        }
    }
}

fn sweep_old(vault: &Vault, now: u64) {
    let cutoff = now.saturating_sub(KEEP_SECS);
    let old: Vec<Vec<u8>> = vault
        .store()
        .scan_prefix(TREE, b"")
        .filter_map(Result::ok)
        .filter(|(_, value)| {
            value
                .get(32..40)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .is_some_and(|b| u64::from_be_bytes(b) < cutoff)
        })
        .map(|(key, _)| key)
        .collect();
    for key in old {
        let _ = vault.store().delete(TREE, &key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_submitting_owner_matches_and_owners_survive_in_the_store() {
        let vault = Vault::in_memory_for_tests().await;
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let owners = StatementOwners::start(vault.clone(), clock.clone());
        let alice = owners.owner("key1", "c", Some("alice"));
        let bob = owners.owner("key1", "c", Some("bob"));
        let other_key = owners.owner("key2", "c", Some("alice"));
        let service = owners.owner("key1", "c", None);
        assert_ne!(owners.owner("key1", "c", Some("")), service);
        owners.remember("h1", alice);
        assert_eq!(owners.check("h1", &alice), Ownership::Mine);
        for stranger in [bob, other_key, service] {
            assert_eq!(owners.check("h1", &stranger), Ownership::Other);
        }
        assert_eq!(owners.check("h2", &alice), Ownership::Unknown);
        tokio::time::sleep(PERSIST_EVERY * 2).await;
        let restarted = StatementOwners::start(vault, clock);
        assert_eq!(restarted.check("h1", &alice), Ownership::Mine);
        assert_eq!(restarted.check("h1", &bob), Ownership::Other);
    }
}
