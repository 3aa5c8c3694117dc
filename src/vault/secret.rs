//! Secret wrappers: the master key and opened plaintexts (SS-7).
//!
//! Both live in `secrecy::SecretBox`, are wiped on drop, print `<redacted>` under `Debug`, and
//! implement neither `Clone` nor `Serialize`: a copy of a secret must be made on purpose, through
//! `expose`, on the line that uses it.

use std::fmt;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use zeroize::Zeroizing;

use super::VaultError;

/// Length of the master key (AES-256 key-encryption key material), in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), VaultError> {
    getrandom::fill(buf).map_err(|e| VaultError::Random(e.to_string()))
}

/// The 32-byte master key that seals the keyring (the KEK). Never stored next to the data it
/// protects in production; wiped from memory on drop.
pub struct MasterKey(SecretBox<[u8; MASTER_KEY_LEN]>);

impl MasterKey {
    /// Takes exactly 32 bytes; any other length is an error naming the length received.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(VaultError::InvalidMasterKey {
                reason: format!("expected {MASTER_KEY_LEN} bytes, got {} bytes", bytes.len()),
            });
        }
        // Written straight into the heap box: no stack copy of the key is left behind.
        Ok(Self(SecretBox::init_with_mut(
            |k: &mut [u8; MASTER_KEY_LEN]| k.copy_from_slice(bytes),
        )))
    }

    /// Decodes standard base64 (padded or not; URL-safe alphabet also accepted), ignoring
    /// surrounding whitespace such as a trailing newline in a key file. The decoded key must be
    /// exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(decoded) = engine.decode(text) {
                let decoded = Zeroizing::new(decoded);
                return Self::from_bytes(&decoded);
            }
        }
        // Never echo the input: it is (almost) a key.
        Err(VaultError::InvalidMasterKey {
            reason: "not valid base64".to_owned(),
        })
    }

    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        random_bytes(bytes.as_mut())?;
        Self::from_bytes(bytes.as_ref())
    }

    /// Standard padded base64, for writing a generated key to a file (mode 0600).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.expose_secret()))
    }

    pub(crate) fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// An opened secret (token, client secret, private key). Wiped on drop.
pub struct SecretBytes(SecretSlice<u8>);

impl SecretBytes {
    /// Wraps `bytes`, taking ownership so no unwiped copy remains.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(SecretSlice::from(bytes))
    }

    /// The plaintext. Call it on the line that uses the secret; do not keep the slice around.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The plaintext as UTF-8, if it is (tokens and client secrets are).
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(self.expose()).ok()
    }

    /// Length of the plaintext in bytes.
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn master_key_from_bytes_accepts_exactly_32_bytes() {
        assert!(MasterKey::from_bytes(&[7; 32]).is_ok());
        for len in [0usize, 16, 31, 33, 64] {
            let err = MasterKey::from_bytes(&vec![7; len]).unwrap_err();
            assert!(
                err.to_string().contains(&format!("got {len} bytes")),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn master_key_round_trips_through_base64() {
        let key = MasterKey::generate().unwrap();
        let text = key.to_base64();
        let back = MasterKey::from_base64(&format!("{}\n", text.as_str())).unwrap();
        assert_eq!(key.expose(), back.expose());
    }

    #[test]
    fn master_key_from_base64_rejects_a_31_byte_key_and_garbage_without_echoing_it() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 31]);
        let err = MasterKey::from_base64(&short).unwrap_err().to_string();
        assert!(err.contains("got 31 bytes"), "{err}");
        let err = MasterKey::from_base64("not*base64*secret")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn debug_of_master_key_and_secret_bytes_contains_no_secret_bytes() {
        let key = MasterKey::from_bytes(&[0x41; 32]).unwrap();
        let dbg = format!("{key:?} {key:#?}");
        assert!(!dbg.contains("AAAA") && !dbg.contains("65"), "{dbg}");
        assert!(!dbg.contains(key.to_base64().as_str()));
        let s = SecretBytes::new(b"sentinel-token-value".to_vec());
        let dbg = format!("{s:?} {s:#?}");
        assert!(
            dbg.contains("<redacted>") && !dbg.contains("sentinel"),
            "{dbg}"
        );
    }
}
