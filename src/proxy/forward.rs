//! The forwarding hop: builds the upstream request from scratch (SECURITY.md PX-3), retries
//! what is safe to retry with the same `requestId` and `retry=true` (TR-9, TR-10), never follows
//! redirects (PX-1), and streams the response back without buffering it (PERFORMANCE.md).

use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::request::{Operation, UpstreamQuery};
use crate::config::ProxySettings;
use crate::snowflake::{RetryPolicy, StatementHandle, TOKEN_TYPE_HEADER, USER_AGENT_VALUE};

/// An upstream response whose body has not been read yet.
pub type UpstreamResponse = hyper::Response<hyper::body::Incoming>;

/// The upstream HTTP client of one actix worker. The hot path runs on hyper's pooled client
/// directly rather than through reqwest: the proxy builds every request itself (no URL parsing,
/// redirect policy, cookie or decompression layers to pass through), which is what the
/// hyper-only reference proxy does too (BENCHMARKS.md). reqwest stays for the OAuth and typed
/// SQL API clients. A client shared by all workers measured 0.21× direct with 21-42 ms p99 on
/// this machine (PERFORMANCE.md), hence one per worker.
#[derive(Clone)]
pub struct ProxyClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    retry: RetryPolicy,
    read_timeout: Duration,
}

/// Why the upstream client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the upstream TLS configuration could not be built: {0}")]
pub struct ClientBuildError(#[from] rustls::Error);

impl ProxyClient {
    /// Builds the client: TLS verified against the platform's roots (as reqwest does), plain
    /// HTTP only for the loopback test upstreams a connection may name, no redirects (hyper
    /// never follows them), no proxy variables, connect and read timeouts.
    pub fn new(settings: &ProxySettings) -> Result<Self, ClientBuildError> {
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_platform_verifier()?
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Self {
            http,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts.max(1),
                base: Duration::from_millis(settings.retry_base_ms),
                cap: Duration::from_millis(settings.retry_cap_ms),
                total_budget: Duration::from_millis(settings.retry_budget_ms),
            },
            read_timeout: Duration::from_millis(settings.read_timeout_ms),
        })
    }
}

/// The bearer credential for one upstream call.
pub struct UpstreamAuth {
    /// `Bearer <token>`, marked sensitive.
    pub authorization: HeaderValue,
    /// `OAUTH` or `KEYPAIR_JWT`.
    pub token_type: &'static str,
}

impl UpstreamAuth {
    /// The credential of one call: the token holder's prebuilt `Bearer` value
    /// ([`crate::snowflake::bearer_header`]) and its token type.
    pub fn new(authorization: &HeaderValue, token_type: &'static str) -> Self {
        Self {
            authorization: authorization.clone(),
            token_type,
        }
    }
}

/// What to send upstream (already validated).
pub struct Forward<'a> {
    /// `https://<account host>` or a loopback test URL.
    pub base_url: &'a str,
    /// Which of the three SQL API operations.
    pub operation: Operation,
    /// The statement handle for status/cancel.
    pub handle: Option<&'a StatementHandle>,
    /// The validated query.
    pub query: &'a UpstreamQuery,
    /// The prepared JSON body (submit only).
    pub body: Option<Bytes>,
    /// Whether the caller accepts gzip (partitions are passed through compressed).
    pub accept_gzip: bool,
}

/// Why a forward produced no upstream response worth passing on.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Snowflake could not be reached (after retries).
    #[error("Snowflake could not be reached after {attempts} attempt(s)")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
    },
    /// Snowflake did not answer in time.
    #[error("Snowflake did not answer within the read timeout")]
    Timeout,
    /// Snowflake kept answering 5xx.
    #[error("Snowflake answered {status} after {attempts} attempt(s)")]
    ServerError {
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// A redirect, which is never followed.
    #[error("Snowflake answered with a redirect ({status}); redirects are never followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
}

/// An upstream answer and how many attempts it took.
pub struct Answer {
    /// The response (body not yet read).
    pub response: UpstreamResponse,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

fn retryable(status: hyper::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

fn url_for(fwd: &Forward<'_>, is_retry: bool) -> String {
    let mut url = String::with_capacity(fwd.base_url.len() + 96);
    url.push_str(fwd.base_url);
    url.push_str("/api/v2/statements");
    if let Some(handle) = fwd.handle {
        url.push('/');
        url.push_str(handle.as_str());
    }
    if fwd.operation == Operation::Cancel {
        url.push_str("/cancel");
    }
    url.push('?');
    fwd.query.render_into(is_retry, &mut url);
    if url.ends_with('?') {
        url.pop();
    }
    url
}

/// `X-Snowflake-Authorization-Token-Type` ([`TOKEN_TYPE_HEADER`]), in hyper's lower case.
const TOKEN_TYPE: HeaderName = HeaderName::from_static("x-snowflake-authorization-token-type");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const USER_AGENT: HeaderValue = HeaderValue::from_static(USER_AGENT_VALUE);
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
const IDENTITY: HeaderValue = HeaderValue::from_static("identity");

fn headers(fwd: &Forward<'_>, auth: &UpstreamAuth) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(hyper::header::AUTHORIZATION, auth.authorization.clone());
    headers.insert(TOKEN_TYPE, HeaderValue::from_static(auth.token_type));
    headers.insert(hyper::header::ACCEPT, JSON);
    headers.insert(hyper::header::USER_AGENT, USER_AGENT);
    if fwd.body.is_some() {
        headers.insert(hyper::header::CONTENT_TYPE, JSON);
    }
    let encoding = if fwd.accept_gzip { GZIP } else { IDENTITY };
    headers.insert(hyper::header::ACCEPT_ENCODING, encoding);
    debug_assert!(TOKEN_TYPE_HEADER.eq_ignore_ascii_case(TOKEN_TYPE.as_str()));
    headers
}

/// Sends `fwd` with `auth`, retrying transport failures, 429 and 5xx within the policy.
/// `first_is_retry` marks a resubmission (after a token refresh) so it carries `retry=true`.
pub async fn send(
    client: &ProxyClient,
    fwd: &Forward<'_>,
    auth: &UpstreamAuth,
    first_is_retry: bool,
) -> Result<Answer, ForwardError> {
    let started = Instant::now();
    let policy = &client.retry;
    let method = match fwd.operation {
        Operation::Status => hyper::Method::GET,
        Operation::Submit | Operation::Cancel => hyper::Method::POST,
    };
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let is_retry = first_is_retry || attempt > 1;
        let Some(pending) = start_request(client, fwd, auth, &method, is_retry) else {
            return Err(ForwardError::Unreachable { attempts: attempt });
        };
        let outcome = tokio::time::timeout(client.read_timeout, pending).await;
        let budget_left = policy.total_budget.saturating_sub(started.elapsed());
        let can_retry = attempt < policy.max_attempts && !budget_left.is_zero();
        match outcome {
            Ok(Ok(response)) if response.status().is_redirection() => {
                return Err(ForwardError::Redirect {
                    status: response.status().as_u16(),
                })
            }
            Ok(Ok(response)) if retryable(response.status()) && can_retry => {
                let retry_after = response
                    .headers()
                    .get(hyper::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                tracing::info!(
                    status = response.status().as_u16(),
                    attempt,
                    "upstream asked to retry"
                );
                drop(response);
                tokio::time::sleep(policy.backoff(attempt, retry_after).min(budget_left)).await;
            }
            Ok(Ok(response)) if response.status().is_server_error() => {
                return Err(ForwardError::ServerError {
                    status: response.status().as_u16(),
                    attempts: attempt,
                })
            }
            Ok(Ok(response)) => {
                return Ok(Answer {
                    response,
                    attempts: attempt,
                })
            }
            Err(_elapsed) => {
                // The statement may be running: only a submit carrying a requestId is safe to
                // resubmit, and Snowflake then returns the original result (TR-10).
                if can_retry && fwd.operation == Operation::Submit {
                    tracing::info!(attempt, "upstream timed out; resubmitting with retry=true");
                    continue;
                }
                return Err(ForwardError::Timeout);
            }
            Ok(Err(err)) => {
                tracing::info!(
                    attempt,
                    connect = err.is_connect(),
                    "upstream transport error"
                );
                if !can_retry {
                    return Err(ForwardError::Unreachable { attempts: attempt });
                }
                tokio::time::sleep(policy.backoff(attempt, None).min(budget_left)).await;
            }
        }
    }
}

/// One attempt, sent: the pending response. `None` (logged) when the URL is not a valid URI,
/// which is a bug: connection base URLs are validated when stored. The request is built here
/// rather than in [`send`] so that it takes no space in `send`'s future, which is part of every
/// proxied call's (allocated and moved per request).
fn start_request(
    client: &ProxyClient,
    fwd: &Forward<'_>,
    auth: &UpstreamAuth,
    method: &hyper::Method,
    is_retry: bool,
) -> Option<hyper_util::client::legacy::ResponseFuture> {
    let uri = match hyper::Uri::try_from(url_for(fwd, is_retry)) {
        Ok(uri) => uri,
        Err(e) => {
            tracing::error!(error = %e, "upstream URL is not a valid URI");
            return None;
        }
    };
    let mut request = hyper::Request::new(Full::new(fwd.body.clone().unwrap_or_default()));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers(fwd, auth);
    Some(client.http.request(request))
}

/// Response headers passed back to the caller (an allow-list: no cookies, no hop-by-hop), by
/// their names in hyper's and in actix's `http` crate.
const PASSED_HEADERS: [(
    hyper::header::HeaderName,
    actix_web::http::header::HeaderName,
); 5] = {
    use actix_web::http::header as actix;
    use hyper::header as hyper;
    [
        (hyper::CONTENT_TYPE, actix::CONTENT_TYPE),
        (hyper::CONTENT_ENCODING, actix::CONTENT_ENCODING),
        (hyper::LINK, actix::LINK),
        (hyper::RETRY_AFTER, actix::RETRY_AFTER),
        (hyper::VARY, actix::VARY),
    ]
};

/// A response to the caller with the upstream status and the [`PASSED_HEADERS`] of `upstream`.
fn answer_head(upstream: &UpstreamResponse) -> actix_web::HttpResponseBuilder {
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for (from, to) in &PASSED_HEADERS {
        for value in upstream.headers().get_all(from) {
            if let Ok(value) = actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()) {
                builder.append_header((to.clone(), value));
            }
        }
    }
    builder
}

/// Answers of at most this many bytes (by their `Content-Length`) are read whole before they are
/// passed back. They arrive with their head, and a body in hand costs less to send than a stream
/// (no per-chunk timer, no stream polling in the response writer): about 1 µs a call. Anything
/// larger, or of unknown length, is streamed.
const IN_HAND: u64 = 16 * 1024;

/// Passes an upstream response back unchanged in status and body: a small one (at most
/// [`IN_HAND`] bytes by its length) read whole first, anything else streamed as by
/// [`stream_body`]. `held` lives until the body has been read or streamed. `None` when a small
/// body could not be read (the upstream went away or stalled past the read timeout).
///
/// The head is taken apart before the returned future, so that future holds only the body and
/// the reply being built: it is part of every proxied call's future, which is allocated and
/// moved per request.
pub fn pass_back<H: 'static>(
    client: &ProxyClient,
    response: UpstreamResponse,
    held: H,
) -> impl std::future::Future<Output = Option<HttpResponse>> + 'static {
    let length = hyper::body::Body::size_hint(response.body()).exact();
    if length.is_some_and(|len| len <= IN_HAND) {
        return Either::Left(
            in_hand(client, response, IN_HAND as usize).map(move |answer| {
                drop(held);
                let (mut builder, body) = answer?;
                Some(builder.body(body))
            }),
        );
    }
    let builder = answer_head(&response);
    let body = response.into_body();
    Either::Right(std::future::ready(Some(stream_body(
        builder,
        body,
        client.read_timeout,
        held,
    ))))
}

/// Streams an upstream response back unchanged in status and body. A body that stalls for
/// longer than the read timeout is cut off, so a dead upstream cannot pin the connection. `held`
/// (e.g. the connection's concurrency slot) lives until the body has been sent or the caller has
/// gone away: a result still streaming is still a call in flight to Snowflake.
fn stream_body<H: 'static>(
    mut builder: actix_web::HttpResponseBuilder,
    body: hyper::body::Incoming,
    read_timeout: Duration,
    held: H,
) -> HttpResponse {
    let length = hyper::body::Body::size_hint(&body).exact();
    let stream = body_stream(body, read_timeout, held);
    match length {
        Some(len) => builder.body(SizedStream::new(len, stream)),
        None => builder.streaming(stream),
    }
}

/// Reads a small upstream answer (up to `limit` bytes) whole and returns it ready to send back
/// unchanged, together with its body for the broker to look at; `None` when it cannot be read.
pub fn buffer_back(
    client: &ProxyClient,
    response: UpstreamResponse,
    limit: usize,
) -> impl std::future::Future<Output = Option<(HttpResponse, Bytes)>> + 'static {
    in_hand(client, response, limit).map(|answer| {
        let (mut builder, body) = answer?;
        Some((builder.body(body.clone()), body))
    })
}

/// The answer's head, ready for a body, and its body read whole (up to `limit` bytes and the
/// read timeout); `None` when the body cannot be read.
fn in_hand(
    client: &ProxyClient,
    response: UpstreamResponse,
    limit: usize,
) -> impl std::future::Future<Output = Option<(actix_web::HttpResponseBuilder, Bytes)>> + 'static {
    let builder = answer_head(&response);
    read_body(response.into_body(), client.read_timeout, limit)
        .map(move |body| Some((builder, body?)))
}

/// The data frames of an upstream body, each awaited for at most `read_timeout`; the stream
/// ends after the first error. `held` is dropped with the body.
fn body_stream<H: 'static>(
    body: hyper::body::Incoming,
    read_timeout: Duration,
    held: H,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some((body, held)), move |state| async move {
        let (mut body, held) = state?;
        loop {
            match tokio::time::timeout(read_timeout, body.frame()).await {
                Ok(None) => return None,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Some((Ok(data), Some((body, held))));
                    }
                }
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e, "upstream body ended early");
                    return Some((
                        Err(std::io::Error::other("upstream body ended early")),
                        None,
                    ));
                }
                Err(_) => {
                    tracing::warn!("upstream body stalled past the read timeout");
                    return Some((Err(std::io::Error::other("upstream body stalled")), None));
                }
            }
        }
    })
}

/// Reads a (small) upstream body whole, up to `limit` bytes and the read timeout; `None` when
/// it is larger, slower or broken.
pub fn read_small_body(
    client: &ProxyClient,
    response: UpstreamResponse,
    limit: usize,
) -> impl std::future::Future<Output = Option<Bytes>> + 'static {
    read_body(response.into_body(), client.read_timeout, limit)
}

/// [`read_small_body`] of a body already taken from its response.
async fn read_body(
    body: hyper::body::Incoming,
    read_timeout: Duration,
    limit: usize,
) -> Option<Bytes> {
    let collected = tokio::time::timeout(read_timeout, Limited::new(body, limit).collect())
        .await
        .ok()?
        .ok()?;
    Some(collected.to_bytes())
}
