//! Extractor configuration: malformed JSON, query strings and paths, and unmatched routes and
//! methods, all answer with the JSON error contract instead of actix's plain-text defaults.

use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{error_response, ErrorCode};

/// JSON body settings: size limit and contract-shaped errors.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let (code, message) = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => (
                    ErrorCode::PayloadTooLarge,
                    format!("request body is larger than the {limit}-byte limit"),
                ),
                JsonPayloadError::ContentType => (
                    ErrorCode::UnsupportedMediaType,
                    "send the body as Content-Type: application/json".to_owned(),
                ),
                JsonPayloadError::Deserialize(e) => {
                    (ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
                }
                JsonPayloadError::Payload(e) if super::body_timeout::is_timeout(e) => {
                    let err = super::body_timeout::read_error(e);
                    (err.code(), err.message().to_owned())
                }
                JsonPayloadError::Serialize(_) => {
                    (ErrorCode::Internal, "could not encode the response".into())
                }
                _ => (
                    ErrorCode::InvalidJson,
                    "could not read the JSON request body".to_owned(),
                ),
            };
            InternalError::from_response(err, error_response(code, &message)).into()
        })
}

/// Query-string settings: a bad query string is `invalid_request` naming the problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        let message = format!("invalid query string: {err}");
        InternalError::from_response(err, error_response(ErrorCode::InvalidRequest, &message))
            .into()
    })
}

/// Path-parameter settings.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        let message = format!("invalid path parameter: {err}");
        InternalError::from_response(err, error_response(ErrorCode::InvalidRequest, &message))
            .into()
    })
}

/// Answer for paths no route matches.
pub async fn route_not_found() -> HttpResponse {
    error_response(
        ErrorCode::RouteNotFound,
        "no such route; see /openapi.json for the API",
    )
}

/// Answer for a known path with a method it does not support.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    error_response(
        ErrorCode::MethodNotAllowed,
        &format!("{} is not supported on this route", req.method()),
    )
}
