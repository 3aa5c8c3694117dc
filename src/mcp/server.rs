//! The MCP server proper, free of HTTP types: takes one POST body (already authenticated and
//! checked for origin and protocol version by the route) and returns what to answer. Methods:
//! `initialize`, `ping`, `tools/list`, `tools/call`; notifications (`notifications/initialized`,
//! `notifications/cancelled`, …) and client responses are accepted with 202. The server is
//! stateless (no `Mcp-Session-Id`): every request carries its API key, so any replica can
//! answer it.

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, ErrorCode, ErrorData, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ServerCapabilities, Tool, ToolsCapability,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::host::{ToolCall, ToolHost, ToolInfo};
use super::jsonrpc::{self, Incoming};
use super::version;
use crate::api_keys::ApiKeyRecord;
use crate::error::{AppError, ErrorCode as AppCode};

/// Where tool calls run: from the `X-Icebroker-*` headers, else the API key's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The connection, if the request or the key names one.
    pub connection: Option<String>,
    /// The end-user identifier, if the request or the key names one.
    pub identifier: Option<String>,
}

/// Everything one POST is handled with.
pub struct Context<'a, H> {
    /// Lists and runs the tools.
    pub host: &'a H,
    /// The authenticated caller.
    pub caller: &'a ApiKeyRecord,
    /// Where tool calls run.
    pub target: Target,
    /// The protocol revision of this request (from `MCP-Protocol-Version`).
    pub version: &'static str,
}

/// What to answer: an HTTP status and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// 200 with a body, 202 without one, 400 for unusable input.
    pub status: u16,
    /// The JSON-RPC response (or batch of them).
    pub body: Option<Value>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn accepted() -> Self {
        Self {
            status: 202,
            body: None,
        }
    }

    /// A 400 carrying a JSON-RPC error without an id (transport-level refusals).
    pub fn bad_request(error: ErrorData) -> Self {
        Self::json(400, jsonrpc::error(None, error))
    }
}

/// Handles one POST body.
pub async fn handle_body<H: ToolHost>(ctx: &Context<'_, H>, body: &[u8]) -> Reply {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            return Reply::bad_request(ErrorData::parse_error(
                format!("the body is not valid JSON: {e}"),
                None,
            ))
        }
    };
    match value {
        Value::Array(batch) => handle_batch(ctx, batch).await,
        single => match handle_message(ctx, single, false).await {
            Outcome::Respond(response) => Reply::json(200, response),
            Outcome::Reject(response) => Reply::json(400, response),
            Outcome::Accepted => Reply::accepted(),
        },
    }
}

async fn handle_batch<H: ToolHost>(ctx: &Context<'_, H>, batch: Vec<Value>) -> Reply {
    if !version::allows_batches(ctx.version) {
        return Reply::bad_request(ErrorData::invalid_request(
            format!(
                "JSON-RPC batches are not part of MCP {}; send one message per POST",
                ctx.version
            ),
            None,
        ));
    }
    if batch.is_empty() {
        return Reply::bad_request(ErrorData::invalid_request("empty batch", None));
    }
    let mut responses = Vec::new();
    for message in batch {
        match handle_message(ctx, message, true).await {
            Outcome::Respond(r) | Outcome::Reject(r) => responses.push(r),
            Outcome::Accepted => {}
        }
    }
    if responses.is_empty() {
        Reply::accepted()
    } else {
        Reply::json(200, Value::Array(responses))
    }
}

enum Outcome {
    /// A response to a request (success or JSON-RPC error).
    Respond(Value),
    /// The message was not valid JSON-RPC.
    Reject(Value),
    /// A notification or a response: nothing to answer.
    Accepted,
}

async fn handle_message<H: ToolHost>(
    ctx: &Context<'_, H>,
    message: Value,
    in_batch: bool,
) -> Outcome {
    match jsonrpc::classify(message) {
        Err(invalid) => Outcome::Reject(jsonrpc::error(
            invalid.id,
            ErrorData::invalid_request(invalid.message, None),
        )),
        Ok(Incoming::Notification { method }) => {
            tracing::debug!(method = %method, "mcp notification");
            Outcome::Accepted
        }
        Ok(Incoming::Response) => Outcome::Accepted,
        Ok(Incoming::Request { id, method, params }) => {
            let response = match call_method(ctx, &method, params, in_batch).await {
                Ok(result) => jsonrpc::result(id, result),
                Err(error) => jsonrpc::error(Some(id), error),
            };
            Outcome::Respond(response)
        }
    }
}

async fn call_method<H: ToolHost>(
    ctx: &Context<'_, H>,
    method: &str,
    params: Option<Value>,
    in_batch: bool,
) -> Result<Value, ErrorData> {
    match method {
        "initialize" if in_batch => Err(ErrorData::invalid_request(
            "initialize must not be part of a JSON-RPC batch",
            None,
        )),
        "initialize" => initialize(parse_params(params)?),
        "ping" => Ok(json!({})),
        "tools/list" => list_tools(ctx, parse_optional_params(params)?),
        "tools/call" => call_tool(ctx, parse_params(params)?).await,
        other => Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {other}"),
            None,
        )),
    }
}

fn parse_params<T: DeserializeOwned>(params: Option<Value>) -> Result<T, ErrorData> {
    let params = params.ok_or_else(|| ErrorData::invalid_params("`params` is required", None))?;
    serde_json::from_value(params)
        .map_err(|e| ErrorData::invalid_params(format!("invalid params: {e}"), None))
}

fn parse_optional_params<T: DeserializeOwned + Default>(
    params: Option<Value>,
) -> Result<T, ErrorData> {
    match params {
        None => Ok(T::default()),
        some => parse_params(some),
    }
}

fn initialize(params: InitializeRequestParams) -> Result<Value, ErrorData> {
    let agreed = version::negotiate(params.protocol_version.as_str());
    let mut capabilities = ServerCapabilities::default();
    let mut tools = ToolsCapability::default();
    tools.list_changed = Some(false);
    capabilities.tools = Some(tools);
    let result = InitializeResult::new(capabilities)
        .with_protocol_version(protocol_version(agreed))
        .with_server_info(Implementation::new("icebroker", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "icebroker runs Snowflake tools on one connection: the one named by the \
             X-Icebroker-Connection header, else the API key's default; OAuth connections act \
             for the end user named by X-Icebroker-Identifier (or the key's default). Call \
             snowflake_describe_connection first to see the user, role and warehouse. A failed \
             tool call returns isError with the icebroker error code in structuredContent.error.",
        );
    to_result(&result)
}

fn protocol_version(agreed: &'static str) -> ProtocolVersion {
    // Deserialising maps known dates to rmcp's constants; every supported one is known.
    serde_json::from_value(Value::String(agreed.to_owned())).unwrap_or_default()
}

fn list_tools<H: ToolHost>(
    ctx: &Context<'_, H>,
    params: PaginatedRequestParams,
) -> Result<Value, ErrorData> {
    if params.cursor.is_some() {
        // The whole catalog fits in one page, so no cursor is ever handed out.
        return Err(ErrorData::invalid_params(
            "unknown cursor: tools/list returns every tool in one page",
            None,
        ));
    }
    let tools = ctx.host.tools().into_iter().map(mcp_tool).collect();
    let mut result = ListToolsResult::with_all_items(tools);
    // `resultType` belongs to the 2026 revisions; handshake-era clients get the old shape.
    result.result_type = None;
    to_result(&result)
}

fn mcp_tool(info: ToolInfo<'_>) -> Tool {
    let schema = match info.input_schema {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    Tool::new(
        info.name.to_owned(),
        format!("{}\n\nReturns: {}", info.description, info.output),
        schema,
    )
}

async fn call_tool<H: ToolHost>(
    ctx: &Context<'_, H>,
    params: CallToolRequestParams,
) -> Result<Value, ErrorData> {
    let name = params.name.into_owned();
    if !ctx.host.tools().iter().any(|t| t.name == name) {
        // An unknown tool is a protocol error (MCP "Error Handling"), not a tool result.
        return Err(ErrorData::invalid_params(
            format!("unknown tool: {name}; tools/list names them"),
            None,
        ));
    }
    let result = match run_tool(ctx, name, params.arguments).await {
        Ok(result) => result,
        Err(error) => tool_error(&error),
    };
    to_result(&result)
}

async fn run_tool<H: ToolHost>(
    ctx: &Context<'_, H>,
    tool_name: String,
    arguments: Option<Map<String, Value>>,
) -> Result<CallToolResult, AppError> {
    let connection = ctx.target.connection.clone().ok_or_else(|| {
        AppError::new(
            AppCode::InvalidRequest,
            "no connection: send the X-Icebroker-Connection header or create the API key \
             with a default_connection",
        )
    })?;
    if !ctx.caller.allows_connection(&connection) {
        return Err(AppError::new(
            AppCode::Forbidden,
            format!("this API key is not allowed to use connection {connection:?}"),
        ));
    }
    let output = ctx
        .host
        .call(
            ctx.caller,
            ToolCall {
                tool_name,
                connection_name: connection,
                identifier: ctx.target.identifier.clone(),
                tool_input: Value::Object(arguments.unwrap_or_default()),
            },
        )
        .await?;
    // The same `{data, execution_id}` object `POST /v1/tools/execute` answers with.
    let structured = json!({"data": output.data, "execution_id": output.execution_id});
    let mut result = CallToolResult::success(vec![ContentBlock::text(structured.to_string())]);
    result.structured_content = Some(structured);
    result.result_type = None;
    Ok(result)
}

/// A failed run as a tool result: `isError: true`, the icebroker error object (same shape as
/// the HTTP API's) in `structuredContent.error`, and `code: message` as text for the model.
fn tool_error(error: &AppError) -> CallToolResult {
    if let Some(cause) = error.cause() {
        // Logged once, here; the client sees only the generic message and the request id.
        tracing::error!(error.code = error.code().as_str(), error.cause = %format!("{cause:#}"), "mcp tool call failed");
    }
    let code = error.code();
    let structured = json!({"error": {
        "code": code.as_str(),
        "type": code.kind(),
        "message": error.message(),
        "request_id": crate::http::request_id::current().unwrap_or_default(),
    }});
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        code.as_str(),
        error.message()
    ))]);
    result.structured_content = Some(structured);
    result.result_type = None;
    result
}

fn to_result<T: serde::Serialize>(value: &T) -> Result<Value, ErrorData> {
    serde_json::to_value(value)
        .map_err(|_| ErrorData::internal_error("could not encode the result", None))
}
