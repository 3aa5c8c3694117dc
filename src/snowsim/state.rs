//! The sim's shared state: per-account runtimes (model, SQL engine, key ring, statements), the
//! OAuth token store, pending browser authorizations, counters and faults.
//!
//! Which account a request is for comes from its `Host` header, as with Snowflake's per-account
//! hostnames: `<locator>[.<region>].snowflakecomputing.com` or `<org-account>.snowflakecomputing.com`
//! (any case, any port). Requests to a host that is not a `snowflakecomputing.com` name (tests use
//! `127.0.0.1:port`) go to the first account.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::counters::Counters;
use super::engine::Engine;
use super::faults::FaultSet;
use super::jwt::KeyRing;
use super::model::{AccountModel, OAuthIntegrationModel, SimConfig, UserModel};
use super::pending::PendingStore;
use super::statements::StatementStore;
use super::tokens::TokenStore;

/// Privileged roles Snowflake blocks for OAuth unless the account lifts the block.
pub const ALWAYS_BLOCKED_ROLES: [&str; 4] = [
    "ACCOUNTADMIN",
    "SECURITYADMIN",
    "ORGADMIN",
    "GLOBALORGADMIN",
];

/// One simulated account at run time.
pub struct AccountRuntime {
    /// Index in [`SimState::accounts`].
    pub index: usize,
    /// The configured model.
    pub model: AccountModel,
    /// Its SQL engine.
    pub engine: Arc<Engine>,
    /// Registered RSA keys by user NAME.
    pub keys: KeyRing,
    /// Statements submitted to this account.
    pub statements: StatementStore,
    /// Whether the SQL API answers (false → 403, as when Snowflake has the API disabled).
    pub sql_api_enabled: std::sync::atomic::AtomicBool,
}

impl AccountRuntime {
    /// A user by NAME (exact).
    pub fn user(&self, name: &str) -> Option<&UserModel> {
        self.model.users.iter().find(|u| u.name == name)
    }

    /// A user by login name as typed in the login form (case-insensitive, like Snowflake).
    pub fn user_by_login(&self, login: &str) -> Option<&UserModel> {
        self.model.users.iter().find(|u| {
            u.login_name
                .as_deref()
                .unwrap_or(&u.name)
                .eq_ignore_ascii_case(login)
        })
    }

    /// The integration with this client id.
    pub fn integration_by_client(&self, client_id: &str) -> Option<&OAuthIntegrationModel> {
        self.model
            .integrations
            .iter()
            .find(|i| i.client_id == client_id)
    }

    /// Whether a role exists (role names are case-sensitive identifiers).
    pub fn role_exists(&self, role: &str) -> bool {
        role == "PUBLIC" || self.model.roles.iter().any(|r| r.name == role)
    }

    /// Every role the user can activate: granted roles, the roles they inherit, and PUBLIC.
    pub fn effective_roles(&self, user: &UserModel) -> Vec<String> {
        let mut out: Vec<String> = vec!["PUBLIC".to_owned()];
        let mut todo: Vec<String> = user.roles.clone();
        while let Some(role) = todo.pop() {
            if out.contains(&role) {
                continue;
            }
            if let Some(model) = self.model.roles.iter().find(|r| r.name == role) {
                todo.extend(model.granted_roles.iter().cloned());
            }
            out.push(role);
        }
        out
    }

    /// The role a session gets when none is asked for: the default role when it is still granted,
    /// else PUBLIC.
    pub fn default_role(&self, user: &UserModel) -> String {
        match &user.default_role {
            Some(r) if self.effective_roles(user).contains(r) => r.clone(),
            _ => "PUBLIC".to_owned(),
        }
    }

    /// Whether OAuth may grant `role` through `integration`.
    pub fn role_blocked(&self, integration: &OAuthIntegrationModel, role: &str) -> bool {
        ALWAYS_BLOCKED_ROLES.contains(&role) || integration.blocked_roles.iter().any(|r| r == role)
    }
}

/// Everything the handlers share.
pub struct SimState {
    /// Configuration the sim started with (accounts are in [`Self::accounts`]).
    pub config: SimConfig,
    /// Accounts.
    pub accounts: Vec<AccountRuntime>,
    /// OAuth tokens.
    pub tokens: Mutex<TokenStore>,
    /// Browser authorizations between `/oauth/authorize` and the redirect.
    pub pending: PendingStore,
    /// Counters.
    pub counters: Counters,
    /// Faults.
    pub faults: FaultSet,
    /// Synchronous wait before a statement answers 202, in milliseconds (control API may change).
    pub sync_window_ms: AtomicU64,
}

impl SimState {
    /// Resolves the account a request is for from its `Host` header.
    pub fn account_for_host(&self, host: Option<&str>) -> Option<&AccountRuntime> {
        let host = host.unwrap_or("");
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
            .to_ascii_lowercase();
        let Some(prefix) = name.strip_suffix(".snowflakecomputing.com") else {
            return self.accounts.first();
        };
        let (first, region) = match prefix.split_once('.') {
            Some((a, r)) => (a, Some(r)),
            None => (prefix, None),
        };
        self.accounts.iter().find(|acc| {
            let m = &acc.model;
            let by_locator = m.locator.eq_ignore_ascii_case(first)
                && match (region, &m.region) {
                    (None, _) => true,
                    (Some(r), Some(mr)) => r.eq_ignore_ascii_case(mr),
                    (Some(_), None) => false,
                };
            let by_org = region.is_none()
                && m.org_account
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(first));
            by_locator || by_org
        })
    }
}
