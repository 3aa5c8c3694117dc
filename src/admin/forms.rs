//! The admin UI's form bodies and query strings, and their conversion into the very inputs the
//! JSON API hands to the services (`CreateConnectionRequest`, `LinkRequest`, `AuditQuery`), so the
//! UI and the API share one set of rules. Secrets arrive as `SecretString` and are never put
//! back into a page: a form re-shown after an error keeps only its non-secret fields.

use minijinja::{context, Value};
use secrecy::SecretString;
use serde::Deserialize;

use crate::audit::AuditQuery;
use crate::connections::ConnectionKind;
use crate::routes::connections::CreateConnectionRequest;

/// Login: an admin API key.
#[derive(Deserialize)]
pub struct LoginForm {
    /// Double-submit token (equals the login cookie).
    #[serde(default)]
    pub csrf_token: String,
    /// The admin key (`ibk_…`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
}

/// A form with nothing but its CSRF token (buttons).
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn opt_secret(s: Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret;
    s.filter(|s| !s.expose_secret().trim().is_empty())
}

/// The kind chosen in the form (`keypair` when absent).
#[derive(Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FormKind {
    /// A keypair connection.
    #[default]
    Keypair,
    /// An OAuth connection.
    Oauth,
}

impl FormKind {
    /// The connection kind.
    pub fn kind(self) -> ConnectionKind {
        match self {
            Self::Keypair => ConnectionKind::Keypair,
            Self::Oauth => ConnectionKind::Oauth,
        }
    }

    /// `keypair` or `oauth` (for templates and URLs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keypair => "keypair",
            Self::Oauth => "oauth",
        }
    }
}

/// New connection, either kind.
#[derive(Deserialize, Default)]
pub struct NewConnectionForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// `keypair` or `oauth`.
    #[serde(default)]
    pub kind: FormKind,
    /// Slug.
    #[serde(default)]
    pub name: String,
    /// Account identifier or URL.
    #[serde(default)]
    pub account: String,
    /// Host override.
    pub host: Option<String>,
    /// Keypair: LOGIN_NAME.
    pub user: Option<String>,
    /// Default role.
    pub role: Option<String>,
    /// Default warehouse.
    pub warehouse: Option<String>,
    /// Default database.
    pub database: Option<String>,
    /// Default schema.
    pub schema: Option<String>,
    /// Keypair: PEM to import (write-only).
    pub private_key_pem: Option<SecretString>,
    /// Keypair: its passphrase (write-only).
    pub private_key_passphrase: Option<SecretString>,
    /// OAuth: client id.
    pub client_id: Option<String>,
    /// OAuth: client secret (write-only).
    pub client_secret: Option<SecretString>,
    /// OAuth: scopes, separated by spaces or newlines.
    pub scopes: Option<String>,
    /// OAuth: allowed return URLs, one per line.
    pub allowed_return_urls: Option<String>,
    /// OAuth: checkbox.
    pub single_use_refresh_tokens: Option<String>,
    /// OAuth: integration name.
    pub integration: Option<String>,
    /// OAuth: refresh-token validity in seconds.
    pub refresh_token_validity_secs: Option<String>,
}

impl NewConnectionForm {
    /// The JSON API's request body with the same content; a non-numeric validity is an error
    /// message for that field.
    pub fn into_request(self) -> Result<CreateConnectionRequest, String> {
        let validity = match opt(self.refresh_token_validity_secs) {
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                "refresh token validity must be a whole number of seconds".to_owned()
            })?),
            None => None,
        };
        let oauth = self.kind == FormKind::Oauth;
        Ok(CreateConnectionRequest {
            name: self.name.trim().to_owned(),
            kind: self.kind.kind(),
            account: self.account.trim().to_owned(),
            host: opt(self.host),
            user: if oauth { None } else { opt(self.user) },
            role: opt(self.role),
            warehouse: opt(self.warehouse),
            database: opt(self.database),
            schema: opt(self.schema),
            private_key_pem: if oauth {
                None
            } else {
                opt_secret(self.private_key_pem)
            },
            private_key_passphrase: if oauth {
                None
            } else {
                opt_secret(self.private_key_passphrase)
            },
            client_id: opt(self.client_id),
            client_secret: opt_secret(self.client_secret),
            scopes: opt(self.scopes).map(|s| s.split_whitespace().map(str::to_owned).collect()),
            allowed_return_urls: opt(self.allowed_return_urls)
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            authorize_url: None,
            token_url: None,
            ca_file: None,
            single_use_refresh_tokens: self.single_use_refresh_tokens.is_some(),
            integration: opt(self.integration),
            refresh_token_validity_secs: validity,
        })
    }

    /// The non-secret fields, to fill the form again after an error.
    pub fn sticky(&self) -> Value {
        context! {
            name => self.name.clone(), account => self.account.clone(), host => self.host.clone(), user => self.user.clone(),
            role => self.role.clone(), warehouse => self.warehouse.clone(), database => self.database.clone(),
            schema => self.schema.clone(), client_id => self.client_id.clone(), scopes => self.scopes.clone(),
            allowed_return_urls => self.allowed_return_urls.clone(),
            single_use_refresh_tokens => self.single_use_refresh_tokens.is_some(),
            integration => self.integration.clone(),
            refresh_token_validity_secs => self.refresh_token_validity_secs.clone(),
        }
    }
}

/// The form field a service's validation message is about (for inline messages), judged by
/// the words it starts with; `None` puts the message above the form.
pub fn error_field(message: &str) -> Option<&'static str> {
    const FIELDS: &[(&str, &str)] = &[
        ("connection name", "name"),
        ("a connection named", "name"),
        ("name", "name"),
        ("account", "account"),
        ("host", "host"),
        ("user", "user"),
        ("role", "role"),
        ("warehouse", "warehouse"),
        ("database", "database"),
        ("schema", "schema"),
        ("client_id", "client_id"),
        ("client id", "client_id"),
        ("client_secret", "client_secret"),
        ("scope", "scopes"),
        ("session:role", "scopes"),
        ("return", "allowed_return_urls"),
        ("allowed_return_urls", "allowed_return_urls"),
        ("integration", "integration"),
        ("refresh token validity", "refresh_token_validity_secs"),
        ("refresh_token_validity", "refresh_token_validity_secs"),
        ("private key", "private_key_pem"),
        ("the private key", "private_key_pem"),
        ("passphrase", "private_key_passphrase"),
        ("the passphrase", "private_key_passphrase"),
    ];
    let lower = message.trim_start().to_ascii_lowercase();
    FIELDS
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, field)| *field)
}

/// "Create authorization link" for one identifier.
#[derive(Deserialize)]
pub struct LinkForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The end user's identifier.
    #[serde(default)]
    pub identifier: String,
    /// Optional allow-listed return URL.
    pub return_url: Option<String>,
}

impl LinkForm {
    /// The service's link request (default lifetime).
    pub fn request(&self) -> crate::oauth::LinkRequest {
        crate::oauth::LinkRequest {
            identifier: self.identifier.clone(),
            return_url: opt(self.return_url.clone()),
            expires_in: None,
        }
    }
}

/// Revoke one connected account.
#[derive(Deserialize)]
pub struct AccountForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The end user's identifier.
    #[serde(default)]
    pub identifier: String,
}

/// New API key.
#[derive(Deserialize)]
pub struct ApiKeyForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Label.
    #[serde(default)]
    pub name: String,
    /// `admin` or `service`.
    pub scope: crate::api_keys::Scope,
    /// Connection names separated by spaces or commas (empty: all).
    #[serde(default)]
    pub connections: String,
}

impl ApiKeyForm {
    /// The connection list.
    pub fn connection_list(&self) -> Vec<String> {
        self.connections
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The audit page's filters (dates as `YYYY-MM-DD`, UTC).
#[derive(Deserialize, Default, Debug, Clone, serde::Serialize)]
pub struct AuditFilter {
    /// Connection name.
    pub connection: Option<String>,
    /// End-user identifier.
    pub identifier: Option<String>,
    /// API key id.
    pub api_key_id: Option<String>,
    /// From this day on.
    pub since: Option<String>,
    /// Up to and including this day.
    pub until: Option<String>,
    /// Paging cursor.
    pub after: Option<String>,
}

/// Entries per audit page.
pub const AUDIT_PAGE: usize = 50;

impl AuditFilter {
    /// The log's query, or a message naming the bad date.
    pub fn query(&self) -> Result<AuditQuery, String> {
        let date = |field: &str, v: &Option<String>| match opt(v.clone()) {
            None => Ok(None),
            Some(d) => super::views::parse_date(&d)
                .map(Some)
                .ok_or_else(|| format!("{field} must be a date like 2026-01-31")),
        };
        let since = date("since", &self.since)?;
        let until = date("until", &self.until)?;
        Ok(AuditQuery {
            connection: opt(self.connection.clone()),
            identifier: opt(self.identifier.clone()),
            api_key_id: opt(self.api_key_id.clone()),
            since_ms: since.map(|s| s * 1000),
            // The whole "until" day is included.
            until_ms: until.map(|u| (u + 86_400) * 1000),
            after: opt(self.after.clone()),
            limit: Some(AUDIT_PAGE),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn service_messages_land_on_their_field() {
        for (message, field) in [
            ("connection name \"A\" is not a slug", Some("name")),
            ("user must be the Snowflake user's LOGIN_NAME", Some("user")),
            ("role ACCOUNTADMIN is a privileged role", Some("role")),
            ("account \"x\" is not valid: it is empty", Some("account")),
            (
                "client_id is required for an OAuth connection",
                Some("client_id"),
            ),
            ("something else entirely", None),
        ] {
            assert_eq!(error_field(message), field, "{message}");
        }
    }

    #[test]
    fn blank_fields_are_absent_and_lists_split() {
        let form = NewConnectionForm {
            kind: FormKind::Oauth,
            name: " sales ".into(),
            host: Some("  ".into()),
            user: Some("ignored for oauth".into()),
            scopes: Some("refresh_token\nsession:role:ANALYST".into()),
            allowed_return_urls: Some("https://a.example/x\r\nhttps://b.example/y".into()),
            refresh_token_validity_secs: Some("86400".into()),
            ..Default::default()
        };
        let req = form.into_request().unwrap();
        assert_eq!(req.name, "sales");
        assert_eq!(req.host, None);
        assert_eq!(req.user, None);
        assert_eq!(req.scopes.unwrap().len(), 2);
        assert_eq!(req.allowed_return_urls.len(), 2);
        assert_eq!(req.refresh_token_validity_secs, Some(86400));
    }

    #[test]
    fn audit_dates_cover_whole_days() {
        let q = AuditFilter {
            since: Some("2026-11-23".into()),
            until: Some("2026-11-23".into()),
            ..Default::default()
        }
        .query()
        .unwrap();
        assert_eq!(q.until_ms.unwrap() - q.since_ms.unwrap(), 86_400_000);
        assert!(AuditFilter {
            since: Some("yesterday".into()),
            ..Default::default()
        }
        .query()
        .is_err());
    }
}
