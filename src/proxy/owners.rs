//! Who owns a statement (SECURITY.md TR-11): the handle of every statement submitted through the
//! proxy (or a tool) is remembered with its owner — the API key, the connection and, on OAuth
//! connections, the end user — and status, partition and cancel calls on a handle are allowed only
//! for the same owner. On a keypair connection every caller shares the Snowflake service user, so
//! without this any key allowed on the connection could read another key's results.
//!
//! Every handle lives in memory (bounded: the newest 65,536 at least, older ones forgotten).
//! Handles a caller has to come back for — a statement still running (202) or a result with more
//! partitions to fetch — are also written to the store by a background task once a second, so
//! they survive a restart; a complete single-partition answer is not, since its caller already
//! holds all of it (writing every handle cost ~10 µs of CPU per proxied call in store inserts;
//! BENCHMARKS.md). Owners are kept as keyed hashes, never as identifiers. A handle the broker does
//! not know — submitted elsewhere, forgotten, or lost in the last second before a crash — has no
//! owner to match, and callers treat it like another owner's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{AppError, ErrorCode};
use crate::snowflake::StatementHandle;
use crate::vault::Vault;

/// Store tree of persisted owners: handle → owner hash (32 bytes) ‖ seconds since the epoch (8).
const TREE: &str = "statement_owners";
/// Handles kept in memory at least (one generation; two are kept, ≈ 100 bytes a handle).
const RECENT: usize = 65_536;
/// How often handles to keep are written to the store.
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
    /// Not known to this broker.
    Unknown,
}

/// Whether a remembered handle must survive a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The answer was complete: memory only.
    InMemory,
    /// The caller will come back (still running, or more partitions): also in the store.
    Durable,
}

impl Keep {
    /// [`Keep::Durable`] when the caller will come back for the statement (still running, or
    /// partitions left to fetch), [`Keep::InMemory`] otherwise.
    pub fn when_coming_back(coming_back: bool) -> Self {
        if coming_back {
            Keep::Durable
        } else {
            Keep::InMemory
        }
    }
}

/// The statement-ownership registry.
pub struct StatementOwners {
    vault: Vault,
    recent: Mutex<Recent>,
    pending: Arc<Mutex<Vec<(String, OwnerHash)>>>,
}

/// The in-memory handles, keyed by their 128 bits (no allocation per statement), in two
/// generations: new handles go into `current`; a full `current` becomes `previous`, and the old
/// `previous` is dropped whole. Remembering a handle is one insert: evicting the oldest handle
/// one by one was a second random access into a table of megabytes, as costly as the insert.
#[derive(Default)]
struct Recent {
    current: HashMap<u128, OwnerHash, HandleHashing>,
    previous: HashMap<u128, OwnerHash, HandleHashing>,
}

impl Recent {
    fn insert(&mut self, bits: u128, owner: OwnerHash) {
        if self.current.len() >= RECENT {
            let fresh = HashMap::with_capacity_and_hasher(RECENT, *self.current.hasher());
            self.previous = std::mem::replace(&mut self.current, fresh);
        }
        self.current.insert(bits, owner);
    }

    fn get(&self, bits: u128) -> Option<OwnerHash> {
        self.current
            .get(&bits)
            .or_else(|| self.previous.get(&bits))
            .copied()
    }
}

/// Hashes the 128 bits of a handle with one seeded folded multiply instead of SipHash (which
/// was about half of remembering a result's handle, once per proxied result). Handles come from
/// Snowflake, not from callers, so flooding the map with colliding keys is not a caller's
/// option; the per-process seed keeps the layout unpredictable all the same.
#[derive(Clone, Copy)]
struct HandleHashing {
    seed: u64,
}

impl Default for HandleHashing {
    fn default() -> Self {
        use std::hash::BuildHasher as _;
        Self {
            seed: std::hash::RandomState::new().hash_one(0x1ceb_u16),
        }
    }
}

impl std::hash::BuildHasher for HandleHashing {
    type Hasher = HandleHasher;

    fn build_hasher(&self) -> HandleHasher {
        HandleHasher { state: self.seed }
    }
}

/// The [`HandleHashing`] hasher: every 64-bit word is folded in with a 64×64→128 multiply.
struct HandleHasher {
    state: u64,
}

impl HandleHasher {
    fn mix(&mut self, word: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let product = u128::from(self.state ^ word) * u128::from(K);
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl std::hash::Hasher for HandleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
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

    /// Records that `owner` submitted the statement `handle` (a validated statement handle;
    /// anything else is ignored).
    pub fn remember(&self, handle: &str, owner: OwnerHash, keep: Keep) {
        let Some(bits) = StatementHandle::bits(handle) else {
            return;
        };
        lock(&self.recent).insert(bits, owner);
        if keep == Keep::Durable {
            lock(&self.pending).push((handle.to_owned(), owner));
        }
    }

    /// `Ok` when `owner` submitted `handle` through this broker; otherwise 404
    /// `statement_not_found` (another owner's handle and an unknown one look the same, so the
    /// answer tells a prober nothing).
    pub fn claim(&self, handle: &str, owner: &OwnerHash) -> Result<(), AppError> {
        match self.check(handle, owner) {
            Ownership::Mine => Ok(()),
            Ownership::Other | Ownership::Unknown => Err(AppError::new(
                ErrorCode::StatementNotFound,
                "no statement with this handle was submitted through this broker by this caller \
                 (this API key and, on OAuth connections, this end user): status, partitions and \
                 cancel are for the statement's owner only",
            )),
        }
    }

    /// Whether `owner` may read or cancel `handle`.
    pub fn check(&self, handle: &str, owner: &OwnerHash) -> Ownership {
        let Some(bits) = StatementHandle::bits(handle) else {
            return Ownership::Unknown;
        };
        let known = lock(&self.recent).get(bits);
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

/// Writes durable handles to the store once a second and drops owners past [`KEEP_SECS`]
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

    const H1: &str = "01b03285-0001-dea1-003d-b087000ca9be";
    const H2: &str = "01b03285-0001-dea1-003d-b087000ca9bf";
    const H3: &str = "01b03285-0001-dea1-003d-b087000ca9c0";

    #[tokio::test]
    async fn only_the_submitting_owner_matches_and_durable_owners_survive_in_the_store() {
        let vault = Vault::in_memory_for_tests().await;
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let owners = StatementOwners::start(vault.clone(), clock.clone());
        let alice = owners.owner("key1", "c", Some("alice"));
        let bob = owners.owner("key1", "c", Some("bob"));
        let other_key = owners.owner("key2", "c", Some("alice"));
        let service = owners.owner("key1", "c", None);
        assert_ne!(owners.owner("key1", "c", Some("")), service);
        owners.remember(H1, alice, Keep::Durable);
        owners.remember(H3, alice, Keep::InMemory);
        for handle in [H1, H3] {
            assert_eq!(owners.check(handle, &alice), Ownership::Mine);
            for stranger in [bob, other_key, service] {
                assert_eq!(owners.check(handle, &stranger), Ownership::Other);
            }
        }
        assert_eq!(owners.check(H2, &alice), Ownership::Unknown);
        tokio::time::sleep(PERSIST_EVERY * 2).await;
        let restarted = StatementOwners::start(vault, clock);
        assert_eq!(restarted.check(H1, &alice), Ownership::Mine);
        assert_eq!(restarted.check(H1, &bob), Ownership::Other);
        assert_eq!(
            restarted.check(H3, &alice),
            Ownership::Unknown,
            "a complete answer's owner is kept in memory only"
        );
    }

    #[test]
    fn the_newest_handles_are_always_known_and_old_generations_are_dropped_whole() {
        let mut recent = Recent::default();
        let owner = |n: u128| [n as u8; 32];
        let total = 2 * RECENT as u128 + 10;
        for n in 0..total {
            recent.insert(n, owner(n));
        }
        for n in total - RECENT as u128..total {
            assert_eq!(recent.get(n), Some(owner(n)), "handle {n}");
        }
        assert_eq!(recent.get(0), None);
        assert!(recent.current.len() + recent.previous.len() <= 2 * RECENT);
    }

    #[test]
    fn handles_that_differ_in_a_few_bits_spread_over_buckets_and_control_bytes() {
        use std::hash::BuildHasher as _;
        let hashing = HandleHashing::default();
        // Snowflake's handles share long prefixes; consecutive ones differ in a few low bits.
        let base = StatementHandle::bits(H1).unwrap();
        let hashes: Vec<u64> = (0..4096u128)
            .flat_map(|i| [base + i, base ^ (i << 64)])
            .map(|bits| hashing.hash_one(bits))
            .collect();
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        // 8192 random keys would leave about 4096 · (1 − e⁻²) ≈ 3542 buckets used.
        assert!(
            buckets.len() > 3300,
            "{} of 4096 low-bit buckets",
            buckets.len()
        );
        assert_eq!(tags.len(), 128, "every top-7-bit tag is used");
        assert_ne!(
            HandleHashing::default().hash_one(base),
            HandleHashing::default().hash_one(base),
            "seeded per map"
        );
    }
}
