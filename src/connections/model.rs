//! What a connection is, as stored (tree `connections`, JSON per name) and as shown by the API.
//! Secrets are never part of these types: private keys live sealed in the vault.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The two kinds of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// A service identity: icebroker signs keypair JWTs.
    Keypair,
    /// End users authorize through Snowflake OAuth, one connected account each.
    Oauth,
}

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created; the public key is not yet known to work in Snowflake.
    PendingEnrollment,
    /// The last test succeeded.
    Connected,
    /// The last test failed; `last_test` says why.
    Error,
    /// Switched off by an admin; every use answers 403 `connection_disabled`.
    Disabled,
}

/// Session defaults filled into statements that leave them out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Defaults {
    /// Default role (case-sensitive, as Snowflake stores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Default warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Default database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Default schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// The public half of a key pair, as Snowflake needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicKeyInfo {
    /// Base64 SubjectPublicKeyInfo without PEM armour (`RSA_PUBLIC_KEY` value).
    pub public_key: String,
    /// `SHA256:…`, equal to `DESC USER`'s `RSA_PUBLIC_KEY_FP` / `RSA_PUBLIC_KEY_2_FP`.
    pub fingerprint: String,
    /// Which user property holds it: 1 = `RSA_PUBLIC_KEY`, 2 = `RSA_PUBLIC_KEY_2`.
    pub slot: u8,
}

/// Keypair-specific state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeypairState {
    /// The user's LOGIN_NAME (what the JWT carries, upper-cased).
    pub user: String,
    /// The key icebroker signs with.
    pub active: PublicKeyInfo,
    /// A rotation in progress: the new key, not yet signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<PublicKeyInfo>,
}

/// What the last `test` saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestReport {
    /// Whether it worked.
    pub ok: bool,
    /// When (seconds since the epoch).
    pub at: u64,
    /// `CURRENT_USER()` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `CURRENT_ROLE()` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `CURRENT_ACCOUNT()` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `CURRENT_WAREHOUSE()` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Snowflake's error code on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Snowflake's message on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A connection (never holds secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    /// Unique slug.
    pub name: String,
    /// Keypair or OAuth.
    pub kind: ConnectionKind,
    /// The account as given.
    pub account: String,
    /// Normalised account used in JWT claims (e.g. `XY12345`, `MYORG-MYACCOUNT`).
    pub account_claim: String,
    /// Base URL of the account (`https://<host>`; loopback http only in test setups).
    pub base_url: String,
    /// Session defaults.
    pub defaults: Defaults,
    /// Lifecycle state (disabled wins over the others).
    pub status: ConnectionStatus,
    /// Keypair details (public only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypair: Option<KeypairState>,
    /// OAuth details (public only; the client secret is sealed in the vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<crate::oauth::OAuthSettings>,
    /// The last test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_test: Option<TestReport>,
    /// Set while disabled: the status to return to on enable.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub status_before_disable: Option<ConnectionStatus>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
    /// Last change (seconds since the epoch).
    pub updated_at: u64,
}

impl Connection {
    /// Whether uses of the connection must be refused.
    pub fn is_disabled(&self) -> bool {
        self.status == ConnectionStatus::Disabled
    }
}
