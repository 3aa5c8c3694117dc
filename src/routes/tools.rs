//! `GET /v1/tools` (the tool catalog) and `POST /v1/tools/execute` (run one tool). Thin: the
//! rules live in [`crate::tools`], which the MCP endpoint shares.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::http::auth::ServiceCaller;
use crate::state::AppState;
use crate::tools::{self, ToolRequest};

/// One tool.
#[derive(Serialize, ToSchema)]
pub struct ToolDescription {
    /// Stable name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// JSON Schema of `tool_input`.
    #[schema(value_type = Object)]
    pub input_schema: serde_json::Value,
    /// What `data` holds on success.
    pub output: &'static str,
}

/// Body of `GET /v1/tools`.
#[derive(Serialize, ToSchema)]
pub struct ToolList {
    /// Every tool.
    pub tools: Vec<ToolDescription>,
}

/// Body of `POST /v1/tools/execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteTool {
    /// A name from `GET /v1/tools`.
    pub tool_name: String,
    /// The connection (the API key must be allowed it).
    pub connection_name: String,
    /// The end user; required for OAuth connections, recorded in the audit log for keypair ones.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The tool's input, per its `input_schema`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tool_input: serde_json::Value,
}

/// Answer of `POST /v1/tools/execute`.
#[derive(Serialize, ToSchema)]
pub struct ToolExecution {
    /// The tool's output.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Id of this execution (in the audit log; the statement's requestId unless one was given).
    pub execution_id: uuid::Uuid,
}

/// The tool catalog.
#[utoipa::path(get, path = "/v1/tools", tag = "tools", security(("api_key" = [])),
    responses((status = 200, body = ToolList),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_tools(_caller: ServiceCaller) -> HttpResponse {
    let tools = tools::catalog()
        .iter()
        .map(|t| ToolDescription {
            name: t.name,
            description: t.description,
            input_schema: t.input_schema.clone(),
            output: t.output,
        })
        .collect();
    HttpResponse::Ok().json(ToolList { tools })
}

/// Runs one tool through a connection the key may use.
#[utoipa::path(post, path = "/v1/tools/execute", tag = "tools", security(("api_key" = [])),
    request_body = ExecuteTool,
    responses((status = 200, body = ToolExecution),
              (status = 400, body = crate::routes::openapi::ErrorEnvelope, description = "invalid_tool_input (the message names the field)"),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope, description = "tool_not_found, connection_not_found"),
              (status = 422, body = crate::routes::openapi::ErrorEnvelope, description = "statement_failed: Snowflake's code, SQLSTATE and message"),
              (status = 502, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_execute(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    body: web::Json<ExecuteTool>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    // Held until the tool's Snowflake calls are done: rate limits and the concurrency cap.
    let _admission = crate::http::limits::admit(
        &state,
        &caller,
        &body.connection_name,
        body.identifier.as_deref(),
    )?;
    let request = ToolRequest {
        tool_name: body.tool_name,
        connection_name: body.connection_name,
        identifier: body.identifier,
        tool_input: body.tool_input,
    };
    let result = tools::execute(&state, &caller.0, request).await?;
    Ok(HttpResponse::Ok().json(ToolExecution {
        data: result.data,
        execution_id: result.execution_id,
    }))
}
