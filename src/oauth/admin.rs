//! Creating OAuth connections: validate the admin's input ([`NewOAuth`]), seal the client
//! secret, store the connection (see [`super::settings`] for the rules of each field).

use std::path::PathBuf;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::settings::{self, OAuthSettings};
use super::{client, return_url, OAuthError, OAuthService};
use crate::connections::{account, host, Connection, ConnectionKind, ConnectionStatus, Defaults};

/// Input for a new OAuth connection.
#[derive(Default)]
pub struct NewOAuth {
    /// Slug.
    pub name: String,
    /// Account as the admin pasted it.
    pub account: String,
    /// Optional host or URL override.
    pub host: Option<String>,
    /// Session defaults (a default role becomes the role scope).
    pub defaults: Defaults,
    /// `OAUTH_CLIENT_ID`.
    pub client_id: String,
    /// `OAUTH_CLIENT_SECRET` (sealed, write-only).
    pub client_secret: Zeroizing<String>,
    /// Scopes (default `refresh_token`).
    pub scopes: Option<Vec<String>>,
    /// Exact return URLs (OA-8).
    pub allowed_return_urls: Vec<String>,
    /// `/oauth/authorize` override.
    pub authorize_url: Option<String>,
    /// `/oauth/token-request` override.
    pub token_url: Option<String>,
    /// PEM file of a private CA for the token endpoint.
    pub ca_file: Option<PathBuf>,
    /// Ask for single-use refresh tokens.
    pub single_use_refresh_tokens: bool,
    /// Security integration name (default `ICEBROKER_<NAME>`).
    pub integration: Option<String>,
    /// `OAUTH_REFRESH_TOKEN_VALIDITY` of the integration, seconds.
    pub refresh_token_validity_secs: Option<u64>,
}

impl OAuthService {
    /// Validates `input`, seals the client secret and stores the connection.
    pub async fn create_connection(&self, input: NewOAuth) -> Result<Arc<Connection>, OAuthError> {
        if self.connections.get(&input.name).is_ok() {
            return Err(OAuthError::Exists(input.name));
        }
        let invalid = OAuthError::Invalid;
        let parsed = account::parse(&input.account).map_err(|e| invalid(e.to_string()))?;
        let base_url = match &input.host {
            Some(h) => host::base_url(h, self.allow_loopback),
            None => host::base_url(&parsed.host, false),
        }
        .map_err(|e| invalid(e.to_string()))?;
        let settings = self.settings_for(&input, &base_url)?;
        let now = self.clock.now();
        let connection = Connection {
            name: input.name.clone(),
            kind: ConnectionKind::Oauth,
            account: input.account.trim().to_owned(),
            account_claim: parsed.claim,
            base_url,
            defaults: input.defaults.clone(),
            status: ConnectionStatus::PendingEnrollment,
            keypair: None,
            oauth: Some(settings),
            last_test: None,
            status_before_disable: None,
            created_at: now,
            updated_at: now,
        };
        self.accounts
            .put_client_secret(&input.name, input.client_secret.as_str())
            .await?;
        Ok(self.connections.insert(connection).await?)
    }

    fn settings_for(&self, input: &NewOAuth, base_url: &str) -> Result<OAuthSettings, OAuthError> {
        let invalid = OAuthError::Invalid;
        crate::api_keys::validate_connection_name(&input.name)
            .map_err(|e| invalid(e.to_string()))?;
        let id = input.client_id.trim();
        if id.is_empty() || id.len() > 512 || id.contains(':') || id.chars().any(char::is_control) {
            return Err(invalid(
                "client_id must be the integration's OAUTH_CLIENT_ID".into(),
            ));
        }
        let secret = input.client_secret.as_str();
        if secret.is_empty() || secret.len() > 1024 || secret.chars().any(char::is_control) {
            return Err(invalid(
                "client_secret must be the integration's OAUTH_CLIENT_SECRET".into(),
            ));
        }
        let scopes =
            settings::normalize_scopes(input.scopes.clone(), input.defaults.role.as_deref())
                .map_err(invalid)?;
        return_url::validate_list(&input.allowed_return_urls).map_err(invalid)?;
        let endpoint = |what, given: &Option<String>, path: &str| match given {
            Some(url) => settings::endpoint(what, url, self.allow_loopback).map_err(invalid),
            None => Ok(format!("{base_url}{path}")),
        };
        let validity = input
            .refresh_token_validity_secs
            .unwrap_or(settings::DEFAULT_REFRESH_VALIDITY_SECS);
        if !(3600..=31_622_400).contains(&validity) {
            return Err(invalid(
                "refresh_token_validity_secs must be within 3600..=31622400".into(),
            ));
        }
        let ca_pem = match &input.ca_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    invalid(format!("ca_file {} cannot be read: {e}", path.display()))
                })?;
                client::parse_ca(&pem).map_err(invalid)?;
                Some(pem)
            }
            None => None,
        };
        Ok(OAuthSettings {
            client_id: id.to_owned(),
            integration: settings::integration_name(input.integration.as_deref(), &input.name)
                .map_err(invalid)?,
            scopes,
            allowed_return_urls: input.allowed_return_urls.clone(),
            authorize_url: endpoint("authorize_url", &input.authorize_url, "/oauth/authorize")?,
            token_url: endpoint("token_url", &input.token_url, "/oauth/token-request")?,
            redirect_uri: settings::redirect_uri(&self.public_url, &input.name).map_err(invalid)?,
            single_use_refresh_tokens: input.single_use_refresh_tokens,
            refresh_token_validity_secs: validity,
            ca_pem,
        })
    }
}
