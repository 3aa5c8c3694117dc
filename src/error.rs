//! The error contract of the HTTP API: every failure is
//! `{"error": {"code", "type", "message", "request_id"}}` with a stable snake_case `code`
//! (the README's table) and an HTTP status derived from it. Internal errors keep their cause
//! for the log only; the body says nothing about it beyond the request id to quote.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::http::request_id;

/// Stable error codes. Adding one is fine; renaming one breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or fails validation.
    InvalidRequest,
    /// The JSON body does not parse or has the wrong shape.
    InvalidJson,
    /// The request body exceeds the configured limit.
    PayloadTooLarge,
    /// The body's media type is not accepted here.
    UnsupportedMediaType,
    /// No or an unknown/revoked API key.
    Unauthorized,
    /// The API key is valid but not allowed to do this.
    Forbidden,
    /// No route matches the path.
    RouteNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The named API key does not exist.
    ApiKeyNotFound,
    /// The named connection does not exist.
    ConnectionNotFound,
    /// A connection with that name exists.
    ConnectionExists,
    /// The connection is disabled.
    ConnectionDisabled,
    /// The operation does not apply to this kind of connection.
    WrongConnectionKind,
    /// `rotate-key/complete` without a rotation in progress.
    NoRotationInProgress,
    /// The new key of a rotation failed its test; the old key stays active.
    RotationTestFailed,
    /// The private key is not a usable PEM private key.
    InvalidPrivateKey,
    /// A public key was given where the private key belongs.
    PublicKeyGiven,
    /// The private key is encrypted and no passphrase was given.
    PrivateKeyPassphraseRequired,
    /// The passphrase does not decrypt the private key.
    WrongPrivateKeyPassphrase,
    /// The key is shorter than 2048 bits.
    PrivateKeyTooSmall,
    /// No connected account for that identifier (account routes).
    AccountNotFound,
    /// The identifier has not completed authorization (or was disconnected): send a link.
    AccountNotConnected,
    /// The end user's authorization ended (refresh token dead): create a new link.
    ReauthorizationRequired,
    /// The authorization link is unknown, used or expired.
    LinkExpired,
    /// Snowflake rejected the connection's credentials.
    SnowflakeAuthFailed,
    /// Snowflake could not be reached or kept failing.
    UpstreamUnavailable,
    /// Snowflake did not answer in time.
    StatementTimeout,
    /// The statement handle was submitted by another API key or end user (TR-11).
    StatementNotFound,
    /// Too many requests.
    RateLimited,
    /// The vault or another dependency is not ready.
    ServiceUnavailable,
    /// A bug or an unexpected failure; details are in the log under the request id.
    Internal,
    /// A tool's input failed validation; the message names the field.
    InvalidToolInput,
    /// No tool with that name (`GET /v1/tools` lists them).
    ToolNotFound,
    /// Snowflake ran the statement and it failed (or refused it); Snowflake's code, SQLSTATE
    /// and message are in the message.
    StatementFailed,
    /// The connection already has its maximum of concurrent upstream requests in flight.
    ConnectionBusy,
    /// The client did not send the request body in time.
    RequestTimeout,
}

impl ErrorCode {
    /// The HTTP status this code is always sent with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest | Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::RouteNotFound
            | Self::ApiKeyNotFound
            | Self::ConnectionNotFound
            | Self::AccountNotFound
            | Self::StatementNotFound => StatusCode::NOT_FOUND,
            Self::AccountNotConnected => StatusCode::CONFLICT,
            Self::ReauthorizationRequired => StatusCode::UNAUTHORIZED,
            Self::LinkExpired => StatusCode::GONE,
            Self::ConnectionExists | Self::NoRotationInProgress | Self::RotationTestFailed => {
                StatusCode::CONFLICT
            }
            Self::ConnectionDisabled => StatusCode::FORBIDDEN,
            Self::WrongConnectionKind
            | Self::InvalidPrivateKey
            | Self::PublicKeyGiven
            | Self::PrivateKeyPassphraseRequired
            | Self::WrongPrivateKeyPassphrase
            | Self::PrivateKeyTooSmall => StatusCode::BAD_REQUEST,
            Self::SnowflakeAuthFailed | Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::StatementTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidToolInput => StatusCode::BAD_REQUEST,
            Self::ToolNotFound => StatusCode::NOT_FOUND,
            Self::StatementFailed => StatusCode::UNPROCESSABLE_ENTITY,
            // 429, not 503: the broker is healthy, and a 5xx would make load balancers eject it.
            Self::ConnectionBusy => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The error family: `invalid_request`, `auth`, `upstream` or `internal`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Unauthorized
            | Self::Forbidden
            | Self::ConnectionDisabled
            | Self::ReauthorizationRequired => "auth",
            Self::SnowflakeAuthFailed | Self::UpstreamUnavailable | Self::StatementTimeout => {
                "upstream"
            }
            Self::ServiceUnavailable | Self::Internal => "internal",
            _ => "invalid_request",
        }
    }

    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidJson => "invalid_json",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ApiKeyNotFound => "api_key_not_found",
            Self::ConnectionNotFound => "connection_not_found",
            Self::ConnectionExists => "connection_exists",
            Self::ConnectionDisabled => "connection_disabled",
            Self::WrongConnectionKind => "wrong_connection_kind",
            Self::NoRotationInProgress => "no_rotation_in_progress",
            Self::RotationTestFailed => "rotation_test_failed",
            Self::InvalidPrivateKey => "invalid_private_key",
            Self::PublicKeyGiven => "public_key_given",
            Self::PrivateKeyPassphraseRequired => "private_key_passphrase_required",
            Self::WrongPrivateKeyPassphrase => "wrong_private_key_passphrase",
            Self::PrivateKeyTooSmall => "private_key_too_small",
            Self::AccountNotFound => "account_not_found",
            Self::AccountNotConnected => "account_not_connected",
            Self::ReauthorizationRequired => "reauthorization_required",
            Self::LinkExpired => "link_expired",
            Self::SnowflakeAuthFailed => "snowflake_auth_failed",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::StatementTimeout => "statement_timeout",
            Self::StatementNotFound => "statement_not_found",
            Self::RateLimited => "rate_limited",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal",
            Self::InvalidToolInput => "invalid_tool_input",
            Self::ToolNotFound => "tool_not_found",
            Self::StatementFailed => "statement_failed",
            Self::ConnectionBusy => "connection_busy",
            Self::RequestTimeout => "request_timeout",
        }
    }
}

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct AppError {
    code: ErrorCode,
    message: String,
    source: Option<anyhow::Error>,
    retry_after_secs: Option<u64>,
}

impl AppError {
    /// A client-facing error with a message that helps the caller fix the request.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
            retry_after_secs: None,
        }
    }

    /// An internal failure: the cause is logged, the body only says to quote the request id.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: "internal error; quote the request_id when reporting it".to_owned(),
            source: Some(cause.into()),
            retry_after_secs: None,
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The client-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The internal cause, for the log only (never for a response body).
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }

    /// Adds a `Retry-After` header (whole seconds) to the response.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.source {
            // Logged once, here at the edge, with its cause chain; never sent to the client.
            tracing::error!(error.code = self.code.as_str(), error.cause = %format!("{cause:#}"), "request failed");
        }
        let mut response = error_response(self.code, &self.message);
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(secs),
            );
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
    request_id: String,
}

/// Builds the JSON error response for `code` (used by handlers, extractors and middleware).
pub fn error_response(code: ErrorCode, message: &str) -> HttpResponse {
    let body = ErrorEnvelope {
        error: ErrorBody {
            code: code.as_str(),
            kind: code.kind(),
            message,
            request_id: request_id::current().unwrap_or_default(),
        },
    };
    HttpResponse::build(code.status())
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_wire_name_and_a_4xx_or_5xx_status() {
        let all = [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidJson,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::RouteNotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::ApiKeyNotFound,
            ErrorCode::ConnectionNotFound,
            ErrorCode::ConnectionExists,
            ErrorCode::ConnectionDisabled,
            ErrorCode::WrongConnectionKind,
            ErrorCode::NoRotationInProgress,
            ErrorCode::RotationTestFailed,
            ErrorCode::InvalidPrivateKey,
            ErrorCode::PublicKeyGiven,
            ErrorCode::PrivateKeyPassphraseRequired,
            ErrorCode::WrongPrivateKeyPassphrase,
            ErrorCode::PrivateKeyTooSmall,
            ErrorCode::AccountNotFound,
            ErrorCode::AccountNotConnected,
            ErrorCode::ReauthorizationRequired,
            ErrorCode::LinkExpired,
            ErrorCode::SnowflakeAuthFailed,
            ErrorCode::UpstreamUnavailable,
            ErrorCode::StatementTimeout,
            ErrorCode::RateLimited,
            ErrorCode::ServiceUnavailable,
            ErrorCode::Internal,
            ErrorCode::InvalidToolInput,
            ErrorCode::ToolNotFound,
            ErrorCode::StatementFailed,
            ErrorCode::ConnectionBusy,
            ErrorCode::RequestTimeout,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), all.len());
        for code in all {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
