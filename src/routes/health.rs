//! Liveness and readiness probes. They expose no data and need no key.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up")))]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The vault is open and its store answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready to serve"),
              (status = 503, description = "The store does not answer", body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.vault.store().len("meta").map_err(|e| {
        tracing::error!(error = %e, "readiness check failed");
        AppError::new(
            ErrorCode::ServiceUnavailable,
            "the vault store is not answering",
        )
    })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
