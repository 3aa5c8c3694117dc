//! The request middleware: assigns the request id, logs one line per request (method, route
//! pattern, status, latency, request id — never the query string, headers or body, because
//! OAuth codes and states travel in query strings), records the request in `/metrics`, puts the
//! body under its read deadline, and adds security headers.
//!
//! This is every request's hot path: metrics recording is a per-worker lookup (no lock, no
//! allocation once a worker has seen a route/method/status) plus relaxed atomic adds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::HttpMessage as _;
use tracing::Instrument;

use super::body_timeout::Deadline;
use super::request_id;
use crate::metrics::{method_label, Histogram, Metrics};
use crate::state::AppState;

/// Paths remembered per worker before the cache starts over.
const ROUTE_CACHE_CAP: usize = 4096;

/// `(metrics instance, method, status, series)`.
type SeriesSlot = (u64, &'static str, u16, Arc<Histogram>);

/// One route pattern on one worker, with the request series this worker has used for it.
struct RouteEntry {
    pattern: Box<str>,
    /// `(metrics instance, method, status, series)`; a handful per route, scanned linearly.
    series: RefCell<Vec<SeriesSlot>>,
}

impl RouteEntry {
    fn record(&self, metrics: &Metrics, method: &'static str, status: u16, elapsed: Duration) {
        let id = metrics.id();
        {
            let series = self.series.borrow();
            let hit = series
                .iter()
                .find(|(i, m, s, _)| *i == id && *m == method && *s == status);
            if let Some((_, _, _, histogram)) = hit {
                histogram.observe(elapsed);
                return;
            }
        }
        let histogram = metrics.request_series(&self.pattern, method, status);
        histogram.observe(elapsed);
        self.series
            .borrow_mut()
            .push((id, method, status, histogram));
    }
}

thread_local! {
    /// path → route, per worker thread: `match_pattern()` re-runs the router's regex matching
    /// over the whole route map, ~10 % of a proxied request's CPU (BENCHMARKS.md).
    static ROUTES: RefCell<HashMap<String, Rc<RouteEntry>>> = RefCell::new(HashMap::new());
    /// pattern → route, so every path of a pattern shares one entry (bounded by the route table).
    static PATTERNS: RefCell<HashMap<Box<str>, Rc<RouteEntry>>> = RefCell::new(HashMap::new());
}

/// The matched route (its pattern, e.g. `/v1/connections/{name}/api/v2/statements`), never the
/// concrete path, which may carry identifiers. Proxy paths are recognised directly, so a broker
/// serving many end users does not churn the per-path cache.
fn route_entry(req: &ServiceRequest) -> Rc<RouteEntry> {
    let path = req.path();
    if let Some(shape) = crate::proxy::route::shape(path) {
        return pattern_entry(shape.pattern());
    }
    if let Some(found) = ROUTES.with(|cache| cache.borrow().get(path).cloned()) {
        return found;
    }
    let pattern = req.match_pattern();
    let entry = pattern_entry(pattern.as_deref().unwrap_or("unmatched"));
    ROUTES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= ROUTE_CACHE_CAP {
            cache.clear();
        }
        cache.insert(path.to_owned(), entry.clone());
    });
    entry
}

/// This worker's entry for the route `pattern`.
fn pattern_entry(pattern: &str) -> Rc<RouteEntry> {
    PATTERNS.with(|patterns| {
        if let Some(found) = patterns.borrow().get(pattern) {
            return found.clone();
        }
        let entry = Rc::new(RouteEntry {
            pattern: pattern.into(),
            series: RefCell::new(Vec::new()),
        });
        patterns.borrow_mut().insert(pattern.into(), entry.clone());
        entry
    })
}

/// Whether the request announces a body (a length above 0, or chunked).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `middleware::from_fn` entry point; wraps every route.
pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id::accept_or_generate(req.headers().get(REQUEST_ID_HEADER));
    let method = req.method().clone();
    let route = route_entry(&req);
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| (state.metrics.clone(), state.body_read_timeout));
    if let Some((_, timeout)) = &metrics {
        if !timeout.is_zero() && has_body(&req) {
            let deadline = tokio::time::Instant::from_std(started) + *timeout;
            let body = Deadline::new(req.take_payload(), deadline);
            req.set_payload(Payload::Stream {
                payload: Box::pin(body),
            });
        }
    }
    let _in_flight = metrics.as_ref().map(|(m, _)| m.in_flight.enter());
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %method,
        route = %route.pattern,
    );
    let result = request_id::scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    let method = method_label(method.as_str());
    let mut res = match result {
        Ok(res) => res,
        Err(err) => {
            let status = err.as_response_error().status_code().as_u16();
            if let Some((metrics, _)) = &metrics {
                route.record(metrics, method, status, started.elapsed());
            }
            tracing::warn!(parent: &span, status, "request failed outside a handler");
            return Err(err);
        }
    };
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some((metrics, _)) = &metrics {
        route.record(metrics, method, status, elapsed);
    }
    tracing::info!(parent: &span, status, latency_us = elapsed.as_micros() as u64, "request");
    if res.status() == StatusCode::REQUEST_TIMEOUT {
        // The rest of a late body is not worth waiting for: drop the slow client.
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    let headers = res.headers_mut();
    headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
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
