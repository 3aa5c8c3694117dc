//! View models: what each admin page shows, built from the services' own types. Only public
//! data goes in (connections and accounts never hold secrets; `OAuthSettings::ca_pem` is
//! public too but left out as noise).

use minijinja::value::Serde;
use minijinja::{context, Value};
use serde::Serialize;

use crate::connections::{Connection, ConnectionKind, ConnectionStatus};
use crate::oauth::AccountView;
use crate::sqltpl;

/// One copyable SQL template, rendered for a connection.
#[derive(Debug, Serialize)]
pub struct SqlBlock {
    /// Element id (for the copy button).
    pub id: String,
    /// Template name (what `icebroker sql <name> --connection …` prints).
    pub template: String,
    /// Heading (the template's title).
    pub label: String,
    /// When to run it.
    pub when: String,
    /// As which role.
    pub run_as: String,
    /// What to check afterwards.
    pub then: String,
    /// The statements.
    pub sql: String,
}

/// Renders `template` for the connection through [`crate::sqltpl`] (the same text the CLI and
/// the API show); `None` when the connection lacks a value the template needs (e.g. no
/// default warehouse).
fn block(id: &str, template: &str, values: &sqltpl::Values) -> Option<SqlBlock> {
    let info = sqltpl::get(template).ok()?;
    let rendered = sqltpl::render_parts(template, values).ok()?;
    Some(SqlBlock {
        id: id.to_owned(),
        template: template.to_owned(),
        label: info.title.clone(),
        when: info.when.clone(),
        run_as: info.run_as.clone(),
        then: info.then.clone(),
        sql: rendered.sql(),
    })
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

/// The SQL templates for the connection page, in the order an admin runs them.
fn sql_blocks(c: &Connection, public_url: &str) -> Vec<SqlBlock> {
    let values = sqltpl::for_connection(c, Some(public_url));
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    if let Some(k) = &c.keypair {
        wanted.push(("sql-alter-user", "keypair_set_public_key"));
        wanted.push(("sql-desc-user", "keypair_desc_user"));
        if k.next.is_some() {
            wanted.push(("sql-rotate", "keypair_rotate_public_key"));
        }
        wanted.push(("sql-auth-policy", "auth_policy_keypair_oauth"));
    }
    if c.oauth.is_some() {
        wanted.push((
            "sql-create-integration",
            "oauth_create_security_integration",
        ));
        wanted.push(("sql-show-secrets", "oauth_show_client_secrets"));
        wanted.push(("sql-check-redirect", "oauth_check_redirect_uri"));
    }
    wanted.push(("sql-warehouse", "warehouse_check_auto_resume"));
    wanted
        .into_iter()
        .filter_map(|(id, template)| block(id, template, &values))
        .collect()
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
pub fn connection_detail(c: &Connection, accounts: &[AccountView], public_url: &str) -> Value {
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
        sql_blocks => Serde(sql_blocks(c, public_url)),
        accounts => accounts.iter().map(account_row).collect::<Vec<_>>(),
    }
}
