//! The forwarding hop: builds the upstream request from scratch (SECURITY.md PX-3), retries
//! what is safe to retry with the same `requestId` and `retry=true` (TR-9, TR-10), never follows
//! redirects (PX-1), and streams the response back without buffering it (PERFORMANCE.md).

use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::TryStreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::request::{Operation, UpstreamQuery};
use crate::config::ProxySettings;
use crate::snowflake::{RetryPolicy, StatementHandle, TOKEN_TYPE_HEADER, USER_AGENT_VALUE};

/// One reqwest client per actix worker: a client shared by all workers measured 0.21× direct
/// with 21-42 ms p99 on this machine (PERFORMANCE.md).
#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl ProxyClient {
    /// Builds the client: no redirects, no proxy variables, connect and read timeouts.
    pub fn new(settings: &ProxySettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .read_timeout(Duration::from_millis(settings.read_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts.max(1),
                base: Duration::from_millis(settings.retry_base_ms),
                cap: Duration::from_millis(settings.retry_cap_ms),
                total_budget: Duration::from_millis(settings.retry_budget_ms),
            },
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
    /// Builds the header; a token with characters a header cannot carry is refused.
    pub fn bearer(token: &str, token_type: &'static str) -> Option<Self> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
        authorization.set_sensitive(true);
        Some(Self {
            authorization,
            token_type,
        })
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
    pub response: reqwest::Response,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

fn retryable(status: reqwest::StatusCode) -> bool {
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
    let query = fwd.query.render(is_retry);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    url
}

fn headers(fwd: &Forward<'_>, auth: &UpstreamAuth) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(reqwest::header::AUTHORIZATION, auth.authorization.clone());
    headers.insert(
        HeaderName::from_static("x-snowflake-authorization-token-type"),
        HeaderValue::from_static(auth.token_type),
    );
    headers.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        reqwest::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT_VALUE),
    );
    if fwd.body.is_some() {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if fwd.accept_gzip {
        headers.insert(
            reqwest::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
    } else {
        headers.insert(
            reqwest::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    debug_assert_eq!(
        TOKEN_TYPE_HEADER.to_ascii_lowercase(),
        "x-snowflake-authorization-token-type"
    );
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
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let is_retry = first_is_retry || attempt > 1;
        let method = match fwd.operation {
            Operation::Status => reqwest::Method::GET,
            Operation::Submit | Operation::Cancel => reqwest::Method::POST,
        };
        let mut request = client
            .http
            .request(method, url_for(fwd, is_retry))
            .headers(headers(fwd, auth));
        if let Some(body) = &fwd.body {
            request = request.body(body.clone());
        }
        let outcome = request.send().await;
        let budget_left = policy.total_budget.saturating_sub(started.elapsed());
        let can_retry = attempt < policy.max_attempts && !budget_left.is_zero();
        match outcome {
            Ok(response) if response.status().is_redirection() => {
                return Err(ForwardError::Redirect {
                    status: response.status().as_u16(),
                })
            }
            Ok(response) if retryable(response.status()) && can_retry => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
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
            Ok(response) if response.status().is_server_error() => {
                return Err(ForwardError::ServerError {
                    status: response.status().as_u16(),
                    attempts: attempt,
                })
            }
            Ok(response) => {
                return Ok(Answer {
                    response,
                    attempts: attempt,
                })
            }
            Err(err) if err.is_timeout() => {
                // The statement may be running: only a submit carrying a requestId is safe to
                // resubmit, and Snowflake then returns the original result (TR-10).
                if can_retry && fwd.operation == Operation::Submit {
                    tracing::info!(attempt, "upstream timed out; resubmitting with retry=true");
                    continue;
                }
                return Err(ForwardError::Timeout);
            }
            Err(err) => {
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

/// Response headers passed back to the caller (an allow-list: no cookies, no hop-by-hop).
const PASSED_HEADERS: [&str; 5] = [
    "content-type",
    "content-encoding",
    "link",
    "retry-after",
    "vary",
];

/// Streams an upstream response back unchanged in status and body.
pub fn stream_back(response: reqwest::Response) -> HttpResponse {
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for name in PASSED_HEADERS {
        for value in response.headers().get_all(name) {
            builder.append_header((name, value.as_bytes()));
        }
    }
    let length = response.content_length();
    let stream = response.bytes_stream().map_err(|e| {
        tracing::warn!(error = %e, "upstream body ended early");
        std::io::Error::other("upstream body ended early")
    });
    match length {
        Some(len) => builder.body(SizedStream::new(len, stream)),
        None => builder.streaming(stream),
    }
}
