//! The request middleware: assigns the request id, logs one line per request (method, route
//! pattern, status, latency, request id — never the query string, headers or body, because
//! OAuth codes and states travel in query strings), and adds security headers.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::request_id;

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `middleware::from_fn` entry point; wraps every route.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id::accept_or_generate(
        req.headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let method = req.method().clone();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
    );
    let result = request_id::scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    let mut res = match result {
        Ok(res) => res,
        Err(err) => {
            let status = err.as_response_error().status_code().as_u16();
            tracing::warn!(parent: &span, status, "request failed outside a handler");
            return Err(err);
        }
    };
    let status = res.status().as_u16();
    let latency = started.elapsed().as_micros() as u64;
    tracing::info!(parent: &span, status, latency_us = latency, "request");
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}
