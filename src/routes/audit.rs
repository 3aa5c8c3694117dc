//! `GET /v1/audit`: the audit log of proxied calls (admin).

use actix_web::{web, HttpResponse};

use crate::audit::{AuditPage, AuditQuery};
use crate::error::AppError;
use crate::http::auth::AdminCaller;
use crate::state::AppState;

/// Audit entries, oldest first, filtered and paged (`next` is the cursor for `after`).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("api_key" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_audit(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let page = state.audit.query(&query).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(page))
}
