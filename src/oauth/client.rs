//! The client of Snowflake's `/oauth/token-request` (PROTOCOL.md B.3): code exchange and refresh.
//!
//! Invariants (OA-10, OA-12, PX-1, TR-9):
//! - client authentication is HTTP Basic over the raw `client_id:client_secret` (no
//!   percent-encoding first: Snowflake secrets contain `+/=`); the secret is never in a URL/body;
//! - the reqwest client follows no redirects, ignores proxy env vars, has connect and total
//!   timeouts, and caps the response body;
//! - retries use full jitter (base 200 ms, cap 10 s, 3 attempts) and only when a retry cannot
//!   replay a consumed credential: a code or a single-use refresh token is retried only when the
//!   request provably never left (connect error) or Snowflake answered 429/503; a reusable refresh
//!   token also on 502/504 and transport errors;
//! - errors carry Snowflake's `error` code only, never its message, a token or the form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::settings::OAuthSettings;
use crate::snowflake::RetryPolicy;

const MAX_BODY: usize = 64 * 1024;

/// Tokens from a successful token request.
pub(crate) struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: u64,
    pub refresh_token_expires_in: Option<u64>,
    pub username: Option<String>,
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct RawGrant {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token_expires_in: Option<u64>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    error: Option<String>,
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenCallError {
    /// `invalid_grant`: the code or refresh token is dead (or was used).
    InvalidGrant,
    /// `invalid_client`: the connection's client id/secret are wrong.
    InvalidClient,
    /// Another OAuth error (`error` code and HTTP status).
    Rejected(String, u16),
    /// Snowflake could not be reached or kept failing; nothing is known to have changed.
    Unavailable(String),
    /// A one-time credential was sent and the answer was lost (timeout, dropped connection,
    /// gateway error, unreadable 200): Snowflake may have spent it.
    Unknown(String),
}

/// For a one-time credential, a failure after the request may have been processed is
/// [`TokenCallError::Unknown`], not [`TokenCallError::Unavailable`].
fn lost(spend: Spend, error: TokenCallError) -> TokenCallError {
    match (spend, error) {
        (Spend::OneTime, TokenCallError::Unavailable(why)) => TokenCallError::Unknown(why),
        (_, error) => error,
    }
}

/// What a request spends, and so how it may be retried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spend {
    /// A one-time credential (code, single-use refresh token).
    OneTime,
    /// A reusable refresh token.
    Reusable,
}

/// Token-endpoint HTTP client (one pool, plus one per private CA).
pub(crate) struct TokenClient {
    default: reqwest::Client,
    with_ca: Mutex<HashMap<String, reqwest::Client>>,
    retry: RetryPolicy,
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
}

/// Parses a PEM CA bundle (checked when a connection is created).
pub(crate) fn parse_ca(pem: &str) -> Result<reqwest::Certificate, String> {
    reqwest::Certificate::from_pem(pem.as_bytes())
        .map_err(|_| "ca_file is not a PEM certificate".to_owned())
}

impl TokenClient {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            default: builder().build().map_err(|e| e.to_string())?,
            with_ca: Mutex::new(HashMap::new()),
            retry: RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(200),
                cap: Duration::from_secs(10),
                total_budget: Duration::from_secs(30),
            },
        })
    }

    fn client_for(&self, settings: &OAuthSettings) -> Result<reqwest::Client, TokenCallError> {
        let Some(pem) = &settings.ca_pem else {
            return Ok(self.default.clone());
        };
        let mut cache = self.with_ca.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = cache.get(pem) {
            return Ok(client.clone());
        }
        let cert = parse_ca(pem).map_err(TokenCallError::Unavailable)?;
        let client = builder()
            .add_root_certificate(cert)
            .build()
            .map_err(|e| TokenCallError::Unavailable(e.to_string()))?;
        cache.insert(pem.clone(), client.clone());
        Ok(client)
    }

    /// `grant_type=authorization_code` with the PKCE verifier and the exact redirect URI.
    pub async fn exchange_code(
        &self,
        settings: &OAuthSettings,
        secret: &str,
        code: &str,
        verifier: &str,
    ) -> Result<TokenGrant, TokenCallError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &settings.redirect_uri)
            .append_pair("code_verifier", verifier);
        if settings.single_use_refresh_tokens {
            form.append_pair("enable_single_use_refresh_tokens", "true");
        }
        let body = Zeroizing::new(form.finish());
        self.call(settings, secret, body, Spend::OneTime).await
    }

    /// `grant_type=refresh_token`; `single_use` when the token is spent by the request.
    pub async fn refresh(
        &self,
        settings: &OAuthSettings,
        secret: &str,
        refresh_token: &str,
        single_use: bool,
    ) -> Result<TokenGrant, TokenCallError> {
        let body = Zeroizing::new(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh_token)
                .finish(),
        );
        let spend = if single_use {
            Spend::OneTime
        } else {
            Spend::Reusable
        };
        self.call(settings, secret, body, spend).await
    }

    async fn call(
        &self,
        settings: &OAuthSettings,
        secret: &str,
        body: Zeroizing<String>,
        spend: Spend,
    ) -> Result<TokenGrant, TokenCallError> {
        let client = self.client_for(settings)?;
        let basic = Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{secret}", settings.client_id))
        ));
        let mut authorization = reqwest::header::HeaderValue::from_str(&basic)
            .map_err(|_| TokenCallError::InvalidClient)?;
        authorization.set_sensitive(true);
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = client
                .post(&settings.token_url)
                .header(reqwest::header::AUTHORIZATION, authorization.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .body(body.as_str().to_owned())
                .send()
                .await;
            let (retryable, error) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match read_body(response).await {
                        Ok(bytes) if status == 200 => {
                            return parse_grant(&bytes).map_err(|e| lost(spend, e))
                        }
                        Ok(bytes) => {
                            let error = classify(status, &bytes);
                            let (retry, error) = match status {
                                429 | 503 => (true, error),
                                500 | 502 | 504 => (spend == Spend::Reusable, lost(spend, error)),
                                _ => (false, error),
                            };
                            (retry, error)
                        }
                        Err(e) => (spend == Spend::Reusable, lost(spend, e)),
                    }
                }
                Err(e) => {
                    let kind = if e.is_connect() {
                        "connect"
                    } else if e.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    };
                    let error = TokenCallError::Unavailable(format!("token endpoint {kind} error"));
                    if e.is_connect() {
                        (true, error)
                    } else {
                        (spend == Spend::Reusable, lost(spend, error))
                    }
                }
            };
            tracing::warn!(attempt, retryable, error = ?error, "token request failed");
            let wait = self.retry.backoff(attempt, None);
            if !retryable
                || attempt >= self.retry.max_attempts
                || started.elapsed() + wait > self.retry.total_budget
            {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, TokenCallError> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| TokenCallError::Unavailable("token endpoint body read failed".into()))?
    {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(TokenCallError::Unavailable(
                "token endpoint answered a body over 64 KiB".into(),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn classify(status: u16, body: &[u8]) -> TokenCallError {
    let error = serde_json::from_slice::<RawError>(body)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default();
    match (status, error.as_str()) {
        (_, "invalid_grant") => TokenCallError::InvalidGrant,
        (_, "invalid_client") | (401, _) => TokenCallError::InvalidClient,
        (400..=499, _) if status != 429 => {
            // Only a known code is kept: never echo a body that might quote our input.
            let known = [
                "invalid_request",
                "invalid_scope",
                "unauthorized_client",
                "unsupported_grant_type",
            ];
            let code = known.iter().find(|k| **k == error).unwrap_or(&"other");
            TokenCallError::Rejected((*code).to_owned(), status)
        }
        _ => TokenCallError::Unavailable(format!("token endpoint answered HTTP {status}")),
    }
}

fn parse_grant(bytes: &[u8]) -> Result<TokenGrant, TokenCallError> {
    let raw: RawGrant = serde_json::from_slice(bytes).map_err(|_| {
        TokenCallError::Unavailable("token endpoint answered an unreadable body".into())
    })?;
    if raw.access_token.is_empty() {
        return Err(TokenCallError::Unavailable(
            "token endpoint answered no access token".into(),
        ));
    }
    Ok(TokenGrant {
        access_token: SecretString::from(raw.access_token),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        // Snowflake documents 600 s; a missing value is treated as that.
        expires_in: raw.expires_in.unwrap_or(600),
        refresh_token_expires_in: raw.refresh_token_expires_in,
        username: raw.username,
        scope: raw.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_only_the_oauth_code() {
        assert_eq!(
            classify(400, br#"{"error":"invalid_grant","message":"x"}"#),
            TokenCallError::InvalidGrant
        );
        assert_eq!(
            classify(401, br#"{"error":"invalid_client"}"#),
            TokenCallError::InvalidClient
        );
        assert_eq!(
            classify(400, br#"{"error":"ver:1-hint:SECRET","message":"ver:1"}"#),
            TokenCallError::Rejected("other".into(), 400)
        );
        assert!(matches!(
            classify(503, b"oops"),
            TokenCallError::Unavailable(_)
        ));
    }
}
