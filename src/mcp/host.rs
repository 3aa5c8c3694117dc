//! The seam between the MCP protocol layer and the tool catalog: [`ToolHost`] lists tools and
//! runs one for an authenticated caller. Production uses [`crate::mcp::catalog::CatalogHost`]
//! (the same catalog and executor as `/v1/tools`); the protocol tests use a small in-test host.

use std::future::Future;

use serde_json::Value;

use crate::api_keys::ApiKeyRecord;
use crate::error::AppError;

/// One tool as the host describes it (borrowed from the catalog).
#[derive(Debug, Clone, Copy)]
pub struct ToolInfo<'a> {
    /// Stable tool name (`snowflake_execute_query`, …).
    pub name: &'a str,
    /// What the tool does, for the model.
    pub description: &'a str,
    /// JSON Schema of the tool's input object.
    pub input_schema: &'a Value,
    /// What the tool returns, in prose.
    pub output: &'a str,
}

/// One tool run: the tool, where it runs and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name.
    pub tool_name: String,
    /// The connection to run it on.
    pub connection_name: String,
    /// The end user (OAuth connections); `None` for keypair connections.
    pub identifier: Option<String>,
    /// The tool's input object.
    pub tool_input: Value,
}

/// What a successful run returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The typed result.
    pub data: Value,
    /// The audit id of this run.
    pub execution_id: uuid::Uuid,
}

/// Lists and runs tools. Errors are ordinary [`AppError`]s: the MCP layer turns them into tool
/// results with `isError: true` carrying the error code.
pub trait ToolHost {
    /// Every tool, in catalog order.
    fn tools(&self) -> Vec<ToolInfo<'_>>;

    /// Runs one tool for `caller`.
    fn call(
        &self,
        caller: &ApiKeyRecord,
        call: ToolCall,
    ) -> impl Future<Output = Result<ToolOutput, AppError>>;
}
