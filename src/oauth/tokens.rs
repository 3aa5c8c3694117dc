//! [`TokenManager`]: a fresh access token for `(connection, identifier)`, refreshed safely.
//!
//! Invariants (SECURITY.md §3):
//! - TR-1: one refresh at a time per account — every writer of an account record (refresh,
//!   callback, disconnect) holds the account's async mutex; waiters queue on it and then find the
//!   token the winner stored, so N concurrent callers on an expired token cause one grant;
//! - TR-2: the record is re-read under the lock, and the refresh skipped if no longer needed;
//! - TR-5: the new refresh/access tokens are written with a durable compare-and-swap before the
//!   new access token is handed out or the lock released; if that write fails the account is
//!   treated as needing re-authorization (and no further refresh with the dead token is tried);
//! - TR-6: on `invalid_grant` the record is re-read: a newer generation means a benign race
//!   (use it); otherwise the account becomes `expired` and callers get `reauthorization_required`;
//! - TR-7: refresh ahead of expiry when less than `min(120 s, 20 % of expires_in)` remains.
//!
//! Cross-instance locking (TR-3/TR-4) is not needed while sled keeps one process per data dir; the
//! CAS on the record's version is the fencing a shared store would add a lease to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use secrecy::{ExposeSecret, SecretString};

use super::accounts::{AccountRecord, AccountStatus, AccountStore};
use super::client::{TokenCallError, TokenClient, TokenGrant};
use super::secrets::AccessToken;
use super::settings::OAuthSettings;
use super::OAuthError;
use crate::clock::Clock;
use crate::connections::{Connection, ConnectionKind};

pub(super) type Key = (String, String);

/// Seconds before expiry at which a token is refreshed (TR-7).
pub fn refresh_margin(lifetime: u64) -> u64 {
    (lifetime / 5).min(120)
}

/// Hands out access tokens and refreshes them (see the module doc).
pub struct TokenManager {
    pub(super) store: AccountStore,
    client: Arc<TokenClient>,
    pub(super) clock: Arc<dyn Clock>,
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    cache: RwLock<HashMap<Key, AccessToken>>,
    pub(super) unwritable: Mutex<HashSet<Key>>,
    refreshes: AtomicU64,
}

/// The OAuth settings of a usable OAuth connection.
pub(crate) fn usable(connection: &Connection) -> Result<&OAuthSettings, OAuthError> {
    if connection.is_disabled() {
        return Err(OAuthError::ConnectionDisabled(connection.name.clone()));
    }
    match (&connection.kind, &connection.oauth) {
        (ConnectionKind::Oauth, Some(settings)) => Ok(settings),
        _ => Err(OAuthError::NotOAuth(connection.name.clone())),
    }
}

pub(super) fn token_of(record: &AccountRecord) -> Option<AccessToken> {
    let secret = record.access_token.as_ref()?;
    Some(AccessToken::new(
        SecretString::from(secret.clone()),
        record.access_expires_at.unwrap_or(0),
        record.generation,
    ))
}

impl TokenManager {
    pub(crate) fn new(
        store: AccountStore,
        client: Arc<TokenClient>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            client,
            clock,
            locks: Mutex::new(HashMap::new()),
            cache: RwLock::new(HashMap::new()),
            unwritable: Mutex::new(HashSet::new()),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Refresh grants sent to Snowflake since start (metrics, tests).
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// A fresh access token for `(connection, identifier)`: served from memory while it has more
    /// than the TR-7 margin left, otherwise refreshed under the account's lock (TR-1/2/5/6).
    pub async fn access_token(
        &self,
        connection: &Connection,
        identifier: &str,
    ) -> Result<AccessToken, OAuthError> {
        let settings = usable(connection)?;
        let key = (connection.name.clone(), identifier.to_owned());
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let lock = self.lock_for(&key);
        let _guard = lock.lock().await;
        self.refresh_locked(settings, &key, None).await
    }

    /// After an upstream 401 with `stale`: refresh once, unless the stored token is already a
    /// newer one than `stale` (someone refreshed meanwhile), which is then returned.
    pub async fn force_refresh(
        &self,
        connection: &Connection,
        identifier: &str,
        stale: &AccessToken,
    ) -> Result<AccessToken, OAuthError> {
        let settings = usable(connection)?;
        let key = (connection.name.clone(), identifier.to_owned());
        self.evict(&key);
        let lock = self.lock_for(&key);
        let _guard = lock.lock().await;
        self.refresh_locked(settings, &key, Some(stale.generation()))
            .await
    }

    fn fresh(&self, token: &AccessToken, lifetime: u64) -> bool {
        self.clock.now() + refresh_margin(lifetime) < token.expires_at()
    }

    fn cached(&self, key: &Key) -> Option<AccessToken> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let token = cache.get(key)?;
        // The cache only holds tokens whose lifetime margin was checked when stored; re-check
        // against now with the smallest margin any token gets (0 for very short lifetimes is
        // handled by the full check below on a miss).
        (self.clock.now() + 120 < token.expires_at()).then(|| token.clone())
    }

    pub(super) fn remember(&self, key: &Key, token: &AccessToken) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.insert(key.clone(), token.clone());
    }

    pub(crate) fn evict(&self, key: &Key) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.remove(key);
    }

    /// Drops every cached token of `connection` (deleted: a new connection of the same name
    /// must never be served the old one's tokens).
    pub(crate) fn evict_connection(&self, connection: &str) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(c, _), _| c != connection);
    }

    pub(crate) fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        // Entries are never removed: removing one while a task holds its clone would let a
        // second mutex exist for the same account. One small entry per account is cheap.
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }

    async fn refresh_locked(
        &self,
        settings: &OAuthSettings,
        key: &Key,
        stale_generation: Option<u64>,
    ) -> Result<AccessToken, OAuthError> {
        let (connection, identifier) = (key.0.as_str(), key.1.as_str());
        let (version, record) = self
            .store
            .read(connection, identifier)?
            .ok_or_else(|| OAuthError::not_connected(connection, identifier, None))?;
        check_status(connection, identifier, &record)?;
        let lifetime = record.access_lifetime.unwrap_or(600);
        if let Some(token) = token_of(&record) {
            let replaced = stale_generation.is_some_and(|g| g != record.generation);
            if (stale_generation.is_none() || replaced) && self.fresh(&token, lifetime) {
                self.remember(key, &token);
                return Ok(token);
            }
        }
        if self.is_unwritable(key) {
            return Err(OAuthError::reauthorize(
                "the last refreshed token could not be stored",
            ));
        }
        let Some(refresh_token) = record.refresh_token.clone() else {
            self.expire(key, &version, &record, "no refresh token is held")
                .await;
            return Err(OAuthError::reauthorize("no refresh token is held"));
        };
        let secret = self.store.client_secret(connection)?;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let id_hash = self.store.audit_id(identifier);
        let outcome = self
            .client
            .refresh(settings, secret.as_str(), &refresh_token)
            .await;
        drop(zeroize::Zeroizing::new(refresh_token));
        match outcome {
            Ok(grant) => {
                let next = self.refreshed(&record, grant, settings);
                match self
                    .store
                    .write_if(connection, identifier, Some(&version), &next)
                    .await
                {
                    Ok(true) => {
                        tracing::info!(connection, account = %id_hash, generation = next.generation, "token refreshed");
                        let token = token_of(&next).ok_or_else(|| {
                            OAuthError::Internal("refreshed record lost its token".into())
                        })?;
                        self.remember(key, &token);
                        Ok(token)
                    }
                    Ok(false) => self.after_conflict(key),
                    Err(e) => {
                        // TR-5: the old refresh token may be dead; never loop on it.
                        tracing::error!(connection, account = %id_hash, error = %e, "refreshed tokens could not be stored");
                        self.unwritable
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key.clone());
                        self.expire(
                            key,
                            &version,
                            &record,
                            "refreshed tokens could not be stored",
                        )
                        .await;
                        Err(OAuthError::reauthorize(
                            "the refreshed token could not be stored",
                        ))
                    }
                }
            }
            Err(TokenCallError::InvalidGrant) => {
                // TR-6: another writer may have rotated the token since we read it.
                if let Some((now_version, now_record)) = self.store.read(connection, identifier)? {
                    if now_version != version && now_record.status == AccountStatus::Active {
                        if let Some(token) = token_of(&now_record) {
                            self.remember(key, &token);
                            return Ok(token);
                        }
                    }
                }
                tracing::warn!(connection, account = %id_hash, "refresh token rejected; account expired");
                self.expire(
                    key,
                    &version,
                    &record,
                    "Snowflake rejected the refresh token (invalid_grant)",
                )
                .await;
                Err(OAuthError::reauthorize(
                    "Snowflake rejected the refresh token",
                ))
            }
            Err(TokenCallError::InvalidClient) => Err(OAuthError::ClientRejected),
            Err(TokenCallError::Rejected(code, status)) => Err(OAuthError::Upstream(format!(
                "Snowflake's token endpoint refused the refresh ({status} {code})"
            ))),
            Err(TokenCallError::Unavailable(why)) => Err(OAuthError::Upstream(why)),
        }
    }

    fn is_unwritable(&self, key: &Key) -> bool {
        self.unwritable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    pub(super) fn refreshed(
        &self,
        record: &AccountRecord,
        grant: TokenGrant,
        settings: &OAuthSettings,
    ) -> AccountRecord {
        let now = self.clock.now();
        let mut next = record.clone();
        next.access_token = Some(grant.access_token.expose_secret().to_owned());
        next.access_expires_at = Some(now + grant.expires_in);
        next.access_lifetime = Some(grant.expires_in);
        if let Some(rt) = grant.refresh_token {
            // Single-use rotation: the new token gets a fresh validity window (TR-8).
            next.refresh_token = Some(rt.expose_secret().to_owned());
            next.refresh_expires_at = Some(
                now + grant
                    .refresh_token_expires_in
                    .unwrap_or(settings.refresh_token_validity_secs),
            );
        }
        if let Some(scope) = grant.scope {
            next.scope = Some(scope);
        }
        next.last_refresh_at = Some(now);
        next.last_error = None;
        next.updated_at = now;
        next.generation += 1;
        next
    }

    /// The record changed under a held lock (only a writer without the lock could do that):
    /// answer from whatever is stored now.
    fn after_conflict(&self, key: &Key) -> Result<AccessToken, OAuthError> {
        let (_, record) = self
            .store
            .read(&key.0, &key.1)?
            .ok_or_else(|| OAuthError::not_connected(&key.0, &key.1, None))?;
        check_status(&key.0, &key.1, &record)?;
        let token = token_of(&record).ok_or_else(|| OAuthError::reauthorize("no token is held"))?;
        self.remember(key, &token);
        Ok(token)
    }

    /// Marks the account `expired` (tokens forgotten). Best effort: a failed write is logged and
    /// the in-memory guard still stops refreshes.
    async fn expire(
        &self,
        key: &Key,
        version: &crate::vault::Version,
        record: &AccountRecord,
        why: &str,
    ) {
        self.evict(key);
        let mut next = record.clone();
        next.status = AccountStatus::Expired;
        next.forget_tokens();
        next.last_error = Some(format!("{why}; create a new authorization link"));
        next.updated_at = self.clock.now();
        next.generation += 1;
        if let Err(e) = self
            .store
            .write_if(&key.0, &key.1, Some(version), &next)
            .await
        {
            tracing::error!(connection = %key.0, error = %e, "could not mark the account expired");
        }
    }
}

fn check_status(
    connection: &str,
    identifier: &str,
    record: &AccountRecord,
) -> Result<(), OAuthError> {
    match record.status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Expired => Err(OAuthError::reauthorize(
            record
                .last_error
                .as_deref()
                .unwrap_or("the authorization expired"),
        )),
        status => Err(OAuthError::not_connected(
            connection,
            identifier,
            Some(status),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_fits_ten_minute_tokens() {
        assert_eq!(refresh_margin(600), 120);
        assert_eq!(refresh_margin(300), 60);
        assert_eq!(refresh_margin(3600), 120);
        assert_eq!(refresh_margin(1), 0);
    }
}
