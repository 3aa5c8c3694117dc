//! The Snowflake account model snowsim serves: accounts, users, roles, warehouses, grants and
//! OAuth security integrations. Loaded from TOML (`icebroker snowsim --config`) or built in code
//! by tests; [`SimConfig::demo`] is the account every test and `icebroker demo` starts from.

use serde::Deserialize;

/// Everything snowsim simulates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The simulated accounts.
    pub accounts: Vec<AccountModel>,
    /// TPC-H scale factor loaded into `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1` of every account.
    #[serde(default = "default_scale")]
    pub tpch_scale: f64,
    /// Rows per result partition (Snowflake picks its own sizes; tests shrink this).
    #[serde(default = "default_partition_rows")]
    pub partition_rows: usize,
    /// Seconds a synchronous statement may run before the SQL API answers 202 (Snowflake: 45).
    #[serde(default = "default_sync_window")]
    pub sync_window_secs: f64,
    /// Access-token lifetime in seconds (Snowflake: 600).
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: u64,
    /// Lifetime of an authorization code in seconds (Snowflake: about 10 minutes).
    #[serde(default = "default_code_ttl")]
    pub code_ttl_secs: u64,
    /// HTTP worker threads (each runs its own event loop).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Finished statements kept per account before the oldest are forgotten (Snowflake keeps
    /// results 24 h; a bounded store keeps long benchmarks from growing without limit).
    #[serde(default = "default_statement_capacity")]
    pub statement_capacity: usize,
}

impl SimConfig {
    /// Parses a TOML document (the format of `icebroker snowsim --config`).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        use figment::providers::{Format, Toml};
        let config: Self = figment::Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }

    /// Refuses configurations that would make the double behave unlike Snowflake.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.accounts.is_empty() {
            return Err(ConfigError(
                "at least one [[accounts]] entry is required".into(),
            ));
        }
        if self.partition_rows == 0 {
            return Err(ConfigError("partition_rows must be at least 1".into()));
        }
        for account in &self.accounts {
            for integration in &account.integrations {
                let validity = integration.refresh_token_validity_secs;
                if !(60..=31_622_400).contains(&validity) {
                    return Err(ConfigError(format!(
                        "integration {}: refresh_token_validity_secs {validity} is outside 60..=31622400",
                        integration.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A configuration that cannot be loaded or would not make sense.
#[derive(Debug, Clone, thiserror::Error)]
#[error("snowsim configuration: {0}")]
pub struct ConfigError(pub String);

fn default_scale() -> f64 {
    0.01
}
fn default_partition_rows() -> usize {
    10_000
}
fn default_sync_window() -> f64 {
    45.0
}
fn default_access_ttl() -> u64 {
    600
}
fn default_code_ttl() -> u64 {
    600
}
fn default_workers() -> usize {
    2
}
fn default_statement_capacity() -> usize {
    100_000
}

/// One Snowflake account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountModel {
    /// Account locator, e.g. `XY12345` (stored upper case).
    pub locator: String,
    /// Optional region part, e.g. `us-east-2.aws` (hosts like `xy12345.us-east-2.aws...`).
    #[serde(default)]
    pub region: Option<String>,
    /// Optional organization-account name, e.g. `MYORG-MYACCOUNT`.
    #[serde(default)]
    pub org_account: Option<String>,
    /// Users of the account.
    #[serde(default)]
    pub users: Vec<UserModel>,
    /// Roles of the account.
    #[serde(default)]
    pub roles: Vec<RoleModel>,
    /// Virtual warehouses.
    #[serde(default)]
    pub warehouses: Vec<WarehouseModel>,
    /// Privilege grants to roles (what `SHOW GRANTS` reports).
    #[serde(default)]
    pub grants: Vec<GrantModel>,
    /// OAuth security integrations (`CREATE SECURITY INTEGRATION … TYPE = OAUTH`).
    #[serde(default)]
    pub integrations: Vec<OAuthIntegrationModel>,
    /// Authentication policies (`CREATE AUTHENTICATION POLICY`), attached to users by name.
    #[serde(default)]
    pub authentication_policies: Vec<AuthPolicyModel>,
}

/// `CREATE AUTHENTICATION POLICY`: which ways of authenticating a user it is attached to may use.
/// Each list holds upper-case names; `["ALL"]` (the default) allows everything.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthPolicyModel {
    /// Policy name (upper case unless quoted).
    pub name: String,
    /// `AUTHENTICATION_METHODS`: `ALL`, `PASSWORD`, `OAUTH`, `KEYPAIR`, `SAML`, …
    #[serde(default = "all")]
    pub authentication_methods: Vec<String>,
    /// `CLIENT_TYPES` (recorded and shown; snowsim cannot tell clients apart).
    #[serde(default = "all")]
    pub client_types: Vec<String>,
    /// `SECURITY_INTEGRATIONS`: integrations OAuth may go through (`ALL` = any).
    #[serde(default = "all")]
    pub security_integrations: Vec<String>,
    /// `COMMENT`.
    #[serde(default)]
    pub comment: Option<String>,
}

fn all() -> Vec<String> {
    vec!["ALL".to_owned()]
}

impl AuthPolicyModel {
    /// Whether `method` (`PASSWORD`, `OAUTH`, `KEYPAIR`) is allowed.
    pub fn allows_method(&self, method: &str) -> bool {
        self.authentication_methods
            .iter()
            .any(|m| m == "ALL" || m == method)
    }

    /// Whether OAuth through `integration` is allowed.
    pub fn allows_integration(&self, integration: &str) -> bool {
        self.security_integrations
            .iter()
            .any(|i| i == "ALL" || i == integration)
    }
}

/// A Snowflake user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserModel {
    /// `NAME` (the object name, e.g. `JSMITH`).
    pub name: String,
    /// `LOGIN_NAME` (what a person types and what a keypair JWT's `sub` carries); defaults to NAME.
    #[serde(default)]
    pub login_name: Option<String>,
    /// Password for the OAuth login form.
    #[serde(default)]
    pub password: Option<String>,
    /// `DEFAULT_ROLE` (used when a request names no role; PUBLIC when unset or no longer granted).
    #[serde(default)]
    pub default_role: Option<String>,
    /// `DEFAULT_WAREHOUSE`.
    #[serde(default)]
    pub default_warehouse: Option<String>,
    /// Default namespace `DB` or `DB.SCHEMA`.
    #[serde(default)]
    pub default_namespace: Option<String>,
    /// Roles granted to the user (PUBLIC is implicit).
    #[serde(default)]
    pub roles: Vec<String>,
    /// `RSA_PUBLIC_KEY`: base64 DER SubjectPublicKeyInfo without PEM armour.
    #[serde(default)]
    pub rsa_public_key: Option<String>,
    /// `RSA_PUBLIC_KEY_2` (rotation slot).
    #[serde(default)]
    pub rsa_public_key_2: Option<String>,
    /// `DISABLED`: a disabled user cannot log in, and its tokens and JWTs are refused.
    #[serde(default)]
    pub disabled: bool,
    /// Name of the authentication policy attached to the user, if any.
    #[serde(default)]
    pub authentication_policy: Option<String>,
}

/// A role; `granted_roles` are roles granted to this role (role hierarchy).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleModel {
    /// Role name (case-sensitive identifier, usually upper case).
    pub name: String,
    /// Roles granted to this role (it inherits their privileges and can activate them).
    #[serde(default)]
    pub granted_roles: Vec<String>,
}

/// A virtual warehouse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseModel {
    /// Warehouse name.
    pub name: String,
    /// `WAREHOUSE_SIZE`, e.g. `X-Small`.
    #[serde(default = "default_size")]
    pub size: String,
    /// Whether the warehouse is suspended.
    #[serde(default)]
    pub suspended: bool,
    /// `AUTO_RESUME`: a suspended warehouse without it makes statements that need compute fail with `000606`.
    #[serde(default = "default_true")]
    pub auto_resume: bool,
}

fn default_size() -> String {
    "X-Small".to_owned()
}
fn default_true() -> bool {
    true
}

/// A privilege granted to a role on an object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantModel {
    /// e.g. `USAGE`, `SELECT`, `OWNERSHIP`.
    pub privilege: String,
    /// e.g. `DATABASE`, `SCHEMA`, `TABLE`, `WAREHOUSE`, `ROLE`.
    pub object_type: String,
    /// Fully qualified name, e.g. `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS`.
    pub object_name: String,
    /// Grantee role.
    pub role: String,
}

/// `CREATE SECURITY INTEGRATION … TYPE = OAUTH OAUTH_CLIENT = CUSTOM`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthIntegrationModel {
    /// Integration name.
    pub name: String,
    /// `OAUTH_CLIENT_ID`.
    pub client_id: String,
    /// `OAUTH_CLIENT_SECRET` (compared byte-for-byte with HTTP Basic credentials).
    pub client_secret: String,
    /// `OAUTH_CLIENT_SECRET_2`: the rotation slot, accepted like the first secret.
    #[serde(default)]
    pub client_secret_2: Option<String>,
    /// `OAUTH_CLIENT_TYPE`: `CONFIDENTIAL` or `PUBLIC`.
    #[serde(default = "confidential")]
    pub client_type: String,
    /// `OAUTH_REDIRECT_URI`.
    pub redirect_uri: String,
    /// `ENABLED`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `OAUTH_ISSUE_REFRESH_TOKENS`.
    #[serde(default = "default_true")]
    pub issue_refresh_tokens: bool,
    /// `OAUTH_REFRESH_TOKEN_VALIDITY` in seconds (custom clients: 86400..=7776000).
    #[serde(default = "default_rt_validity")]
    pub refresh_token_validity_secs: u64,
    /// `OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED`.
    #[serde(default)]
    pub single_use_refresh_tokens: bool,
    /// `OAUTH_ENFORCE_PKCE`.
    #[serde(default)]
    pub enforce_pkce: bool,
    /// `BLOCKED_ROLES_LIST` in addition to the always-blocked privileged roles.
    #[serde(default)]
    pub blocked_roles: Vec<String>,
    /// `OAUTH_ALLOW_NON_TLS_REDIRECT_URI` (checked when SQL creates or alters the integration).
    #[serde(default)]
    pub allow_non_tls_redirect_uri: bool,
    /// `PRE_AUTHORIZED_ROLES_LIST` (recorded and shown).
    #[serde(default)]
    pub pre_authorized_roles: Vec<String>,
    /// `COMMENT`.
    #[serde(default)]
    pub comment: Option<String>,
    /// Creation time (epoch seconds) for `SHOW SECURITY INTEGRATIONS`; 0 = when the sim started.
    #[serde(default)]
    pub created_on: u64,
}

fn confidential() -> String {
    "CONFIDENTIAL".to_owned()
}

fn default_rt_validity() -> u64 {
    7_776_000
}
