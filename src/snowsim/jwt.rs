//! Keypair-JWT verification as Snowflake does it (PROTOCOL.md C.1): RS256 (also RS384/RS512)
//! signed by a key registered on the user (`RSA_PUBLIC_KEY` or `RSA_PUBLIC_KEY_2`),
//! `iss = ACCOUNT.USER.SHA256:<fp>`, `sub = ACCOUNT.USER` (upper case, account without region),
//! `iat`/`exp` required, at most one hour apart, with 60 s of clock-skew tolerance.
//!
//! Signature checks go through `jsonwebtoken` on aws-lc-rs; the `rsa` crate only parses the
//! registered SubjectPublicKeyInfo (SECURITY.md SC-2).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::model::AccountModel;
use super::util::b64;

/// Clock skew Snowflake tolerates on `iat`/`exp` (seconds).
pub const CLOCK_SKEW_SECS: i64 = 60;
/// Longest allowed lifetime `exp - iat` (seconds).
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// A public key registered on a user, ready to verify signatures.
#[derive(Clone)]
pub struct RegisteredKey {
    /// `SHA256:<base64(sha256(SPKI DER))>`.
    pub fingerprint: String,
    key: DecodingKey,
}

impl std::fmt::Debug for RegisteredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl RegisteredKey {
    /// Parses `RSA_PUBLIC_KEY` text: base64 DER SubjectPublicKeyInfo without PEM armour (PEM
    /// armour and whitespace are tolerated, as `ALTER USER` strips them).
    pub fn parse(text: &str) -> Result<Self, String> {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body)
            .map_err(|e| format!("RSA public key is not base64: {e}"))?;
        let key = rsa::RsaPublicKey::from_public_key_der(&der)
            .map_err(|e| format!("RSA public key is not an RSA SubjectPublicKeyInfo: {e}"))?;
        if key.size() < 256 {
            return Err("RSA public key must be at least 2048 bits".into());
        }
        let fingerprint = format!("SHA256:{}", b64(&Sha256::digest(&der)));
        let decoding =
            DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be());
        Ok(Self {
            fingerprint,
            key: decoding,
        })
    }
}

/// Keys of every user of one account, by user NAME.
pub type KeyRing = HashMap<String, Vec<RegisteredKey>>;

/// Builds the key ring of an account; a malformed key is a configuration error.
pub fn key_ring(account: &AccountModel) -> Result<KeyRing, String> {
    let mut ring = KeyRing::new();
    for user in &account.users {
        let mut keys = Vec::new();
        for text in [&user.rsa_public_key, &user.rsa_public_key_2]
            .into_iter()
            .flatten()
        {
            keys.push(RegisteredKey::parse(text).map_err(|e| format!("user {}: {e}", user.name))?);
        }
        ring.insert(user.name.clone(), keys);
    }
    Ok(ring)
}

/// Why a JWT was refused: a stable key for counters and a message for the 390144 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRejection {
    /// Stable key, e.g. `fingerprint`, `account_region`, `expired`, `lifetime`, `signature`.
    pub kind: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

fn reject(kind: &'static str, reason: impl Into<String>) -> JwtRejection {
    JwtRejection {
        kind,
        reason: reason.into(),
    }
}

fn numeric_claim(claims: &serde_json::Value, name: &str) -> Result<i64, JwtRejection> {
    let v = claims
        .get(name)
        .ok_or_else(|| reject("claims", format!("The '{name}' claim is missing.")))?;
    let n = v
        .as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .ok_or_else(|| reject("claims", format!("The '{name}' claim is not a number.")))?;
    // Snowflake accepts seconds or milliseconds.
    Ok(if n > 100_000_000_000 { n / 1000 } else { n })
}

fn string_claim<'a>(claims: &'a serde_json::Value, name: &str) -> Result<&'a str, JwtRejection> {
    claims
        .get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| reject("claims", format!("The '{name}' claim is missing.")))
}

/// Verifies `token` for `account`; returns the user NAME it authenticates.
pub fn verify(
    token: &str,
    account: &AccountModel,
    ring: &KeyRing,
    now: i64,
) -> Result<String, JwtRejection> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| reject("malformed", "The token is not a well-formed JWT."))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(reject(
            "algorithm",
            "Only RS256, RS384 and RS512 are accepted.",
        ));
    }
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| reject("malformed", "The token payload is not valid JSON claims."))?;
    let iss = string_claim(&claims, "iss")?;
    let sub = string_claim(&claims, "sub")?;
    let Some((principal, fp)) = iss.split_once(".SHA256:") else {
        return Err(reject(
            "issuer",
            "The issuer must be ACCOUNT.USER.SHA256:<public key fingerprint>.",
        ));
    };
    if principal != sub {
        return Err(reject(
            "subject",
            "The issuer and subject name different users.",
        ));
    }
    let parts: Vec<&str> = sub.split('.').collect();
    if parts.len() != 2 {
        return Err(reject(
            "account_region",
            format!(
                "The account part of '{sub}' must be the account name without region or cloud."
            ),
        ));
    }
    let (acct, user) = (parts[0], parts[1]);
    let names = std::iter::once(account.locator.as_str()).chain(account.org_account.as_deref());
    let mut known = false;
    for name in names {
        if acct == name.to_ascii_uppercase() {
            known = true;
        } else if acct.eq_ignore_ascii_case(name) {
            return Err(reject("case", "Account and user names must be upper case."));
        }
    }
    if !known {
        return Err(reject(
            "account",
            format!("Account '{acct}' is not this account."),
        ));
    }
    let found = account.users.iter().find(|u| {
        u.login_name
            .as_deref()
            .unwrap_or(&u.name)
            .eq_ignore_ascii_case(user)
    });
    let Some(found) = found else {
        return Err(reject("user", format!("User '{user}' does not exist.")));
    };
    if user
        != found
            .login_name
            .as_deref()
            .unwrap_or(&found.name)
            .to_ascii_uppercase()
    {
        return Err(reject("case", "Account and user names must be upper case."));
    }
    if found.disabled {
        return Err(reject("disabled", "The user is disabled."));
    }
    let fingerprint = format!("SHA256:{fp}");
    let key = ring
        .get(&found.name)
        .and_then(|keys| keys.iter().find(|k| k.fingerprint == fingerprint))
        .ok_or_else(|| {
            reject(
                "fingerprint",
                format!("The public key fingerprint {fingerprint} in the issuer matches neither RSA_PUBLIC_KEY nor RSA_PUBLIC_KEY_2 of the user."),
            )
        })?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation).map_err(|_| {
        reject(
            "signature",
            "The signature does not verify with the registered key.",
        )
    })?;
    let iat = numeric_claim(&claims, "iat")?;
    let exp = numeric_claim(&claims, "exp")?;
    if exp - iat > MAX_LIFETIME_SECS {
        return Err(reject(
            "lifetime",
            "The token lifetime (exp - iat) exceeds one hour.",
        ));
    }
    if exp <= iat {
        return Err(reject("lifetime", "The token expires before it is issued."));
    }
    if iat > now + CLOCK_SKEW_SECS {
        return Err(reject(
            "not_yet_valid",
            "The token is issued in the future.",
        ));
    }
    if now > exp + CLOCK_SKEW_SECS {
        return Err(reject("expired", "The token has expired."));
    }
    if let Some(nbf) = claims.get("nbf").and_then(|v| v.as_i64()) {
        if nbf > now + CLOCK_SKEW_SECS {
            return Err(reject("not_yet_valid", "The token is not valid yet (nbf)."));
        }
    }
    Ok(found.name.clone())
}
