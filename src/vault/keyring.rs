//! The keyring: data keys (DEKs) by `u32` id, the active id, the per-install HMAC secret, and
//! per-key seal counters — sealed as a whole under the master key (SS-1, SS-4, SS-5).
//!
//! Invariants:
//! - key ids are never reused (`next_id` only grows), so a retired id cannot come back;
//! - seal counters are persisted by reservation: before the `n`-th seal under a key, `n` must be
//!   below the key's persisted `reserved` mark, which grows in blocks of [`SEAL_RESERVATION`].
//!   A restart resumes counting at `reserved`, so the count is monotonic and never undercounts,
//!   while the keyring is written only once per 65,536 seals;
//! - every change is written durably (see [`super::keyfile`]) *before* it takes effect in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::envelope::DataKey;
use super::keyfile::{self, DB_DIR, KEYRING_FILE};
use super::secret::{random_bytes, MasterKey};
use super::VaultError;

/// Seals reserved per keyring write.
pub const SEAL_RESERVATION: u64 = 1 << 16;
/// Seals under one key after which every further seal logs a warning (SS-4 alarm).
pub const SEAL_WARN_LIMIT: u64 = 1 << 31;
/// Seals under one key after which sealing is refused (Vault's `absoluteOperationMaximum`,
/// 10 % below NIST SP 800-38D's 2^32 for random 96-bit nonces).
pub const SEAL_HARD_LIMIT: u64 = 3_865_470_566;

const FORMAT: u8 = 1;

pub(crate) struct KeyState {
    pub(crate) key: Arc<DataKey>,
    pub(crate) sealed: AtomicU64,
    pub(crate) reserved: u64,
    pub(crate) created_at: u64,
}

/// The opened keyring. Obtain it with [`Keyring::load_or_create`] *before* opening the sled
/// database, then hand it to [`super::Vault::with_keyring`].
pub struct Keyring {
    /// `None`: in-memory only (tests); nothing is persisted.
    path: Option<PathBuf>,
    kek: Zeroizing<[u8; 32]>,
    pub(crate) install_id: [u8; 16],
    pub(crate) hmac_secret: Zeroizing<[u8; 32]>,
    pub(crate) active: u32,
    next_id: u32,
    pub(crate) keys: BTreeMap<u32, KeyState>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why a seal could not be counted under the read lock.
pub(crate) enum CountError {
    /// The persisted reservation is used up: extend it (needs the write lock), then retry.
    NeedsReservation,
    /// The key reached [`SEAL_HARD_LIMIT`].
    Exhausted(u32),
}

impl Keyring {
    /// Opens `<data_dir>/keyring.v1` with `master`, or creates data dir and keyring when the dir
    /// is brand-new (no keyring and no database). Never writes anything when the keyring exists,
    /// so a wrong key ([`VaultError::WrongMasterKey`]) leaves the data dir unchanged. A database
    /// without a keyring is [`VaultError::MissingKeyring`], never a silent re-initialisation.
    pub fn load_or_create(data_dir: &Path, master: &MasterKey) -> Result<Self, VaultError> {
        let path = data_dir.join(KEYRING_FILE);
        let kek = keyfile::derive_kek(master)?;
        if let Some(sealed) = keyfile::read(&path)? {
            let plain = keyfile::open_keyring(&path, &kek, &sealed)?;
            return Self::decode(&plain, Some(path), kek);
        }
        if keyfile::has_database(data_dir)? {
            return Err(VaultError::MissingKeyring {
                path: path.display().to_string(),
                db: data_dir.join(DB_DIR).display().to_string(),
            });
        }
        keyfile::ensure_data_dir(data_dir)?;
        let ring = Self::fresh(Some(path.clone()), kek)?;
        let sealed = keyfile::seal_keyring(&ring.kek, &ring.encode())?;
        keyfile::write_atomic(&path, &sealed, true)?;
        tracing::info!(path = %path.display(), "created a new vault keyring");
        Ok(ring)
    }

    /// A keyring that lives only in memory (tests and throw-away setups).
    pub fn in_memory(master: &MasterKey) -> Result<Self, VaultError> {
        Self::fresh(None, keyfile::derive_kek(master)?)
    }

    fn fresh(path: Option<PathBuf>, kek: Zeroizing<[u8; 32]>) -> Result<Self, VaultError> {
        let mut install_id = [0u8; 16];
        random_bytes(&mut install_id)?;
        let mut hmac_secret = Zeroizing::new([0u8; 32]);
        random_bytes(hmac_secret.as_mut())?;
        let key = Arc::new(DataKey::generate(1)?);
        let mut keys = BTreeMap::new();
        keys.insert(1, new_state(key, 0, SEAL_RESERVATION));
        Ok(Self {
            path,
            kek,
            install_id,
            hmac_secret,
            active: 1,
            next_id: 2,
            keys,
        })
    }

    /// Path of the keyring file, if persisted.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn active_key(&self) -> Option<&KeyState> {
        self.keys.get(&self.active)
    }

    /// Counts one seal under the active key, if its reservation allows.
    pub(crate) fn count_seal(&self) -> Result<Arc<DataKey>, CountError> {
        let state = self
            .active_key()
            .ok_or(CountError::Exhausted(self.active))?;
        let reserved = state.reserved;
        let prev = state
            .sealed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < reserved && n < SEAL_HARD_LIMIT).then_some(n + 1)
            })
            .map_err(|n| {
                if n >= SEAL_HARD_LIMIT {
                    CountError::Exhausted(self.active)
                } else {
                    CountError::NeedsReservation
                }
            })?;
        if prev + 1 >= SEAL_WARN_LIMIT && (prev + 1) % SEAL_RESERVATION == 0 {
            tracing::warn!(
                key_id = self.active,
                seals = prev + 1,
                limit = SEAL_HARD_LIMIT,
                "the active data key is nearing its seal limit; run `icebroker vault rotate-key`"
            );
        }
        Ok(Arc::clone(&state.key))
    }

    /// Persists a larger seal reservation for the active key.
    pub(crate) fn extend_reservation(&mut self) -> Result<(), VaultError> {
        let active = self.active;
        let state = self
            .keys
            .get(&active)
            .ok_or(VaultError::UnknownKeyId(active))?;
        let sealed = state.sealed.load(Ordering::Acquire);
        if sealed >= SEAL_HARD_LIMIT {
            return Err(VaultError::KeyExhausted { key_id: active });
        }
        if sealed < state.reserved {
            return Ok(()); // another writer extended it already
        }
        let new_mark = (sealed + SEAL_RESERVATION).min(SEAL_HARD_LIMIT);
        self.commit(|ring| {
            if let Some(s) = ring.keys.get_mut(&active) {
                s.reserved = new_mark;
            }
        })
    }

    /// Generates a new data key, persists it and makes it active. Returns its id.
    pub(crate) fn add_active_key(&mut self) -> Result<u32, VaultError> {
        let id = self.next_id;
        let next = id.checked_add(1).ok_or(VaultError::UnknownKeyId(id))?;
        let key = Arc::new(DataKey::generate(id)?);
        self.commit(|ring| {
            ring.keys.insert(id, new_state(key, 0, SEAL_RESERVATION));
            ring.active = id;
            ring.next_id = next;
        })?;
        Ok(id)
    }

    /// Removes (retires) inactive keys and persists. The caller proved no record uses them.
    pub(crate) fn retire(&mut self, ids: &[u32]) -> Result<(), VaultError> {
        let active = self.active;
        self.commit(|ring| ring.keys.retain(|id, _| *id == active || !ids.contains(id)))
    }

    /// Re-seals the keyring under a new master key (the data keys do not change).
    pub(crate) fn rekey(&mut self, master: &MasterKey) -> Result<(), VaultError> {
        let kek = keyfile::derive_kek(master)?;
        self.write(&kek, &self.encode())?;
        self.kek = kek;
        Ok(())
    }

    /// Applies `change` to a copy, persists the copy, and only then adopts it.
    fn commit(&mut self, change: impl FnOnce(&mut Keyring)) -> Result<(), VaultError> {
        let mut next = Keyring {
            path: self.path.clone(),
            kek: self.kek.clone(),
            install_id: self.install_id,
            hmac_secret: self.hmac_secret.clone(),
            active: self.active,
            next_id: self.next_id,
            keys: self
                .keys
                .iter()
                .map(|(id, s)| {
                    let sealed = s.sealed.load(Ordering::Acquire);
                    let mut copy = new_state(Arc::clone(&s.key), sealed, s.reserved);
                    copy.created_at = s.created_at;
                    (*id, copy)
                })
                .collect(),
        };
        change(&mut next);
        next.write(&next.kek, &next.encode())?;
        *self = next;
        Ok(())
    }

    fn write(&self, kek: &[u8; 32], plain: &[u8]) -> Result<(), VaultError> {
        match &self.path {
            Some(path) => keyfile::write_atomic(path, &keyfile::seal_keyring(kek, plain)?, false),
            None => Ok(()),
        }
    }

    /// `FORMAT | install_id | hmac_secret | active | next_id | n | n × (id | key | reserved |
    /// created_at)`, integers big-endian.
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(64 + self.keys.len() * 52));
        out.push(FORMAT);
        out.extend_from_slice(&self.install_id);
        out.extend_from_slice(self.hmac_secret.as_ref());
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&self.next_id.to_be_bytes());
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        for (id, s) in &self.keys {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(s.key.raw());
            out.extend_from_slice(&s.reserved.to_be_bytes());
            out.extend_from_slice(&s.created_at.to_be_bytes());
        }
        out
    }

    fn decode(
        plain: &[u8],
        path: Option<PathBuf>,
        kek: Zeroizing<[u8; 32]>,
    ) -> Result<Self, VaultError> {
        let corrupt = |reason: &str| VaultError::KeyringCorrupt {
            path: path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            reason: reason.to_owned(),
        };
        let mut r = Reader(plain);
        if r.take::<1>().ok_or_else(|| corrupt("empty"))? != [FORMAT] {
            return Err(corrupt("unknown keyring format"));
        }
        let install_id = r.take::<16>().ok_or_else(|| corrupt("truncated"))?;
        let hmac_secret = Zeroizing::new(r.take::<32>().ok_or_else(|| corrupt("truncated"))?);
        let active = r.u32().ok_or_else(|| corrupt("truncated"))?;
        let next_id = r.u32().ok_or_else(|| corrupt("truncated"))?;
        let n = r.u32().ok_or_else(|| corrupt("truncated"))?;
        let mut keys = BTreeMap::new();
        for _ in 0..n {
            let id = r.u32().ok_or_else(|| corrupt("truncated"))?;
            let raw = Zeroizing::new(r.take::<32>().ok_or_else(|| corrupt("truncated"))?);
            let reserved = r.u64().ok_or_else(|| corrupt("truncated"))?;
            let created_at = r.u64().ok_or_else(|| corrupt("truncated"))?;
            if id >= next_id || keys.contains_key(&id) {
                return Err(corrupt("inconsistent key ids"));
            }
            let mut state = new_state(Arc::new(DataKey::from_raw(id, raw)?), reserved, reserved);
            state.created_at = created_at;
            if reserved >= SEAL_WARN_LIMIT {
                tracing::warn!(
                    key_id = id,
                    seals = reserved,
                    "data key nearing its seal limit"
                );
            }
            keys.insert(id, state);
        }
        if !r.0.is_empty() || !keys.contains_key(&active) {
            return Err(corrupt("inconsistent contents"));
        }
        Ok(Self {
            path,
            kek,
            install_id,
            hmac_secret,
            active,
            next_id,
            keys,
        })
    }

    #[cfg(test)]
    pub(crate) fn force_seal_count(&mut self, n: u64) {
        if let Some(s) = self.keys.get_mut(&self.active) {
            s.sealed.store(n, Ordering::Release);
            s.reserved = s.reserved.max(n);
        }
    }
}

fn new_state(key: Arc<DataKey>, sealed: u64, reserved: u64) -> KeyState {
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    KeyState {
        key,
        sealed: AtomicU64::new(sealed),
        reserved,
        created_at,
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_be_bytes)
    }
}
