//! Connected accounts: one sealed record per `(connection, identifier)` holding the tokens and
//! the account's public state, and the public view the API shows.
//!
//! Invariants: the whole record — access token, refresh token, expiries and status — is one
//! sealed value (vault slot `oauth_account/<connection>/<identifier>/record`, AAD-bound to it,
//! SS-2), so a token write and its status change are one atomic, durable compare-and-swap on the
//! record's [`Version`] (TR-3/TR-5 fencing); `generation` grows with every token write. The view
//! never carries a token.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroize;

use super::refresh::Marker;
use super::OAuthError;
use crate::vault::{Slot, Vault, Version};

const KIND: &str = "oauth_account";
const FIELD: &str = "record";
const CLIENT_KIND: &str = "oauth_client";
const MARKER_KIND: &str = "oauth_refresh";
const MARKER_FIELD: &str = "in_flight";
const CLIENT_SECRET: &str = "client_secret";

/// Lifecycle of a connected account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// A link was issued; the user has not completed the flow.
    Pending,
    /// Tokens are held and refreshable.
    Active,
    /// The refresh token stopped working; the user must authorize again (new link).
    Expired,
    /// Disconnected through the API; tokens forgotten.
    Revoked,
}

/// The stored record (sealed). Token fields are wiped on drop.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AccountRecord {
    pub status: AccountStatus,
    #[serde(default)]
    pub snowflake_user: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub access_expires_at: Option<u64>,
    #[serde(default)]
    pub access_lifetime: Option<u64>,
    #[serde(default)]
    pub refresh_expires_at: Option<u64>,
    #[serde(default)]
    pub connected_at: Option<u64>,
    #[serde(default)]
    pub last_refresh_at: Option<u64>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub linked_by: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    #[serde(default)]
    pub generation: u64,
    /// Whether the refresh token is single-use (rotated by every refresh): asked for at code
    /// exchange, or seen when a refresh answered a new refresh token.
    #[serde(default)]
    pub rotating: bool,
}

impl Drop for AccountRecord {
    fn drop(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("status", &self.status)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl AccountRecord {
    /// A new pending account.
    pub fn pending(now: u64, linked_by: Option<String>) -> Self {
        Self {
            status: AccountStatus::Pending,
            snowflake_user: None,
            scope: None,
            access_token: None,
            refresh_token: None,
            access_expires_at: None,
            access_lifetime: None,
            refresh_expires_at: None,
            connected_at: None,
            last_refresh_at: None,
            last_error: None,
            linked_by,
            created_at: now,
            updated_at: now,
            generation: 0,
            rotating: false,
        }
    }

    /// Forgets both tokens (expired/revoked accounts keep no dead credentials).
    pub fn forget_tokens(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
        self.access_token = None;
        self.refresh_token = None;
        self.access_expires_at = None;
        self.refresh_expires_at = None;
    }

    /// The API's view.
    pub fn view(&self, identifier: &str) -> AccountView {
        AccountView {
            identifier: identifier.to_owned(),
            status: self.status,
            snowflake_user: self.snowflake_user.clone(),
            scope: self.scope.clone(),
            access_expires_at: self.access_expires_at,
            refresh_expires_at: self.refresh_expires_at,
            connected_at: self.connected_at,
            last_refresh_at: self.last_refresh_at,
            last_error: self.last_error.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A connected account as the API shows it (never tokens).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// The app's identifier for its end user.
    pub identifier: String,
    /// `pending`, `active`, `expired` or `revoked`.
    pub status: AccountStatus,
    /// The Snowflake user NAME that authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snowflake_user: Option<String>,
    /// The scope Snowflake granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the current access token expires (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires_at: Option<u64>,
    /// When the refresh token expires (seconds since the epoch); send a new link before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<u64>,
    /// When the user last completed the flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<u64>,
    /// Last successful refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refresh_at: Option<u64>,
    /// Why the account is not active, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: u64,
    /// Last change.
    pub updated_at: u64,
}

/// Checks an app-supplied identifier (SS-3): 1-256 bytes of UTF-8, no control characters.
pub fn validate_identifier(identifier: &str) -> Result<(), OAuthError> {
    if identifier.is_empty()
        || identifier.len() > crate::vault::MAX_COMPONENT_LEN
        || identifier.chars().any(char::is_control)
    {
        return Err(OAuthError::Invalid(
            "identifier must be 1-256 bytes of UTF-8 without control characters".to_owned(),
        ));
    }
    Ok(())
}

/// Sealed storage of account records and client secrets.
#[derive(Clone)]
pub(crate) struct AccountStore {
    vault: Vault,
}

fn slot(connection: &str, identifier: &str) -> Result<Slot, OAuthError> {
    Ok(Slot::new(KIND, connection, identifier, FIELD)?)
}

fn marker_slot(connection: &str, identifier: &str) -> Result<Slot, OAuthError> {
    Ok(Slot::new(
        MARKER_KIND,
        connection,
        identifier,
        MARKER_FIELD,
    )?)
}

fn secret_slot(connection: &str) -> Result<Slot, OAuthError> {
    Ok(Slot::new(CLIENT_KIND, connection, "", CLIENT_SECRET)?)
}

fn decode_marker(bytes: &[u8]) -> Result<Marker, OAuthError> {
    serde_json::from_slice(bytes).map_err(|_| OAuthError::Internal("corrupt refresh marker".into()))
}

fn decode(bytes: &[u8]) -> Result<AccountRecord, OAuthError> {
    serde_json::from_slice(bytes).map_err(|_| OAuthError::Internal("corrupt account record".into()))
}

impl AccountStore {
    pub fn new(vault: Vault) -> Self {
        Self { vault }
    }

    /// The record and its version, if any.
    pub fn read(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<Option<(Version, AccountRecord)>, OAuthError> {
        match self.vault.get_versioned(&slot(connection, identifier)?)? {
            Some((version, plain)) => Ok(Some((version, decode(plain.expose())?))),
            None => Ok(None),
        }
    }

    /// Writes `record` only if the stored version is still `expected`; durable on `Ok(true)`.
    pub async fn write_if(
        &self,
        connection: &str,
        identifier: &str,
        expected: Option<&Version>,
        record: &AccountRecord,
    ) -> Result<bool, OAuthError> {
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| OAuthError::Internal(e.to_string()))?,
        );
        Ok(self
            .vault
            .put_if_version(&slot(connection, identifier)?, expected, &bytes)
            .await?)
    }

    /// Every account of `connection`, by identifier.
    pub fn list(&self, connection: &str) -> Result<Vec<(String, AccountRecord)>, OAuthError> {
        let mut out = Vec::new();
        for item in self.vault.scan(KIND, Some(connection)) {
            let (slot, plain) = item?;
            if slot.connection() == connection && slot.field() == FIELD {
                out.push((slot.identifier().to_owned(), decode(plain.expose())?));
            }
        }
        Ok(out)
    }

    /// The in-flight refresh marker of an account, if any (see [`super::refresh`]).
    pub fn marker(&self, connection: &str, identifier: &str) -> Result<Option<Marker>, OAuthError> {
        match self.vault.get(&marker_slot(connection, identifier)?)? {
            Some(plain) => Ok(Some(decode_marker(plain.expose())?)),
            None => Ok(None),
        }
    }

    /// Records a refresh in flight; durable before it returns.
    pub async fn put_marker(
        &self,
        connection: &str,
        identifier: &str,
        marker: &Marker,
    ) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(marker).map_err(|e| OAuthError::Internal(e.to_string()))?;
        Ok(self
            .vault
            .put(&marker_slot(connection, identifier)?, &bytes)
            .await?)
    }

    /// Removes an account's marker; with `durable`, waits until that is on disk.
    pub async fn delete_marker(
        &self,
        connection: &str,
        identifier: &str,
        durable: bool,
    ) -> Result<(), OAuthError> {
        let slot = marker_slot(connection, identifier)?;
        if durable {
            self.vault.delete(&slot).await?;
        } else {
            self.vault.delete_batched(&slot)?;
        }
        Ok(())
    }

    /// Waits until every write so far is durable (after batched marker removals).
    pub async fn flush(&self) -> Result<(), OAuthError> {
        Ok(self.vault.store().flush().await?)
    }

    /// Every marker, as `(connection, identifier, marker)` (start-up recovery).
    pub fn markers(&self) -> Result<Vec<(String, String, Marker)>, OAuthError> {
        let mut out = Vec::new();
        for item in self.vault.scan(MARKER_KIND, None) {
            let (slot, plain) = item?;
            let marker = decode_marker(plain.expose())?;
            out.push((
                slot.connection().to_owned(),
                slot.identifier().to_owned(),
                marker,
            ));
        }
        Ok(out)
    }

    /// Destroys every account record and the client secret of `connection`.
    pub async fn forget_connection(&self, connection: &str) -> Result<(), OAuthError> {
        for item in self.vault.scan(MARKER_KIND, Some(connection)) {
            let (slot, _) = item?;
            if slot.connection() == connection {
                self.vault.delete_batched(&slot)?;
            }
        }
        for (identifier, _) in self.list(connection)? {
            self.vault.delete(&slot(connection, &identifier)?).await?;
        }
        self.vault.delete(&secret_slot(connection)?).await?;
        Ok(())
    }

    /// A short keyed hash of an identifier for log lines (SS-8: identifiers are not logged raw).
    pub fn audit_id(&self, identifier: &str) -> String {
        hex::encode(
            &self
                .vault
                .keyed_hash("audit-identifier", identifier.as_bytes())[..8],
        )
    }

    /// Seals the client secret (write-only).
    pub async fn put_client_secret(
        &self,
        connection: &str,
        secret: &str,
    ) -> Result<(), OAuthError> {
        Ok(self
            .vault
            .put(&secret_slot(connection)?, secret.as_bytes())
            .await?)
    }

    /// Opens the client secret for one token request.
    pub fn client_secret(
        &self,
        connection: &str,
    ) -> Result<zeroize::Zeroizing<String>, OAuthError> {
        let plain = self.vault.get(&secret_slot(connection)?)?.ok_or_else(|| {
            OAuthError::Internal("the connection's client secret is missing".into())
        })?;
        let text = String::from_utf8(plain.expose().to_vec())
            .map_err(|_| OAuthError::Internal("client secret is not UTF-8".into()))?;
        Ok(zeroize::Zeroizing::new(text))
    }
}
