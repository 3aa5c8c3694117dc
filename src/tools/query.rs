//! The statement tools: `snowflake_execute_query`, `snowflake_get_statement_status`,
//! `snowflake_get_partition` and `snowflake_cancel_statement`.
//!
//! Invariants: the caller's statement runs as given, as the connection's identity (keypair) or
//! the end user's own (OAuth) — SECURITY.md SQ-5; `MULTI_STATEMENT_COUNT` is never accepted
//! (SQ-4); bind types and session parameters come from allow-lists; every handle and request id
//! is validated before it reaches a URL.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::decode::{DecodeOptions, Formatted};
use super::inputs::{CancelInput, ExecuteQueryInput, PartitionInput, StatementStatusInput};
use super::session::ToolSession;
use super::sql::check_name;
use super::{input_error, SessionOverrides};
use crate::error::AppError;
use crate::snowflake::{
    Binding, RequestId, StatementHandle, StatementRequest, SubmitOptions, Submitted,
};

/// Bind types the SQL API accepts (PROTOCOL.md A.3).
const BIND_TYPES: [&str; 11] = [
    "TEXT",
    "FIXED",
    "REAL",
    "DECFLOAT",
    "BOOLEAN",
    "BINARY",
    "DATE",
    "TIME",
    "TIMESTAMP_NTZ",
    "TIMESTAMP_LTZ",
    "TIMESTAMP_TZ",
];

/// Session parameters the SQL API honours, less `MULTI_STATEMENT_COUNT` (SQ-4).
const PARAMETERS: [&str; 12] = [
    "BINARY_OUTPUT_FORMAT",
    "CLIENT_RESULT_CHUNK_SIZE",
    "DATE_OUTPUT_FORMAT",
    "QUERY_TAG",
    "ROWS_PER_RESULTSET",
    "TIME_OUTPUT_FORMAT",
    "TIMESTAMP_LTZ_OUTPUT_FORMAT",
    "TIMESTAMP_NTZ_OUTPUT_FORMAT",
    "TIMESTAMP_OUTPUT_FORMAT",
    "TIMESTAMP_TZ_OUTPUT_FORMAT",
    "TIMEZONE",
    "USE_CACHED_RESULT",
];

/// Session fields every tool may set: `role` and `warehouse`, checked.
pub fn base_request(
    statement: impl Into<String>,
    input: &impl SessionOverrides,
) -> Result<StatementRequest, AppError> {
    let mut request = StatementRequest::new(statement);
    if let Some(role) = input.role() {
        check_name("role", role)?;
        request.role = Some(role.to_owned());
    }
    if let Some(warehouse) = input.warehouse() {
        check_name("warehouse", warehouse)?;
        request.warehouse = Some(warehouse.to_owned());
    }
    Ok(request)
}

fn request_id(value: Option<&str>) -> Result<Option<RequestId>, AppError> {
    value
        .map(|id| {
            id.parse::<RequestId>()
                .map_err(|_| input_error("request_id", "must be a UUID"))
        })
        .transpose()
}

fn handle(value: &str) -> Result<StatementHandle, AppError> {
    StatementHandle::parse(value).map_err(|_| {
        input_error(
            "statement_handle",
            "must be a statement handle like 01b03285-0001-dea1-003d-b087000ca9be",
        )
    })
}

/// `snowflake_execute_query`.
pub async fn execute_query(
    session: &ToolSession<'_>,
    input: ExecuteQueryInput,
    max_statement_bytes: usize,
) -> Result<Value, AppError> {
    if input.statement.trim().is_empty() {
        return Err(input_error("statement", "must not be empty"));
    }
    if input.statement.len() > max_statement_bytes {
        return Err(input_error(
            "statement",
            format!("must be at most {max_statement_bytes} bytes"),
        ));
    }
    let mut request = base_request(input.statement.clone(), &input)?;
    for (field, value, slot) in [
        ("database", &input.database, &mut request.database),
        ("schema", &input.schema, &mut request.schema),
    ] {
        if let Some(value) = value {
            check_name(field, value)?;
            *slot = Some(value.clone());
        }
    }
    request.bindings = bindings(&input)?;
    let mut parameters = BTreeMap::new();
    for (key, value) in &input.parameters {
        let upper = key.to_ascii_uppercase();
        if upper == "MULTI_STATEMENT_COUNT" {
            return Err(input_error(
                &format!("parameters.{key}"),
                "tools run one statement; MULTI_STATEMENT_COUNT is not accepted",
            ));
        }
        if !PARAMETERS.contains(&upper.as_str()) {
            return Err(input_error(
                &format!("parameters.{key}"),
                format!(
                    "is not a SQL API parameter; use one of {}",
                    PARAMETERS.join(", ")
                ),
            ));
        }
        parameters.insert(key.clone(), value.to_text());
    }
    request.parameters = parameters;
    match input.timeout {
        Some(0) => return Err(input_error("timeout", "must be at least 1 second")),
        other => request.timeout = other,
    }
    let request_id = request_id(input.request_id.as_deref())?;
    if input.retry && request_id.is_none() {
        return Err(input_error(
            "retry",
            "retry resubmits an earlier request: give its request_id",
        ));
    }
    let decode = DecodeOptions {
        formatted: Formatted::from_parameters(input.parameters.keys().map(String::as_str)),
    };
    let options = SubmitOptions {
        request_id,
        asynchronous: input.asynchronous,
        nullable: input.nullable.unwrap_or(true),
        retry: input.retry,
    };
    session.run(request, options, decode).await
}

fn bindings(input: &ExecuteQueryInput) -> Result<BTreeMap<String, Binding>, AppError> {
    let mut out = BTreeMap::new();
    for (position, binding) in &input.bindings {
        let field = format!("bindings.{position}");
        match position.parse::<u32>() {
            Ok(n) if n >= 1 && n.to_string() == *position => {}
            _ => {
                return Err(input_error(
                    &field,
                    "binding keys are 1-based positions: \"1\", \"2\", …",
                ))
            }
        }
        let kind = binding.kind.to_ascii_uppercase();
        if !BIND_TYPES.contains(&kind.as_str()) {
            return Err(input_error(
                &format!("{field}.type"),
                format!("must be one of {}", BIND_TYPES.join(", ")),
            ));
        }
        out.insert(
            position.clone(),
            Binding::new(kind, binding.value.to_text()),
        );
    }
    Ok(out)
}

/// `snowflake_get_statement_status`.
pub async fn statement_status(
    session: &ToolSession<'_>,
    input: StatementStatusInput,
) -> Result<Value, AppError> {
    let handle = handle(&input.statement_handle)?;
    let request_id = request_id(input.request_id.as_deref())?;
    session.claim(&handle)?;
    session
        .status(&handle, request_id, DecodeOptions::default())
        .await
}

/// `snowflake_get_partition`.
pub async fn partition(
    session: &ToolSession<'_>,
    input: PartitionInput,
) -> Result<Value, AppError> {
    let handle = handle(&input.statement_handle)?;
    let request_id = request_id(input.request_id.as_deref())?;
    let n =
        usize::try_from(input.partition).map_err(|_| input_error("partition", "is too large"))?;
    session.claim(&handle)?;
    match session.status_raw(&handle, request_id).await? {
        Submitted::Done(first) => session.partition(*first, n, DecodeOptions::default()).await,
        Submitted::Running { .. } => Ok(json!({
            "status": "running",
            "statement_handle": handle,
            "message": "the statement is still running; its partitions exist once it finishes",
        })),
    }
}

/// `snowflake_cancel_statement`.
pub async fn cancel(session: &ToolSession<'_>, input: CancelInput) -> Result<Value, AppError> {
    let handle = handle(&input.statement_handle)?;
    let request_id = request_id(input.request_id.as_deref())?;
    session.claim(&handle)?;
    let status = session
        .call(|client, credential| {
            let handle = &handle;
            async move { client.cancel_for(&credential, handle, request_id).await }
        })
        .await?;
    Ok(json!({
        "status": "cancelled",
        "statement_handle": handle,
        "code": status.code,
        "sql_state": status.sql_state,
        "message": status.message,
    }))
}
