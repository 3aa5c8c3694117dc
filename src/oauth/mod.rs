//! OAuth connections: configuration, authorization links, the browser flow, connected accounts
//! and the [`TokenManager`] every Snowflake call for an end user goes through.
//!
//! Map: [`settings`] (what a connection holds, validation, setup SQL), [`return_url`] (OA-8),
//! [`links`] (links and one-time flow states), [`flow`] (connect + callback), [`client`] (the
//! token endpoint), [`accounts`] (sealed account records), [`tokens`] (refresh), [`pages`]
//! (HTML). SECURITY.md §1 and §3 are the rules; each file says which it keeps.

pub mod accounts;
mod admin;
mod client;
mod connect;
pub mod flow;
mod links;
pub mod pages;
mod refresh;
pub mod return_url;
pub mod secrets;
pub mod settings;
pub mod tokens;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tokens_tests;

use std::sync::Arc;

pub use accounts::{AccountStatus, AccountView};
pub use admin::NewOAuth;
pub use flow::{CallbackOutcome, FlowFailure, Started};
pub use links::{Swept, LINK_TTL_DEFAULT, LINK_TTL_MAX, STATE_TTL};
pub use secrets::AccessToken;
pub use settings::{OAuthSettings, OAuthSetup};
pub use tokens::TokenManager;

use self::accounts::{validate_identifier, AccountRecord, AccountStore};
use self::client::TokenClient;
use self::links::{FlowStore, LinkRecord};
use crate::api_keys::ApiKeyRecord;
use crate::clock::Clock;
use crate::connections::{Connection, ConnectionError, ConnectionKind, ConnectionService};
use crate::snowflake::SqlApiClient;
use crate::vault::{Vault, VaultError};

/// Failures of OAuth operations; the HTTP layer maps each to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Input rejected; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No such connection.
    #[error("no connection named {0:?}")]
    ConnectionNotFound(String),
    /// The connection is disabled.
    #[error("connection {0:?} is disabled; an admin can enable it again")]
    ConnectionDisabled(String),
    /// The connection is not an OAuth connection.
    #[error("connection {0:?} is not an OAuth connection")]
    NotOAuth(String),
    /// The name is taken.
    #[error("a connection named {0:?} already exists")]
    Exists(String),
    /// No account for that identifier (account routes).
    #[error("no connected account for identifier {0:?}")]
    AccountNotFound(String),
    /// The identifier has no usable authorization yet (or it was revoked).
    #[error("{0}")]
    AccountNotConnected(String),
    /// The authorization ended; the end user must authorize again.
    #[error(
        "the end user's Snowflake authorization ended ({0}); create a new authorization link \
         (POST /v1/connections/{{name}}/authorization-links) and send the user through it"
    )]
    ReauthorizationRequired(String),
    /// Snowflake rejected the connection's client id/secret.
    #[error(
        "Snowflake rejected the connection's OAuth client id or secret; an admin must fix them"
    )]
    ClientRejected,
    /// The token endpoint could not be reached or failed.
    #[error("{0}")]
    Upstream(String),
    /// Vault failure.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Anything else internal.
    #[error("{0}")]
    Internal(String),
}

impl OAuthError {
    pub(crate) fn reauthorize(why: &str) -> Self {
        Self::ReauthorizationRequired(why.to_owned())
    }

    pub(crate) fn not_connected(
        connection: &str,
        identifier: &str,
        status: Option<AccountStatus>,
    ) -> Self {
        let state = match status {
            Some(AccountStatus::Revoked) => "was disconnected",
            Some(_) => "has not completed authorization",
            None => "has no account",
        };
        Self::AccountNotConnected(format!(
            "identifier {identifier:?} {state} on connection {connection:?}; create an \
             authorization link and send the end user through it"
        ))
    }
}

impl From<ConnectionError> for OAuthError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::NotFound(n) => Self::ConnectionNotFound(n),
            ConnectionError::Disabled(n) => Self::ConnectionDisabled(n),
            ConnectionError::Exists(n) => Self::Exists(n),
            ConnectionError::Invalid(m) => Self::Invalid(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A link request (`POST …/authorization-links`).
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// The app's id for its end user.
    pub identifier: String,
    /// Where to send the browser afterwards (must be allow-listed exactly).
    pub return_url: Option<String>,
    /// Lifetime in seconds (default 600, max 1800).
    pub expires_in: Option<u64>,
}

/// A new link.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    /// `<public_url>/connect/<token>` — a capability: give it only to the end user.
    pub link: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
}

/// The OAuth service (one per process, in `AppState::oauth`).
pub struct OAuthService {
    connections: Arc<ConnectionService>,
    accounts: AccountStore,
    flows: FlowStore,
    client: Arc<TokenClient>,
    tokens: TokenManager,
    sql_api: SqlApiClient,
    clock: Arc<dyn Clock>,
    public_url: String,
    allow_loopback: bool,
    pages: pages::Pages,
}

impl OAuthService {
    /// Builds the service; `public_url` is the externally visible base URL (no trailing slash).
    pub fn new(
        vault: Vault,
        connections: Arc<ConnectionService>,
        sql_api: SqlApiClient,
        clock: Arc<dyn Clock>,
        public_url: String,
        allow_loopback: bool,
    ) -> Result<Self, OAuthError> {
        let client = Arc::new(TokenClient::new().map_err(OAuthError::Internal)?);
        let accounts = AccountStore::new(vault.clone());
        Ok(Self {
            tokens: TokenManager::new(accounts.clone(), client.clone(), clock.clone()),
            flows: FlowStore::new(vault),
            accounts,
            client,
            connections,
            sql_api,
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            allow_loopback,
            pages: pages::Pages::new().map_err(|e| OAuthError::Internal(e.to_string()))?,
        })
    }

    /// Removes authorization links and flow states that expired unused (see
    /// [`spawn_flow_sweeper`]); returns what it removed.
    pub async fn sweep_expired_flows(&self) -> Result<Swept, OAuthError> {
        let swept = self.flows.sweep(self.clock.now()).await?;
        if swept != Swept::default() {
            tracing::info!(
                links = swept.links,
                flow_states = swept.states,
                "removed expired authorization links and flow states"
            );
        }
        Ok(swept)
    }

    /// The token manager (what the proxy calls).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// The externally visible base URL (no trailing slash); MCP's Origin check allows its origin.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The HTML pages.
    pub fn pages(&self) -> &pages::Pages {
        &self.pages
    }

    /// Whether the browser cookie may be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Browser-binding cookie name: `__Host-sfb_flow` over https; browsers refuse `__Host-`
    /// cookies without `Secure`, so plain-http development setups use `sfb_flow`.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies() {
            "__Host-sfb_flow"
        } else {
            "sfb_flow"
        }
    }

    /// Issues a link for `request` on `connection`, bound to `caller`'s key. Creates a `pending`
    /// account record for a new identifier.
    pub async fn issue_link(
        &self,
        caller: &ApiKeyRecord,
        connection: &str,
        request: LinkRequest,
    ) -> Result<IssuedLink, OAuthError> {
        let conn = self.connections.get(connection)?;
        let settings = tokens::usable(&conn)?;
        validate_identifier(&request.identifier)?;
        if let Some(url) = &request.return_url {
            if !return_url::is_allowed(&settings.allowed_return_urls, url) {
                return Err(OAuthError::Invalid(
                    "return_url must be exactly one of the connection's allowed_return_urls".into(),
                ));
            }
        }
        let ttl = request.expires_in.unwrap_or(LINK_TTL_DEFAULT);
        if !(1..=LINK_TTL_MAX).contains(&ttl) {
            return Err(OAuthError::Invalid(format!(
                "expires_in must be 1..={LINK_TTL_MAX} seconds"
            )));
        }
        let now = self.clock.now();
        if self
            .accounts
            .read(connection, &request.identifier)?
            .is_none()
        {
            let pending = AccountRecord::pending(now, Some(caller.id.clone()));
            // `false` means someone created it meanwhile, which is just as good.
            self.accounts
                .write_if(connection, &request.identifier, None, &pending)
                .await?;
        }
        let record = LinkRecord {
            connection: connection.to_owned(),
            identifier: request.identifier.clone(),
            api_key_id: caller.id.clone(),
            return_url: request.return_url,
            created_at: now,
            expires_at: now + ttl,
        };
        let token = self.flows.put_link(&record).await?;
        tracing::info!(connection, account = %self.accounts.audit_id(&request.identifier), key = %caller.id, "authorization link issued");
        Ok(IssuedLink {
            link: format!("{}/connect/{token}", self.public_url),
            expires_at: record.expires_at,
        })
    }

    /// Accounts of an OAuth connection, optionally only those with `status`.
    pub fn accounts(
        &self,
        connection: &str,
        status: Option<AccountStatus>,
    ) -> Result<Vec<AccountView>, OAuthError> {
        self.oauth_connection(connection)?;
        Ok(self
            .accounts
            .list(connection)?
            .iter()
            .filter(|(_, r)| status.is_none_or(|s| r.status == s))
            .map(|(id, r)| r.view(id))
            .collect())
    }

    /// One account.
    pub fn account(&self, connection: &str, identifier: &str) -> Result<AccountView, OAuthError> {
        self.oauth_connection(connection)?;
        let (_, record) = self
            .accounts
            .read(connection, identifier)?
            .ok_or_else(|| OAuthError::AccountNotFound(identifier.to_owned()))?;
        Ok(record.view(identifier))
    }

    /// Forgets an account's tokens; returns its view and the SQL that revokes the consent in
    /// Snowflake (when the Snowflake user is known).
    pub async fn disconnect(
        &self,
        connection: &str,
        identifier: &str,
    ) -> Result<(AccountView, Option<String>), OAuthError> {
        let conn = self.oauth_connection(connection)?;
        let view = self.tokens.revoke(connection, identifier).await?;
        let sql = match (&view.snowflake_user, &conn.oauth) {
            (Some(user), Some(s)) => Some(settings::remove_delegated_sql(user, s)),
            _ => None,
        };
        Ok((view, sql))
    }

    /// Resolves the refreshes a previous process left in flight (see [`refresh`]): run once at
    /// start-up, before the listener serves. Returns how many accounts it had to expire.
    pub async fn recover_interrupted_refreshes(&self) -> Result<usize, OAuthError> {
        let mut expired = 0;
        for (connection, identifier, marker) in self.accounts.markers()? {
            let key = (connection.clone(), identifier.clone());
            let lock = self.tokens.lock_for(&key);
            let _guard = lock.lock().await;
            let Some((version, record)) = self.accounts.read(&connection, &identifier)? else {
                self.accounts
                    .delete_marker(&connection, &identifier, false)
                    .await?;
                continue;
            };
            // A connection that is gone or unreadable counts as rotating: the safe side.
            let single_use = self
                .connections
                .get(&connection)
                .ok()
                .and_then(|c| c.oauth.as_ref().map(|s| s.single_use_refresh_tokens))
                .unwrap_or(true);
            let usable = self
                .tokens
                .core
                .settle_marker(
                    &key,
                    &version,
                    &record,
                    &marker,
                    single_use || record.rotating,
                )
                .await?;
            expired += usize::from(!usable);
        }
        self.accounts.flush().await?;
        if expired > 0 {
            tracing::warn!(
                expired,
                "accounts whose refresh was interrupted by the last shutdown need re-authorization"
            );
        }
        Ok(expired)
    }

    /// Destroys every account and the client secret of a deleted connection.
    pub async fn forget_connection(&self, connection: &str) -> Result<(), OAuthError> {
        self.tokens.evict_connection(connection);
        self.accounts.forget_connection(connection).await
    }

    /// The setup statements of an OAuth connection.
    pub fn setup(connection: &Connection) -> Option<OAuthSetup> {
        connection
            .oauth
            .as_ref()
            .map(|s| settings::setup(&connection.name, s))
    }

    fn oauth_connection(&self, name: &str) -> Result<Arc<Connection>, OAuthError> {
        let conn = self.connections.get(name)?;
        if conn.kind != ConnectionKind::Oauth {
            return Err(OAuthError::NotOAuth(name.to_owned()));
        }
        Ok(conn)
    }
}

/// How often expired links and flow states are swept.
const FLOW_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Sweeps expired links and flow states every minute while `service` lives (a weak handle, so
/// the task never keeps a stopped broker's store open).
pub fn spawn_flow_sweeper(service: std::sync::Weak<OAuthService>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLOW_SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(e) = service.sweep_expired_flows().await {
                tracing::warn!(error = %e, "sweeping expired authorization links failed");
            }
        }
    });
}
