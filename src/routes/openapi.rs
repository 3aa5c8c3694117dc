//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/openapi.json`.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The error body every failure uses.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorEnvelope`].
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (see the README's table).
    pub code: String,
    /// `invalid_request`, `auth`, `upstream` or `internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong and how to fix it.
    pub message: String,
    /// Quote this when reporting a problem; it is also in `x-request-id`.
    pub request_id: String,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "icebroker", description = "OAuth-brokering reverse proxy for Snowflake"),
    paths(
        crate::routes::health::get_healthz,
        crate::routes::health::get_readyz,
        crate::routes::api_keys::get_api_keys,
        crate::routes::api_keys::post_api_key,
        crate::routes::api_keys::delete_api_key,
        crate::routes::connections::post_connection,
        crate::routes::connections::get_connections,
        crate::routes::connections::get_connection,
        crate::routes::connections::patch_connection,
        crate::routes::connections::delete_connection,
        crate::routes::connections::post_disable,
        crate::routes::connections::post_enable,
        crate::routes::connections::post_rotate_key,
        crate::routes::connections::post_test,
        crate::routes::connections::post_rotate_key_complete,
        crate::routes::oauth::post_authorization_link,
        crate::routes::oauth::get_connect,
        crate::routes::oauth::get_oauth_callback,
        crate::routes::oauth_accounts::get_accounts,
        crate::routes::oauth_accounts::get_account,
        crate::routes::oauth_accounts::delete_account,
        crate::routes::proxy::post_statements,
        crate::routes::proxy::get_statement,
        crate::routes::proxy::post_cancel,
        crate::routes::proxy::post_user_statements,
        crate::routes::proxy::get_user_statement,
        crate::routes::proxy::post_user_cancel,
        crate::routes::audit::get_audit,
        crate::routes::mcp::post_mcp,
        crate::routes::proxy::post_action_request,
        crate::routes::tools::get_tools,
        crate::routes::tools::post_execute,
        crate::routes::metrics::get_metrics,
        get_openapi,
    ),
    components(schemas(ErrorEnvelope, ErrorDetail)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Serves the document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This document")))]
pub async fn get_openapi() -> HttpResponse {
    static DOCUMENT: LazyLock<String> =
        LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
