//! `/v1/api-keys`: create, list and revoke API keys (admin only).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_keys::{ApiKeyError, ApiKeyRecord, KeyDefaults, Scope};
use crate::error::{AppError, ErrorCode};
use crate::http::auth::AdminCaller;
use crate::state::AppState;

/// Body of `POST /v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Human label, 1-100 characters.
    pub name: String,
    /// `admin` or `service`.
    pub scope: Scope,
    /// Limit the key to these connections (default: all).
    #[serde(default)]
    pub connections: Vec<String>,
    /// Connection used when a request names none (MCP: no `X-Icebroker-Connection` header).
    #[serde(default)]
    pub default_connection: Option<String>,
    /// End-user identifier used when a request names none (MCP: no `X-Icebroker-Identifier`).
    #[serde(default)]
    pub default_identifier: Option<String>,
}

/// Answer of `POST /v1/api-keys`: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The stored metadata.
    pub api_key: ApiKeyRecord,
    /// The key itself. Store it now; it cannot be shown again.
    pub key: String,
}

/// Answer of `GET /v1/api-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Every key, oldest first (metadata only).
    pub api_keys: Vec<ApiKeyRecord>,
}

/// Lists API keys.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("api_key" = [])),
    responses((status = 200, body = ApiKeyList),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope),
              (status = 403, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_api_keys(_caller: AdminCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ApiKeyList {
        api_keys: state.api_keys.list(),
    })
}

/// Creates an API key and shows it once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("api_key" = [])),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey),
              (status = 400, body = crate::routes::openapi::ErrorEnvelope),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope),
              (status = 403, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_api_key(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let (record, key) = state
        .api_keys
        .create_with_defaults(
            &body.name,
            body.scope,
            body.connections,
            KeyDefaults {
                connection: body.default_connection,
                identifier: body.default_identifier,
            },
        )
        .await
        .map_err(map_error)?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(CreatedApiKey {
            api_key: record,
            key: key.expose().to_owned(),
        }))
}

/// Revokes an API key; it stops working immediately.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "The key's id (`key_…`)")),
    responses((status = 200, body = ApiKeyRecord),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn delete_api_key(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let record = state.api_keys.revoke(&id).await.map_err(map_error)?;
    Ok(HttpResponse::Ok().json(record))
}

fn map_error(err: ApiKeyError) -> AppError {
    match err {
        ApiKeyError::Invalid(message) => AppError::new(ErrorCode::InvalidRequest, message),
        ApiKeyError::NotFound(id) => AppError::new(
            ErrorCode::ApiKeyNotFound,
            format!("no API key with id {id}"),
        ),
        other => AppError::internal(other),
    }
}
