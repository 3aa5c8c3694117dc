//! The state every handler shares, built once in [`crate::startup::Application::build`].

use std::sync::Arc;

use crate::api_keys::ApiKeyService;
use crate::clock::Clock;
use crate::connections::ConnectionService;
use crate::snowflake::SqlApiClient;
use crate::vault::Vault;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The sealed vault and the store under it.
    pub vault: Vault,
    /// API-key registry.
    pub api_keys: Arc<ApiKeyService>,
    /// Connection registry (and keypair JWT cache).
    pub connections: Arc<ConnectionService>,
    /// OAuth links, callback, connected accounts and the token manager (`oauth.tokens()`).
    pub oauth: Arc<crate::oauth::OAuthService>,
    /// Snowflake SQL API client (one connection pool; `with_upstream` per account).
    pub sql_api: SqlApiClient,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Largest statement body the proxy accepts.
    pub proxy_max_body: usize,
    /// Audit log of proxied calls.
    pub audit: Arc<crate::audit::AuditLog>,
    /// HTTP, upstream and scrape-token state of `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Request-rate limits and the upstream concurrency cap.
    pub limits: Arc<crate::ratelimit::Limits>,
    /// How long a client may take to send a request body.
    pub body_read_timeout: std::time::Duration,
    /// Who submitted each statement, so only they may poll or cancel it (TR-11).
    pub statement_owners: Arc<crate::proxy::owners::StatementOwners>,
    /// The admin UI's sessions and settings.
    pub admin: Arc<crate::admin::AdminUi>,
}
