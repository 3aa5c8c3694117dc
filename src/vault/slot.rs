//! [`Slot`]: what a sealed value belongs to, and its canonical, injective encoding (SS-2, SS-3).
//!
//! Encoding: each component as `u32 BE length || bytes`. Because every component carries its
//! length, distinct tuples never encode to the same bytes (`("a:b","c")` ≠ `("a","b:c")`), and the
//! encoding of `(kind)` or `(kind, connection)` is a byte prefix of every slot under it, which is
//! what [`crate::vault::Vault::scan`] relies on. The same encoding is the store key of a sealed
//! value (so rotation recovers the slot from the key) and, behind a domain tag and followed by the
//! envelope version and key id, the AES-GCM associated data.

use super::VaultError;

/// Longest accepted component, in bytes.
pub const MAX_COMPONENT_LEN: usize = 256;

/// Domain tag that starts every AAD, so our ciphertexts never verify in another context.
const AAD_DOMAIN: &str = "icebroker/v1";

/// Identifies one sealed value: `kind` (record type, e.g. `oauth_token`), `connection` (a
/// connection name, may be empty for global records), `identifier` (e.g. a user id, may be
/// empty), `field` (e.g. `access_token`, `refresh_token`, `client_secret`, `rsa_private_key`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    kind: String,
    connection: String,
    identifier: String,
    field: String,
}

impl Slot {
    /// Validates and builds a slot. Every component is at most 256 bytes of UTF-8 without
    /// control characters (NUL included); `kind` and `field` must be non-empty and use only
    /// `[a-z0-9_.-]`, since they are names chosen by code, not by users.
    pub fn new(
        kind: &str,
        connection: &str,
        identifier: &str,
        field: &str,
    ) -> Result<Self, VaultError> {
        check_name("kind", kind)?;
        check_component("connection", connection)?;
        check_component("identifier", identifier)?;
        check_name("field", field)?;
        Ok(Self {
            kind: kind.to_owned(),
            connection: connection.to_owned(),
            identifier: identifier.to_owned(),
            field: field.to_owned(),
        })
    }

    /// Record type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Connection name (may be empty).
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// Identifier within the connection (may be empty).
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// Field name.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The store key of this slot's sealed value.
    pub(crate) fn store_key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.encoded_len());
        for c in self.components() {
            push_component(&mut out, c.as_bytes());
        }
        out
    }

    /// AAD for sealing this slot's value with envelope `version` under data key `key_id`.
    pub(crate) fn aad(&self, version: u8, key_id: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.encoded_len());
        push_component(&mut out, AAD_DOMAIN.as_bytes());
        for c in self.components() {
            push_component(&mut out, c.as_bytes());
        }
        out.push(version);
        out.extend_from_slice(&key_id.to_be_bytes());
        out
    }

    /// Recovers a slot from its store key; any malformed or non-canonical key is an error.
    pub(crate) fn from_store_key(key: &[u8]) -> Result<Self, VaultError> {
        let mut rest = key;
        let mut parts = Vec::with_capacity(4);
        for _ in 0..4 {
            let (part, tail) = take_component(rest)?;
            parts.push(part);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(malformed_key());
        }
        Slot::new(parts[0], parts[1], parts[2], parts[3])
    }

    fn components(&self) -> [&str; 4] {
        [&self.kind, &self.connection, &self.identifier, &self.field]
    }

    fn encoded_len(&self) -> usize {
        self.components().iter().map(|c| c.len()).sum()
    }
}

/// Store-key prefix of every slot of `kind`, or of `kind` within `connection`.
pub(crate) fn scan_prefix(kind: &str, connection: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    push_component(&mut out, kind.as_bytes());
    if let Some(c) = connection {
        push_component(&mut out, c.as_bytes());
    }
    out
}

fn push_component(out: &mut Vec<u8>, bytes: &[u8]) {
    // Components are ≤ 256 bytes (the domain tag is a constant), so the cast cannot truncate.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn take_component(input: &[u8]) -> Result<(&str, &[u8]), VaultError> {
    let (len, rest) = input.split_first_chunk::<4>().ok_or_else(malformed_key)?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_COMPONENT_LEN || len > rest.len() {
        return Err(malformed_key());
    }
    let (part, rest) = rest.split_at(len);
    let part = std::str::from_utf8(part).map_err(|_| malformed_key())?;
    Ok((part, rest))
}

fn malformed_key() -> VaultError {
    VaultError::InvalidSlot {
        reason: "malformed sealed-record key in the store".to_owned(),
    }
}

fn check_component(what: &str, value: &str) -> Result<(), VaultError> {
    if value.len() > MAX_COMPONENT_LEN {
        return Err(VaultError::InvalidSlot {
            reason: format!("{what} is {} bytes (max {MAX_COMPONENT_LEN})", value.len()),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(VaultError::InvalidSlot {
            reason: format!("{what} contains a control character"),
        });
    }
    Ok(())
}

fn check_name(what: &str, value: &str) -> Result<(), VaultError> {
    check_component(what, value)?;
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !ok {
        return Err(VaultError::InvalidSlot {
            reason: format!("{what} must be non-empty [a-z0-9_.-]"),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn slot(c: &str, i: &str) -> Slot {
        Slot::new("oauth_token", c, i, "access_token").unwrap()
    }

    #[test]
    fn slot_components_are_validated() {
        assert!(Slot::new("k", "", "", "f").is_ok());
        assert!(Slot::new("", "c", "i", "f").is_err());
        assert!(Slot::new("k", "c", "i", "").is_err());
        assert!(Slot::new("K", "c", "i", "f").is_err());
        assert!(Slot::new("k", "c\0", "i", "f").is_err());
        assert!(Slot::new("k", "c", "line\nbreak", "f").is_err());
        assert!(Slot::new("k", "c", "\u{7f}", "f").is_err());
        assert!(Slot::new("k", &"c".repeat(256), &"é".repeat(128), "f").is_ok());
        assert!(Slot::new("k", &"c".repeat(257), "i", "f").is_err());
        assert!(Slot::new("k", "c", &"é".repeat(129), "f").is_err());
    }

    #[test]
    fn store_key_round_trips_to_the_same_slot() {
        let s = Slot::new(
            "oauth_client",
            "snow:1/a",
            "user@example.com",
            "client_secret",
        )
        .unwrap();
        assert_eq!(Slot::from_store_key(&s.store_key()).unwrap(), s);
    }

    #[test]
    fn malformed_store_keys_are_errors_not_panics() {
        let good = slot("c", "i").store_key();
        for len in 0..good.len() {
            assert!(Slot::from_store_key(&good[..len]).is_err(), "prefix {len}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Slot::from_store_key(&trailing).is_err());
        assert!(Slot::from_store_key(&[0xff; 40]).is_err());
    }

    #[test]
    fn colon_and_slash_splits_do_not_collide() {
        let a = slot("a:b", "c");
        let b = slot("a", "b:c");
        let c = slot("a/b", "");
        let d = slot("", "a/b");
        let keys: HashSet<_> = [&a, &b, &c, &d].iter().map(|s| s.store_key()).collect();
        let aads: HashSet<_> = [&a, &b, &c, &d].iter().map(|s| s.aad(1, 1)).collect();
        assert_eq!((keys.len(), aads.len()), (4, 4));
    }

    #[test]
    fn encoding_is_injective_over_100_000_random_pairs() {
        // Small alphabet with separators (and NUL, which must be rejected) so collisions would be
        // likely if the encoding were ambiguous.
        let alphabet = ['a', ':', '/', '\u{0}', 'é', ' ', '0'];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut seen = std::collections::HashMap::new();
        for _ in 0..100_000 {
            let (cn, idn) = (next() % 6, next() % 6);
            let mut word =
                |n: u64| -> String { (0..n).map(|_| alphabet[(next() % 7) as usize]).collect() };
            let (c, i) = (word(cn), word(idn));
            let Ok(s) = Slot::new("oauth_token", &c, &i, "access_token") else {
                assert!(c.contains('\0') || i.contains('\0'));
                continue;
            };
            if let Some(prev) = seen.insert(s.aad(1, 7), (c.clone(), i.clone())) {
                assert_eq!(prev, (c.clone(), i.clone()), "AAD collision");
            }
            assert_eq!(Slot::from_store_key(&s.store_key()).unwrap(), s);
        }
    }

    #[test]
    fn a_kind_prefix_matches_only_slots_of_that_kind() {
        let s = slot("conn", "id");
        assert!(s.store_key().starts_with(&scan_prefix("oauth_token", None)));
        assert!(s
            .store_key()
            .starts_with(&scan_prefix("oauth_token", Some("conn"))));
        assert!(!s
            .store_key()
            .starts_with(&scan_prefix("oauth_token", Some("con"))));
        assert!(!s.store_key().starts_with(&scan_prefix("oauth_tok", None)));
    }
}
