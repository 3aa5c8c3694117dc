//! View models: what each admin page shows, built from the services' own types. Only public
//! data goes in (connections and accounts never hold secrets; `OAuthSettings::ca_pem` is
//! public too but left out as noise).

use minijinja::value::Serde;
use minijinja::{context, Value};
use serde::Serialize;

use crate::connections::{Connection, ConnectionKind, ConnectionService, ConnectionStatus};
use crate::oauth::{AccountView, OAuthService};

/// One copyable SQL statement.
#[derive(Debug, Serialize)]
pub struct SqlBlock {
    /// Element id (for the copy button).
    pub id: String,
    /// Heading.
    pub label: String,
    /// When and as whom to run it.
    pub help: String,
    /// The statement.
    pub sql: String,
}

fn block(id: &str, label: &str, help: &str, sql: String) -> SqlBlock {
    SqlBlock {
        id: id.to_owned(),
        label: label.to_owned(),
        help: help.to_owned(),
        sql,
    }
}

/// The badge class and words for a connection status.
pub fn status_badge(status: ConnectionStatus) -> (&'static str, &'static str) {
    match status {
        ConnectionStatus::PendingEnrollment => ("warn", "pending enrollment"),
        ConnectionStatus::Connected => ("ok", "connected"),
        ConnectionStatus::Error => ("bad", "error"),
        ConnectionStatus::Disabled => ("off", "disabled"),
    }
}

fn kind_str(kind: ConnectionKind) -> &'static str {
    match kind {
        ConnectionKind::Keypair => "keypair",
        ConnectionKind::Oauth => "oauth",
    }
}

/// A row of the connections list.
pub fn connection_row(c: &Connection) -> Value {
    let (badge, status) = status_badge(c.status);
    context! {
        name => c.name.clone(), kind => kind_str(c.kind), account => c.account.clone(),
        badge => badge, status => status, updated_at => c.updated_at,
    }
}

/// What the admin has to do next, in words.
fn enrollment_status(c: &Connection) -> &'static str {
    let rotating = c.keypair.as_ref().is_some_and(|k| k.next.is_some());
    match (c.kind, c.status) {
        (_, ConnectionStatus::Disabled) => "Disabled: every use is refused until it is enabled.",
        (ConnectionKind::Keypair, _) if rotating => {
            "Key rotation in progress: set the new public key in Snowflake, then complete the \
             rotation (it tests the new key first)."
        }
        (ConnectionKind::Keypair, ConnectionStatus::PendingEnrollment) => {
            "Not enrolled yet: run the ALTER USER statement in Snowflake, then press Test connection."
        }
        (ConnectionKind::Keypair, ConnectionStatus::Connected) => {
            "Enrolled: the last test signed in to Snowflake with this key."
        }
        (ConnectionKind::Keypair, ConnectionStatus::Error) => {
            "The last test failed: see the result and hint below."
        }
        (ConnectionKind::Oauth, _) => {
            "Create the security integration with the SQL below; end users then connect through \
             authorization links."
        }
    }
}

/// SQL statements for the connection page.
fn sql_blocks(c: &Connection) -> Vec<SqlBlock> {
    let mut blocks = Vec::new();
    if let Some(k) = &c.keypair {
        let (alter, desc) = ConnectionService::enrollment_sql(c, &k.active);
        blocks.push(block(
            "sql-alter-user",
            "Set the public key",
            "Run as a role that may modify the user (e.g. SECURITYADMIN). The statement uses the \
             user's NAME; if NAME and LOGIN_NAME differ (DESC USER shows both), use NAME.",
            alter,
        ));
        blocks.push(block(
            "sql-desc-user",
            "Check the fingerprint",
            "RSA_PUBLIC_KEY_FP must equal the fingerprint shown above.",
            desc,
        ));
        if let Some(next) = &k.next {
            let (alter_next, _) = ConnectionService::enrollment_sql(c, next);
            blocks.push(block(
                "sql-alter-user-next",
                "Rotation: set the new public key",
                "Snowflake accepts both keys while the rotation is in progress.",
                alter_next,
            ));
        }
    }
    if let Some(setup) = OAuthService::setup(c) {
        blocks.push(block(
            "sql-create-integration",
            "Create the security integration",
            "Run as ACCOUNTADMIN (or a role with CREATE INTEGRATION).",
            setup.create_integration_sql,
        ));
        blocks.push(block(
            "sql-show-secrets",
            "Read the client id and secret",
            "Their values belong in this connection; OAUTH_REDIRECT_URI must stay exactly the \
             redirect URI above.",
            setup.show_client_secrets_sql,
        ));
    }
    blocks
}

/// An account row: identifier, Snowflake user, status, last refresh, expiry.
fn account_row(a: &AccountView) -> Value {
    let status = serde_json::to_value(a.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let badge = match status.as_str() {
        "active" => "ok",
        "pending" => "warn",
        "expired" => "bad",
        _ => "off",
    };
    context! {
        identifier => a.identifier.clone(), snowflake_user => a.snowflake_user.clone(), status => status.clone(),
        badge => badge, last_refresh_at => a.last_refresh_at.or(a.connected_at),
        access_expires_at => a.access_expires_at, refresh_expires_at => a.refresh_expires_at,
        last_error => a.last_error.clone(), revocable => status != "revoked",
    }
}

/// Everything the connection page shows.
pub fn connection_detail(c: &Connection, accounts: &[AccountView]) -> Value {
    let (badge, status) = status_badge(c.status);
    let keypair = c.keypair.as_ref().map(|k| {
        context! {
            user => k.user.clone(), fingerprint => k.active.fingerprint.clone(), slot => k.active.slot,
            next_fingerprint => k.next.as_ref().map(|n| n.fingerprint.clone()),
        }
    });
    let oauth = c.oauth.as_ref().map(|o| {
        context! {
            client_id => o.client_id.clone(), integration => o.integration.clone(), scopes => o.scopes.clone(),
            allowed_return_urls => o.allowed_return_urls.clone(), redirect_uri => o.redirect_uri.clone(),
            single_use_refresh_tokens => o.single_use_refresh_tokens,
        }
    });
    context! {
        name => c.name.clone(), kind => kind_str(c.kind), account => c.account.clone(), base_url => c.base_url.clone(),
        badge => badge, status => status, disabled => c.is_disabled(),
        enrollment_status => enrollment_status(c),
        defaults => Serde(&c.defaults), keypair => keypair, oauth => oauth,
        last_test => Serde(&c.last_test), created_at => c.created_at, updated_at => c.updated_at,
        sql_blocks => Serde(sql_blocks(c)),
        accounts => accounts.iter().map(account_row).collect::<Vec<_>>(),
    }
}
