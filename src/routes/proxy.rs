//! The SQL API proxy routes: `/v1/connections/{name}/api/v2/statements…` for keypair
//! connections. Only the three SQL API path shapes exist here; anything else is 404 before any
//! upstream contact (SECURITY.md PX-2).

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use secrecy::ExposeSecret;

use crate::connections::{Connection, ConnectionKind};
use crate::error::{AppError, ErrorCode};
use crate::http::auth::ServiceCaller;
use crate::proxy::{
    parse_query, prepare_body, send, stream_back, Forward, ForwardError, Operation, ProxyClient,
    UpstreamAuth,
};
use crate::routes::connections::map_error;
use crate::snowflake::StatementHandle;
use crate::state::AppState;

/// Submits a statement through a keypair connection.
#[utoipa::path(post, path = "/v1/connections/{name}/api/v2/statements", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path)),
    request_body(content = serde_json::Value, description = "Snowflake SQL API statement body"),
    responses((status = 200, description = "Snowflake's ResultSet, streamed unchanged"),
              (status = 202, description = "Still running; poll the status URL through the proxy"),
              (status = 422, description = "Snowflake's error body, unchanged"),
              (status = 502, body = crate::routes::openapi::ErrorEnvelope),
              (status = 504, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_statements(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    client: web::Data<ProxyClient>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let body = read_capped(payload, &req, state.proxy_max_body).await?;
    forward(
        &state,
        &client,
        &caller,
        &name,
        Operation::Submit,
        None,
        &req,
        Some(body),
    )
    .await
}

/// Statement status or a result partition through a keypair connection.
#[utoipa::path(get, path = "/v1/connections/{name}/api/v2/statements/{handle}", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's ResultSet or partition, streamed unchanged")))]
pub async fn get_statement(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    client: web::Data<ProxyClient>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (name, handle) = path.into_inner();
    forward(
        &state,
        &client,
        &caller,
        &name,
        Operation::Status,
        Some(&handle),
        &req,
        None,
    )
    .await
}

/// Cancels a statement through a keypair connection.
#[utoipa::path(post, path = "/v1/connections/{name}/api/v2/statements/{handle}/cancel", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's CancelStatus, unchanged")))]
pub async fn post_cancel(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    client: web::Data<ProxyClient>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (name, handle) = path.into_inner();
    forward(
        &state,
        &client,
        &caller,
        &name,
        Operation::Cancel,
        Some(&handle),
        &req,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &AppState,
    client: &ProxyClient,
    caller: &ServiceCaller,
    name: &str,
    operation: Operation,
    handle: Option<&str>,
    req: &HttpRequest,
    body: Option<Bytes>,
) -> Result<HttpResponse, AppError> {
    let connection = authorize(state, caller, name)?;
    if connection.kind != ConnectionKind::Keypair {
        return Err(AppError::new(
            ErrorCode::WrongConnectionKind,
            format!(
                "{name} is an OAuth connection: use /v1/connections/{name}/accounts/{{identifier}}/api/v2/…"
            ),
        ));
    }
    let handle = match handle {
        Some(h) => Some(StatementHandle::parse(h).map_err(|_| not_found())?),
        None => None,
    };
    let query = parse_query(req.query_string(), operation)
        .map_err(|e| AppError::new(ErrorCode::InvalidRequest, e.0))?;
    let body = match body {
        Some(raw) => Some(Bytes::from(
            prepare_body(&raw, &connection.defaults)
                .map_err(|e| AppError::new(ErrorCode::InvalidRequest, e.0))?,
        )),
        None => None,
    };
    let jwt = state
        .connections
        .jwt(&connection)
        .await
        .map_err(map_error)?;
    let auth = UpstreamAuth::bearer(jwt.token.expose_secret(), "KEYPAIR_JWT")
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("signed JWT is not a header value")))?;
    let accept_gzip = req
        .headers()
        .get(actix_web::http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let fwd = Forward {
        base_url: &connection.base_url,
        operation,
        handle: handle.as_ref(),
        query: &query,
        body,
        accept_gzip,
    };
    let answer = send(client, &fwd, &auth, false)
        .await
        .map_err(upstream_error)?;
    if answer.response.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(jwt_rejected(&connection, answer.response).await);
    }
    Ok(stream_back(answer.response))
}

/// The connection, if it exists, is enabled, and the caller's key may use it.
fn authorize(
    state: &AppState,
    caller: &ServiceCaller,
    name: &str,
) -> Result<std::sync::Arc<Connection>, AppError> {
    if !caller.0.allows_connection(name) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            format!("this API key may not use connection {name:?}"),
        ));
    }
    state.connections.usable(name).map_err(map_error)
}

fn not_found() -> AppError {
    AppError::new(
        ErrorCode::RouteNotFound,
        "no such route; statement handles look like 01b03285-0001-dea1-003d-b087000ca9be",
    )
}

async fn jwt_rejected(connection: &Connection, response: reqwest::Response) -> AppError {
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    let error = crate::snowflake::SnowflakeError::Auth {
        status: 401,
        code: Some(code.clone()),
        message: message.clone(),
    };
    let hint = crate::connections::probe::hint_for(&error, connection)
        .unwrap_or_else(|| "test the connection: POST /v1/connections/{name}/test".to_owned());
    tracing::warn!(connection = %connection.name, snowflake_code = %code, "Snowflake rejected the keypair JWT");
    AppError::new(
        ErrorCode::SnowflakeAuthFailed,
        format!("Snowflake rejected the connection's JWT ({code}: {message}); {hint}"),
    )
}

fn upstream_error(err: ForwardError) -> AppError {
    let code = match err {
        ForwardError::Timeout => ErrorCode::StatementTimeout,
        _ => ErrorCode::UpstreamUnavailable,
    };
    AppError::new(code, err.to_string())
}

/// Reads a request body up to `cap` bytes; more is 413 without reading further.
async fn read_capped(
    mut payload: web::Payload,
    req: &HttpRequest,
    cap: usize,
) -> Result<Bytes, AppError> {
    let too_large = || {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the statement body is larger than the {cap}-byte limit"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(cap));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::new(
                ErrorCode::InvalidRequest,
                format!("could not read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
