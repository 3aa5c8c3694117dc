//! SQL API v2 handlers (PROTOCOL.md A.1–A.6): submit, status/partition, cancel.
//!
//! Submission order of checks: headers (415/406/400) → authentication (401) → API enabled (403)
//! → query parameters and body (400 `390142`) → retry lookup → session (role, warehouse,
//! namespace, statement count; failures are 422 with a handle) → execution. A synchronous
//! submission waits up to the sync window (Snowflake: 45 s) and answers 202 past it; a request
//! `timeout` shorter than the window that passes cancels the statement and answers 408.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::{authenticate, check_headers, Principal};
use super::compat::split_statements;
use super::engine::{Binding, SqlError};
use super::execute::{run, Submission};
use super::responses as r;
use super::session::{build_submission, timeout_secs};
use super::state::{AccountRuntime, SimState};
use super::statements::{Statement, StmtState};
use super::util::{is_uuid_shaped, now_millis};

/// Body of `POST /api/v2/statements` (unknown fields are ignored, as docs' examples send
/// `resultSetMetaData`).
#[derive(Debug, Deserialize)]
pub struct StatementRequest {
    /// SQL text.
    pub statement: String,
    /// Seconds; 0 = the maximum (604800).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Case-sensitive database.
    #[serde(default)]
    pub database: Option<String>,
    /// Case-sensitive schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// Case-sensitive warehouse.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Case-sensitive role.
    #[serde(default)]
    pub role: Option<String>,
    /// Bind variables by 1-based position.
    #[serde(default)]
    pub bindings: Option<BTreeMap<String, Binding>>,
    /// Session parameters (keys matched case-insensitively).
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Default)]
struct QueryParams {
    request_id: Option<String>,
    retry: bool,
    async_: bool,
    nullable: Option<bool>,
    partition: Option<usize>,
}

fn parse_bool(v: &str) -> Result<bool, ()> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(()),
    }
}

fn parse_query(raw: &str) -> Result<QueryParams, ()> {
    let mut q = QueryParams::default();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "requestId" if is_uuid_shaped(&v) => q.request_id = Some(v.into_owned()),
            "requestId" => return Err(()),
            "retry" => q.retry = parse_bool(&v)?,
            "async" => q.async_ = parse_bool(&v)?,
            "nullable" => q.nullable = Some(parse_bool(&v)?),
            "partition" => q.partition = Some(v.parse().map_err(|_| ())?),
            _ => {}
        }
    }
    Ok(q)
}

fn host(req: &HttpRequest) -> Option<&str> {
    req.headers().get("host").and_then(|h| h.to_str().ok())
}

/// Resolves account, checks headers and authenticates; the common prologue of every handler.
// The error is the finished early answer of a handler (rejections are the cold path).
#[allow(clippy::result_large_err)]
fn prologue<'a>(
    state: &'a SimState,
    req: &HttpRequest,
    has_body: bool,
) -> Result<(&'a AccountRuntime, Principal), HttpResponse> {
    let acc = state
        .account_for_host(host(req))
        .ok_or_else(|| HttpResponse::NotFound().finish())?;
    check_headers(req, has_body)?;
    let principal = authenticate(state, acc, req)?;
    if !acc.sql_api_enabled.load(Ordering::Relaxed) {
        return Err(HttpResponse::Forbidden().finish());
    }
    Ok((acc, principal))
}

/// Answers for a submitted statement: waits up to the sync window (unless `async`), then 200,
/// 422, 408 or 202. Past a 202 a timer still enforces the request's timeout.
async fn respond(
    state: &SimState,
    stmt: Arc<Statement>,
    async_: bool,
    timeout: u64,
) -> HttpResponse {
    let window = Duration::from_millis(state.sync_window_ms.load(Ordering::Relaxed));
    let elapsed = Duration::from_millis(now_millis().saturating_sub(stmt.created_on));
    let limit = Duration::from_secs(timeout).saturating_sub(elapsed);
    if !async_ {
        stmt.wait(window.min(limit)).await;
    }
    let current = stmt.state();
    if async_ && !matches!(current, StmtState::Running) {
        // `async=true` answers 202 with the handle at once, even for a statement that already
        // finished (PROTOCOL.md A.1); the result is fetched with GET.
        return r::in_progress(&stmt);
    }
    match current {
        StmtState::Running if !async_ && limit <= window => {
            stmt.abort(StmtState::TimedOut(timeout));
            r::timed_out(&stmt, timeout)
        }
        StmtState::Running => {
            let timer = Arc::clone(&stmt);
            tokio::spawn(async move {
                let elapsed = Duration::from_millis(now_millis().saturating_sub(timer.created_on));
                tokio::time::sleep(Duration::from_secs(timeout).saturating_sub(elapsed)).await;
                timer.abort(StmtState::TimedOut(timeout));
            });
            r::in_progress(&stmt)
        }
        StmtState::Succeeded(done) => r::result_set(&stmt, &done),
        StmtState::Failed(e) => r::failed(&stmt, &e),
        StmtState::Cancelled => r::failed(&stmt, &cancelled_error()),
        StmtState::TimedOut(secs) => r::timed_out(&stmt, secs),
    }
}

fn cancelled_error() -> SqlError {
    SqlError {
        code: "000604".into(),
        sql_state: "57014".into(),
        message: "SQL execution canceled".into(),
    }
}

/// `POST /api/v2/statements`.
pub async fn post_statements(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let (acc, principal) = match prologue(&state, &req, true) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(q) = parse_query(req.query_string()) else {
        return r::bad_payload();
    };
    if q.partition.is_some() {
        return r::bad_payload();
    }
    let Ok(request) = serde_json::from_slice::<StatementRequest>(&body) else {
        return r::bad_payload();
    };
    let timeout = timeout_secs(request.timeout);
    if let (Some(rid), true) = (&q.request_id, q.retry) {
        if let Some(prev) = acc.statements.by_request(&principal.user, rid) {
            // Never run a request twice: a retry gets the earlier statement while it runs or
            // after it succeeded; a failed or cancelled one runs again (PROTOCOL.md A.1).
            if matches!(prev.state(), StmtState::Running | StmtState::Succeeded(_)) {
                return respond(&state, prev, q.async_, timeout).await;
            }
        }
    }
    let request_id = q
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let stmt = Statement::new(
        acc.index,
        &principal.user,
        &request_id,
        q.nullable.unwrap_or(true),
    );
    acc.statements.insert(&stmt, true);
    match build_submission(acc, &principal, &request, split_statements) {
        Err(e) => {
            stmt.finish(StmtState::Failed(e.clone()));
            return r::failed(&stmt, &e);
        }
        Ok(mut sub) => {
            let info = req.connection_info();
            sub.base_url = format!("{}://{}", info.scheme(), info.host());
            spawn_run(&state, acc.index, &stmt, sub);
        }
    }
    respond(&state, stmt, q.async_, timeout).await
}

fn spawn_run(state: &web::Data<SimState>, acc: usize, stmt: &Arc<Statement>, sub: Submission) {
    let state = web::Data::clone(state);
    let stmt = Arc::clone(stmt);
    tokio::task::spawn_blocking(move || run(&state, acc, &stmt, sub));
}

/// `GET /api/v2/statements/{handle}[?partition=N]`.
pub async fn get_statement(
    req: HttpRequest,
    handle: web::Path<String>,
    state: web::Data<SimState>,
) -> HttpResponse {
    let (acc, principal) = match prologue(&state, &req, false) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let q = match parse_query(req.query_string()) {
        Ok(q) if q.nullable.is_none() && !q.async_ && !q.retry => q,
        _ => return r::bad_payload(),
    };
    let Some(stmt) = acc.statements.get(&handle, &principal.user) else {
        return r::not_found(&handle);
    };
    match stmt.state() {
        StmtState::Running => r::in_progress(&stmt),
        StmtState::Succeeded(done) => match q.partition.unwrap_or(0) {
            0 => r::result_set(&stmt, &done),
            p if p < done.partition_count() => r::partition(&stmt, &done, p),
            _ => r::bad_payload(),
        },
        StmtState::Failed(e) => r::failed(&stmt, &e),
        StmtState::Cancelled => r::failed(&stmt, &cancelled_error()),
        StmtState::TimedOut(secs) => r::failed(&stmt, &r::timeout_error(secs)),
    }
}

/// `POST /api/v2/statements/{handle}/cancel`.
pub async fn post_cancel(
    req: HttpRequest,
    handle: web::Path<String>,
    state: web::Data<SimState>,
) -> HttpResponse {
    let (acc, principal) = match prologue(&state, &req, false) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(stmt) = acc.statements.get(&handle, &principal.user) else {
        return r::not_found(&handle);
    };
    match stmt.state() {
        StmtState::Running => {
            stmt.abort(StmtState::Cancelled);
            r::cancelled(&stmt)
        }
        StmtState::Cancelled => r::cancelled(&stmt),
        _ => r::not_running(&stmt),
    }
}
