//! Identifiers that end up in upstream URLs: [`StatementHandle`] (a path segment) and
//! [`RequestId`] (the `requestId` query value).
//!
//! Invariant (SECURITY.md PX-2/PX-4): a `StatementHandle` is exactly the 8-4-4-4-12 hex shape
//! Snowflake uses, so it can never smuggle `/`, `..`, `?`, `%` or CR/LF into a path; a `RequestId`
//! is a parsed UUID.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// A Snowflake statement handle such as `01b03285-0001-dea1-003d-b087000ca9be`.
///
/// UUID-shaped but not a random v4, so it is kept as validated text (lower/upper case preserved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StatementHandle(String);

/// A string that is not a statement handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a statement handle (expected 8-4-4-4-12 hex digits)")]
pub struct InvalidHandle;

impl StatementHandle {
    /// Parses `text`, accepting only `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex `x`.
    pub fn parse(text: &str) -> Result<Self, InvalidHandle> {
        if Self::is_shaped(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidHandle)
        }
    }

    /// Whether `text` has the handle shape [`StatementHandle::parse`] accepts (no allocation).
    pub fn is_shaped(text: &str) -> bool {
        Self::bits(text).is_some()
    }

    /// The 128 bits of a handle-shaped `text` (hex digits in either case), or `None` for any
    /// other text: a compact key for handles without allocating.
    pub fn bits(text: &str) -> Option<u128> {
        let bytes = text.as_bytes();
        if bytes.len() != 36 {
            return None;
        }
        let mut bits: u128 = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if byte != b'-' {
                    return None;
                }
                continue;
            }
            let digit = char::from(byte).to_digit(16)?;
            bits = (bits << 4) | u128::from(digit);
        }
        Some(bits)
    }

    /// The handle text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StatementHandle {
    type Err = InvalidHandle;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for StatementHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StatementHandle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The `requestId` of one *logical* submit: every retry of that submit reuses it (TR-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(Uuid);

impl RequestId {
    /// A fresh random (v4) request id — one per new logical request.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for RequestId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl FromStr for RequestId {
    type Err = uuid::Error;

    /// Parses a caller-supplied id; anything that is not a UUID is refused (PX-4).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hyphenated lower case, whatever form the caller parsed.
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::StatementHandle;

    const H1: &str = "01b03285-0001-dea1-003d-b087000ca9be";
    const H2: &str = "01b03285-0001-dea1-003d-b087000ca9bf";

    #[test]
    fn bits_take_only_the_handle_shape_in_either_case() {
        let bits = StatementHandle::bits;
        assert_eq!(bits(H1), bits(&H1.to_uppercase()));
        assert_ne!(bits(H1), bits(H2));
        assert_eq!(bits("00000000-0000-0000-0000-00000000000f"), Some(15));
        for bad in [
            "",
            "h1",
            "01b03285-0001-dea1-003d-b087000ca9b",
            "01b03285-0001-dea1-003d-b087000ca9bee",
            "01b03285x0001-dea1-003d-b087000ca9be",
            "01b03285-0001-dea1-003d-b087000ca9bg",
            "+1b03285-0001-dea1-003d-b087000ca9be",
        ] {
            assert_eq!(bits(bad), None, "{bad}");
            assert!(!StatementHandle::is_shaped(bad), "{bad}");
            assert!(StatementHandle::parse(bad).is_err(), "{bad}");
        }
    }
}
