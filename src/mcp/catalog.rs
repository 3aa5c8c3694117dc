//! The production [`ToolHost`]: the tool catalog and executor behind `/v1/tools`, so MCP
//! clients see exactly the same tools, inputs, results, audit entries and error codes.

use super::host::{ToolCall, ToolHost, ToolInfo, ToolOutput};
use crate::api_keys::ApiKeyRecord;
use crate::error::AppError;
use crate::state::AppState;
use crate::tools::{self, ToolRequest};

/// [`ToolHost`] over [`crate::tools`].
pub struct CatalogHost<'a> {
    /// The shared application state the executor runs with.
    pub state: &'a AppState,
}

impl ToolHost for CatalogHost<'_> {
    fn tools(&self) -> Vec<ToolInfo<'_>> {
        tools::catalog()
            .iter()
            .map(|spec| ToolInfo {
                name: spec.name,
                description: spec.description,
                input_schema: &spec.input_schema,
                output: spec.output,
            })
            .collect()
    }

    async fn call(&self, caller: &ApiKeyRecord, call: ToolCall) -> Result<ToolOutput, AppError> {
        // The same per-key, per-user and per-connection limits as /v1/tools/execute.
        let _admission = crate::http::limits::admit_key(
            self.state,
            caller,
            &call.connection_name,
            call.identifier.as_deref(),
        )?;
        let request = ToolRequest {
            tool_name: call.tool_name,
            connection_name: call.connection_name,
            identifier: call.identifier,
            tool_input: call.tool_input,
        };
        let result = tools::execute(self.state, caller, request).await?;
        Ok(ToolOutput {
            data: result.data,
            execution_id: result.execution_id,
        })
    }
}
