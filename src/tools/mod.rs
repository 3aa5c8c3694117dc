//! Tools: named Snowflake operations with JSON-Schema inputs and typed JSON outputs, run for an
//! end user of an OAuth connection (identifier) or a keypair connection's service identity.
//! `GET /v1/tools`, `POST /v1/tools/execute` and the MCP endpoint all go through [`catalog`] and
//! [`execute`]; this module knows nothing of actix.
//!
//! Invariants:
//! - every input type refuses unknown fields, and every input error is 400
//!   `invalid_tool_input` with a message that starts with the failing field
//!   (`tool_input.limit: …`);
//! - metadata SQL follows SECURITY.md §6 (see [`sql`]); statements run with the caller's
//!   connection and principal only (see [`session`]);
//! - results are decoded per [`decode`] and capped at [`session::ROW_CAP`] rows;
//! - every execution is written to the audit log under the tool's name.

pub mod decode;
pub mod describe;
pub mod inputs;
pub mod metadata;
pub mod query;
#[cfg(test)]
mod quoting_props;
pub mod session;
pub mod show;
pub mod sql;

use std::sync::OnceLock;
use std::time::Instant;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use inputs::SessionOverrides;

use crate::api_keys::ApiKeyRecord;
use crate::audit::AuditEntry;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;
use inputs::*;
use session::ToolSession;

/// One tool as `GET /v1/tools` and MCP `tools/list` describe it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolSpec {
    /// Stable name, e.g. `snowflake_list_tables`.
    pub name: &'static str,
    /// What it does, for people and agents.
    pub description: &'static str,
    /// JSON Schema (draft 2020-12, subschemas inlined) generated from the Rust input type.
    pub input_schema: Value,
    /// What `data` holds on success.
    pub output: &'static str,
}

/// A tool call.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ToolRequest {
    /// A name from [`catalog`].
    pub tool_name: String,
    /// The connection to use (the API key must be allowed it).
    pub connection_name: String,
    /// The end user (required for OAuth connections; recorded in the audit log for keypair ones).
    pub identifier: Option<String>,
    /// The tool's input (`null` or absent is taken as `{}`).
    #[serde(default)]
    pub tool_input: Value,
}

/// A tool call's answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolResult {
    /// The tool's output (see [`ToolSpec::output`]).
    pub data: Value,
    /// Id of this execution (also the SQL API `requestId` of a statement it submitted unless
    /// the caller gave one); quoted in the audit log.
    pub execution_id: uuid::Uuid,
}

const TYPED_RESULT: &str = "Typed result: {status: \"succeeded\", columns: [{name, type, \
    nullable, precision, scale}], rows: [{<column>: value}], num_rows (rows in this answer), \
    total_rows, statement_handle, partitions: {total, returned}, truncated, next_partition and \
    message when the row cap stopped it}. Values: FIXED → integer (exact decimal string when a \
    double cannot hold it), REAL → number, DATE → YYYY-MM-DD, TIME → HH:MM:SS.fff, \
    TIMESTAMP_NTZ → ISO-8601 without offset, TIMESTAMP_LTZ/TZ → ISO-8601 with offset, \
    VARIANT/OBJECT/ARRAY → JSON, BINARY → base64. A statement still running after 60 s gives \
    {status: \"running\", statement_handle, message}.";

type SchemaFn = fn() -> Value;

struct Entry {
    name: &'static str,
    description: &'static str,
    output: &'static str,
    schema: SchemaFn,
}

const ENTRIES: [Entry; 15] = [
    Entry {
        name: "snowflake_execute_query",
        description: "Runs one SQL statement (bind values with ? and bindings) and returns typed \
            rows, following result partitions up to 10,000 rows.",
        output: TYPED_RESULT,
        schema: schema_of::<ExecuteQueryInput>,
    },
    Entry {
        name: "snowflake_get_statement_status",
        description: "Status of a submitted statement: the typed result when it has finished, \
            running otherwise.",
        output: TYPED_RESULT,
        schema: schema_of::<StatementStatusInput>,
    },
    Entry {
        name: "snowflake_get_partition",
        description: "One partition of a finished statement's result, typed with the result's \
            column metadata.",
        output: "Typed result of one partition (see snowflake_execute_query) plus partition.",
        schema: schema_of::<PartitionInput>,
    },
    Entry {
        name: "snowflake_cancel_statement",
        description: "Cancels a running statement.",
        output: "{status: \"cancelled\", statement_handle, code, sql_state, message} as \
            Snowflake answered.",
        schema: schema_of::<CancelInput>,
    },
    Entry {
        name: "snowflake_list_schemata",
        description: "Schemas of a database from INFORMATION_SCHEMA.SCHEMATA, optionally \
            filtered by a case-insensitive LIKE pattern.",
        output: "Typed result with CATALOG_NAME, SCHEMA_NAME, SCHEMA_OWNER, IS_TRANSIENT, \
            IS_MANAGED_ACCESS, RETENTION_TIME, CREATED, LAST_ALTERED, COMMENT.",
        schema: schema_of::<ListSchemataInput>,
    },
    Entry {
        name: "snowflake_list_tables",
        description: "Tables and views of a database (optionally one schema) from \
            INFORMATION_SCHEMA.TABLES.",
        output: "Typed result with TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, \
            ROW_COUNT, BYTES, CREATED, LAST_ALTERED, COMMENT.",
        schema: schema_of::<ListTablesInput>,
    },
    Entry {
        name: "snowflake_list_columns",
        description: "Columns with their types from INFORMATION_SCHEMA.COLUMNS, in table order.",
        output: "Typed result with TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, \
            DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, \
            NUMERIC_SCALE, COMMENT.",
        schema: schema_of::<ListColumnsInput>,
    },
    Entry {
        name: "snowflake_list_table_constraints",
        description: "Primary key, unique and foreign key constraints from \
            INFORMATION_SCHEMA.TABLE_CONSTRAINTS.",
        output: "Typed result with CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME, \
            TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_TYPE, IS_DEFERRABLE, INITIALLY_DEFERRED, \
            ENFORCED, COMMENT.",
        schema: schema_of::<ListTableConstraintsInput>,
    },
    Entry {
        name: "snowflake_list_referential_constraints",
        description: "Foreign keys with the table they belong to and the table they reference \
            (INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS joined with TABLE_CONSTRAINTS).",
        output: "Typed result with CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME, \
            TABLE_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, UNIQUE_CONSTRAINT_NAME, \
            REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, MATCH_OPTION, UPDATE_RULE, \
            DELETE_RULE, COMMENT.",
        schema: schema_of::<ListReferentialConstraintsInput>,
    },
    Entry {
        name: "snowflake_show_databases_schemas",
        description: "SHOW DATABASES or SHOW SCHEMAS (in one database or the account), \
            optionally filtered by a LIKE pattern.",
        output: "Typed result with SHOW's columns (created_on, name, …).",
        schema: schema_of::<ShowDatabasesSchemasInput>,
    },
    Entry {
        name: "snowflake_show_warehouses",
        description: "SHOW WAREHOUSES, optionally filtered by a LIKE pattern.",
        output: "Typed result with SHOW WAREHOUSES' columns (name, state, type, size, …).",
        schema: schema_of::<ShowWarehousesInput>,
    },
    Entry {
        name: "snowflake_show_grants",
        description: "SHOW GRANTS TO ROLE, TO USER, OF ROLE or ON an object.",
        output: "Typed result with SHOW GRANTS' columns (created_on, privilege, granted_on, \
            name, granted_to, grantee_name, …).",
        schema: schema_of::<ShowGrantsInput>,
    },
    Entry {
        name: "snowflake_show_primary_keys",
        description: "SHOW PRIMARY KEYS in a table, schema, database or the account: one row \
            per key column.",
        output: "Typed result with SHOW PRIMARY KEYS' columns (database_name, schema_name, \
            table_name, column_name, key_sequence, constraint_name, …).",
        schema: schema_of::<ShowPrimaryKeysInput>,
    },
    Entry {
        name: "snowflake_show_imported_exported_keys",
        description: "SHOW IMPORTED KEYS (a table's foreign keys) or SHOW EXPORTED KEYS (foreign \
            keys referencing the table): one row per column pair.",
        output: "Typed result with pk_database_name, pk_schema_name, pk_table_name, \
            pk_column_name, fk_database_name, fk_schema_name, fk_table_name, fk_column_name, \
            key_sequence, fk_name, pk_name, ….",
        schema: schema_of::<ShowImportedExportedKeysInput>,
    },
    Entry {
        name: "snowflake_describe_connection",
        description: "Who and where tool calls run: current user, role, warehouse, database, \
            schema, account and the roles the user can use. A cheap first call.",
        output: "{connection, kind, identifier, account, user, role, warehouse, database, \
            schema, available_roles: [..], defaults: {role, warehouse, database, schema}, \
            statement_handle}.",
        schema: schema_of::<DescribeConnectionInput>,
    },
];

/// The JSON Schema of `T` (draft 2020-12, subschemas inlined so clients need no `$ref`).
fn schema_of<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or_else(|_| json!({}))
}

/// Every tool, in a stable order; built once.
pub fn catalog() -> &'static [ToolSpec] {
    static CATALOG: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        ENTRIES
            .iter()
            .map(|e| ToolSpec {
                name: e.name,
                description: e.description,
                input_schema: (e.schema)(),
                output: e.output,
            })
            .collect()
    })
}

/// 400 `invalid_tool_input` naming `field` (`tool_input.<field>: <why>`).
pub fn input_error(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorCode::InvalidToolInput,
        format!("tool_input.{field}: {why}"),
    )
}

/// Deserializes a tool's input, naming the failing field on error.
fn parse<T: DeserializeOwned>(input: &Value) -> Result<T, AppError> {
    let value = if input.is_null() {
        json!({})
    } else {
        input.clone()
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let why = e.inner().to_string();
        if path == "." {
            AppError::new(ErrorCode::InvalidToolInput, format!("tool_input: {why}"))
        } else {
            input_error(&path, why)
        }
    })
}

/// Runs one tool for `caller`: 404 `tool_not_found` for an unknown name, 400
/// `invalid_tool_input` for bad input, the proxy's connection/account errors, and Snowflake
/// failures mapped to `statement_failed`, `snowflake_auth_failed`, `statement_timeout`,
/// `rate_limited` or `upstream_unavailable`. The SQL API client is `state.sql_api` (its own
/// pool), so no per-worker proxy client is needed.
pub async fn execute(
    state: &AppState,
    caller: &ApiKeyRecord,
    req: ToolRequest,
) -> Result<ToolResult, AppError> {
    let execution_id = uuid::Uuid::new_v4();
    let started = Instant::now();
    let known = catalog().iter().find(|t| t.name == req.tool_name);
    let outcome = match known {
        Some(spec) => dispatch(state, caller, spec.name, &req, execution_id).await,
        None => Err(AppError::new(
            ErrorCode::ToolNotFound,
            format!(
                "no tool named {:?}; GET /v1/tools lists them",
                req.tool_name.chars().take(100).collect::<String>()
            ),
        )),
    };
    let entry = AuditEntry {
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        api_key_id: caller.id.clone(),
        connection: req.connection_name.chars().take(100).collect(),
        identifier: req.identifier.clone(),
        method: "POST".to_owned(),
        path: format!("/v1/tools/{}", known.map_or("unknown", |t| t.name)),
        statement_sha256: None,
        request_id: Some(execution_id.to_string()),
        statement_handle: outcome
            .as_ref()
            .ok()
            .and_then(|data| data["statement_handle"].as_str().map(str::to_owned)),
        upstream_status: None,
        error_code: outcome.as_ref().err().map(|e| e.code().as_str().to_owned()),
        duration_ms: started.elapsed().as_millis() as u64,
        retries: 0,
    };
    state.audit.record(entry);
    outcome.map(|data| ToolResult { data, execution_id })
}

async fn dispatch(
    state: &AppState,
    caller: &ApiKeyRecord,
    name: &'static str,
    req: &ToolRequest,
    execution_id: uuid::Uuid,
) -> Result<Value, AppError> {
    let input = &req.tool_input;
    let identifier = req.identifier.as_deref();
    let open = || {
        ToolSession::open(state, caller, &req.connection_name, identifier)
            .map(|s| s.with_execution_id(execution_id))
    };
    match name {
        "snowflake_execute_query" => {
            let input: ExecuteQueryInput = parse(input)?;
            query::execute_query(&open()?, input, state.proxy_max_body).await
        }
        "snowflake_get_statement_status" => query::statement_status(&open()?, parse(input)?).await,
        "snowflake_get_partition" => query::partition(&open()?, parse(input)?).await,
        "snowflake_cancel_statement" => query::cancel(&open()?, parse(input)?).await,
        "snowflake_list_schemata" => metadata::list_schemata(&open()?, parse(input)?).await,
        "snowflake_list_tables" => metadata::list_tables(&open()?, parse(input)?).await,
        "snowflake_list_columns" => metadata::list_columns(&open()?, parse(input)?).await,
        "snowflake_list_table_constraints" => {
            metadata::list_table_constraints(&open()?, parse(input)?).await
        }
        "snowflake_list_referential_constraints" => {
            metadata::list_referential_constraints(&open()?, parse(input)?).await
        }
        "snowflake_show_databases_schemas" => {
            let input: ShowDatabasesSchemasInput = parse(input)?;
            let sql = show::databases_schemas_sql(&input)?;
            show::run_show(&open()?, sql, &input).await
        }
        "snowflake_show_warehouses" => {
            let input: ShowWarehousesInput = parse(input)?;
            let sql = show::warehouses_sql(&input)?;
            show::run_show(&open()?, sql, &input).await
        }
        "snowflake_show_grants" => {
            let input: ShowGrantsInput = parse(input)?;
            let sql = show::grants_sql(&input)?;
            show::run_show(&open()?, sql, &input).await
        }
        "snowflake_show_primary_keys" => {
            let input: ShowPrimaryKeysInput = parse(input)?;
            let sql = show::primary_keys_sql(&input)?;
            show::run_show(&open()?, sql, &input).await
        }
        "snowflake_show_imported_exported_keys" => {
            let input: ShowImportedExportedKeysInput = parse(input)?;
            let sql = show::keys_sql(&input)?;
            show::run_show(&open()?, sql, &input).await
        }
        "snowflake_describe_connection" => {
            describe::describe(&open()?, parse(input)?, identifier).await
        }
        other => Err(AppError::internal(anyhow::anyhow!(
            "tool {other} is in the catalog but not dispatched"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_fifteen_tools_with_object_schemas_that_refuse_unknown_fields() {
        let tools = catalog();
        assert_eq!(tools.len(), 15);
        let names: std::collections::HashSet<_> = tools.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), 15);
        for tool in tools {
            let schema = &tool.input_schema;
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
            assert!(schema["properties"]["role"].is_object(), "{}", tool.name);
            assert!(
                schema["properties"]["warehouse"].is_object(),
                "{}",
                tool.name
            );
            assert!(!schema.to_string().contains("$ref"), "{}", tool.name);
        }
        let exec = &tools[0].input_schema;
        assert_eq!(exec["required"], json!(["statement"]));
        assert_eq!(exec["properties"]["timeout"]["minimum"], 1);
        let tables = &catalog()[5].input_schema;
        assert_eq!(tables["properties"]["limit"]["maximum"], 10000);
        let grants = &catalog()[11].input_schema;
        assert_eq!(
            grants["properties"]["grant_view"]["enum"],
            json!(["to_role", "to_user", "of_role", "on_object"])
        );
    }

    #[test]
    fn input_errors_name_the_field() {
        let cases = [
            (json!({"database": 5}), "tool_input.database:"),
            (
                json!({"database": "D", "limit": "ten"}),
                "tool_input.limit:",
            ),
            (json!({"database": "D", "bogus": 1}), "bogus"),
            (json!({}), "database"),
        ];
        for (input, want) in cases {
            let err = parse::<ListTablesInput>(&input).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidToolInput);
            assert!(err.message().contains(want), "{}", err.message());
        }
    }
}
