//! Data-key rotation (SS-5): activate a new DEK, re-seal every record under it, and retire old
//! keys once no record references them.
//!
//! Online-safe: each record is replaced by compare-and-swap against the exact bytes that were
//! read, so a concurrent write (already under the new key) always wins and is never overwritten
//! with stale plaintext. Retirement order matters for crash safety:
//! 1. under the keyring write lock (no seal in flight), count records per key id;
//! 2. flush the store, so the state that was counted is durable;
//! 3. only then persist a keyring without the unreferenced keys.
//!
//! Every seal after step 1 uses the new active key, so nothing can start referencing a retired
//! key between steps 1 and 3.

use std::collections::BTreeMap;

use serde::Serialize;

use super::envelope;
use super::service::{Vault, SEALED_TREE};
use super::slot::Slot;
use super::VaultError;

/// How often a record is retried when concurrent writers keep replacing it.
const CAS_ATTEMPTS: usize = 3;

/// What [`Vault::rotate_key`] did. No secrets.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RotationReport {
    /// The key that was active before.
    pub previous_key_id: u32,
    /// The newly generated, now active key.
    pub new_key_id: u32,
    /// Records re-sealed under the new key.
    pub resealed: usize,
    /// Records replaced or deleted concurrently by another writer (so already under the new
    /// key, or gone). `resealed + raced + unreadable` = records scanned, unless a record kept
    /// changing for 3 attempts in a row (then it is counted nowhere and its key is kept).
    pub raced: usize,
    /// Records that failed to open (integrity/format errors); left untouched, and their key is
    /// kept.
    pub unreadable: usize,
    /// Keys removed from the keyring.
    pub retired: Vec<u32>,
    /// Records per key id still in the store after the pass (the active key included).
    pub records_per_key: BTreeMap<u32, usize>,
}

impl Vault {
    /// Generates a new data key and makes it active, re-seals every record under it, and — if
    /// `retire_old` — removes every older key that no record references any more. Safe while
    /// the vault serves traffic; concurrent rotations are serialised.
    pub async fn rotate_key(&self, retire_old: bool) -> Result<RotationReport, VaultError> {
        let _rotation = self.inner.rotation.lock().await;
        let mut report = RotationReport {
            previous_key_id: self.read_ring().active,
            ..RotationReport::default()
        };
        report.new_key_id = self.write_ring().add_active_key()?;
        tracing::info!(
            previous_key_id = report.previous_key_id,
            new_key_id = report.new_key_id,
            "vault data key rotated; re-sealing records"
        );

        self.reseal_all(report.new_key_id, &mut report)?;
        self.inner.store.flush().await?;

        let counts = {
            let _no_seals_in_flight = self.write_ring();
            self.count_records_per_key()?
        };
        report.records_per_key = counts.clone();
        if retire_old {
            let retire: Vec<u32> = {
                let ring = self.read_ring();
                ring.keys
                    .keys()
                    .copied()
                    .filter(|id| *id != ring.active && !counts.contains_key(id))
                    .collect()
            };
            if !retire.is_empty() {
                // Make the counted state durable before the keys it no longer needs disappear.
                self.inner.store.flush().await?;
                self.write_ring().retire(&retire)?;
                tracing::info!(retired = ?retire, "vault data keys retired");
            }
            report.retired = retire;
        }
        Ok(report)
    }

    fn reseal_all(&self, active: u32, report: &mut RotationReport) -> Result<(), VaultError> {
        let store = &self.inner.store;
        for item in store.scan_prefix(SEALED_TREE, b"") {
            let (key, mut blob) = item?;
            for _ in 0..CAS_ATTEMPTS {
                match envelope::parse_header(&blob) {
                    // The new key is younger than the scan: a concurrent writer got here first.
                    Ok(h) if h.key_id == active => {
                        report.raced += 1;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        report.unreadable += 1;
                        break;
                    }
                }
                let Ok(slot) = Slot::from_store_key(&key) else {
                    report.unreadable += 1;
                    break;
                };
                let plain = match self.open_blob(&slot, &blob) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, kind = slot.kind(), field = slot.field(),
                            "rotation skipped a record that does not open");
                        report.unreadable += 1;
                        break;
                    }
                };
                let expected = blob.clone();
                let swapped = self.seal_and(&slot, plain.expose(), |s, k, new| {
                    Ok(s.compare_and_swap(SEALED_TREE, k, Some(&expected), Some(new))?)
                })?;
                if swapped {
                    report.resealed += 1;
                    break;
                }
                match store.get(SEALED_TREE, &key)? {
                    Some(current) => blob = current,
                    None => {
                        report.raced += 1;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Records per key id, from envelope headers (unreadable headers are not counted).
    fn count_records_per_key(&self) -> Result<BTreeMap<u32, usize>, VaultError> {
        let mut counts = BTreeMap::new();
        for item in self.inner.store.scan_prefix(SEALED_TREE, b"") {
            let (_, blob) = item?;
            if let Ok(h) = envelope::parse_header(&blob) {
                *counts.entry(h.key_id).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "rotate_tests.rs"]
mod tests;
