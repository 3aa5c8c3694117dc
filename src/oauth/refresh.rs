//! One refresh of one account, made safe against the process dying in the middle of it.
//!
//! Snowflake's single-use refresh tokens die the moment the token endpoint accepts them, with no
//! grace period, and presenting a dead one again revokes every token of that user for the
//! integration (theft detection). So a broker killed after Snowflake rotated the token but before
//! it stored the new one must never present the old one again. The order of a refresh is:
//!
//! 1. a durable in-flight [`Marker`] naming the record `generation` whose refresh token is about
//!    to be spent (slot `oauth_refresh/<connection>/<identifier>/in_flight`, a sealed record of
//!    its own so start-up finds every marker without reading every account);
//! 2. the token request;
//! 3. the outcome stored durably in the account record (new tokens, or `expired`), which bumps the
//!    record's generation;
//! 4. the marker removed. Not flushed when step 3 rewrote the record: a marker older than the
//!    record's generation is obsolete and is dropped when found.
//!
//! A marker whose generation equals the record's means the outcome of step 2 is unknown. With
//! rotating (single-use) refresh tokens the held token may be dead, so the account becomes
//! `expired` (callers get `reauthorization_required`, the user a new link) and its tokens are
//! forgotten; with reusable tokens the held one still works and only the marker goes. Such
//! markers are resolved at start-up ([`super::OAuthService::recover_interrupted_refreshes`],
//! before the listener serves) and, should one remain, under the account's lock before the next
//! refresh. The same rule covers a token request whose answer was lost in flight
//! ([`TokenCallError::Unknown`]).
//!
//! The job runs in its own task holding the account's lock (TR-1), so a caller that goes away
//! cannot cut it between steps 1 and 4; only the process dying can, and that is what the marker
//! is for.

use serde::{Deserialize, Serialize};
use tokio::sync::OwnedMutexGuard;
use zeroize::Zeroizing;

use super::accounts::{AccountRecord, AccountStatus};
use super::client::{TokenCallError, TokenGrant};
use super::secrets::AccessToken;
use super::settings::OAuthSettings;
use super::tokens::{token_of, Core, Key};
use super::OAuthError;
use crate::metrics::stats::{ReauthReason, RefreshResult};
use crate::vault::Version;

/// A refresh in flight: the generation of the record whose refresh token is being spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Marker {
    /// `AccountRecord::generation` when the token request was sent.
    pub generation: u64,
    /// When it was sent (seconds since the epoch; for logs).
    pub started_at: u64,
}

/// Why an interrupted refresh ends an authorization (shown as the account's `last_error`).
pub(crate) const INTERRUPTED: &str =
    "a token refresh was interrupted before its result was stored, and Snowflake may already have \
     retired the refresh token";

/// A refresh to run: everything read under the lock, owned so it can move into a task.
pub(super) struct Job {
    pub core: Core,
    pub settings: OAuthSettings,
    pub key: Key,
    pub version: Version,
    pub record: AccountRecord,
    pub refresh_token: Zeroizing<String>,
    pub secret: Zeroizing<String>,
    /// Whether the refresh token is single-use (spent by the request).
    pub rotating: bool,
}

/// What became of the record after the token request.
enum Stored {
    /// The record now reflects the outcome (rewritten, generation bumped).
    Rewritten,
    /// The refresh token was provably not spent; the record is unchanged.
    Untouched,
    /// The outcome could not be stored: the marker must stay for the next start to resolve.
    Unsettled,
}

impl Job {
    /// Runs steps 1-4 of the module doc, holding the account's lock (`guard`) throughout.
    pub async fn run(self, guard: OwnedMutexGuard<()>) -> Result<AccessToken, OAuthError> {
        let _guard = guard;
        let (connection, identifier) = (self.key.0.as_str(), self.key.1.as_str());
        let store = &self.core.store;
        if self.rotating {
            let marker = Marker {
                generation: self.record.generation,
                started_at: self.core.clock.now(),
            };
            // Nothing is spent yet: if the marker cannot be made durable, do not spend anything.
            store.put_marker(connection, identifier, &marker).await?;
        }
        let outcome = self
            .core
            .client
            .refresh(
                &self.settings,
                self.secret.as_str(),
                self.refresh_token.as_str(),
                self.rotating,
            )
            .await;
        let (result, stored) = self.settle(outcome).await;
        if self.rotating {
            let removed = match stored {
                Stored::Rewritten => store.delete_marker(connection, identifier, false).await,
                Stored::Untouched => store.delete_marker(connection, identifier, true).await,
                Stored::Unsettled => Ok(()),
            };
            if let Err(e) = removed {
                // Harmless: the next start drops or resolves it.
                tracing::warn!(connection, error = %e, "could not remove a refresh marker");
            }
        }
        result
    }

    async fn settle(
        &self,
        outcome: Result<TokenGrant, TokenCallError>,
    ) -> (Result<AccessToken, OAuthError>, Stored) {
        let core = &self.core;
        let key = &self.key;
        let (connection, identifier) = (key.0.as_str(), key.1.as_str());
        let id_hash = core.store.audit_id(identifier);
        match outcome {
            Ok(grant) => {
                let rotated = grant.refresh_token.is_some();
                let mut next = core.refreshed(&self.record, grant, &self.settings);
                next.rotating = self.rotating || rotated;
                match core
                    .store
                    .write_if(connection, identifier, Some(&self.version), &next)
                    .await
                {
                    Ok(true) => {
                        core.stats.refresh(RefreshResult::Refreshed);
                        tracing::info!(connection, account = %id_hash, generation = next.generation, "token refreshed");
                        let Some(token) = token_of(&next) else {
                            return (
                                Err(OAuthError::Internal(
                                    "refreshed record lost its token".into(),
                                )),
                                Stored::Rewritten,
                            );
                        };
                        core.remember(key, &token);
                        (Ok(token), Stored::Rewritten)
                    }
                    Ok(false) => {
                        core.stats.refresh(RefreshResult::Conflict);
                        (core.after_conflict(key), Stored::Rewritten)
                    }
                    Err(e) => {
                        core.stats.refresh(RefreshResult::StoreFailed);
                        core.stats
                            .reauthorization_required(ReauthReason::StoreFailed);
                        // TR-5: the old refresh token may be dead; never loop on it.
                        tracing::error!(connection, account = %id_hash, error = %e, "refreshed tokens could not be stored");
                        core.unwritable
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key.clone());
                        let expired = core
                            .expire(
                                key,
                                &self.version,
                                &self.record,
                                "refreshed tokens could not be stored",
                            )
                            .await;
                        (
                            Err(OAuthError::reauthorize(
                                "the refreshed token could not be stored",
                            )),
                            if expired {
                                Stored::Rewritten
                            } else {
                                Stored::Unsettled
                            },
                        )
                    }
                }
            }
            Err(TokenCallError::InvalidGrant) => {
                // TR-6: another writer may have rotated the token since we read it.
                if let Ok(Some((now_version, now_record))) = core.store.read(connection, identifier)
                {
                    if now_version != self.version && now_record.status == AccountStatus::Active {
                        if let Some(token) = token_of(&now_record) {
                            core.stats.refresh(RefreshResult::Raced);
                            core.remember(key, &token);
                            return (Ok(token), Stored::Rewritten);
                        }
                    }
                }
                core.stats.refresh(RefreshResult::InvalidGrant);
                core.stats
                    .reauthorization_required(ReauthReason::InvalidGrant);
                tracing::warn!(connection, account = %id_hash, "refresh token rejected; account expired");
                let why = "Snowflake rejected the refresh token (invalid_grant)";
                let expired = core.expire(key, &self.version, &self.record, why).await;
                (
                    Err(OAuthError::reauthorize(
                        "Snowflake rejected the refresh token",
                    )),
                    if expired {
                        Stored::Rewritten
                    } else {
                        Stored::Unsettled
                    },
                )
            }
            Err(TokenCallError::Unknown(why)) => {
                // The request may have been accepted and its answer lost: the token may be dead.
                core.stats.refresh(RefreshResult::OutcomeUnknown);
                core.stats
                    .reauthorization_required(ReauthReason::Interrupted);
                tracing::warn!(connection, account = %id_hash, why, "refresh outcome unknown; account expired");
                let expired = core
                    .expire(key, &self.version, &self.record, INTERRUPTED)
                    .await;
                (
                    Err(OAuthError::reauthorize(INTERRUPTED)),
                    if expired {
                        Stored::Rewritten
                    } else {
                        Stored::Unsettled
                    },
                )
            }
            Err(TokenCallError::InvalidClient) => {
                core.stats.refresh(RefreshResult::ClientRejected);
                (Err(OAuthError::ClientRejected), Stored::Untouched)
            }
            Err(TokenCallError::Rejected(code, status)) => {
                core.stats.refresh(RefreshResult::UpstreamError);
                (
                    Err(OAuthError::Upstream(format!(
                        "Snowflake's token endpoint refused the refresh ({status} {code})"
                    ))),
                    Stored::Untouched,
                )
            }
            Err(TokenCallError::Unavailable(why)) => {
                core.stats.refresh(RefreshResult::UpstreamError);
                (Err(OAuthError::Upstream(why)), Stored::Untouched)
            }
        }
    }
}

impl Core {
    /// Resolves the in-flight `marker` found for `key`, whose record is `record` at `version`
    /// (under the account's lock, or at start-up before serving). An obsolete marker is dropped;
    /// one for the current generation is an interrupted refresh: with `rotating` tokens the
    /// account expires. `Ok(false)` when the account can no longer be used.
    pub(super) async fn settle_marker(
        &self,
        key: &Key,
        version: &Version,
        record: &AccountRecord,
        marker: &Marker,
        rotating: bool,
    ) -> Result<bool, OAuthError> {
        let (connection, identifier) = (key.0.as_str(), key.1.as_str());
        let interrupted = marker.generation == record.generation
            && record.status == AccountStatus::Active
            && record.refresh_token.is_some();
        if interrupted && rotating {
            tracing::warn!(
                connection,
                account = %self.store.audit_id(identifier),
                started_at = marker.started_at,
                "a refresh was interrupted before its result was stored; account expired"
            );
            self.stats
                .reauthorization_required(ReauthReason::Interrupted);
            // If the expiry cannot be stored the marker stays, and so does the refusal.
            if self.expire(key, version, record, INTERRUPTED).await {
                self.store
                    .delete_marker(connection, identifier, true)
                    .await?;
            }
            return Ok(false);
        }
        // Obsolete (the outcome was stored) or harmless (a reusable token is still valid).
        self.store
            .delete_marker(connection, identifier, interrupted)
            .await?;
        Ok(true)
    }
}
