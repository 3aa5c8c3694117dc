//! Caller authentication: extractors that admit a request only with a valid API key of the
//! right scope. Handlers that take an [`AdminCaller`] cannot run for anyone else.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use crate::api_keys::{ApiKeyRecord, Scope};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// A caller holding a valid admin key.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Arc<ApiKeyRecord>);

/// A caller holding any valid key (admin or service).
#[derive(Debug, Clone)]
pub struct ServiceCaller(pub Arc<ApiKeyRecord>);

fn authenticate(req: &HttpRequest) -> Result<Arc<ApiKeyRecord>, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    state.api_keys.authenticate(presented).map_err(|failure| {
        tracing::info!(reason = ?failure, "api key rejected");
        unauthorized()
    })
}

fn unauthorized() -> AppError {
    AppError::new(
        ErrorCode::Unauthorized,
        "missing, unknown or revoked API key; send `Authorization: Bearer ibk_…`",
    )
}

impl FromRequest for AdminCaller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|record| match record.scope {
            Scope::Admin => Ok(AdminCaller(record)),
            Scope::Service => Err(AppError::new(
                ErrorCode::Forbidden,
                "this route needs an admin API key",
            )),
        }))
    }
}

impl FromRequest for ServiceCaller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(ServiceCaller))
    }
}
