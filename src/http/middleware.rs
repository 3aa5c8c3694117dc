//! The request middleware: assigns the request id, logs one line per request (method, route
//! pattern, status, latency, request id — never the query string, headers or body, because
//! OAuth codes and states travel in query strings), and adds security headers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::request_id;

/// Paths remembered per worker before the cache starts over.
const ROUTE_CACHE_CAP: usize = 4096;

thread_local! {
    /// path → route pattern, per worker thread: `match_pattern()` re-runs the router's regex
    /// matching over the whole route map, ~10 % of a proxied request's CPU (BENCHMARKS.md).
    static ROUTES: RefCell<HashMap<String, Rc<str>>> = RefCell::new(HashMap::new());
}

/// The matched route's pattern (e.g. `/v1/connections/{name}/api/v2/statements`), never the
/// concrete path, which may carry identifiers.
fn route_pattern(req: &ServiceRequest) -> Rc<str> {
    let path = req.path();
    if let Some(found) = ROUTES.with(|cache| cache.borrow().get(path).cloned()) {
        return found;
    }
    let pattern: Rc<str> = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned())
        .into();
    ROUTES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= ROUTE_CACHE_CAP {
            cache.clear();
        }
        cache.insert(path.to_owned(), pattern.clone());
    });
    pattern
}

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
    let route = route_pattern(&req);
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
