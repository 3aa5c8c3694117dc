//! SQL API response bodies and headers (PROTOCOL.md A.4/A.5): the 200 ResultSet with
//! `partitionInfo` and a `Link` header, gzip partitions ≥ 1, 202/408 QueryStatus, 422
//! QueryFailureStatus, cancel answers and the plain `{code, message}` error bodies.

use std::io::Write as _;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::json;

use super::engine::{Column, DmlStats, SqlError};
use super::statements::{Finished, Statement};

/// `statementStatusUrl` of a statement (relative, as Snowflake sends it).
pub fn status_url(stmt: &Statement) -> String {
    format!(
        "/api/v2/statements/{}?requestId={}",
        stmt.handle, stmt.request_id
    )
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Vary", "Accept-Encoding, User-Agent"))
        .body(body)
}

/// `{code, message}` error body (400 `390142`, 401 `390303`/`390144`, 429 `390505`, …).
pub fn api_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        json!({"code": code, "message": message}).to_string(),
    )
}

/// 400 for a request body or parameter Snowflake would not accept.
pub fn bad_payload() -> HttpResponse {
    api_error(
        StatusCode::BAD_REQUEST,
        "390142",
        "Incoming request does not contain a valid payload.",
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartitionInfo {
    row_count: usize,
    uncompressed_size: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaData<'a> {
    num_rows: usize,
    format: &'static str,
    partition_info: Vec<PartitionInfo>,
    row_type: &'a [Column],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultSetHead<'a> {
    result_set_meta_data: MetaData<'a>,
    code: &'static str,
    statement_status_url: String,
    request_id: &'a str,
    sql_state: &'static str,
    statement_handle: &'a str,
    message: &'static str,
    created_on: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement_handles: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a DmlStats>,
}

fn link_header(stmt: &Statement, current: usize, count: usize) -> String {
    let link = |p: usize, rel: &str| {
        format!(
            "</api/v2/statements/{}?requestId={}&partition={p}>; rel=\"{rel}\"",
            stmt.handle, stmt.request_id
        )
    };
    let mut parts = vec![link(0, "first")];
    if current + 1 < count {
        parts.push(link(current + 1, "next"));
    }
    if current > 0 {
        parts.push(link(current - 1, "prev"));
    }
    parts.push(link(count.saturating_sub(1), "last"));
    parts.join(",")
}

/// 200 with metadata for every partition and the rows of partition 0.
pub fn result_set(stmt: &Statement, done: &Finished) -> HttpResponse {
    let head = ResultSetHead {
        result_set_meta_data: MetaData {
            num_rows: done.num_rows,
            format: "jsonv2",
            partition_info: (0..done.partition_count())
                .map(|p| PartitionInfo {
                    row_count: done.partition_rows.get(p).copied().unwrap_or(0),
                    uncompressed_size: done.partition_size(p),
                })
                .collect(),
            row_type: &done.columns,
        },
        code: "090001",
        statement_status_url: status_url(stmt),
        request_id: &stmt.request_id,
        sql_state: "00000",
        statement_handle: &stmt.handle,
        message: "Statement executed successfully.",
        created_on: stmt.created_on,
        statement_handles: done.child_handles.as_deref(),
        stats: done.stats.as_ref(),
    };
    let mut body = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
    // Splice partition 0's pre-encoded rows in as `data` (the head always ends with `}`).
    body.pop();
    body.push_str(",\"data\":");
    body.push_str(&done.partition_data(0));
    body.push('}');
    let mut resp = json_response(StatusCode::OK, body);
    if let Ok(v) = link_header(stmt, 0, done.partition_count()).parse() {
        resp.headers_mut().insert(actix_web::http::header::LINK, v);
    }
    resp
}

/// 200 with partition `p ≥ 1`: `{"data":[…]}` gzip-compressed, `Content-Encoding: gzip`, whatever
/// the client's `Accept-Encoding` (Snowflake always compresses these).
pub fn partition(stmt: &Statement, done: &Finished, p: usize) -> HttpResponse {
    let rows = done.partition_data(p);
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(rows.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    let written = encoder
        .write_all(b"{\"data\":")
        .and_then(|()| encoder.write_all(rows.as_bytes()))
        .and_then(|()| encoder.write_all(b"}"));
    let Ok(gz) = written.and_then(|()| encoder.finish()) else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "000603",
            "Internal error.",
        );
    };
    HttpResponse::Ok()
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Content-Encoding", "gzip"))
        .insert_header(("Vary", "Accept-Encoding, User-Agent"))
        .insert_header(("Link", link_header(stmt, p, done.partition_count())))
        .body(gz)
}

/// 202: still running (async submission, or past the synchronous window).
pub fn in_progress(stmt: &Statement) -> HttpResponse {
    json_response(
        StatusCode::ACCEPTED,
        json!({
            "code": "333334",
            "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
            "statementHandle": stmt.handle,
            "statementStatusUrl": status_url(stmt),
            "createdOn": stmt.created_on,
        })
        .to_string(),
    )
}

/// Snowflake's statement-timeout error.
pub fn timeout_error(secs: u64) -> SqlError {
    SqlError {
        code: "000630".into(),
        sql_state: "57014".into(),
        message: format!(
            "Statement reached its statement or warehouse timeout of {secs} second(s) and was canceled."
        ),
    }
}

/// 408: the request's `timeout` passed during the synchronous wait; the statement was cancelled.
/// (Body code not documented — PROTOCOL.md open point 4 — we use the statement-timeout error.)
pub fn timed_out(stmt: &Statement, secs: u64) -> HttpResponse {
    let e = timeout_error(secs);
    json_response(
        StatusCode::REQUEST_TIMEOUT,
        json!({
            "code": e.code, "sqlState": e.sql_state, "message": e.message,
            "statementHandle": stmt.handle, "statementStatusUrl": status_url(stmt),
            "createdOn": stmt.created_on,
        })
        .to_string(),
    )
}

/// 422 QueryFailureStatus.
pub fn failed(stmt: &Statement, e: &SqlError) -> HttpResponse {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "code": e.code, "message": e.message, "sqlState": e.sql_state,
            "statementHandle": stmt.handle, "statementStatusUrl": status_url(stmt),
            "createdOn": stmt.created_on,
        })
        .to_string(),
    )
}

/// 422 for a handle that does not exist (or belongs to another user).
pub fn not_found(handle: &str) -> HttpResponse {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "code": "000709", "message": format!("Statement {handle} not found"),
            "sqlState": "02000", "statementHandle": handle,
        })
        .to_string(),
    )
}

/// 200 CancelStatus.
pub fn cancelled(stmt: &Statement) -> HttpResponse {
    json_response(
        StatusCode::OK,
        json!({
            "code": "000604", "sqlState": "57014", "message": "SQL execution canceled",
            "statementHandle": stmt.handle, "statementStatusUrl": status_url(stmt),
        })
        .to_string(),
    )
}

/// 422 CancelStatus for a statement that already finished.
pub fn not_running(stmt: &Statement) -> HttpResponse {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "code": "000605", "message": "Identified SQL statement is not currently executing.",
            "statementHandle": stmt.handle, "statementStatusUrl": status_url(stmt),
        })
        .to_string(),
    )
}
