//! [`SnowflakeError`]: every way a SQL API call can fail, keeping what Snowflake said (`code`,
//! `sqlState`, `message`, `statementHandle`) so callers can show it and decide what to do.
//!
//! Invariants: no variant holds a token, a statement text, bindings or a URL (reqwest errors are
//! stored `without_url`); Snowflake's messages are passed through [`super::Credential`]'s
//! redaction before they land here.

use std::time::Duration;

use super::handle::StatementHandle;

/// Snowflake error codes that mean "get a new token and try once more".
/// 390303: invalid OAuth access token; 390318: OAuth access token expired (connector code,
/// not seen in a SQL API capture); 390144: invalid key-pair JWT (re-sign).
const AUTH_RETRY_CODES: [&str; 3] = ["390303", "390318", "390144"];

/// A failed SQL API call.
#[derive(Debug, thiserror::Error)]
pub enum SnowflakeError {
    /// The statement failed (422), timed out (408) or the handle is unknown; Snowflake's words.
    #[error(
        "Snowflake statement error {status} (code {code:?}, sqlState {sql_state:?}): {message}"
    )]
    Statement {
        /// 408 or 422.
        status: u16,
        /// Snowflake error code, e.g. `000904`.
        code: Option<String>,
        /// SQLSTATE, e.g. `42000`.
        sql_state: Option<String>,
        /// Snowflake's message.
        message: String,
        /// The failed statement's handle, when given.
        statement_handle: Option<StatementHandle>,
    },
    /// 401/403: the token was refused (or the SQL API is not enabled for the account).
    #[error("Snowflake refused the credential ({status}, code {code:?}): {message}")]
    Auth {
        /// 401 or 403.
        status: u16,
        /// `390303` invalid/expired OAuth token, `390144` bad JWT, …
        code: Option<String>,
        /// Snowflake's message, with any echo of the token redacted.
        message: String,
    },
    /// Another 4xx (400 bad payload, 404, 405, 415): a bug on our side, never retried.
    #[error("Snowflake rejected the request ({status}, code {code:?}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Snowflake error code, if any.
        code: Option<String>,
        /// Snowflake's message, if any.
        message: String,
    },
    /// 429 still answered after the retry budget.
    #[error("Snowflake rate limit (429) persisted after retries")]
    RateLimited {
        /// The last `Retry-After`, if Snowflake sent one.
        retry_after: Option<Duration>,
    },
    /// 5xx after retries (or a 5xx that is not worth retrying, e.g. 522).
    #[error("Snowflake is unavailable ({status})")]
    Unavailable {
        /// The last HTTP status.
        status: u16,
    },
    /// The request (or the body read) hit the client timeout, after retries.
    #[error("timed out talking to Snowflake")]
    Timeout,
    /// `wait` reached its deadline while the statement was still running (it keeps running:
    /// poll again or cancel it).
    #[error("statement {statement_handle} still running at the deadline")]
    StillRunning {
        /// The running statement.
        statement_handle: StatementHandle,
    },
    /// Connect/reset/TLS failure before a complete response, after retries.
    #[error("could not reach Snowflake")]
    Transport(#[source] reqwest::Error),
    /// A 3xx answer; redirects are never followed (PX-1).
    #[error("Snowflake answered with a redirect ({status}); redirects are not followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// A body that does not parse, an unexpected status, or a row count that disagrees with
    /// the metadata.
    #[error("unexpected answer from Snowflake: {0}")]
    Protocol(String),
    /// A response (raw or decompressed) larger than the configured cap.
    #[error("Snowflake response exceeds the {limit}-byte limit")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The caller handed in something that cannot be sent (a token with control characters,
    /// an invalid configuration).
    #[error("invalid Snowflake request: {0}")]
    Invalid(&'static str),
}

impl SnowflakeError {
    /// The Snowflake error code, for the variants that carry one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Statement { code, .. }
            | Self::Auth { code, .. }
            | Self::Rejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// True for 401/403.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Auth { .. })
    }

    /// True when a fresh token may fix it (OAuth 390303/390318 → refresh, JWT 390144 →
    /// re-sign): the caller should get a new credential and retry **once**.
    pub fn is_auth_expired(&self) -> bool {
        matches!(self, Self::Auth { code: Some(code), .. } if AUTH_RETRY_CODES.contains(&code.as_str()))
    }

    /// The statement handle Snowflake reported, if any.
    pub fn statement_handle(&self) -> Option<&StatementHandle> {
        match self {
            Self::Statement {
                statement_handle, ..
            } => statement_handle.as_ref(),
            Self::StillRunning { statement_handle } => Some(statement_handle),
            _ => None,
        }
    }
}
