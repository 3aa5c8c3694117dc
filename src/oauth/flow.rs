//! The browser flow: opening a link (`GET /connect/{token}`) and Snowflake's callback
//! (`GET /oauth/callback/{connection}`).
//!
//! Order of the callback (OA-2, OA-3, OA-5, OA-6, OA-7): the state is taken (consumed) first,
//! then its age, its connection against the path's, the browser cookie against the hash stored
//! with it, Snowflake's `error`, and `iss` if present — every check before any token request.
//! Only then is the code exchanged, with the verifier stored under that very state, and the
//! browser sent (303) to a code-free place.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::client::{TokenCallError, TokenGrant};
use super::links::{LinkRecord, StateRecord, STATE_TTL};
use super::secrets::{random_token, s256_challenge};
use super::settings::OAuthSettings;
use super::tokens::usable;
use super::{return_url, OAuthError, OAuthService};
use crate::connections::TestReport;
use crate::snowflake::{Credential, StatementRequest, SubmitOptions, Upstream};

/// Where to send the browser after a link was opened.
pub struct Started {
    /// Snowflake's authorize URL with every parameter.
    pub authorize_url: String,
    /// Value of the browser-binding cookie to set.
    pub cookie: String,
}

/// How the callback ended well.
pub enum CallbackOutcome {
    /// 303 to the app's allowed return URL (with `identifier` and `status`).
    Redirect(String),
    /// The account is connected; show the success page.
    Connected {
        /// Connection name.
        connection: String,
        /// Snowflake user, when known.
        snowflake_user: Option<String>,
    },
    /// The user declined; show the denied page.
    Denied {
        /// Connection name.
        connection: String,
    },
}

/// Why the browser flow stopped; each maps to a page.
#[derive(Debug)]
pub enum FlowFailure {
    /// Unknown, used or expired link (410).
    LinkExpired,
    /// Anything else: HTTP status, a title and a message safe to show.
    Page {
        /// 4xx/5xx.
        status: u16,
        /// Short title.
        title: &'static str,
        /// What happened and what to do.
        message: String,
    },
}

fn bad(title: &'static str, message: &str) -> FlowFailure {
    FlowFailure::Page {
        status: 400,
        title,
        message: message.to_owned(),
    }
}

fn internal(e: OAuthError) -> FlowFailure {
    tracing::error!(error = %e, "oauth flow failed");
    FlowFailure::Page {
        status: 500,
        title: "Something went wrong",
        message: "icebroker could not complete this step. Ask the application for a new link."
            .to_owned(),
    }
}

/// The callback's query parameters, each at most once (a repeated one is an attack or a bug).
struct Query {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

fn parse_query(raw: &str) -> Result<Query, FlowFailure> {
    let mut q = Query {
        state: None,
        code: None,
        error: None,
        iss: None,
    };
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut q.state,
            "code" => &mut q.code,
            "error" => &mut q.error,
            "iss" => &mut q.iss,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(bad("Invalid request", "A parameter was sent twice."));
        }
    }
    Ok(q)
}

impl OAuthService {
    /// Opens a link: consumes it, seals a one-time state with a fresh PKCE verifier and the hash
    /// of a new browser-binding cookie, and returns Snowflake's authorize URL.
    pub async fn start(&self, token: &str) -> Result<Started, FlowFailure> {
        let link = self
            .flows
            .take_link(token)
            .await
            .map_err(internal)?
            .ok_or(FlowFailure::LinkExpired)?;
        if link.expires_at <= self.clock.now() {
            return Err(FlowFailure::LinkExpired);
        }
        let connection = self.connection_for_flow(&link.connection)?;
        let settings = usable(&connection).map_err(|e| FlowFailure::Page {
            status: 403,
            title: "Connection unavailable",
            message: e.to_string(),
        })?;
        let random =
            || random_token().map_err(|e| internal(OAuthError::Internal(format!("random: {e}"))));
        let (verifier, cookie) = (random()?, random()?);
        let challenge = s256_challenge(&verifier);
        let record = state_for(
            &link,
            verifier,
            self.flows.browser_hash(&cookie),
            self.clock.now(),
        );
        let state = self.flows.put_state(&record).await.map_err(internal)?;
        let mut url = Url::parse(&settings.authorize_url)
            .map_err(|_| internal(OAuthError::Internal("authorize_url does not parse".into())))?;
        url.query_pairs_mut()
            .append_pair("client_id", &settings.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &settings.redirect_uri)
            .append_pair("scope", &settings.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        tracing::info!(connection = %link.connection, account = %self.accounts.audit_id(&link.identifier), "authorization link opened");
        Ok(Started {
            authorize_url: url.into(),
            cookie,
        })
    }

    fn connection_for_flow(
        &self,
        name: &str,
    ) -> Result<std::sync::Arc<crate::connections::Connection>, FlowFailure> {
        self.connections.get(name).map_err(|_| FlowFailure::Page {
            status: 404,
            title: "Connection unavailable",
            message: "This connection no longer exists. Ask the application for a new link."
                .to_owned(),
        })
    }

    /// Handles Snowflake's redirect to `/oauth/callback/{connection}`.
    pub async fn callback(
        &self,
        path_connection: &str,
        raw_query: &str,
        cookie: Option<&str>,
    ) -> Result<CallbackOutcome, FlowFailure> {
        let query = parse_query(raw_query)?;
        let state = query.state.as_deref().ok_or_else(|| {
            bad(
                "Invalid request",
                "The authorization response has no state.",
            )
        })?;
        let record = self
            .flows
            .take_state(state)
            .await
            .map_err(internal)?
            .ok_or_else(|| bad("Invalid or used link", "This authorization is unknown or was already used. Ask the application for a new link."))?;
        if record.created_at + STATE_TTL <= self.clock.now() {
            return Err(bad(
                "Authorization expired",
                "This authorization took too long. Ask the application for a new link.",
            ));
        }
        if record.connection != path_connection {
            return Err(bad(
                "Invalid request",
                "This authorization belongs to another connection.",
            ));
        }
        let same_browser = cookie.is_some_and(|c| {
            let presented = self.flows.browser_hash(c);
            subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), record.browser_hash.as_bytes())
                .into()
        });
        if !same_browser {
            return Err(bad("Open the link in this browser", "This authorization was started in another browser. Open the application's link again here."));
        }
        let connection = self.connection_for_flow(path_connection)?;
        let settings = usable(&connection).map_err(|e| FlowFailure::Page {
            status: 403,
            title: "Connection unavailable",
            message: e.to_string(),
        })?;
        let id_hash = self.accounts.audit_id(&record.identifier);
        if let Some(error) = &query.error {
            let known = ["access_denied", "invalid_scope", "server_error"];
            let error = known.iter().find(|k| **k == error).unwrap_or(&"other");
            tracing::info!(connection = %path_connection, account = %id_hash, error, "authorization declined");
            return Ok(self.finish(&record, settings, "denied", None));
        }
        if let Some(iss) = &query.iss {
            if !issuer_matches(iss, settings) {
                return Err(bad(
                    "Invalid request",
                    "The authorization response names another issuer.",
                ));
            }
        }
        let code = query
            .code
            .as_deref()
            .ok_or_else(|| bad("Invalid request", "The authorization response has no code."))?;
        let secret = self
            .accounts
            .client_secret(path_connection)
            .map_err(internal)?;
        let grant = self
            .client
            .exchange_code(settings, secret.as_str(), code, &record.verifier)
            .await
            .map_err(|e| exchange_failure(&e))?;
        let username = match grant.username.clone() {
            Some(u) => Some(u),
            None => self.current_user(&connection, &grant).await,
        };
        let view = self
            .tokens
            .store_connected(
                path_connection,
                &record.identifier,
                grant,
                username,
                Some(record.api_key_id.clone()),
                settings,
            )
            .await
            .map_err(internal)?;
        tracing::info!(connection = %path_connection, account = %id_hash, "account connected");
        self.note_connection_works(&connection, view.snowflake_user.clone())
            .await;
        Ok(self.finish(&record, settings, "connected", view.snowflake_user))
    }

    fn finish(
        &self,
        record: &StateRecord,
        settings: &OAuthSettings,
        status: &str,
        snowflake_user: Option<String>,
    ) -> CallbackOutcome {
        // The return URL is re-checked against the connection's current allow-list.
        let target = record
            .return_url
            .as_deref()
            .filter(|u| return_url::is_allowed(&settings.allowed_return_urls, u))
            .and_then(|u| return_url::with_result(u, &record.identifier, status));
        match (target, status) {
            (Some(url), _) => CallbackOutcome::Redirect(url),
            (None, "connected") => CallbackOutcome::Connected {
                connection: record.connection.clone(),
                snowflake_user,
            },
            (None, _) => CallbackOutcome::Denied {
                connection: record.connection.clone(),
            },
        }
    }

    /// `SELECT CURRENT_USER()` with the new token, when the token response named no user.
    async fn current_user(
        &self,
        connection: &crate::connections::Connection,
        grant: &TokenGrant,
    ) -> Option<String> {
        let upstream = Upstream::parse(&connection.base_url).ok()?;
        let credential = Credential::OAuth(SecretString::from(
            grant.access_token.expose_secret().to_owned(),
        ));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let result = self
            .sql_api
            .with_upstream(upstream)
            .execute(
                &credential,
                &StatementRequest::new("SELECT CURRENT_USER()"),
                &SubmitOptions::default(),
                deadline,
            )
            .await
            .ok()?;
        result.data.first()?.first()?.clone()
    }

    /// The first successful exchange proves the integration works: record it as a passed test.
    async fn note_connection_works(
        &self,
        connection: &crate::connections::Connection,
        user: Option<String>,
    ) {
        if connection.last_test.as_ref().is_some_and(|t| t.ok) {
            return;
        }
        let report = TestReport {
            ok: true,
            at: self.clock.now(),
            user,
            role: None,
            account: None,
            warehouse: None,
            error_code: None,
            error_message: None,
            hint: None,
        };
        if let Err(e) = self.connections.record_test(&connection.name, report).await {
            tracing::warn!(error = %e, "could not record the connection as working");
        }
    }
}

fn state_for(link: &LinkRecord, verifier: String, browser_hash: String, now: u64) -> StateRecord {
    StateRecord {
        connection: link.connection.clone(),
        identifier: link.identifier.clone(),
        api_key_id: link.api_key_id.clone(),
        verifier,
        browser_hash,
        return_url: link.return_url.clone(),
        created_at: now,
    }
}

/// RFC 9207: the issuer of a Snowflake connection is the origin of its authorize endpoint.
fn issuer_matches(iss: &str, settings: &OAuthSettings) -> bool {
    let Ok(expected) = Url::parse(&settings.authorize_url) else {
        return false;
    };
    let origin = expected.origin().ascii_serialization();
    iss.trim_end_matches('/') == origin
}

fn exchange_failure(e: &TokenCallError) -> FlowFailure {
    let message = match e {
        TokenCallError::InvalidGrant => {
            "Snowflake did not accept the authorization code (expired or already used). Ask the \
             application for a new link."
        }
        TokenCallError::InvalidClient => {
            "Snowflake rejected icebroker's OAuth client credentials; an administrator must check \
             the connection's client id and secret."
        }
        TokenCallError::Rejected(..)
        | TokenCallError::Unavailable(_)
        | TokenCallError::Unknown(_) => {
            "Snowflake's token endpoint did not complete the authorization. Try again with a new \
             link in a moment."
        }
    };
    tracing::warn!(error = ?e, "code exchange failed");
    FlowFailure::Page {
        status: 502,
        title: "Authorization not completed",
        message: message.to_owned(),
    }
}
