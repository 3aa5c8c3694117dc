//! Keypair JWTs (PROTOCOL.md §C, SECURITY.md SC-4): claims, RS256 signing through jsonwebtoken's
//! aws-lc-rs backend, and a per-connection cache that signs once per ~54 minutes however many
//! requests arrive at the same time (single-flight, like token refresh).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use hyper::header::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Serialize;

use super::keys::KeyMaterial;
use crate::clock::Clock;

/// Token lifetime: Snowflake accepts at most one hour; stay under it.
pub const LIFETIME_SECS: u64 = 59 * 60;
/// Re-sign when less than this remains.
pub const RESIGN_MARGIN_SECS: u64 = 5 * 60;

/// The claims Snowflake checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// `<ACCOUNT>.<USER>.SHA256:<fingerprint>`.
    pub iss: String,
    /// `<ACCOUNT>.<USER>`.
    pub sub: String,
    /// Issued at (seconds).
    pub iat: u64,
    /// Expiry (seconds).
    pub exp: u64,
}

/// Who the JWT speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Normalised account claim (`XY12345`, `MYORG-MYACCOUNT`).
    pub account: String,
    /// The user's LOGIN_NAME.
    pub login_name: String,
    /// `SHA256:…` of the signing key's public half.
    pub fingerprint: String,
}

impl Claims {
    /// Claims for `identity` issued at `now`.
    pub fn new(identity: &Identity, now: u64) -> Self {
        let sub = format!(
            "{}.{}",
            identity.account.to_ascii_uppercase().replace('.', "-"),
            identity.login_name.to_uppercase()
        );
        Self {
            iss: format!("{sub}.{}", identity.fingerprint),
            sub,
            iat: now,
            exp: now + LIFETIME_SECS,
        }
    }
}

/// Signing failures.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The stored key could not be loaded into the signer.
    #[error("cannot load the connection's private key for signing: {0}")]
    Key(String),
    /// Signing failed.
    #[error("signing the JWT failed: {0}")]
    Sign(String),
    /// Loading the key from the vault failed.
    #[error("{0}")]
    Load(String),
}

/// A signed token and when it stops being served from the cache.
#[derive(Clone)]
pub struct SignedJwt {
    /// The compact JWT.
    pub token: Arc<SecretString>,
    /// `Bearer <jwt>`, built once per signature (sensitive: `Debug` never shows it).
    pub authorization: HeaderValue,
    /// Expiry (seconds).
    pub exp: u64,
}

struct Signer {
    identity: Identity,
    key: EncodingKey,
}

struct Entry {
    current: RwLock<Option<SignedJwt>>,
    signer: RwLock<Option<Arc<Signer>>>,
    flight: tokio::sync::Mutex<()>,
}

/// Per-connection JWT cache.
pub struct JwtCache {
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    signatures: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl JwtCache {
    /// An empty cache on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            signatures: AtomicU64::new(0),
            clock,
        }
    }

    /// How many signatures were made since start.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    /// Forgets a connection's signer and token (key rotated, connection changed or deleted).
    pub fn invalidate(&self, connection: &str) {
        self.write().remove(connection);
    }

    /// A valid JWT for `connection`, signing at most once per lifetime. `load` supplies the
    /// identity and key the first time (it runs under the connection's single-flight lock).
    pub async fn token<F>(&self, connection: &str, load: F) -> Result<SignedJwt, JwtError>
    where
        F: FnOnce() -> Result<(Identity, KeyMaterial), JwtError>,
    {
        let entry = self.entry(connection);
        if let Some(jwt) = self.fresh(&entry) {
            return Ok(jwt);
        }
        let _flight = entry.flight.lock().await;
        if let Some(jwt) = self.fresh(&entry) {
            return Ok(jwt);
        }
        let existing = entry
            .signer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let signer = match existing {
            Some(signer) => signer,
            None => {
                let (identity, material) = load()?;
                let pem = material.pkcs8_pem();
                let key = EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| JwtError::Key(e.to_string()))?;
                let signer = Arc::new(Signer { identity, key });
                *entry.signer.write().unwrap_or_else(|p| p.into_inner()) = Some(signer.clone());
                signer
            }
        };
        let claims = Claims::new(&signer.identity, self.clock.now());
        let exp = claims.exp;
        // RSA signing takes ~1 ms of CPU: keep it off the async workers.
        let token = tokio::task::spawn_blocking(move || {
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &signer.key)
        })
        .await
        .map_err(|e| JwtError::Sign(e.to_string()))?
        .map_err(|e| JwtError::Sign(e.to_string()))?;
        self.signatures.fetch_add(1, Ordering::Relaxed);
        let authorization =
            crate::snowflake::bearer_header(&token).map_err(|e| JwtError::Sign(e.to_string()))?;
        let jwt = SignedJwt {
            token: Arc::new(SecretString::from(token)),
            authorization,
            exp,
        };
        *entry.current.write().unwrap_or_else(|p| p.into_inner()) = Some(jwt.clone());
        Ok(jwt)
    }

    fn fresh(&self, entry: &Entry) -> Option<SignedJwt> {
        let now = self.clock.now();
        entry
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|jwt| jwt.exp > now + RESIGN_MARGIN_SECS)
            .cloned()
    }

    fn entry(&self, connection: &str) -> Arc<Entry> {
        if let Some(entry) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(connection)
        {
            return entry.clone();
        }
        self.write()
            .entry(connection.to_owned())
            .or_insert_with(|| {
                Arc::new(Entry {
                    current: RwLock::new(None),
                    signer: RwLock::new(None),
                    flight: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use secrecy::ExposeSecret;

    fn identity(fp: &str) -> Identity {
        Identity {
            account: "XY12345".into(),
            login_name: "jsmith".into(),
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn claims_use_upper_case_account_and_user_and_live_under_an_hour() {
        let c = Claims::new(&identity("SHA256:abc="), 1_000);
        assert_eq!(c.sub, "XY12345.JSMITH");
        assert_eq!(c.iss, "XY12345.JSMITH.SHA256:abc=");
        assert!(c.exp - c.iat <= 3600);
        let org = Identity {
            account: "myorg-my_account".into(),
            login_name: "svc@corp.com".into(),
            fingerprint: "SHA256:x".into(),
        };
        assert_eq!(Claims::new(&org, 0).sub, "MYORG-MY_ACCOUNT.SVC@CORP.COM");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_signature_until_the_resign_margin() {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let cache = Arc::new(JwtCache::new(clock.clone()));
        let material = Arc::new(KeyMaterial::generate().unwrap());
        let fp = material.fingerprint.clone();
        let der = material.pkcs8_der().to_vec();
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let cache = cache.clone();
            let fp = fp.clone();
            let der = der.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .token("c1", || {
                        let key = KeyMaterial::from_pkcs8_der(zeroize::Zeroizing::new(der))
                            .map_err(|e| JwtError::Load(e.to_string()))?;
                        Ok((identity(&fp), key))
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut tokens = std::collections::HashSet::new();
        for t in tasks {
            tokens.insert(t.await.unwrap().token.expose_secret().to_owned());
        }
        assert_eq!(tokens.len(), 1);
        assert_eq!(cache.signatures(), 1);
        clock.advance(LIFETIME_SECS - RESIGN_MARGIN_SECS - 1);
        cache.token("c1", || unreachable!()).await.unwrap();
        assert_eq!(cache.signatures(), 1, "still fresh at 54 min");
        clock.advance(2);
        cache.token("c1", || unreachable!()).await.unwrap();
        assert_eq!(cache.signatures(), 2, "re-signed inside the margin");
    }
}
