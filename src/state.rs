//! The state every handler shares, built once in [`crate::startup::Application::build`].

use std::sync::Arc;

use crate::api_keys::ApiKeyService;
use crate::connections::ConnectionService;
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
}
