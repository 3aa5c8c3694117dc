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
use super::live::{LiveAccount, LiveCell};
use super::model::{AccountModel, SimConfig};
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
    /// Locator, region and organization-account name (fixed for the account's life, so
    /// resolving a `Host` never touches the live model).
    pub names: AccountNames,
    /// The live model (users, roles, warehouses, integrations, policies) and key ring.
    pub live: LiveCell,
    /// Its SQL engine.
    pub engine: Arc<Engine>,
    /// Statements submitted to this account.
    pub statements: StatementStore,
    /// Whether the SQL API answers (false → 403, as when Snowflake has the API disabled).
    pub sql_api_enabled: std::sync::atomic::AtomicBool,
}

/// The names an account answers to.
#[derive(Debug, Clone)]
pub struct AccountNames {
    /// Account locator, e.g. `XY12345`.
    pub locator: String,
    /// Region part, e.g. `us-east-2.aws`.
    pub region: Option<String>,
    /// Organization-account name, e.g. `MYORG-MYACCOUNT`.
    pub org_account: Option<String>,
}

impl AccountRuntime {
    /// A runtime for `model` (its keys must parse).
    pub fn new(
        index: usize,
        model: AccountModel,
        engine: Arc<Engine>,
        statement_capacity: usize,
    ) -> Result<Self, String> {
        let keys = super::jwt::key_ring(&model)?;
        Ok(Self {
            index,
            names: AccountNames {
                locator: model.locator.clone(),
                region: model.region.clone(),
                org_account: model.org_account.clone(),
            },
            live: LiveCell::new(LiveAccount { model, keys }),
            engine,
            statements: StatementStore::new(statement_capacity),
            sql_api_enabled: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// The current snapshot of the account's model.
    pub fn live(&self) -> Arc<LiveAccount> {
        self.live.get()
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
            let m = &acc.names;
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
