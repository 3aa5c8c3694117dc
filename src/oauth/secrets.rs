//! Random capabilities (link tokens, `state`, PKCE verifiers, browser-binding cookies) and the
//! secret wrapper handed to callers of the token manager.
//!
//! Invariants: every random value is 32 bytes from the OS CSPRNG, base64url without padding
//! (43 characters) — OA-1, OA-2, OA-9; the PKCE method is always S256 (never `plain`); an
//! [`AccessToken`] prints `<redacted>` and is only exposed on the line that builds a header.

use std::sync::Arc;

use base64::Engine as _;
use hyper::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::snowflake::Credential;

/// Prefix of authorization-link tokens (OA-9: recognisable for secret scanning).
pub const LINK_PREFIX: &str = "sfb_link_";

/// 32 CSPRNG bytes, base64url without padding (43 characters).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// RFC 7636 §4.2 S256: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A Snowflake OAuth access token for one connected account, with what the manager needs to
/// tell a stale token from a fresh one. Never printed, never serialised.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<SecretString>,
    /// `Bearer <token>` (sensitive), built once: `None` if the token cannot be a header value.
    authorization: Option<HeaderValue>,
    expires_at: u64,
    generation: u64,
}

impl AccessToken {
    pub(crate) fn new(secret: SecretString, expires_at: u64, generation: u64) -> Self {
        let authorization = crate::snowflake::bearer_header(secret.expose_secret()).ok();
        Self {
            secret: Arc::new(secret),
            authorization,
            expires_at,
            generation,
        }
    }

    /// The upstream `Authorization` value, `Bearer <token>`; `None` if the token has
    /// characters a header cannot carry.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// When the broker expects the token to expire (seconds since the epoch).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Which write of the account's tokens this came from; [`super::TokenManager::force_refresh`]
    /// compares it to decide whether someone already replaced a stale token.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The SQL API credential (`Authorization: Bearer …`, token type `OAUTH`).
    pub fn credential(&self) -> Credential {
        Credential::OAuth(SecretString::clone(&self.secret))
    }

    /// The raw token, for the one line that builds an upstream header.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("generation", &self.generation)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn ten_thousand_tokens_are_unique_43_char_base64url() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let t = random_token().unwrap();
            assert_eq!(t.len(), 43);
            assert!(t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(seen.insert(t));
        }
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let t = AccessToken::new(SecretString::from("ver:1-hint:CANARY".to_owned()), 5, 1);
        let shown = format!("{t:?} {:?}", t.credential());
        assert!(!shown.contains("CANARY"), "{shown}");
    }
}
