//! The one check every caller-facing data route makes before it contacts Snowflake (proxy,
//! tools, MCP): the `[limits]` request rates and the connection's concurrency cap. Call
//! [`admit`] after the caller is authenticated and the connection resolved, and keep the
//! returned [`Admission`] alive until the upstream answer is in.

use crate::api_keys::ApiKeyRecord;
use crate::error::{AppError, ErrorCode};
use crate::http::auth::ServiceCaller;
use crate::ratelimit::{Admission, LimitKind, Rejection};
use crate::state::AppState;

/// Admits one call of `caller` through `connection`, for the end user `identifier` when there is
/// one; otherwise 429 `rate_limited` / `connection_busy` with `Retry-After`.
pub fn admit(
    state: &AppState,
    caller: &ServiceCaller,
    connection: &str,
    identifier: Option<&str>,
) -> Result<Admission, AppError> {
    admit_key(state, &caller.0, connection, identifier)
}

/// [`admit`] for a caller known by its key record (MCP tool calls).
pub fn admit_key(
    state: &AppState,
    key: &ApiKeyRecord,
    connection: &str,
    identifier: Option<&str>,
) -> Result<Admission, AppError> {
    state
        .limits
        .admit(&key.id, connection, identifier)
        .map_err(|rejection| rejected(connection, rejection))
}

fn rejected(connection: &str, r: Rejection) -> AppError {
    // Logged with the connection name and the limit only: never the identifier.
    tracing::info!(
        connection,
        limit = r.kind.as_str(),
        "request turned away by a limit"
    );
    let secs = r.retry_after_secs;
    let (code, message) = match r.kind {
        LimitKind::ApiKey => (
            ErrorCode::RateLimited,
            format!(
                "this API key is over its limit of {} requests per second; retry after {secs} s",
                r.limit
            ),
        ),
        LimitKind::Identifier => (
            ErrorCode::RateLimited,
            format!(
                "this end user is over the limit of {} requests per second on connection \
                 {connection:?}; retry after {secs} s",
                r.limit
            ),
        ),
        LimitKind::ConnectionConcurrency => (
            ErrorCode::ConnectionBusy,
            format!(
                "connection {connection:?} already has {} requests in flight to Snowflake (its \
                 limit); retry after {secs} s",
                r.limit
            ),
        ),
    };
    AppError::new(code, message).with_retry_after(secs)
}
