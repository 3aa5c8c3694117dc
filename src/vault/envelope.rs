//! The sealed-value envelope (SS-1, SS-2, SS-4):
//!
//! ```text
//! version (1) | key_id (4, BE) | nonce (12) | AES-256-GCM ciphertext | tag (16)
//! ```
//!
//! The nonce is 96 fresh bits from the OS CSPRNG on every seal, never a counter (several
//! processes may share a key across a restore). The AAD is the slot's canonical encoding plus
//! `version` and `key_id` ([`Slot::aad`]), so a blob moved to another slot, a swapped field, or an
//! edited header fails to open. Parsing checks lengths before slicing and never panics.

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Tag};
use zeroize::Zeroizing;

use super::secret::{random_bytes, SecretBytes};
use super::slot::Slot;
use super::VaultError;

/// The only envelope version written and accepted.
pub const ENVELOPE_VERSION: u8 = 1;
/// Bytes before the ciphertext: version, key id, nonce.
pub const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Shortest well-formed envelope (empty plaintext).
pub const MIN_ENVELOPE_LEN: usize = HEADER_LEN + TAG_LEN;

/// A data-encryption key with its AES key schedule prepared once. The raw key is kept (wiped on
/// drop) only so the keyring can be re-sealed; the cipher zeroizes itself on drop (`aes-gcm`'s
/// `zeroize` feature).
pub(crate) struct DataKey {
    id: u32,
    raw: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl DataKey {
    pub(crate) fn from_raw(id: u32, raw: Zeroizing<[u8; 32]>) -> Result<Self, VaultError> {
        let cipher = Aes256Gcm::new_from_slice(raw.as_ref())
            .map_err(|_| VaultError::Random("invalid AES-256 key length".to_owned()))?;
        Ok(Self { id, raw, cipher })
    }

    pub(crate) fn generate(id: u32) -> Result<Self, VaultError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        random_bytes(raw.as_mut())?;
        Self::from_raw(id, raw)
    }

    pub(crate) fn raw(&self) -> &[u8; 32] {
        &self.raw
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey {{ id: {}, key: <redacted> }}", self.id)
    }
}

/// The parsed header of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: u8,
    pub(crate) key_id: u32,
    pub(crate) nonce: [u8; NONCE_LEN],
}

/// Reads the header of `blob` without decrypting; rejects short blobs and unknown versions.
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, VaultError> {
    if blob.len() < MIN_ENVELOPE_LEN {
        return Err(VaultError::Malformed {
            reason: "sealed value too short",
        });
    }
    let (version, rest) = blob.split_first().ok_or(VaultError::Malformed {
        reason: "sealed value too short",
    })?;
    if *version != ENVELOPE_VERSION {
        return Err(VaultError::Malformed {
            reason: "unknown envelope version",
        });
    }
    let (key_id, rest) = rest.split_first_chunk::<4>().ok_or(VaultError::Malformed {
        reason: "sealed value too short",
    })?;
    let (nonce, _) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(VaultError::Malformed {
            reason: "sealed value too short",
        })?;
    Ok(Header {
        version: *version,
        key_id: u32::from_be_bytes(*key_id),
        nonce: *nonce,
    })
}

/// Seals `plaintext` for `slot` under `key` with a fresh random nonce.
pub(crate) fn seal(key: &DataKey, slot: &Slot, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    seal_with_nonce(key, slot, plaintext, nonce)
}

fn seal_with_nonce(
    key: &DataKey,
    slot: &Slot,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, VaultError> {
    let aad = slot.aad(ENVELOPE_VERSION, key.id);
    // Encrypt in place inside the output buffer; capacity covers the tag so the buffer never
    // reallocates and leaves an unwiped plaintext copy behind.
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&key.id.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher
        .encrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(nonce),
            &aad,
            out[HEADER_LEN..].as_mut().into(),
        )
        .map_err(|_| VaultError::Malformed {
            reason: "plaintext too long to seal",
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens `blob` for `slot` with `key` (whose id must equal the header's key id).
pub(crate) fn open(key: &DataKey, slot: &Slot, blob: &[u8]) -> Result<SecretBytes, VaultError> {
    let header = parse_header(blob)?;
    if header.key_id != key.id {
        return Err(VaultError::Integrity);
    }
    let body = blob.get(HEADER_LEN..).ok_or(VaultError::Integrity)?;
    let (ct, tag) = body
        .split_last_chunk::<TAG_LEN>()
        .ok_or(VaultError::Integrity)?;
    let aad = slot.aad(header.version, header.key_id);
    let mut buf = Zeroizing::new(ct.to_vec());
    key.cipher
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(header.nonce),
            &aad,
            buf.as_mut_slice().into(),
            &Tag::from(*tag),
        )
        .map_err(|_| VaultError::Integrity)?;
    Ok(SecretBytes::new(std::mem::take(&mut *buf)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "envelope_tests.rs"]
mod tests;
