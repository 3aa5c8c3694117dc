//! One SQL API call with retries: builds the request from scratch, sends it, reads the body
//! under caps, and classifies the answer (PROTOCOL.md A.4, SECURITY.md TR-9/TR-10/PX-1/PX-3).
//!
//! Invariants:
//! - Headers are exactly `Authorization`, `X-Snowflake-Authorization-Token-Type`, `Accept`,
//!   `Accept-Encoding`, `User-Agent` and, with a body, `Content-Type` — nothing caller-controlled
//!   except the validated bearer token.
//! - Retried: errors before a complete response, 429 (honouring `Retry-After`), 500/502/503/504.
//!   Never retried: 3xx, 400/401/403/404/408/422 and other 4xx. A submit keeps its `requestId`
//!   on every attempt and adds `retry=true` from the second one on.
//! - Spans carry method, path pattern, handle, attempt and status only — no statement text,
//!   bindings, tokens or query strings.

use std::time::Duration;

use reqwest::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode};
use tracing::Instrument;

use super::body::read_capped;
use super::client::SqlApiClient;
use super::error::SnowflakeError;
use super::types::StatusBody;
use super::upstream::Credential;

/// `User-Agent` of every upstream request (A.2 requires one).
pub const USER_AGENT_VALUE: &str = concat!("icebroker/", env!("CARGO_PKG_VERSION"));

/// Header carrying the token kind; always sent explicitly (A.2, A.7).
pub const TOKEN_TYPE_HEADER: &str = "X-Snowflake-Authorization-Token-Type";

/// What to send; built by the endpoint methods.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Concrete path (`/api/v2/statements/<validated handle>`).
    pub path: String,
    /// Path pattern for logs (`/api/v2/statements/{handle}`).
    pub pattern: &'static str,
    /// Handle for logs, if the path has one.
    pub handle: Option<&'a str>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    /// A statement submit: add `retry=true` on attempts ≥ 2 (TR-10).
    pub submit: bool,
}

/// A 200 or 202 answer.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

enum Attempt {
    Done(Reply),
    Fatal(SnowflakeError),
    Transient {
        error: SnowflakeError,
        retry_after: Option<Duration>,
    },
}

impl SqlApiClient {
    /// Sends `call` with the retry policy; `Ok` only for 200/202.
    pub(crate) async fn send(
        &self,
        credential: &Credential,
        call: Call<'_>,
    ) -> Result<Reply, SnowflakeError> {
        let span = tracing::info_span!(
            "snowflake_sql_api",
            method = %call.method,
            path = call.pattern,
            handle = call.handle.unwrap_or(""),
        );
        self.send_with_retries(credential, &call)
            .instrument(span)
            .await
    }

    async fn send_with_retries(
        &self,
        credential: &Credential,
        call: &Call<'_>,
    ) -> Result<Reply, SnowflakeError> {
        let policy = &self.config().retry;
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (error, retry_after) = match self.attempt(credential, call, attempt).await {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Transient { error, retry_after } => (error, retry_after),
            };
            if attempt >= policy.max_attempts {
                tracing::warn!(attempt, error = %error, "giving up: attempts exhausted");
                return Err(error);
            }
            let sleep = policy.backoff(attempt, retry_after);
            if started.elapsed() + sleep > policy.total_budget {
                tracing::warn!(attempt, error = %error, "giving up: retry budget spent");
                return Err(error);
            }
            tracing::info!(attempt, sleep_ms = sleep.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(sleep).await;
        }
    }

    async fn attempt(&self, credential: &Credential, call: &Call<'_>, attempt: u32) -> Attempt {
        let config = self.config();
        let mut url = config.upstream.join(&call.path);
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &call.query {
                pairs.append_pair(key, value);
            }
            if call.submit && attempt > 1 && !call.query.iter().any(|(k, _)| *k == "retry") {
                pairs.append_pair("retry", "true");
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let authorization = match credential.authorization() {
            Ok(value) => value,
            Err(_) => return Attempt::Fatal(SnowflakeError::Invalid("credential")),
        };
        let mut request = self
            .http()
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, authorization)
            .header(
                TOKEN_TYPE_HEADER,
                HeaderValue::from_static(credential.token_type()),
            )
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(ACCEPT_ENCODING, HeaderValue::from_static("gzip"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return transport_failure(error, attempt),
        };
        let status = response.status();
        tracing::debug!(attempt, status = status.as_u16(), "answer");
        if status.is_redirection() {
            // Never followed and never read: the Location may point anywhere (PX-1).
            return Attempt::Fatal(SnowflakeError::Redirect {
                status: status.as_u16(),
            });
        }
        let retry_after = retry_after(response.headers());
        let body = match read_capped(
            response,
            config.max_response_bytes,
            config.max_decompressed_bytes,
        )
        .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(error)) => return Attempt::Fatal(error),
            Err(error) => return transport_failure(error, attempt),
        };
        classify(status, body, retry_after, credential)
    }
}

fn transport_failure(error: reqwest::Error, attempt: u32) -> Attempt {
    let error = error.without_url();
    tracing::debug!(attempt, timeout = error.is_timeout(), "transport failure");
    if error.is_builder() {
        return Attempt::Fatal(SnowflakeError::Invalid("request could not be built"));
    }
    let error = if error.is_timeout() {
        SnowflakeError::Timeout
    } else {
        SnowflakeError::Transport(error)
    };
    Attempt::Transient {
        error,
        retry_after: None,
    }
}

/// `Retry-After` in delta-seconds; the HTTP-date form is ignored (the jitter applies then).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn classify(
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<Duration>,
    credential: &Credential,
) -> Attempt {
    let code = status.as_u16();
    if code == 200 || code == 202 {
        return Attempt::Done(Reply { status, body });
    }
    // Error bodies are QueryStatus-shaped JSON when present; anything else is ignored, never
    // echoed (it could be an HTML page from something in between).
    let parsed: StatusBody = serde_json::from_slice(&body).unwrap_or_default();
    let message = parsed
        .message
        .as_deref()
        .map(|text| credential.redact(text))
        .unwrap_or_else(|| format!("HTTP {code} without a Snowflake message"));
    let error = match code {
        401 | 403 => SnowflakeError::Auth {
            status: code,
            code: parsed.code,
            message,
        },
        408 | 422 => SnowflakeError::Statement {
            status: code,
            code: parsed.code,
            sql_state: parsed.sql_state,
            message,
            statement_handle: parsed
                .statement_handle
                .and_then(|handle| handle.parse().ok()),
        },
        429 => {
            return Attempt::Transient {
                error: SnowflakeError::RateLimited { retry_after },
                retry_after,
            }
        }
        500 | 502 | 503 | 504 => {
            return Attempt::Transient {
                error: SnowflakeError::Unavailable { status: code },
                retry_after,
            }
        }
        400..=499 => SnowflakeError::Rejected {
            status: code,
            code: parsed.code,
            message,
        },
        500..=599 => SnowflakeError::Unavailable { status: code },
        _ => SnowflakeError::Protocol(format!("unexpected HTTP status {code}")),
    };
    Attempt::Fatal(error)
}
