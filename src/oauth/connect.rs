//! The account writers outside the refresh path: storing a completed authorization and
//! disconnecting. Both hold the account's lock like a refresh does (TR-1), so a refresh never
//! races a re-link or a disconnect.

use super::accounts::{AccountRecord, AccountStatus, AccountView};
use super::client::TokenGrant;
use super::settings::OAuthSettings;
use super::tokens::{token_of, TokenManager};
use super::OAuthError;

impl TokenManager {
    /// Stores the tokens of a completed authorization (under the account's lock). Returns the
    /// account's view.
    pub(crate) async fn store_connected(
        &self,
        connection: &str,
        identifier: &str,
        grant: TokenGrant,
        username: Option<String>,
        linked_by: Option<String>,
        settings: &OAuthSettings,
    ) -> Result<AccountView, OAuthError> {
        let key = (connection.to_owned(), identifier.to_owned());
        let lock = self.lock_for(&key);
        let _guard = lock.lock().await;
        let now = self.core.clock.now();
        let (version, base) = match self.core.store.read(connection, identifier)? {
            Some((v, r)) => (Some(v), r),
            None => (None, AccountRecord::pending(now, linked_by.clone())),
        };
        let mut next = self.core.refreshed(&base, grant, settings);
        next.status = AccountStatus::Active;
        next.last_refresh_at = None;
        next.connected_at = Some(now);
        next.snowflake_user = username;
        next.linked_by = linked_by.or(next.linked_by.take());
        if next.scope.is_none() {
            next.scope = Some(settings.scopes.join(" "));
        }
        next.rotating = settings.single_use_refresh_tokens;
        if !self
            .core
            .store
            .write_if(connection, identifier, version.as_ref(), &next)
            .await?
        {
            return Err(OAuthError::Internal(
                "the account changed while it was being connected".into(),
            ));
        }
        self.core
            .unwritable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        if let Some(token) = token_of(&next) {
            self.remember(&key, &token);
        }
        Ok(next.view(identifier))
    }

    /// Forgets the tokens of an account (status `revoked`); returns its view.
    pub(crate) async fn revoke(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<AccountView, OAuthError> {
        let key = (connection.to_owned(), identifier.to_owned());
        let lock = self.lock_for(&key);
        let _guard = lock.lock().await;
        self.evict(&key);
        let (version, record) = self
            .core
            .store
            .read(connection, identifier)?
            .ok_or_else(|| OAuthError::AccountNotFound(identifier.to_owned()))?;
        let mut next = record.clone();
        next.status = AccountStatus::Revoked;
        next.forget_tokens();
        next.last_error = Some("disconnected through the API".to_owned());
        next.updated_at = self.core.clock.now();
        next.generation += 1;
        if !self
            .core
            .store
            .write_if(connection, identifier, Some(&version), &next)
            .await?
        {
            return Err(OAuthError::Internal(
                "the account changed concurrently".into(),
            ));
        }
        Ok(next.view(identifier))
    }
}
