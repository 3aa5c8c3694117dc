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
//! - TR-7: refresh ahead of expiry when less than `min(120 s, 20 % of expires_in)` remains;
//! - crash safety: a refresh survives its caller going away and marks itself durably before it
//!   spends a single-use refresh token, so a kill between Snowflake rotating the token and the
//!   broker storing the new one leaves an account that needs re-authorization, never one holding a
//!   dead token ([`super::refresh`]).
//!
//! Cross-instance locking (TR-3/TR-4) is not needed while sled keeps one process per data dir; the
//! CAS on the record's version is the fencing a shared store would add a lease to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OwnedMutexGuard;
use tracing::Instrument;

use super::accounts::{AccountRecord, AccountStatus, AccountStore};
use super::client::{TokenClient, TokenGrant};
use super::refresh::Job;
use super::secrets::AccessToken;
use super::settings::OAuthSettings;
use super::OAuthError;
use crate::clock::Clock;
use crate::connections::{Connection, ConnectionKind};
use crate::metrics::stats::{ReauthReason, TokenStats};

pub(super) type Key = (String, String);

/// Seconds before expiry at which a token is refreshed (TR-7).
pub fn refresh_margin(lifetime: u64) -> u64 {
    (lifetime / 5).min(120)
}

/// Hands out access tokens and refreshes them (see the module doc).
pub struct TokenManager {
    pub(super) core: Core,
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    refreshes: AtomicU64,
}

/// What a refresh needs; cheap to clone into the task that runs it (all handles).
#[derive(Clone)]
pub(super) struct Core {
    pub store: AccountStore,
    pub client: Arc<TokenClient>,
    pub clock: Arc<dyn Clock>,
    cache: Arc<RwLock<HashMap<Key, AccessToken>>>,
    pub unwritable: Arc<Mutex<HashSet<Key>>>,
    /// Refresh results, waiters, re-authorizations (for `/metrics`).
    pub stats: Arc<TokenStats>,
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
            core: Core {
                store,
                client,
                clock,
                cache: Arc::new(RwLock::new(HashMap::new())),
                unwritable: Arc::new(Mutex::new(HashSet::new())),
                stats: Arc::default(),
            },
            locks: Mutex::new(HashMap::new()),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Refresh results, single-flight waiters and re-authorizations (for `/metrics`).
    pub fn stats(&self) -> &TokenStats {
        &self.core.stats
    }

    /// The account lock, counting the caller as a single-flight waiter while another holds it.
    async fn queue(&self, lock: Arc<tokio::sync::Mutex<()>>) -> tokio::sync::OwnedMutexGuard<()> {
        if let Ok(guard) = lock.clone().try_lock_owned() {
            return guard;
        }
        self.core.stats.waits.inc();
        let _waiting = self.core.stats.waiters.enter();
        lock.lock_owned().await
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
        // Boxed: the refresh's future is over a kilobyte, and every proxied call's future
        // would otherwise carry (and move) that space for a path taken once an hour.
        Box::pin(async move {
            let guard = self.queue(self.lock_for(&key)).await;
            self.refresh_locked(guard, settings, &key, None).await
        })
        .await
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
        let guard = self.queue(self.lock_for(&key)).await;
        self.refresh_locked(guard, settings, &key, Some(stale.generation()))
            .await
    }

    fn fresh(&self, token: &AccessToken, lifetime: u64) -> bool {
        self.core.clock.now() + refresh_margin(lifetime) < token.expires_at()
    }

    fn cached(&self, key: &Key) -> Option<AccessToken> {
        let cache = self.core.cache.read().unwrap_or_else(|p| p.into_inner());
        let token = cache.get(key)?;
        // The cache only holds tokens whose lifetime margin was checked when stored; re-check
        // against now with the smallest margin any token gets (0 for very short lifetimes is
        // handled by the full check below on a miss).
        (self.core.clock.now() + 120 < token.expires_at()).then(|| token.clone())
    }

    pub(super) fn remember(&self, key: &Key, token: &AccessToken) {
        self.core.remember(key, token);
    }

    pub(crate) fn evict(&self, key: &Key) {
        self.core.evict(key);
    }

    /// Drops every cached token of `connection` (deleted: a new connection of the same name
    /// must never be served the old one's tokens).
    pub(crate) fn evict_connection(&self, connection: &str) {
        let mut cache = self.core.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(c, _), _| c != connection);
    }

    pub(crate) fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        // Entries are never removed: removing one while a task holds its clone would let a
        // second mutex exist for the same account. One small entry per account is cheap.
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }

    /// Under the account's lock (`guard`): re-reads the record (TR-2), answers from it when it
    /// still holds a usable token, resolves an interrupted earlier refresh, and otherwise runs the
    /// refresh in its own task, which keeps the lock until the outcome is stored.
    async fn refresh_locked(
        &self,
        guard: OwnedMutexGuard<()>,
        settings: &OAuthSettings,
        key: &Key,
        stale_generation: Option<u64>,
    ) -> Result<AccessToken, OAuthError> {
        let (connection, identifier) = (key.0.as_str(), key.1.as_str());
        let store = &self.core.store;
        let (version, record) = store
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
        let rotating = settings.single_use_refresh_tokens || record.rotating;
        if let Some(marker) = store.marker(connection, identifier)? {
            let usable = self
                .core
                .settle_marker(key, &version, &record, &marker, rotating)
                .await?;
            if !usable {
                return Err(OAuthError::reauthorize(super::refresh::INTERRUPTED));
            }
        }
        let Some(refresh_token) = record.refresh_token.clone() else {
            self.core
                .stats
                .reauthorization_required(ReauthReason::NoRefreshToken);
            self.core
                .expire(key, &version, &record, "no refresh token is held")
                .await;
            return Err(OAuthError::reauthorize("no refresh token is held"));
        };
        let secret = store.client_secret(connection)?;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            core: self.core.clone(),
            settings: settings.clone(),
            key: key.clone(),
            version,
            record,
            refresh_token: zeroize::Zeroizing::new(refresh_token),
            secret,
            rotating,
        };
        // A spawned task is not cancelled when this caller is (a client that disconnects drops
        // its handler's future): the refresh always reaches a stored outcome, under the lock.
        tokio::spawn(job.run(guard).instrument(tracing::Span::current()))
            .await
            .unwrap_or_else(|_| Err(OAuthError::Internal("the refresh task failed".into())))
    }

    fn is_unwritable(&self, key: &Key) -> bool {
        self.core
            .unwritable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }
}

impl Core {
    pub(super) fn remember(&self, key: &Key, token: &AccessToken) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.insert(key.clone(), token.clone());
    }

    pub(super) fn evict(&self, key: &Key) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.remove(key);
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
    pub(super) fn after_conflict(&self, key: &Key) -> Result<AccessToken, OAuthError> {
        let (_, record) = self
            .store
            .read(&key.0, &key.1)?
            .ok_or_else(|| OAuthError::not_connected(&key.0, &key.1, None))?;
        check_status(&key.0, &key.1, &record)?;
        let token = token_of(&record).ok_or_else(|| OAuthError::reauthorize("no token is held"))?;
        self.remember(key, &token);
        Ok(token)
    }

    /// Marks the account `expired` (tokens forgotten); `true` once that is stored. Best effort: a
    /// failed write is logged and the in-memory guard still stops refreshes.
    pub(super) async fn expire(
        &self,
        key: &Key,
        version: &crate::vault::Version,
        record: &AccountRecord,
        why: &str,
    ) -> bool {
        self.evict(key);
        let mut next = record.clone();
        next.status = AccountStatus::Expired;
        next.forget_tokens();
        next.last_error = Some(format!("{why}; create a new authorization link"));
        next.updated_at = self.clock.now();
        next.generation += 1;
        match self
            .store
            .write_if(&key.0, &key.1, Some(version), &next)
            .await
        {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(connection = %key.0, error = %e, "could not mark the account expired");
                false
            }
        }
    }
}

pub(super) fn check_status(
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
