//! Fault injection on Snowflake's paths: latency, an error status (429 with `Retry-After`, 5xx),
//! or a dropped connection, either before the request is handled or after (the statement ran,
//! the client never hears about it — the case `requestId` + `retry=true` exists for).
//!
//! A fault applies to requests whose path starts with `path_prefix` (all paths when absent), for
//! the next `count` matching requests (forever when absent). The first matching fault wins.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::body::{BodyStream, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::state::SimState;
use super::util::lock;

/// What happens to a matching request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait before handling the request.
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Answer with this status instead of handling the request. 429 gets Snowflake's body
    /// (`390505`, "Too many requests.") and a `Retry-After` header when `retry_after_secs` is set.
    Status {
        /// HTTP status (e.g. 429, 500, 502, 503, 504).
        status: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Close the connection without an answer before the request is handled.
    DropBefore,
    /// Handle the request (e.g. execute the statement), then close the connection without
    /// sending the answer.
    DropAfter,
}

/// A fault to inject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultSpec {
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Only requests whose path starts with this (e.g. `/api/v2/statements`, `/oauth/token-request`).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only the next N matching requests.
    #[serde(default)]
    pub count: Option<u64>,
}

struct ActiveFault {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u64>,
}

/// The active faults.
#[derive(Default)]
pub struct FaultSet {
    faults: Mutex<Vec<ActiveFault>>,
    next_id: AtomicU64,
    any: std::sync::atomic::AtomicBool,
}

impl FaultSet {
    /// Adds a fault; returns its id.
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let remaining = spec.count;
        lock(&self.faults).push(ActiveFault {
            id,
            spec,
            remaining,
        });
        self.any.store(true, Ordering::Release);
        id
    }

    /// Removes one fault.
    pub fn remove(&self, id: u64) -> bool {
        let mut faults = lock(&self.faults);
        let before = faults.len();
        faults.retain(|f| f.id != id);
        self.any.store(!faults.is_empty(), Ordering::Release);
        faults.len() != before
    }

    /// Removes every fault.
    pub fn clear(&self) {
        lock(&self.faults).clear();
        self.any.store(false, Ordering::Release);
    }

    /// Takes the fault that applies to `path`, consuming one of its uses.
    pub fn take(&self, path: &str) -> Option<FaultKind> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = lock(&self.faults);
        let idx = faults.iter().position(|f| {
            f.spec
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
        })?;
        let kind = faults[idx].spec.kind.clone();
        if let Some(n) = faults[idx].remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(idx);
            }
        }
        self.any.store(!faults.is_empty(), Ordering::Release);
        Some(kind)
    }
}

/// A response whose body fails before its first byte: actix then closes the connection without
/// writing the status line, which is what a client sees when a server or proxy dies mid-request.
fn dropped_connection() -> HttpResponse {
    let stream = futures_util::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::other(
            "snowsim: injected connection drop",
        ))
    });
    HttpResponse::Ok().body(BodyStream::new(stream))
}

fn status_response(status: u16, retry_after: Option<u64>) -> HttpResponse {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(code);
    if let Some(secs) = retry_after {
        builder.insert_header(("Retry-After", secs.to_string()));
    }
    if status == 429 {
        builder.json(serde_json::json!({"code": "390505", "message": "Too many requests."}))
    } else {
        builder.finish()
    }
}

/// Middleware on Snowflake's paths: counts the request, then applies the first matching fault.
pub async fn inject(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<SimState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let path = req.path().to_owned();
    state.counters.request(&path);
    match state.faults.take(&path) {
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body),
        Some(FaultKind::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Some(FaultKind::Status {
            status,
            retry_after_secs,
        }) => Ok(req.into_response(status_response(status, retry_after_secs))),
        Some(FaultKind::DropBefore) => Ok(req.into_response(dropped_connection())),
        Some(FaultKind::DropAfter) => {
            let res = next.call(req).await?;
            let (req, _discarded) = res.into_parts();
            Ok(ServiceResponse::new(req, dropped_connection()))
        }
    }
}
