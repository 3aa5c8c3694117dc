//! What an OAuth connection is configured with, how that input is validated, and the SQL an admin
//! runs in Snowflake for it (rendered from `sql/oauth_*.sql`).
//!
//! Invariants: the client secret is not part of [`OAuthSettings`] (it is sealed in the vault,
//! write-only); scopes never name a privileged role (OA-11) and always ask for `refresh_token`;
//! the redirect URI is derived, never typed (OA-4, OA-5: one per connection); endpoint overrides
//! are https, or loopback http only when `[upstream] allow_loopback` is on; the integration name
//! is an unquoted upper-case identifier so it can be rendered into SQL without any escaping
//! question, and the only literal (the redirect URI) is quoted per SQ-3.

use serde::{Deserialize, Serialize};
use url::{Host, Url};
use utoipa::ToSchema;

use crate::connections::sql;

/// Roles Snowflake blocks for OAuth by default; icebroker refuses them up front (OA-11).
pub const PRIVILEGED_ROLES: [&str; 4] = [
    "ACCOUNTADMIN",
    "SECURITYADMIN",
    "ORGADMIN",
    "GLOBALORGADMIN",
];
/// Snowflake's default `OAUTH_REFRESH_TOKEN_VALIDITY` for custom clients (90 days).
pub const DEFAULT_REFRESH_VALIDITY_SECS: u64 = 7_776_000;

/// The public (non-secret) OAuth configuration of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthSettings {
    /// `OAUTH_CLIENT_ID` of the security integration.
    pub client_id: String,
    /// Name of the security integration (unquoted, upper case).
    pub integration: String,
    /// Scopes requested, e.g. `["refresh_token", "session:role:ANALYST"]`.
    pub scopes: Vec<String>,
    /// Exact URLs the browser may be sent back to after the flow (OA-8).
    pub allowed_return_urls: Vec<String>,
    /// Snowflake's `/oauth/authorize` (or the override).
    pub authorize_url: String,
    /// Snowflake's `/oauth/token-request` (or the override).
    pub token_url: String,
    /// `<public_url>/oauth/callback/<connection>`; must equal `OAUTH_REDIRECT_URI`.
    pub redirect_uri: String,
    /// Ask for single-use (rotating) refresh tokens at code exchange.
    pub single_use_refresh_tokens: bool,
    /// Refresh-token lifetime assumed when Snowflake does not say (TR-8).
    pub refresh_token_validity_secs: u64,
    /// PEM of a private CA trusted for the token endpoint (PrivateLink/proxies), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// What an admin runs in Snowflake for an OAuth connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthSetup {
    /// The redirect URI icebroker sends (byte-identical to `OAUTH_REDIRECT_URI`).
    pub redirect_uri: String,
    /// `CREATE SECURITY INTEGRATION … TYPE = OAUTH …`.
    pub create_integration_sql: String,
    /// `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('…')`.
    pub show_client_secrets_sql: String,
    /// Human instructions.
    pub instructions: String,
}

/// Checks and completes the requested scopes: `refresh_token` is always present, at most one
/// role (`session:role:` or `session:role-encoded:`), never a privileged one. A connection
/// default role becomes the role scope when none is given.
pub fn normalize_scopes(
    scopes: Option<Vec<String>>,
    default_role: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut out = vec!["refresh_token".to_owned()];
    let mut role_seen = false;
    let items: Vec<String> = scopes
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    for item in items {
        if item == "refresh_token" {
            continue;
        }
        let role = if let Some(r) = item.strip_prefix("session:role-encoded:") {
            crate::http::percent::decode(r)
                .map(std::borrow::Cow::into_owned)
                .ok_or_else(|| format!("scope {item:?} is not valid percent-encoding"))?
        } else if let Some(r) = item.strip_prefix("session:role:") {
            r.to_owned()
        } else {
            return Err(format!(
                "unknown scope {item:?}; Snowflake accepts refresh_token and session:role:<ROLE>"
            ));
        };
        check_role(&role)?;
        if role_seen {
            return Err("at most one session:role scope may be given".to_owned());
        }
        role_seen = true;
        out.push(item);
    }
    if let (false, Some(role)) = (role_seen, default_role) {
        check_role(role)?;
        out.push(format!("session:role:{role}"));
    }
    Ok(out)
}

fn check_role(role: &str) -> Result<(), String> {
    if role.is_empty() || role.len() > 255 || role.chars().any(char::is_control) {
        return Err("a session role must be 1-255 printable characters".to_owned());
    }
    if PRIVILEGED_ROLES
        .iter()
        .any(|p| p.eq_ignore_ascii_case(role.trim_matches('"')))
    {
        return Err(format!(
            "role {role} is privileged (ACCOUNTADMIN, SECURITYADMIN, ORGADMIN, GLOBALORGADMIN \
             are blocked for OAuth); give the connection a least-privilege role"
        ));
    }
    Ok(())
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Validates an authorize/token endpoint override: https (loopback http only when allowed), no
/// user info, query or fragment.
pub fn endpoint(what: &str, input: &str, allow_loopback: bool) -> Result<String, String> {
    let url = Url::parse(input.trim()).map_err(|_| format!("{what} is not an absolute URL"))?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => allow_loopback && is_loopback(&url),
        _ => false,
    };
    if !scheme_ok {
        return Err(format!(
            "{what} must use https (http only for loopback hosts with [upstream] allow_loopback)"
        ));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "{what} must not contain user info, a query or a fragment"
        ));
    }
    Ok(url.into())
}

/// `<public_url>/oauth/callback/<connection>`, refusing a public URL Snowflake would not accept
/// as a redirect target (OA-4: https, or http on loopback for development).
pub fn redirect_uri(public_url: &str, connection: &str) -> Result<String, String> {
    let base = Url::parse(public_url).map_err(|_| "server.public_url does not parse".to_owned())?;
    if base.scheme() != "https" && !(base.scheme() == "http" && is_loopback(&base)) {
        return Err(format!(
            "OAuth connections need server.public_url to be https (got {public_url}); plain http \
             is accepted only on loopback for development"
        ));
    }
    if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
        return Err("server.public_url must not carry user info, a query or a fragment".into());
    }
    Ok(format!(
        "{}/oauth/callback/{connection}",
        public_url.trim_end_matches('/')
    ))
}

/// Validates (and upper-cases) an integration name, or derives `ICEBROKER_<CONNECTION>`.
pub fn integration_name(given: Option<&str>, connection: &str) -> Result<String, String> {
    let name = match given {
        Some(g) => g.trim().to_ascii_uppercase(),
        None => format!(
            "ICEBROKER_{}",
            connection.to_ascii_uppercase().replace('-', "_")
        ),
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && (name.as_bytes()[0].is_ascii_uppercase() || name.as_bytes()[0] == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'$');
    if !ok {
        return Err(format!(
            "integration {name:?} must be an unquoted Snowflake identifier (letters, digits, _, $)"
        ));
    }
    Ok(name)
}

/// The statements and instructions for setting up `settings` in Snowflake (rendered from the
/// `sql/oauth_*.sql` templates through [`crate::sqltpl`]).
pub fn setup(connection: &str, settings: &OAuthSettings) -> OAuthSetup {
    let create = sql::create_security_integration(settings);
    let show = sql::show_client_secrets(settings);
    OAuthSetup {
        redirect_uri: settings.redirect_uri.clone(),
        create_integration_sql: create,
        show_client_secrets_sql: show,
        instructions: format!(
            "Run create_integration_sql in Snowflake as ACCOUNTADMIN (or a role with CREATE \
             INTEGRATION), then show_client_secrets_sql; the client id and secret it returns are \
             what this connection must hold. OAUTH_REDIRECT_URI must stay exactly {uri}. Then ask \
             for links with POST /v1/connections/{connection}/authorization-links.",
            uri = settings.redirect_uri
        ),
    }
}

/// `ALTER USER "<user>" REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION <i>;`
pub fn remove_delegated_sql(user: &str, settings: &OAuthSettings) -> String {
    sql::remove_delegated_authorizations(user, settings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_refresh_token_and_take_the_default_role() {
        assert_eq!(normalize_scopes(None, None).unwrap(), ["refresh_token"]);
        assert_eq!(
            normalize_scopes(None, Some("ANALYST")).unwrap(),
            ["refresh_token", "session:role:ANALYST"]
        );
        assert_eq!(
            normalize_scopes(
                Some(vec!["session:role:REPORTER refresh_token".into()]),
                None
            )
            .unwrap(),
            ["refresh_token", "session:role:REPORTER"]
        );
    }

    #[test]
    fn privileged_roles_and_unknown_scopes_are_refused() {
        for role in PRIVILEGED_ROLES {
            for scope in [
                format!("session:role:{role}"),
                format!("session:role:{}", role.to_lowercase()),
                format!("session:role-encoded:{role}"),
            ] {
                let err = normalize_scopes(Some(vec![scope.clone()]), None).unwrap_err();
                assert!(err.contains("privileged"), "{scope}: {err}");
            }
            assert!(normalize_scopes(None, Some(role)).is_err());
        }
        assert!(normalize_scopes(Some(vec!["offline_access".into()]), None).is_err());
        assert!(normalize_scopes(
            Some(vec!["session:role:A".into(), "session:role:B".into()]),
            None
        )
        .is_err());
        assert!(normalize_scopes(Some(vec!["session:role:SYSADMIN".into()]), None).is_ok());
    }

    #[test]
    fn endpoint_overrides_are_https_or_allowed_loopback() {
        assert!(endpoint(
            "token_url",
            "https://x.privatelink.snowflakecomputing.com/oauth/token-request",
            false
        )
        .is_ok());
        assert!(endpoint("token_url", "http://127.0.0.1:9/oauth/token-request", true).is_ok());
        for (bad, loopback) in [
            ("http://127.0.0.1:9/t", false),
            ("http://evil.com/t", true),
            ("https://u:p@x.com/t", false),
            ("https://x.com/t?a=1", false),
            ("https://x.com/t#f", false),
            ("ftp://x.com/t", true),
        ] {
            assert!(endpoint("token_url", bad, loopback).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uri_is_derived_and_needs_https_or_loopback() {
        assert_eq!(
            redirect_uri("https://broker.example.com/", "sales").unwrap(),
            "https://broker.example.com/oauth/callback/sales"
        );
        assert!(redirect_uri("http://127.0.0.1:8080", "s").is_ok());
        assert!(redirect_uri("http://broker.example.com", "s").is_err());
    }

    #[test]
    fn setup_sql_renders_the_integration_and_quotes_the_uri() {
        let settings = OAuthSettings {
            client_id: "id".into(),
            integration: integration_name(None, "sales-eu").unwrap(),
            scopes: vec!["refresh_token".into()],
            allowed_return_urls: vec![],
            authorize_url: String::new(),
            token_url: String::new(),
            redirect_uri: "https://b.example/oauth/callback/it's".into(),
            single_use_refresh_tokens: true,
            refresh_token_validity_secs: 86_400,
            ca_pem: None,
        };
        let setup = setup("sales-eu", &settings);
        assert!(setup
            .create_integration_sql
            .starts_with("CREATE SECURITY INTEGRATION ICEBROKER_SALES_EU\n  TYPE = OAUTH"));
        assert!(setup
            .create_integration_sql
            .contains("OAUTH_REDIRECT_URI = 'https://b.example/oauth/callback/it''s'\n"));
        assert!(setup
            .create_integration_sql
            .contains("OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED = TRUE\n"));
        assert!(setup
            .create_integration_sql
            .ends_with("BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SECURITYADMIN');"));
        assert!(setup
            .create_integration_sql
            .contains("OAUTH_ALLOW_NON_TLS_REDIRECT_URI = FALSE\n"));
        assert_eq!(
            setup.show_client_secrets_sql,
            "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('ICEBROKER_SALES_EU');"
        );
        assert_eq!(
            remove_delegated_sql("JSMITH", &settings),
            "ALTER USER \"JSMITH\" REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION \
             ICEBROKER_SALES_EU;"
        );
        assert!(integration_name(Some("bad name"), "x").is_err());
        assert!(integration_name(Some("x'; drop"), "x").is_err());
    }
}
