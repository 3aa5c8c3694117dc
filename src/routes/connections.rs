//! `/v1/connections`: create, inspect, change, test, rotate and delete connections (admin).

use actix_web::{web, HttpResponse};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::connections::{
    probe, sql, Connection, ConnectionError, ConnectionKind, ConnectionService, ConnectionStatus,
    Defaults, NewKeypair, PublicKeyInfo,
};
use crate::error::{AppError, ErrorCode};
use crate::http::auth::AdminCaller;
use crate::state::AppState;

/// Body of `POST /v1/connections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// Unique slug (a-z, 0-9, `-`, `_`).
    pub name: String,
    /// `keypair` (OAuth connections come with their own issue).
    pub kind: ConnectionKind,
    /// Account identifier in any form Snowflake shows: `xy12345`, `xy12345.us-east-2.aws`,
    /// `myorg-myaccount`, or the account URL.
    pub account: String,
    /// Host override (PrivateLink or non-standard); default derived from `account`.
    #[serde(default)]
    pub host: Option<String>,
    /// The Snowflake user's LOGIN_NAME (keypair).
    #[serde(default)]
    pub user: Option<String>,
    /// Default role.
    #[serde(default)]
    pub role: Option<String>,
    /// Default warehouse.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Default database.
    #[serde(default)]
    pub database: Option<String>,
    /// Default schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// A PEM private key to import (PKCS#8, encrypted PKCS#8 or PKCS#1) instead of generating
    /// one. Write-only: never returned.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub private_key_pem: Option<SecretString>,
    /// Passphrase of an encrypted PKCS#8 key. Write-only.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub private_key_passphrase: Option<SecretString>,
    /// OAuth: `OAUTH_CLIENT_ID` of the security integration.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OAuth: `OAUTH_CLIENT_SECRET`, exactly as `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS` shows it.
    /// Write-only: sealed, never returned.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// OAuth scopes (default `refresh_token`; add `session:role:<ROLE>`; privileged roles are
    /// refused).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// OAuth: exact URLs the browser may return to after the flow.
    #[serde(default)]
    pub allowed_return_urls: Vec<String>,
    /// OAuth: `/oauth/authorize` override (https; loopback http when allowed).
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// OAuth: `/oauth/token-request` override (https; loopback http when allowed).
    #[serde(default)]
    pub token_url: Option<String>,
    /// OAuth: PEM file of a private CA trusted for the token endpoint.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ca_file: Option<std::path::PathBuf>,
    /// OAuth: ask Snowflake for single-use (rotating) refresh tokens.
    #[serde(default)]
    pub single_use_refresh_tokens: bool,
    /// OAuth: security integration name (default `ICEBROKER_<NAME>`).
    #[serde(default)]
    pub integration: Option<String>,
    /// OAuth: the integration's `OAUTH_REFRESH_TOKEN_VALIDITY` in seconds (default 7776000).
    #[serde(default)]
    pub refresh_token_validity_secs: Option<u64>,
}

/// Body of `PATCH /v1/connections/{name}`: fields given replace, `""` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchConnectionRequest {
    /// Default role.
    #[serde(default)]
    pub role: Option<String>,
    /// Default warehouse.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Default database.
    #[serde(default)]
    pub database: Option<String>,
    /// Default schema.
    #[serde(default)]
    pub schema: Option<String>,
}

/// What an admin must run in Snowflake for a key.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollment {
    /// Base64 SubjectPublicKeyInfo (the `RSA_PUBLIC_KEY` value).
    pub public_key: String,
    /// `SHA256:…` fingerprint; `DESC USER` shows the same value.
    pub fingerprint: String,
    /// The exact statement to run.
    pub alter_user_sql: String,
    /// How to check it.
    pub desc_user_sql: String,
    /// Human instructions.
    pub instructions: String,
}

/// A connection and, where relevant, what to run in Snowflake next.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionResponse {
    /// The connection (never secrets).
    pub connection: Connection,
    /// Present while the active key may not be enrolled yet, and during a rotation (for the
    /// new key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<Enrollment>,
    /// Statements to run after a rotation completed or a connection was deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleanup_sql: Vec<String>,
    /// OAuth connections: the redirect URI and the SQL that creates the security integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_setup: Option<crate::oauth::OAuthSetup>,
}

/// `GET /v1/connections`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// All connections by name.
    pub connections: Vec<Connection>,
}

fn enrollment(connection: &Connection, key: &PublicKeyInfo) -> Enrollment {
    let (alter_user_sql, desc_user_sql) = ConnectionService::enrollment_sql(connection, key);
    let user = connection
        .keypair
        .as_ref()
        .map(|k| k.user.as_str())
        .unwrap_or_default();
    let property = if key.slot == 2 {
        "RSA_PUBLIC_KEY_2_FP"
    } else {
        "RSA_PUBLIC_KEY_FP"
    };
    Enrollment {
        public_key: key.public_key.clone(),
        fingerprint: key.fingerprint.clone(),
        alter_user_sql,
        desc_user_sql,
        instructions: format!(
            "Run alter_user_sql in Snowflake as a role that may modify the user (e.g. SECURITYADMIN). \
             The statement uses the user's NAME; icebroker signs for LOGIN_NAME {user:?}. If the two \
             differ (DESC USER shows both), replace the quoted name with NAME. Then check that \
             {property} in DESC USER equals {fp}, and call POST /v1/connections/{name}/test.",
            fp = key.fingerprint,
            name = connection.name,
        ),
    }
}

fn respond(connection: &Connection, status: actix_web::http::StatusCode) -> HttpResponse {
    let key = connection.keypair.as_ref().and_then(|k| {
        k.next
            .as_ref()
            .or((connection.status == ConnectionStatus::PendingEnrollment
                || connection.status == ConnectionStatus::Error)
                .then_some(&k.active))
    });
    HttpResponse::build(status).json(ConnectionResponse {
        enrollment: key.map(|k| enrollment(connection, k)),
        connection: connection.clone(),
        cleanup_sql: Vec::new(),
        oauth_setup: crate::oauth::OAuthService::setup(connection),
    })
}

/// Creates a connection.
#[utoipa::path(post, path = "/v1/connections", tag = "connections", security(("api_key" = [])),
    request_body = CreateConnectionRequest,
    responses((status = 201, body = ConnectionResponse),
              (status = 400, body = crate::routes::openapi::ErrorEnvelope),
              (status = 409, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_connection(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<CreateConnectionRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    if body.kind == ConnectionKind::Oauth {
        let input = crate::routes::oauth::new_oauth(body)?;
        let connection = state.oauth.create_connection(input).await?;
        tracing::info!(connection = %connection.name, "oauth connection created");
        return Ok(respond(&connection, actix_web::http::StatusCode::CREATED));
    }
    let input = new_keypair(body)?;
    let connection = state
        .connections
        .create_keypair(input)
        .await
        .map_err(map_error)?;
    tracing::info!(connection = %connection.name, "keypair connection created");
    Ok(respond(&connection, actix_web::http::StatusCode::CREATED))
}

/// The service input of a keypair `CreateConnectionRequest` (the JSON API and the admin UI's
/// form both create connections through it).
pub fn new_keypair(body: CreateConnectionRequest) -> Result<NewKeypair, AppError> {
    let user = body.user.ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidRequest,
            "user (the Snowflake LOGIN_NAME) is required",
        )
    })?;
    Ok(NewKeypair {
        name: body.name,
        account: body.account,
        host: body.host,
        user,
        defaults: Defaults {
            role: body.role,
            warehouse: body.warehouse,
            database: body.database,
            schema: body.schema,
        },
        private_key_pem: body
            .private_key_pem
            .map(|p| Zeroizing::new(p.expose_secret().to_owned())),
        private_key_passphrase: body
            .private_key_passphrase
            .map(|p| Zeroizing::new(p.expose_secret().to_owned())),
    })
}

/// Lists connections (never secrets).
#[utoipa::path(get, path = "/v1/connections", tag = "connections", security(("api_key" = [])),
    responses((status = 200, body = ConnectionList)))]
pub async fn get_connections(_caller: AdminCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ConnectionList {
        connections: state
            .connections
            .list()
            .iter()
            .map(|c| Connection::clone(c))
            .collect(),
    })
}

/// One connection with its enrollment instructions while pending.
#[utoipa::path(get, path = "/v1/connections/{name}", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_connection(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state.connections.get(&name).map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Changes session defaults.
#[utoipa::path(patch, path = "/v1/connections/{name}", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)), request_body = PatchConnectionRequest,
    responses((status = 200, body = ConnectionResponse),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn patch_connection(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<PatchConnectionRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let patch = Defaults {
        role: body.role,
        warehouse: body.warehouse,
        database: body.database,
        schema: body.schema,
    };
    let connection = state
        .connections
        .patch_defaults(&name, patch)
        .await
        .map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Deletes a connection, destroying its private keys; returns the `UNSET` statements.
#[utoipa::path(delete, path = "/v1/connections/{name}", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn delete_connection(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state.connections.delete(&name).await.map_err(map_error)?;
    if connection.kind == ConnectionKind::Oauth {
        // The end users' tokens and the client secret go with the connection.
        state.oauth.forget_connection(&name).await?;
    }
    let cleanup_sql = connection
        .keypair
        .iter()
        .flat_map(|k| std::iter::once(&k.active).chain(k.next.iter()))
        .map(|key| {
            let user = connection
                .keypair
                .as_ref()
                .map(|k| k.user.to_uppercase())
                .unwrap_or_default();
            sql::unset_public_key(&user, key.slot)
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConnectionResponse {
        connection: Connection::clone(&connection),
        enrollment: None,
        cleanup_sql,
        oauth_setup: None,
    }))
}

/// Disables a connection: every use answers 403 `connection_disabled`.
#[utoipa::path(post, path = "/v1/connections/{name}/disable", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse)))]
pub async fn post_disable(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state
        .connections
        .set_disabled(&name, true)
        .await
        .map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Re-enables a disabled connection.
#[utoipa::path(post, path = "/v1/connections/{name}/enable", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse)))]
pub async fn post_enable(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state
        .connections
        .set_disabled(&name, false)
        .await
        .map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Starts a key rotation: a new key pair for the free `RSA_PUBLIC_KEY[_2]` slot. Signing stays on
/// the old key until `rotate-key/complete`.
#[utoipa::path(post, path = "/v1/connections/{name}/rotate-key", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse)))]
pub async fn post_rotate_key(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state
        .connections
        .start_rotation(&name)
        .await
        .map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Tests the connection with `SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_ACCOUNT(),
/// CURRENT_WAREHOUSE()`: success → `connected`, failure → `error` with Snowflake's code and a hint.
#[utoipa::path(post, path = "/v1/connections/{name}/test", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse, description = "The test ran; see connection.last_test"),
              (status = 403, body = crate::routes::openapi::ErrorEnvelope),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_test(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state.connections.usable(&name).map_err(map_error)?;
    let jwt = state
        .connections
        .jwt(&connection)
        .await
        .map_err(map_error)?;
    let report = probe::run(&state.sql_api, &connection, &jwt, state.clock.now()).await;
    tracing::info!(connection = %connection.name, ok = report.ok, "connection tested");
    let connection = state
        .connections
        .record_test(&name, report)
        .await
        .map_err(map_error)?;
    Ok(respond(&connection, actix_web::http::StatusCode::OK))
}

/// Completes a key rotation after testing the new key: the new key signs from now on, the old
/// one is destroyed, and `cleanup_sql` holds the `UNSET` for the old key's slot.
#[utoipa::path(post, path = "/v1/connections/{name}/rotate-key/complete", tag = "connections", security(("api_key" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionResponse),
              (status = 409, body = crate::routes::openapi::ErrorEnvelope, description = "No rotation, or the new key does not work yet")))]
pub async fn post_rotate_key_complete(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let connection = state.connections.usable(&name).map_err(map_error)?;
    let jwt = state
        .connections
        .next_key_jwt(&connection)
        .await
        .map_err(map_error)?;
    let report = probe::run(&state.sql_api, &connection, &jwt, state.clock.now()).await;
    if !report.ok {
        let detail = report
            .hint
            .or(report.error_message)
            .unwrap_or_else(|| "the test failed".to_owned());
        return Err(AppError::new(
            ErrorCode::RotationTestFailed,
            format!(
                "the new key does not work yet, so icebroker keeps signing with the old one: {detail}"
            ),
        ));
    }
    let (_, retired) = state
        .connections
        .finish_rotation(&name)
        .await
        .map_err(map_error)?;
    let connection = state
        .connections
        .record_test(&name, report)
        .await
        .map_err(map_error)?;
    let user = connection
        .keypair
        .as_ref()
        .map(|k| k.user.to_uppercase())
        .unwrap_or_default();
    tracing::info!(connection = %connection.name, "key rotation completed");
    Ok(HttpResponse::Ok().json(ConnectionResponse {
        connection: Connection::clone(&connection),
        enrollment: None,
        cleanup_sql: vec![sql::unset_public_key(&user, retired.slot)],
        oauth_setup: None,
    }))
}

/// Maps service errors to the API's codes.
pub fn map_error(err: ConnectionError) -> AppError {
    use crate::keypair::KeyError;
    match err {
        ConnectionError::Invalid(m) => AppError::new(ErrorCode::InvalidRequest, m),
        ConnectionError::Key(e) => {
            let code = match e {
                KeyError::NotAKey | KeyError::Invalid(_) => ErrorCode::InvalidPrivateKey,
                KeyError::PublicKeyGiven => ErrorCode::PublicKeyGiven,
                KeyError::PassphraseRequired => ErrorCode::PrivateKeyPassphraseRequired,
                KeyError::WrongPassphrase => ErrorCode::WrongPrivateKeyPassphrase,
                KeyError::TooSmall(_) => ErrorCode::PrivateKeyTooSmall,
                KeyError::Generation => return AppError::internal(e),
            };
            AppError::new(code, e.to_string())
        }
        ConnectionError::NotFound(name) => AppError::new(
            ErrorCode::ConnectionNotFound,
            format!("no connection named {name:?}"),
        ),
        ConnectionError::Exists(name) => AppError::new(
            ErrorCode::ConnectionExists,
            format!("a connection named {name:?} already exists"),
        ),
        ConnectionError::Disabled(name) => AppError::new(
            ErrorCode::ConnectionDisabled,
            format!("connection {name:?} is disabled; an admin can enable it again"),
        ),
        ConnectionError::NotKeypair => AppError::new(
            ErrorCode::WrongConnectionKind,
            "this operation applies to keypair connections only",
        ),
        ConnectionError::NoRotation => AppError::new(
            ErrorCode::NoRotationInProgress,
            "no key rotation is in progress; start one with POST …/rotate-key",
        ),
        other => AppError::internal(other),
    }
}
