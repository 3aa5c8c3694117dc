//! [`Vault`]: seal/open values by [`Slot`] on top of a [`Store`], with durable writes.
//!
//! Locking: the keyring sits in a `std::sync::RwLock`. A seal holds the read lock from counting
//! the seal until the sealed value is in the store (never across an `.await`), so rotation, which
//! takes the write lock before it counts the records of a key it wants to retire, never misses a
//! value that was sealed under that key but not yet written.

use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::envelope::{self, DataKey};
use super::keyring::{CountError, Keyring};
use super::secret::{MasterKey, SecretBytes};
use super::slot::{self, Slot};
use super::{VaultError, DB_DIR};
use crate::metrics::stats::VaultOp;
use crate::store::{SledStore, Store};

/// Tree holding every sealed value, keyed by the slot's canonical encoding.
pub const SEALED_TREE: &str = "sealed";
/// Tree holding vault metadata (the install id binding the database to its keyring).
pub const META_TREE: &str = "vault_meta";
const INSTALL_ID_KEY: &[u8] = b"install_id";

/// Opaque handle on the stored bytes of a sealed value, for compare-and-swap updates.
#[derive(Clone, PartialEq, Eq)]
pub struct Version(pub(crate) Vec<u8>);

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes are ciphertext, not secret, but they are long and meaningless in logs.
        write!(f, "Version({} bytes)", self.0.len())
    }
}

/// Public facts about one data key. No key material.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeyStatus {
    /// Key id, as found in envelopes.
    pub id: u32,
    /// Whether new seals use this key.
    pub active: bool,
    /// Seals counted under this key (an upper bound: resumes at the last reservation after a
    /// restart).
    pub seals: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

/// Public state of the vault: key ids, active id, seal counts. No secrets.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VaultStatus {
    /// Id of the active data key.
    pub active_key_id: u32,
    /// Every data key still in the keyring.
    pub keys: Vec<KeyStatus>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: RwLock<Keyring>,
    hmac_secret: Zeroizing<[u8; 32]>,
    pub(crate) rotation: tokio::sync::Mutex<()>,
    stats: crate::metrics::stats::VaultStats,
}

/// The sealed vault. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Vault {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault of `data_dir` in the fail-closed order: verify `master` against the
    /// keyring (creating it on a brand-new dir), then open sled in `<data_dir>/db`, then bind.
    pub async fn open(data_dir: &Path, master: MasterKey) -> Result<Vault, VaultError> {
        let ring = Keyring::load_or_create(data_dir, &master)?;
        drop(master);
        let store = SledStore::open(&data_dir.join(DB_DIR))?;
        Vault::with_keyring(Arc::new(store), ring).await
    }

    /// Builds a vault from an opened keyring and store. On an empty store, records the keyring's
    /// install id (durably); otherwise checks the store carries the same install id, so a
    /// keyring and a database from different installs are never mixed.
    pub async fn with_keyring(store: Arc<dyn Store>, ring: Keyring) -> Result<Vault, VaultError> {
        match store.get(META_TREE, INSTALL_ID_KEY)? {
            Some(id) if id.as_slice() == ring.install_id.as_slice() => {}
            Some(_) => {
                return Err(VaultError::KeyringMismatch {
                    reason: "install ids differ",
                })
            }
            None => {
                if !store.is_empty(SEALED_TREE)? {
                    return Err(VaultError::KeyringMismatch {
                        reason: "sealed records exist but no install id",
                    });
                }
                store.put(META_TREE, INSTALL_ID_KEY, &ring.install_id)?;
                store.flush().await?;
            }
        }
        let hmac_secret = ring.hmac_secret.clone();
        Ok(Vault {
            inner: Arc::new(Inner {
                store,
                keyring: RwLock::new(ring),
                hmac_secret,
                rotation: tokio::sync::Mutex::new(()),
                stats: Default::default(),
            }),
        })
    }

    /// The underlying store, for non-secret records (API-key hashes and the like).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Opens the value in `slot`, if any. An integrity failure is an error, never a value.
    pub fn get(&self, slot: &Slot) -> Result<Option<SecretBytes>, VaultError> {
        Ok(self.get_versioned(slot)?.map(|(_, s)| s))
    }

    /// Operation counts and latencies (for `/metrics`).
    pub fn stats(&self) -> &crate::metrics::stats::VaultStats {
        &self.inner.stats
    }

    fn timed<T>(
        &self,
        op: VaultOp,
        started: Instant,
        result: Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.inner.stats.record(op, started, result.is_ok());
        result
    }

    /// Opens the value in `slot` together with a [`Version`] for [`Vault::put_if_version`].
    pub fn get_versioned(&self, slot: &Slot) -> Result<Option<(Version, SecretBytes)>, VaultError> {
        let started = Instant::now();
        self.timed(VaultOp::Get, started, self.get_versioned_untimed(slot))
    }

    fn get_versioned_untimed(
        &self,
        slot: &Slot,
    ) -> Result<Option<(Version, SecretBytes)>, VaultError> {
        let Some(blob) = self.inner.store.get(SEALED_TREE, &slot.store_key())? else {
            return Ok(None);
        };
        let plain = self.open_blob(slot, &blob)?;
        Ok(Some((Version(blob), plain)))
    }

    /// Seals `plaintext` into `slot`; returns after the write is durable.
    pub async fn put(&self, slot: &Slot, plaintext: &[u8]) -> Result<(), VaultError> {
        let started = Instant::now();
        let result = async {
            self.seal_and(slot, plaintext, |store, key, blob| {
                store.put(SEALED_TREE, key, blob)?;
                Ok(true)
            })?;
            self.inner.store.flush().await?;
            Ok(())
        }
        .await;
        self.timed(VaultOp::Put, started, result)
    }

    /// Seals `plaintext` into `slot` without waiting for durability: the write is visible at once
    /// and durable after the store's next flush. Only for records that are not credentials and
    /// are written in batches followed by one [`crate::store::Store::flush`] (the audit log).
    pub fn put_batched(&self, slot: &Slot, plaintext: &[u8]) -> Result<(), VaultError> {
        self.seal_and(slot, plaintext, |store, key, blob| {
            store.put(SEALED_TREE, key, blob)?;
            Ok(true)
        })?;
        Ok(())
    }

    /// Removes a sealed value without waiting for durability (see [`Self::put_batched`]).
    pub fn delete_batched(&self, slot: &Slot) -> Result<bool, VaultError> {
        Ok(self
            .inner
            .store
            .delete(SEALED_TREE, &slot.store_key())?
            .is_some())
    }

    /// Seals `plaintext` into `slot` only if the stored value is still `expected` (`None` =
    /// absent). `Ok(false)` on conflict, nothing written. Durable before returning `Ok(true)`.
    pub async fn put_if_version(
        &self,
        slot: &Slot,
        expected: Option<&Version>,
        plaintext: &[u8],
    ) -> Result<bool, VaultError> {
        let started = Instant::now();
        let expected = expected.map(|v| v.0.as_slice());
        let result = async {
            let swapped = self.seal_and(slot, plaintext, |store, key, blob| {
                Ok(store.compare_and_swap(SEALED_TREE, key, expected, Some(blob))?)
            })?;
            if swapped {
                self.inner.store.flush().await?;
            }
            Ok(swapped)
        }
        .await;
        self.timed(VaultOp::CompareAndSwap, started, result)
    }

    /// Deletes the value in `slot`; `true` if there was one. Durable before returning.
    pub async fn delete(&self, slot: &Slot) -> Result<bool, VaultError> {
        let started = Instant::now();
        let result = async {
            let existed = self
                .inner
                .store
                .delete(SEALED_TREE, &slot.store_key())?
                .is_some();
            self.inner.store.flush().await?;
            Ok(existed)
        }
        .await;
        self.timed(VaultOp::Delete, started, result)
    }

    /// Every slot of `kind` (optionally within `connection`) with its opened value, in key order.
    pub fn scan<'a>(
        &'a self,
        kind: &str,
        connection: Option<&str>,
    ) -> impl Iterator<Item = Result<(Slot, SecretBytes), VaultError>> + 'a {
        let prefix = slot::scan_prefix(kind, connection);
        self.inner
            .store
            .scan_prefix(SEALED_TREE, &prefix)
            .map(move |item| {
                let (key, blob) = item?;
                let slot = Slot::from_store_key(&key)?;
                let plain = self.open_blob(&slot, &blob)?;
                Ok((slot, plain))
            })
    }

    /// HMAC-SHA256 of `data` under the per-install secret, domain-separated by `purpose` (API-key
    /// hashes, link tokens, audit ids). Stable across data-key rotation and master rekey.
    pub fn keyed_hash(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.inner.hmac_secret.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        // Length-prefixed, so (purpose, data) pairs cannot collide across purposes.
        mac.update(b"icebroker/v1 keyed-hash");
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose.as_bytes());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Key ids, active id and seal counts. No secrets.
    pub fn status(&self) -> VaultStatus {
        let ring = self.read_ring();
        VaultStatus {
            active_key_id: ring.active,
            keys: ring
                .keys
                .iter()
                .map(|(id, s)| KeyStatus {
                    id: *id,
                    active: *id == ring.active,
                    seals: s.sealed.load(std::sync::atomic::Ordering::Acquire),
                    created_at: s.created_at,
                })
                .collect(),
        }
    }

    /// Re-seals only the keyring under `new_master` (SS-5 "rekey"); data keys and sealed records
    /// are untouched. After it returns, only `new_master` opens the data dir.
    pub async fn rekey(&self, new_master: MasterKey) -> Result<(), VaultError> {
        let _rotation = self.inner.rotation.lock().await;
        self.write_ring().rekey(&new_master)
    }

    pub(crate) fn read_ring(&self) -> RwLockReadGuard<'_, Keyring> {
        // Keyring changes are applied only after they are persisted, in one assignment, so a
        // panic elsewhere cannot leave it half-updated: a poisoned lock is still consistent.
        self.inner
            .keyring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write_ring(&self) -> RwLockWriteGuard<'_, Keyring> {
        self.inner
            .keyring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens `blob` for `slot` with whichever key its header names.
    pub(crate) fn open_blob(&self, slot: &Slot, blob: &[u8]) -> Result<SecretBytes, VaultError> {
        let header = envelope::parse_header(blob)?;
        let key: Arc<DataKey> = self
            .read_ring()
            .keys
            .get(&header.key_id)
            .map(|s| Arc::clone(&s.key))
            .ok_or(VaultError::UnknownKeyId(header.key_id))?;
        envelope::open(&key, slot, blob)
    }

    /// Seals under the active key and runs `write` while still holding the keyring read lock
    /// (see the module doc). Returns what `write` returned.
    pub(crate) fn seal_and(
        &self,
        slot: &Slot,
        plaintext: &[u8],
        write: impl FnOnce(&dyn Store, &[u8], &[u8]) -> Result<bool, VaultError>,
    ) -> Result<bool, VaultError> {
        let key = slot.store_key();
        loop {
            {
                let ring = self.read_ring();
                match ring.count_seal() {
                    Ok(dek) => {
                        let blob = envelope::seal(&dek, slot, plaintext)?;
                        return write(self.inner.store.as_ref(), &key, &blob);
                    }
                    Err(CountError::Exhausted(key_id)) => {
                        return Err(VaultError::KeyExhausted { key_id })
                    }
                    Err(CountError::NeedsReservation) => {}
                }
            }
            // Once per 65,536 seals: a small synchronous keyring write (temp + fsync + rename).
            self.write_ring().extend_reservation()?;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
impl Vault {
    /// A vault over a [`crate::store::MemoryStore`] with an in-memory keyring, for unit tests.
    pub(crate) async fn in_memory_for_tests() -> Vault {
        let master = MasterKey::from_bytes(&[0x42; 32]).unwrap();
        let ring = Keyring::in_memory(&master).unwrap();
        Vault::with_keyring(Arc::new(crate::store::MemoryStore::new()), ring)
            .await
            .unwrap()
    }
}
