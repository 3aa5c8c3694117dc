//! `GET /metrics`: the Prometheus/OpenMetrics exposition. Open unless `metrics.token` is set;
//! then it needs `Authorization: Bearer <token>` (compared in constant time). No series carries
//! an identifier, token or statement text (see `crate::metrics`).

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::{AppError, ErrorCode};
use crate::metrics::render::{render, CONTENT_TYPE};
use crate::state::AppState;

/// Scrapes the broker's metrics.
#[utoipa::path(get, path = "/metrics", tag = "health",
    security((), ("metrics_token" = [])),
    responses((status = 200, content_type = "application/openmetrics-text",
               description = "Every series in the OpenMetrics text format"),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope,
               description = "metrics.token is set and the request lacks it")))]
pub async fn get_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = state.metrics.token() {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        let ok: bool = presented
            .as_bytes()
            .ct_eq(token.expose_secret().as_bytes())
            .into();
        if !ok {
            return Err(AppError::new(
                ErrorCode::Unauthorized,
                "the metrics endpoint needs `Authorization: Bearer <metrics.token>`",
            ));
        }
    }
    let body = render(&state).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("content-type", CONTENT_TYPE))
        .insert_header(("cache-control", "no-store"))
        .body(body))
}
