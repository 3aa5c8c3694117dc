//! One request on the data-plane listener: what actix-web's middleware and the proxy route do
//! on the main listener, for the six proxy paths only. The request id is accepted or generated
//! and echoed; the caller is authenticated; the body is capped and put under its deadline; the
//! call goes through the shared core ([`crate::routes::proxy::forward`]); the request is
//! counted in `/metrics` under its route pattern and logged in one line; errors carry the same
//! codes and JSON envelope as on the main listener.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, StatusCode};
use tracing::Instrument as _;

use super::Plane;
use crate::error::{AppError, ErrorCode};
use crate::http::auth::{authenticate_bearer, ServiceCaller};
use crate::http::middleware::{pattern_entry, REQUEST_ID_HEADER};
use crate::http::request_id;
use crate::metrics::method_label;
use crate::proxy::route::ProxyPath;
use crate::proxy::{DataReply, Operation};
use crate::routes::proxy::{
    accepts_gzip_value, forward, identifier_tag_value, Call, Principal, IDENTIFIER_HEADER,
};

const X_REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
const NOSNIFF: (HeaderName, HeaderValue) = (
    HeaderName::from_static("x-content-type-options"),
    HeaderValue::from_static("nosniff"),
);
const NO_REFERRER: (HeaderName, HeaderValue) = (
    HeaderName::from_static("referrer-policy"),
    HeaderValue::from_static("no-referrer"),
);

/// Serves one request; never fails (errors are JSON answers).
pub(super) async fn handle(plane: &Plane, req: Request<Incoming>) -> DataReply {
    let started = Instant::now();
    let id = match req.headers().get(X_REQUEST_ID.as_str()) {
        Some(supplied) if request_id::is_echoable(supplied.as_bytes()) => supplied.clone(),
        _ => HeaderValue::from_maybe_shared(Bytes::from(request_id::generate()))
            .unwrap_or_else(|_| HeaderValue::from_static("invalid")),
    };
    // Error bodies built anywhere below quote the id through the task-local of the main
    // listener, which holds actix's header type.
    let scoped = actix_web::http::header::HeaderValue::from_bytes(id.as_bytes())
        .unwrap_or_else(|_| actix_web::http::header::HeaderValue::from_static(""));
    let method = method_label(req.method().as_str());
    let shape = crate::proxy::route::shape(req.uri().path());
    let pattern = shape.map_or("unmatched", |s| s.pattern());
    let route = pattern_entry(pattern);
    let metrics = &plane.state.metrics;
    let _in_flight = metrics.in_flight.enter();
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method,
        route = pattern,
    );
    // The error body is built inside the scope: it quotes the request id.
    let answer = async { proxy(plane, req, started).await.unwrap_or_else(error_reply) };
    let mut reply = request_id::scope(scoped, answer)
        .instrument(span.clone())
        .await;
    let status = reply.status().as_u16();
    let elapsed = started.elapsed();
    route.record(metrics, method, status, elapsed);
    tracing::info!(parent: &span, status, latency_us = elapsed.as_micros() as u64, "request");
    let headers = reply.headers_mut();
    if status == StatusCode::REQUEST_TIMEOUT.as_u16() {
        // The rest of a late body is not worth waiting for: drop the slow client.
        headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers.insert(X_REQUEST_ID, id);
    headers.insert(NOSNIFF.0, NOSNIFF.1);
    headers.insert(NO_REFERRER.0, NO_REFERRER.1);
    reply
}

/// The proxy call itself: path, method, caller, body, then the shared core.
async fn proxy(
    plane: &Plane,
    req: Request<Incoming>,
    started: Instant,
) -> Result<DataReply, AppError> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    if crate::proxy::route::shape(raw_path).is_none() {
        return Err(AppError::new(
            ErrorCode::RouteNotFound,
            "no such route: the data-plane listener serves only the SQL API proxy paths \
             (/v1/connections/{name}[/accounts/{identifier}]/api/v2/statements…)",
        ));
    }
    let Some(path) = ProxyPath::parse(raw_path) else {
        return Err(AppError::new(
            ErrorCode::RouteNotFound,
            "no such route: a path segment is not valid percent-encoded UTF-8",
        ));
    };
    let operation = path.shape.operation;
    if parts.method.as_str() != operation.method() {
        return Err(AppError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not supported on this route", parts.method),
        ));
    }
    let state = &plane.state;
    let header = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
    let caller = ServiceCaller(authenticate_bearer(
        state,
        header(hyper::header::AUTHORIZATION.as_str()),
    )?);
    let principal = if path.shape.end_user {
        Principal::User {
            identifier: path.identifier.as_deref().unwrap_or_default(),
        }
    } else {
        Principal::Service {
            tag: identifier_tag_value(header(IDENTIFIER_HEADER))?,
        }
    };
    let body = match operation {
        Operation::Submit => {
            let declared = header(hyper::header::CONTENT_LENGTH.as_str())
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<usize>().ok());
            let deadline = (!state.body_read_timeout.is_zero())
                .then(|| tokio::time::Instant::from_std(started) + state.body_read_timeout);
            Some(read_capped(body, declared, state.proxy_max_body, deadline).await?)
        }
        Operation::Status | Operation::Cancel => None,
    };
    let call = Call {
        name: &path.connection,
        principal,
        operation,
        handle: path.handle.as_deref(),
        body,
        query: parts.uri.query().unwrap_or_default().into(),
        accept_gzip: accepts_gzip_value(header(hyper::header::ACCEPT_ENCODING.as_str())),
    };
    forward::<DataReply>(state, &plane.client, &caller, call).await
}

/// Reads a request body up to `cap` bytes (more is 413 without reading further) and before
/// `deadline` (later is 408, as on the main listener).
async fn read_capped(
    mut body: Incoming,
    declared: Option<usize>,
    cap: usize,
    deadline: Option<tokio::time::Instant>,
) -> Result<Bytes, AppError> {
    let too_large = || {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the statement body is larger than the {cap}-byte limit"),
        )
    };
    if declared.is_some_and(|len| len > cap.saturating_mul(DRAIN_FACTOR)) {
        // Not worth reading at all: the connection closes after the answer.
        return Err(too_large());
    }
    let read = async {
        let mut first: Option<Bytes> = None;
        let mut whole = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                AppError::new(
                    ErrorCode::InvalidRequest,
                    format!("could not read the body: {e}"),
                )
            })?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let held = first.as_ref().map_or(0, Bytes::len) + whole.len();
            if held + chunk.len() > cap {
                drain(
                    &mut body,
                    held + chunk.len(),
                    cap.saturating_mul(DRAIN_FACTOR),
                )
                .await;
                return Err(too_large());
            }
            // A body that arrives in one chunk (the usual small statement) is kept as it is.
            match first.take() {
                None if whole.is_empty() => first = Some(chunk),
                earlier => {
                    if let Some(earlier) = earlier {
                        whole.reserve(declared.unwrap_or(2 * held).min(cap));
                        whole.extend_from_slice(&earlier);
                    }
                    whole.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| whole.freeze()))
    };
    match deadline {
        None => read.await,
        Some(deadline) => tokio::time::timeout_at(deadline, read)
            .await
            .unwrap_or_else(|_| {
                Err(AppError::new(
                    ErrorCode::RequestTimeout,
                    "the request body did not arrive in time (server.body_read_timeout_secs)",
                ))
            }),
    }
}

/// A body up to this many times the cap is read to its end (and dropped) before the 413 is
/// sent, so that an ordinary client still writing it reads the answer instead of a broken pipe.
const DRAIN_FACTOR: usize = 4;

/// Reads and drops the rest of `body` while fewer than `limit` bytes have been read in all.
async fn drain(body: &mut Incoming, mut read: usize, limit: usize) {
    while read <= limit {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            Some(Err(_)) | None => return,
        }
    }
}

/// An error as the JSON answer the main listener would give.
fn error_reply(err: AppError) -> DataReply {
    let (status, retry_after, body) = err.into_parts();
    let mut reply =
        hyper::Response::new(http_body_util::Either::Left(Full::new(Bytes::from(body))));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = reply.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Some(secs) = retry_after {
        headers.insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    reply
}
