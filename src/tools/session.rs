//! [`ToolSession`]: one tool call's connection, principal and SQL API client, and the
//! statement runner every tool uses.
//!
//! Invariants:
//! - the connection comes from [`crate::proxy::access::usable_connection`], the same rule the
//!   proxy applies (key scope, existence, enabled);
//! - OAuth connections act for an `identifier` with its own access token; a 401 that a fresh
//!   token may fix refreshes once (single-flight, [`crate::oauth::TokenManager`]) and repeats the
//!   call with the same `requestId` — Snowflake did not run a statement it refused to
//!   authenticate;
//! - keypair connections use the cached JWT; a refusal is `snowflake_auth_failed` with the
//!   connection test's hint, like the proxy;
//! - results are followed partition by partition while the rows stay within [`ROW_CAP`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::decode::{self, DecodeOptions};
use crate::api_keys::ApiKeyRecord;
use crate::connections::{Connection, ConnectionKind};
use crate::error::{AppError, ErrorCode};
use crate::oauth::AccessToken;
use crate::proxy::owners::{Keep, OwnerHash};
use crate::routes::connections::map_error;
use crate::routes::proxy_errors::oauth_error;
use crate::snowflake::{
    Credential, RequestId, ResultSet, SnowflakeError, SqlApiClient, StatementHandle,
    StatementRequest, SubmitOptions, Submitted, Upstream,
};
use crate::state::AppState;

/// Most rows one tool answer carries; further partitions are left for `snowflake_get_partition`.
pub const ROW_CAP: usize = 10_000;
/// How long a synchronous tool call waits for a statement before answering `running`.
pub const WAIT: Duration = Duration::from_secs(60);

/// Whose credentials a tool call uses.
#[derive(Debug, Clone)]
enum Principal {
    /// The keypair connection's service identity.
    Service,
    /// An OAuth connection's end user.
    User(String),
}

/// One tool call's connection and client.
pub struct ToolSession<'a> {
    state: &'a AppState,
    /// The connection in use.
    pub connection: Arc<Connection>,
    principal: Principal,
    client: SqlApiClient,
    execution_id: Option<uuid::Uuid>,
    /// Who owns the statements this call submits (TR-11), as the proxy counts owners.
    owner: OwnerHash,
}

impl<'a> ToolSession<'a> {
    /// Resolves the connection for `caller` and who acts: OAuth connections need `identifier`;
    /// on keypair connections it is only recorded (audit).
    pub fn open(
        state: &'a AppState,
        caller: &ApiKeyRecord,
        connection_name: &str,
        identifier: Option<&str>,
    ) -> Result<Self, AppError> {
        let connection = crate::proxy::access::usable_connection(state, caller, connection_name)?;
        let principal = match (connection.kind, identifier) {
            (ConnectionKind::Keypair, _) => Principal::Service,
            (ConnectionKind::Oauth, Some(id)) => {
                if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
                    return Err(AppError::new(
                        ErrorCode::InvalidRequest,
                        "identifier must be 1-256 printable characters",
                    ));
                }
                Principal::User(id.to_owned())
            }
            (ConnectionKind::Oauth, None) => {
                return Err(AppError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "{connection_name} is an OAuth connection: identifier (the end user) is \
                         required"
                    ),
                ))
            }
        };
        let upstream = Upstream::parse(&connection.base_url).map_err(AppError::internal)?;
        let client = state.sql_api.with_upstream(upstream);
        let end_user = match &principal {
            Principal::User(identifier) => Some(identifier.as_str()),
            Principal::Service => None,
        };
        let owner = state
            .statement_owners
            .owner(&caller.id, &connection.name, end_user);
        Ok(Self {
            state,
            connection,
            principal,
            client,
            execution_id: None,
            owner,
        })
    }

    /// `Ok` when this caller submitted `handle` (through a tool or the proxy); otherwise 404
    /// `statement_not_found`, before anything goes to Snowflake (TR-11).
    pub fn claim(&self, handle: &StatementHandle) -> Result<(), AppError> {
        self.state
            .statement_owners
            .claim(handle.as_str(), &self.owner)
    }

    /// Records this caller as the owner of `handle`; `more_to_fetch` when the caller will come
    /// back for it (still running, or partitions left).
    fn remember(&self, handle: &StatementHandle, more_to_fetch: bool) {
        let keep = Keep::when_coming_back(more_to_fetch);
        self.state
            .statement_owners
            .remember(handle.as_str(), self.owner, keep);
    }

    /// Uses `id` as the `requestId` of statements submitted without one, so the tool
    /// execution and the Snowflake request can be matched.
    pub fn with_execution_id(mut self, id: uuid::Uuid) -> Self {
        self.execution_id = Some(id);
        self
    }

    async fn credential(
        &self,
        stale: Option<&AccessToken>,
    ) -> Result<(Credential, Option<AccessToken>), AppError> {
        match &self.principal {
            Principal::Service => {
                let jwt = self
                    .state
                    .connections
                    .jwt(&self.connection)
                    .await
                    .map_err(map_error)?;
                let token = SecretString::from(jwt.token.expose_secret().to_owned());
                Ok((Credential::KeypairJwt(token), None))
            }
            Principal::User(identifier) => {
                let tokens = self.state.oauth.tokens();
                let token = match stale {
                    None => tokens.access_token(&self.connection, identifier).await,
                    Some(stale) => {
                        tracing::info!(connection = %self.connection.name, "upstream 401: refreshing the access token once");
                        tokens
                            .force_refresh(&self.connection, identifier, stale)
                            .await
                    }
                }
                .map_err(oauth_error)?;
                Ok((token.credential(), Some(token)))
            }
        }
    }

    /// Runs `op` with the current credential; for an OAuth user, once more with a refreshed
    /// token when Snowflake says the token expired.
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, AppError>
    where
        F: Fn(SqlApiClient, Credential) -> Fut,
        Fut: Future<Output = Result<T, SnowflakeError>>,
    {
        let (credential, token) = self.credential(None).await?;
        match op(self.client.clone(), credential).await {
            Err(err) if err.is_auth_expired() && token.is_some() => {
                let (fresh, _) = self.credential(token.as_ref()).await?;
                op(self.client.clone(), fresh)
                    .await
                    .map_err(|e| self.snowflake_error(e))
            }
            other => other.map_err(|e| self.snowflake_error(e)),
        }
    }

    /// Fills the connection's defaults into `request` where the tool left them out.
    pub fn with_defaults(&self, mut request: StatementRequest) -> StatementRequest {
        let d = &self.connection.defaults;
        for (slot, default) in [
            (&mut request.role, &d.role),
            (&mut request.warehouse, &d.warehouse),
            (&mut request.database, &d.database),
            (&mut request.schema, &d.schema),
        ] {
            if slot.is_none() {
                slot.clone_from(default);
            }
        }
        request
    }

    /// Submits `request` and, unless asynchronous, waits up to [`WAIT`] and returns the typed
    /// result (or `running` with the handle).
    pub async fn run(
        &self,
        request: StatementRequest,
        options: SubmitOptions,
        decode: DecodeOptions,
    ) -> Result<Value, AppError> {
        let request = self.with_defaults(request);
        let options = SubmitOptions {
            request_id: Some(
                options
                    .request_id
                    .or(self.execution_id.map(RequestId::from))
                    .unwrap_or_else(RequestId::new_v4),
            ),
            ..options
        };
        let submitted = self
            .call(|client, credential| {
                let (request, options) = (&request, &options);
                async move {
                    let submitted = client.submit(&credential, request, options).await;
                    // A failed statement's handle is its caller's to look up again.
                    if let Some(handle) =
                        submitted.as_ref().err().and_then(|e| e.statement_handle())
                    {
                        self.remember(handle, false);
                    }
                    submitted
                }
            })
            .await?;
        let handle = match submitted {
            Submitted::Done(result) => {
                self.remember(&result.statement_handle, result.partitions().len() > 1);
                return self.follow(*result, decode).await;
            }
            Submitted::Running { handle, .. } => {
                self.remember(&handle, true);
                if options.asynchronous {
                    return Ok(running(&handle, "submitted asynchronously"));
                }
                handle
            }
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        let waited = self
            .call(|client, credential| {
                let handle = &handle;
                async move {
                    match client.wait(&credential, handle, deadline).await {
                        Ok(result) => Ok(Some(result)),
                        Err(SnowflakeError::StillRunning { .. }) => Ok(None),
                        Err(other) => Err(other),
                    }
                }
            })
            .await?;
        match waited {
            Some(result) => self.follow(result, decode).await,
            None => Ok(running(&handle, "still running after the tool's wait")),
        }
    }

    /// The statement's status: the typed result when done, `running` otherwise.
    pub async fn status(
        &self,
        handle: &StatementHandle,
        request_id: Option<RequestId>,
        decode: DecodeOptions,
    ) -> Result<Value, AppError> {
        match self.status_raw(handle, request_id).await? {
            Submitted::Done(result) => self.follow(*result, decode).await,
            Submitted::Running { .. } => Ok(running(handle, "still running")),
        }
    }

    /// The raw status answer.
    pub async fn status_raw(
        &self,
        handle: &StatementHandle,
        request_id: Option<RequestId>,
    ) -> Result<Submitted, AppError> {
        self.call(|client, credential| async move {
            client.status_for(&credential, handle, request_id).await
        })
        .await
    }

    /// Partition `n` of a finished result whose partition 0 (and metadata) is `first`.
    pub async fn partition(
        &self,
        first: ResultSet,
        n: usize,
        decode: DecodeOptions,
    ) -> Result<Value, AppError> {
        let total = first.partitions().len().max(1);
        if n >= total {
            return Err(super::input_error(
                "partition",
                format!(
                    "the result has {total} partition(s): use 0 to {}",
                    total - 1
                ),
            ));
        }
        let data = if n == 0 {
            first.data.clone()
        } else {
            let handle = &first.statement_handle;
            self.call(
                |client, credential| async move { client.partition(&credential, handle, n).await },
            )
            .await?
        };
        let mut out = typed(&first, &data, decode)?;
        out["partition"] = json!(n);
        out["partitions"] = json!({"total": total, "returned": 1});
        Ok(out)
    }

    /// Decodes `first` and appends partitions 1.. while the rows stay within [`ROW_CAP`].
    pub async fn follow(&self, first: ResultSet, decode: DecodeOptions) -> Result<Value, AppError> {
        let counts: Vec<u64> = first.partitions().iter().map(|p| p.row_count).collect();
        let total = counts.len().max(1);
        let mut data = first.data.clone();
        let mut next = None;
        for (n, &count) in counts.iter().enumerate().skip(1) {
            if data.len() as u64 + count > ROW_CAP as u64 {
                next = Some(n);
                break;
            }
            let handle = &first.statement_handle;
            let rows =
                self.call(|client, credential| async move {
                    client.partition(&credential, handle, n).await
                })
                .await?;
            data.extend(rows);
        }
        let mut out = typed(&first, &data, decode)?;
        let returned = next.unwrap_or(total);
        out["partitions"] = json!({"total": total, "returned": returned});
        out["truncated"] = json!(next.is_some());
        if let Some(n) = next {
            out["next_partition"] = json!(n);
            out["message"] = json!(format!(
                "stopped after {} rows (the tool's cap is {ROW_CAP}): partitions {n} to {} are \
                 not included; fetch them with snowflake_get_partition and statement_handle {}",
                data.len(),
                total - 1,
                first.statement_handle
            ));
        }
        Ok(out)
    }

    /// Maps a SQL API failure to the API's error codes.
    pub fn snowflake_error(&self, err: SnowflakeError) -> AppError {
        snowflake_error(&self.connection, err)
    }
}

/// `{status: "running", statement_handle, message}`.
fn running(handle: &StatementHandle, why: &str) -> Value {
    json!({
        "status": "running",
        "statement_handle": handle,
        "message": format!(
            "{why}; poll with snowflake_get_statement_status or stop it with \
             snowflake_cancel_statement"
        ),
    })
}

/// The typed result of `first`'s metadata over `data`.
fn typed(
    first: &ResultSet,
    data: &[crate::snowflake::Row],
    options: DecodeOptions,
) -> Result<Value, AppError> {
    let row_type = first.columns();
    let (columns, keys) = decode::columns(row_type);
    let rows = decode::rows(row_type, &keys, data, options)
        .map_err(|e| AppError::new(ErrorCode::UpstreamUnavailable, e.to_string()))?;
    let mut out = json!({
        "status": "succeeded",
        "columns": columns,
        "rows": rows,
        "num_rows": data.len(),
        "total_rows": first.result_set_meta_data.as_ref().and_then(|m| m.num_rows),
        "statement_handle": first.statement_handle,
        "truncated": false,
    });
    if let Some(stats) = &first.stats {
        out["stats"] = json!({
            "num_rows_inserted": stats.num_rows_inserted,
            "num_rows_updated": stats.num_rows_updated,
            "num_rows_deleted": stats.num_rows_deleted,
            "num_duplicate_rows_updated": stats.num_duplicate_rows_updated,
        });
    }
    Ok(out)
}

/// Maps a SQL API failure: statement errors → 422 `statement_failed` (408 →
/// `statement_timeout`), refused credentials → `snowflake_auth_failed` (with the connection
/// test's hint), 429 → `rate_limited`, the rest → `upstream_unavailable`.
pub fn snowflake_error(connection: &Connection, err: SnowflakeError) -> AppError {
    match &err {
        SnowflakeError::Statement {
            status: 408,
            message,
            ..
        } => AppError::new(
            ErrorCode::StatementTimeout,
            format!("the statement exceeded its timeout and was cancelled: {message}"),
        ),
        SnowflakeError::Statement {
            code,
            sql_state,
            message,
            statement_handle,
            ..
        } => {
            let mut text = format!(
                "Snowflake error {} (SQLSTATE {}): {message}",
                code.as_deref().unwrap_or("?"),
                sql_state.as_deref().unwrap_or("?")
            );
            if let Some(handle) = statement_handle {
                text.push_str(&format!(" [statement_handle {handle}]"));
            }
            AppError::new(ErrorCode::StatementFailed, text)
        }
        SnowflakeError::Rejected {
            status,
            code,
            message,
        } => AppError::new(
            ErrorCode::StatementFailed,
            format!(
                "Snowflake rejected the request ({status}, code {}): {message}",
                code.as_deref().unwrap_or("?")
            ),
        ),
        SnowflakeError::Auth {
            status,
            code,
            message,
        } => {
            let hint = match connection.kind {
                ConnectionKind::Keypair => crate::connections::probe::hint_for(&err, connection),
                ConnectionKind::Oauth => Some(
                    "the end user's token was refused even after a refresh; the user may need \
                     to authorize again (create a new authorization link)"
                        .to_owned(),
                ),
            };
            let mut text = format!(
                "Snowflake refused the credential ({status}, code {}): {message}",
                code.as_deref().unwrap_or("?")
            );
            if let Some(hint) = hint {
                text.push_str("; ");
                text.push_str(&hint);
            }
            AppError::new(ErrorCode::SnowflakeAuthFailed, text)
        }
        SnowflakeError::RateLimited { .. } => {
            AppError::new(ErrorCode::RateLimited, err.to_string())
        }
        SnowflakeError::Timeout => AppError::new(ErrorCode::StatementTimeout, err.to_string()),
        SnowflakeError::Invalid(_) => AppError::internal(err),
        _ => AppError::new(ErrorCode::UpstreamUnavailable, err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::{ConnectionStatus, Defaults};

    fn connection(kind: ConnectionKind) -> Connection {
        Connection {
            name: "c".into(),
            kind,
            account: "xy12345".into(),
            account_claim: "XY12345".into(),
            base_url: "https://xy12345.snowflakecomputing.com".into(),
            defaults: Defaults::default(),
            status: ConnectionStatus::Connected,
            keypair: None,
            oauth: None,
            last_test: None,
            status_before_disable: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn snowflake_failures_map_to_the_api_codes() {
        let handle = StatementHandle::parse("01b03285-0001-dea1-003d-b087000ca9be").unwrap();
        let statement = |status| SnowflakeError::Statement {
            status,
            code: Some("000904".into()),
            sql_state: Some("42000".into()),
            message: "invalid identifier 'NOPE'".into(),
            statement_handle: Some(handle.clone()),
        };
        let c = connection(ConnectionKind::Keypair);
        let cases = [
            (statement(422), ErrorCode::StatementFailed),
            (statement(408), ErrorCode::StatementTimeout),
            (
                SnowflakeError::Auth {
                    status: 401,
                    code: Some("390144".into()),
                    message: "JWT token is invalid.".into(),
                },
                ErrorCode::SnowflakeAuthFailed,
            ),
            (
                SnowflakeError::Rejected {
                    status: 400,
                    code: Some("390142".into()),
                    message: "Incoming request does not contain a valid payload.".into(),
                },
                ErrorCode::StatementFailed,
            ),
            (
                SnowflakeError::RateLimited { retry_after: None },
                ErrorCode::RateLimited,
            ),
            (
                SnowflakeError::Unavailable { status: 503 },
                ErrorCode::UpstreamUnavailable,
            ),
            (SnowflakeError::Timeout, ErrorCode::StatementTimeout),
            (
                SnowflakeError::Protocol("bad body".into()),
                ErrorCode::UpstreamUnavailable,
            ),
            (SnowflakeError::Invalid("x"), ErrorCode::Internal),
        ];
        for (err, want) in cases {
            let shown = err.to_string();
            let mapped = snowflake_error(&c, err);
            assert_eq!(mapped.code(), want, "{shown}");
            assert!(!mapped.message().contains("Some("), "{}", mapped.message());
        }
        let failed = snowflake_error(&c, statement(422));
        assert_eq!(
            failed.message(),
            "Snowflake error 000904 (SQLSTATE 42000): invalid identifier 'NOPE' \
             [statement_handle 01b03285-0001-dea1-003d-b087000ca9be]"
        );
        let oauth = snowflake_error(
            &connection(ConnectionKind::Oauth),
            SnowflakeError::Auth {
                status: 401,
                code: Some("390303".into()),
                message: "Invalid OAuth access token.".into(),
            },
        );
        assert!(
            oauth.message().contains("authorize again"),
            "{}",
            oauth.message()
        );
    }
}
