//! How proxy failures become API errors: upstream transport problems, a rejected keypair JWT
//! (with a hint), and the OAuth token manager's outcomes.

use crate::connections::Connection;
use crate::error::{AppError, ErrorCode};
use crate::oauth::OAuthError;
use crate::proxy::{read_small_body, ForwardError, ProxyClient, UpstreamResponse};

/// The most of an upstream error body read to explain a rejection.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Maps a forwarding failure: timeouts → 504 `statement_timeout`, the rest → 502
/// `upstream_unavailable`.
pub fn upstream_error(err: ForwardError) -> AppError {
    let code = match err {
        ForwardError::Timeout => ErrorCode::StatementTimeout,
        _ => ErrorCode::UpstreamUnavailable,
    };
    AppError::new(code, err.to_string())
}

/// 502 `snowflake_auth_failed` with Snowflake's code and a hint for the usual causes.
pub async fn jwt_rejected(
    client: &ProxyClient,
    connection: &Connection,
    response: UpstreamResponse,
) -> AppError {
    let body: serde_json::Value = read_small_body(client, response, ERROR_BODY_LIMIT)
        .await
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    let error = crate::snowflake::SnowflakeError::Auth {
        status: 401,
        code: Some(code.clone()),
        message: message.clone(),
    };
    let hint = crate::connections::probe::hint_for(&error, connection).unwrap_or_else(|| {
        format!(
            "test the connection: POST /v1/connections/{}/test",
            connection.name
        )
    });
    tracing::warn!(connection = %connection.name, snowflake_code = %code, "Snowflake rejected the keypair JWT");
    AppError::new(
        ErrorCode::SnowflakeAuthFailed,
        format!("Snowflake rejected the connection's JWT ({code}: {message}); {hint}"),
    )
}

/// Maps the token manager's errors for a proxied end-user call.
pub fn oauth_error(err: OAuthError) -> AppError {
    match err {
        OAuthError::ConnectionNotFound(_) => {
            AppError::new(ErrorCode::ConnectionNotFound, err.to_string())
        }
        OAuthError::ConnectionDisabled(_) => {
            AppError::new(ErrorCode::ConnectionDisabled, err.to_string())
        }
        OAuthError::NotOAuth(_) => AppError::new(ErrorCode::WrongConnectionKind, err.to_string()),
        OAuthError::AccountNotFound(_) | OAuthError::AccountNotConnected(_) => {
            AppError::new(ErrorCode::AccountNotConnected, err.to_string())
        }
        OAuthError::ReauthorizationRequired(_) => {
            AppError::new(ErrorCode::ReauthorizationRequired, err.to_string())
        }
        OAuthError::ClientRejected => {
            AppError::new(ErrorCode::SnowflakeAuthFailed, err.to_string())
        }
        OAuthError::Upstream(_) => AppError::new(ErrorCode::UpstreamUnavailable, err.to_string()),
        OAuthError::Invalid(_) => AppError::new(ErrorCode::InvalidRequest, err.to_string()),
        other => AppError::internal(other),
    }
}
