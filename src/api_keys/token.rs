//! The API-key string format: `ibk_` + 43 base64url characters (32 random bytes) + 6 base62
//! characters of CRC-32 over everything before them. The prefix makes leaked keys findable by
//! secret scanners; the checksum lets us reject typos and random probes without a lookup
//! (SECURITY.md PX-8).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Every key starts with this.
pub const PREFIX: &str = "ibk_";
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// Total length of a well-formed key.
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly minted key: shown to its owner once, then only its hash is kept.
pub struct PlaintextApiKey(SecretString);

impl PlaintextApiKey {
    /// Mints a new key from 32 bytes of OS randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut random = Zeroizing::new([0u8; 32]);
        getrandom::fill(random.as_mut())?;
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(PREFIX);
        key.push_str(&URL_SAFE_NO_PAD.encode(random.as_ref()));
        let checksum = checksum(&key);
        key.extend(checksum.iter().map(|&b| char::from(b)));
        Ok(Self(SecretString::from(key)))
    }

    /// The key text, for the one response that shows it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for PlaintextApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaintextApiKey(<redacted>)")
    }
}

/// Why a presented string is not a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Wrong prefix, length or alphabet.
    #[error("not an icebroker API key (expected ibk_… of {KEY_LEN} characters)")]
    Malformed,
    /// Well-formed but the checksum does not match (a typo or a forgery).
    #[error("API key checksum does not match; check that it was copied completely")]
    BadChecksum,
}

/// Checks prefix, length, alphabet and checksum. Does not touch storage.
pub fn validate(presented: &str) -> Result<(), FormatError> {
    if presented.len() != KEY_LEN || !presented.starts_with(PREFIX) {
        return Err(FormatError::Malformed);
    }
    let (head, tail) = presented.split_at(PREFIX.len() + BODY_LEN);
    let body_ok = head[PREFIX.len()..]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !body_ok || !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Malformed);
    }
    if checksum(head) != tail.as_bytes() {
        return Err(FormatError::BadChecksum);
    }
    Ok(())
}

/// A short, non-secret prefix to show in listings (`ibk_AbCdEfGh`).
pub fn display_prefix(key: &str) -> String {
    key.chars().take(PREFIX.len() + 8).collect()
}

/// The key's last characters: CRC-32 of the rest, in base 62 (ASCII).
fn checksum(head: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(head.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ten_thousand_generated_keys_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let key = PlaintextApiKey::generate().unwrap();
            assert_eq!(validate(key.expose()), Ok(()));
            assert_eq!(key.expose().len(), KEY_LEN);
            assert!(seen.insert(key.expose().to_owned()));
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let key = PlaintextApiKey::generate().unwrap();
        let mut bytes = key.expose().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(validate(&tampered), Err(FormatError::BadChecksum));
    }

    #[test]
    fn malformed_strings_are_rejected() {
        for bad in ["", "ibk_", "Bearer x", &"x".repeat(KEY_LEN), "ibk_ä"] {
            assert_eq!(validate(bad), Err(FormatError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = PlaintextApiKey::generate().unwrap();
        assert!(!format!("{key:?}").contains(&key.expose()[4..20]));
    }
}
