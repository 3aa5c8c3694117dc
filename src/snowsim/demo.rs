//! The built-in demo account: what `icebroker snowsim` serves without `--config`, what
//! `icebroker demo` connects to and what most tests start from.
//!
//! Every value here is a public, made-up test value (no real credential). The client secret
//! deliberately contains `+`, `/` and `=` like Snowflake's base64 secrets, so a client that
//! percent-encodes it before HTTP Basic fails here as it would against Snowflake.

use super::model::{
    AccountModel, GrantModel, OAuthIntegrationModel, RoleModel, SimConfig, UserModel,
    WarehouseModel,
};

/// Client id of the demo OAuth integration.
pub const DEMO_CLIENT_ID: &str = "dGVzdC1jbGllbnQtaWQ+Zm9yL3Nub3dzaW0=";
/// Client secret of the demo OAuth integration.
pub const DEMO_CLIENT_SECRET: &str = "c25vd3NpbStkZW1vL3NlY3JldA+q/Zx9w==";
/// Redirect URI registered on the demo OAuth integration.
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1:8099/oauth/callback";

impl SimConfig {
    /// One account `XY12345` in `us-east-2.aws` (org-account `MYORG-MYACCOUNT`) with users
    /// `JSMITH` (password `jsmith-pass`, roles ANALYST/REPORTER, default ANALYST on `COMPUTE_WH`),
    /// `BOB` (`bob-pass`, REPORTER), `ADMIN` (`admin-pass`, ACCOUNTADMIN/SYSADMIN) and the disabled
    /// `GONE`; warehouses `COMPUTE_WH` (running), `SLEEPY_WH` (suspended, no auto-resume) and
    /// `AUTO_WH` (suspended, auto-resume); one OAuth integration `ICEBROKER_OAUTH`.
    pub fn demo() -> Self {
        Self {
            accounts: vec![demo_account()],
            tpch_scale: 0.01,
            partition_rows: 10_000,
            sync_window_secs: 45.0,
            access_token_ttl_secs: 600,
            code_ttl_secs: 600,
            workers: 2,
            statement_capacity: 100_000,
        }
    }
}

impl UserModel {
    /// A user with a password, the given roles (the first is the default role) and defaults
    /// `COMPUTE_WH` / `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1`.
    pub fn new(name: &str, password: &str, roles: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            login_name: None,
            password: Some(password.to_owned()),
            default_role: roles.first().map(|r| (*r).to_owned()),
            default_warehouse: Some("COMPUTE_WH".to_owned()),
            default_namespace: Some("SNOWFLAKE_SAMPLE_DATA.TPCH_SF1".to_owned()),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            rsa_public_key: None,
            rsa_public_key_2: None,
            disabled: false,
            authentication_policy: None,
        }
    }
}

impl OAuthIntegrationModel {
    /// A custom confidential OAuth client with Snowflake's defaults (refresh tokens issued,
    /// 90-day validity, reusable refresh tokens, PKCE not enforced).
    pub fn new(name: &str, client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            name: name.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            client_secret_2: None,
            client_type: "CONFIDENTIAL".to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            enabled: true,
            issue_refresh_tokens: true,
            refresh_token_validity_secs: 7_776_000,
            single_use_refresh_tokens: false,
            enforce_pkce: false,
            blocked_roles: Vec::new(),
            allow_non_tls_redirect_uri: false,
            pre_authorized_roles: Vec::new(),
            comment: None,
            created_on: 0,
        }
    }
}

fn role(name: &str, granted: &[&str]) -> RoleModel {
    RoleModel {
        name: name.to_owned(),
        granted_roles: granted.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn warehouse(name: &str, suspended: bool, auto_resume: bool) -> WarehouseModel {
    WarehouseModel {
        name: name.to_owned(),
        size: "X-Small".to_owned(),
        suspended,
        auto_resume,
    }
}

fn grant(privilege: &str, object_type: &str, object_name: &str, role: &str) -> GrantModel {
    GrantModel {
        privilege: privilege.to_owned(),
        object_type: object_type.to_owned(),
        object_name: object_name.to_owned(),
        role: role.to_owned(),
    }
}

fn demo_account() -> AccountModel {
    let mut gone = UserModel::new("GONE", "gone-pass", &["ANALYST"]);
    gone.disabled = true;
    let mut jsmith = UserModel::new("JSMITH", "jsmith-pass", &["ANALYST", "REPORTER"]);
    jsmith.login_name = Some("jsmith".to_owned());
    AccountModel {
        locator: "XY12345".to_owned(),
        region: Some("us-east-2.aws".to_owned()),
        org_account: Some("MYORG-MYACCOUNT".to_owned()),
        users: vec![
            jsmith,
            UserModel::new("BOB", "bob-pass", &["REPORTER"]),
            UserModel::new("ADMIN", "admin-pass", &["ACCOUNTADMIN", "SYSADMIN"]),
            gone,
        ],
        roles: vec![
            role("ACCOUNTADMIN", &["SECURITYADMIN", "SYSADMIN"]),
            role("SECURITYADMIN", &["USERADMIN"]),
            role("USERADMIN", &[]),
            role("SYSADMIN", &["ANALYST"]),
            role("ORGADMIN", &[]),
            role("ANALYST", &["REPORTER"]),
            role("REPORTER", &[]),
            role("PUBLIC", &[]),
        ],
        warehouses: vec![
            warehouse("COMPUTE_WH", false, true),
            warehouse("SLEEPY_WH", true, false),
            warehouse("AUTO_WH", true, true),
        ],
        grants: vec![
            grant("USAGE", "WAREHOUSE", "COMPUTE_WH", "REPORTER"),
            grant("USAGE", "WAREHOUSE", "SLEEPY_WH", "REPORTER"),
            grant("USAGE", "WAREHOUSE", "AUTO_WH", "REPORTER"),
            grant(
                "IMPORTED PRIVILEGES",
                "DATABASE",
                "SNOWFLAKE_SAMPLE_DATA",
                "PUBLIC",
            ),
            grant("OWNERSHIP", "WAREHOUSE", "COMPUTE_WH", "SYSADMIN"),
        ],
        integrations: vec![OAuthIntegrationModel::new(
            "ICEBROKER_OAUTH",
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            DEMO_REDIRECT_URI,
        )],
        authentication_policies: Vec::new(),
    }
}
