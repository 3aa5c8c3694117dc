//! The input type of every tool. Field names are the wire names; doc comments become the JSON
//! Schema descriptions of `GET /v1/tools` and MCP `tools/list`. Every type refuses unknown
//! fields, and every one takes the optional `role` and `warehouse` session overrides.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A bind or parameter value: Snowflake takes strings; numbers and booleans are accepted and
/// sent as their text.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// A number.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The text Snowflake receives.
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// One bind variable.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingInput {
    /// Snowflake bind type: TEXT, FIXED, REAL, DECFLOAT, BOOLEAN, BINARY (hex), DATE (epoch
    /// milliseconds), TIME, TIMESTAMP_NTZ, TIMESTAMP_LTZ (epoch nanoseconds), TIMESTAMP_TZ
    /// (`"<nanos> <offset minutes + 1440>"`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The value (sent as a string).
    pub value: Scalar,
}

/// Optional session overrides shared by every tool.
pub trait SessionOverrides {
    /// The role to run as (case-sensitive, as SHOW ROLES prints it).
    fn role(&self) -> Option<&str>;
    /// The warehouse to run on.
    fn warehouse(&self) -> Option<&str>;
}

macro_rules! session_overrides {
    ($($t:ty),* $(,)?) => {$(
        impl SessionOverrides for $t {
            fn role(&self) -> Option<&str> {
                self.role.as_deref()
            }
            fn warehouse(&self) -> Option<&str> {
                self.warehouse.as_deref()
            }
        }
    )*};
}

session_overrides!(
    ExecuteQueryInput,
    StatementStatusInput,
    PartitionInput,
    CancelInput,
    ListSchemataInput,
    ListTablesInput,
    ListColumnsInput,
    ListTableConstraintsInput,
    ListReferentialConstraintsInput,
    ShowDatabasesSchemasInput,
    ShowWarehousesInput,
    ShowGrantsInput,
    ShowPrimaryKeysInput,
    ShowImportedExportedKeysInput,
    DescribeConnectionInput,
);

/// `snowflake_execute_query`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteQueryInput {
    /// One SQL statement. Put values in `bindings` and write `?` in the statement.
    pub statement: String,
    /// Answer at once with the statement handle instead of waiting for the result.
    #[serde(default, rename = "async")]
    pub asynchronous: bool,
    /// Bind variables keyed by 1-based position: `{"1": {"type": "TEXT", "value": "x"}}`.
    #[serde(default)]
    pub bindings: BTreeMap<String, BindingInput>,
    /// Database for unqualified names (case-sensitive; default: the connection's).
    #[serde(default)]
    pub database: Option<String>,
    /// Schema for unqualified names (case-sensitive; default: the connection's).
    #[serde(default)]
    pub schema: Option<String>,
    /// `false`: Snowflake sends SQL NULL as the text "null" (decoded to null except in text
    /// columns). Default `true`.
    #[serde(default)]
    pub nullable: Option<bool>,
    /// Session parameters for this statement, e.g. `{"QUERY_TAG": "report"}`
    /// (MULTI_STATEMENT_COUNT is not accepted: tools run one statement).
    #[serde(default)]
    pub parameters: BTreeMap<String, Scalar>,
    /// UUID of this logical request; resubmitting with the same id (and `retry: true`) does not
    /// run a statement that already succeeded.
    #[serde(default)]
    pub request_id: Option<String>,
    /// This is a resubmission of `request_id`.
    #[serde(default)]
    pub retry: bool,
    /// Statement timeout in seconds (≥ 1; default: the account's).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
    /// Role to run as (default: the connection's / the user's).
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on (default: the connection's / the user's).
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_get_statement_status`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementStatusInput {
    /// The statement handle (`01b03285-0001-dea1-003d-b087000ca9be`).
    pub statement_handle: String,
    /// UUID of the request that submitted it (optional).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Role (accepted for symmetry; a status call runs no SQL).
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse (accepted for symmetry; a status call runs no SQL).
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_get_partition`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionInput {
    /// The statement handle.
    pub statement_handle: String,
    /// Partition number (≥ 0; `partitions.total` of the first answer says how many).
    pub partition: u64,
    /// UUID of the request that submitted it (optional).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Role (accepted for symmetry; fetching a partition runs no SQL).
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse (accepted for symmetry; fetching a partition runs no SQL).
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_cancel_statement`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// The statement handle.
    pub statement_handle: String,
    /// UUID of the request that submitted it (optional).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Role (accepted for symmetry; cancelling runs no SQL).
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse (accepted for symmetry; cancelling runs no SQL).
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_list_schemata`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSchemataInput {
    /// Database whose schemas to list (exact name, case-sensitive, e.g. `SNOWFLAKE_SAMPLE_DATA`).
    pub database: String,
    /// Case-insensitive LIKE pattern on the schema name (`%`, `_`; escape with `\`).
    #[serde(default)]
    pub schema_like: Option<String>,
    /// Most rows to return (1-10000, default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_list_tables`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTablesInput {
    /// Database (exact name).
    pub database: String,
    /// Only this schema (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// Case-insensitive LIKE pattern on the table name.
    #[serde(default)]
    pub table_name_like: Option<String>,
    /// Most rows to return (1-10000, default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_list_columns`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListColumnsInput {
    /// Database (exact name).
    pub database: String,
    /// Only this schema (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// Only this table (exact name).
    #[serde(default)]
    pub table: Option<String>,
    /// Case-insensitive LIKE pattern on the column name.
    #[serde(default)]
    pub column_name_like: Option<String>,
    /// Most rows to return (1-10000, default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_list_table_constraints`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTableConstraintsInput {
    /// Database (exact name).
    pub database: String,
    /// Only this schema (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// Only this table (exact name).
    #[serde(default)]
    pub table: Option<String>,
    /// Only this kind of constraint.
    #[serde(default)]
    #[schemars(extend("enum" = ["PRIMARY KEY", "UNIQUE", "FOREIGN KEY"]))]
    pub constraint_type: Option<String>,
    /// Most rows to return (1-10000, default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_list_referential_constraints`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListReferentialConstraintsInput {
    /// Database (exact name).
    pub database: String,
    /// Only foreign keys of tables in this schema (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// Only foreign keys of this table (exact name).
    #[serde(default)]
    pub table: Option<String>,
    /// Most rows to return (1-10000, default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// What `snowflake_show_databases_schemas` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Variant comments are plain comments so the schema is a flat `enum` (agents read those best).
pub enum DbObjectType {
    // `SHOW DATABASES`.
    Databases,
    // `SHOW SCHEMAS`.
    Schemas,
}

/// `snowflake_show_databases_schemas`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowDatabasesSchemasInput {
    /// `databases` or `schemas`.
    pub object_type: DbObjectType,
    /// For `schemas`: only this database's (exact name; default: the whole account).
    #[serde(default)]
    pub database_name: Option<String>,
    /// Case-insensitive LIKE pattern on the name (`%`, `_`).
    #[serde(default)]
    pub like_pattern: Option<String>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_show_warehouses`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowWarehousesInput {
    /// Case-insensitive LIKE pattern on the warehouse name.
    #[serde(default)]
    pub like_pattern: Option<String>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// Which `SHOW GRANTS` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantView {
    // `SHOW GRANTS TO ROLE <role_name>`: privileges and roles granted to a role.
    ToRole,
    // `SHOW GRANTS TO USER <user_name>`: roles granted to a user.
    ToUser,
    // `SHOW GRANTS OF ROLE <role_name>`: who holds a role.
    OfRole,
    // `SHOW GRANTS ON <object_type> <object_name>`: privileges on an object.
    OnObject,
}

/// Object types `SHOW GRANTS ON` accepts here.
pub const GRANT_OBJECT_TYPES: [&str; 14] = [
    "ACCOUNT",
    "DATABASE",
    "SCHEMA",
    "TABLE",
    "VIEW",
    "WAREHOUSE",
    "ROLE",
    "USER",
    "INTEGRATION",
    "STAGE",
    "SEQUENCE",
    "STREAM",
    "TASK",
    "PIPE",
];

/// `snowflake_show_grants`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowGrantsInput {
    /// `to_role` and `of_role` need `role_name`; `to_user` needs `user_name`; `on_object`
    /// needs `object_type` and (except for ACCOUNT) `object_name`.
    pub grant_view: GrantView,
    /// Role (exact name).
    #[serde(default)]
    pub role_name: Option<String>,
    /// User (exact name).
    #[serde(default)]
    pub user_name: Option<String>,
    /// Object type (case-insensitive).
    #[serde(default)]
    #[schemars(extend("enum" = ["ACCOUNT", "DATABASE", "SCHEMA", "TABLE", "VIEW", "WAREHOUSE", "ROLE", "USER", "INTEGRATION", "STAGE", "SEQUENCE", "STREAM", "TASK", "PIPE"]))]
    pub object_type: Option<String>,
    /// Object name in identifier syntax: `DB.SCHEMA.TABLE`; unquoted parts resolve upper-case,
    /// double-quote parts that need it (`DB."My Table"`).
    #[serde(default)]
    pub object_name: Option<String>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_show_primary_keys`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowPrimaryKeysInput {
    /// Database (exact name; default: the whole account, or the session's for a schema/table).
    #[serde(default)]
    pub database_name: Option<String>,
    /// Schema (exact name).
    #[serde(default)]
    pub schema_name: Option<String>,
    /// Table (exact name).
    #[serde(default)]
    pub table_name: Option<String>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// Foreign keys of a table, or foreign keys that reference it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyDirection {
    // `SHOW IMPORTED KEYS`: the table's foreign keys.
    Imported,
    // `SHOW EXPORTED KEYS`: foreign keys of other tables referencing this one.
    Exported,
}

/// `snowflake_show_imported_exported_keys`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowImportedExportedKeysInput {
    /// `imported` or `exported`.
    pub key_direction: KeyDirection,
    /// Table (exact name).
    pub table_name: String,
    /// Schema (exact name; default: the session's).
    #[serde(default)]
    pub schema_name: Option<String>,
    /// Database (exact name; default: the session's).
    #[serde(default)]
    pub database_name: Option<String>,
    /// Role to run as.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to run on.
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// `snowflake_describe_connection`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeConnectionInput {
    /// Role to describe the session with.
    #[serde(default)]
    pub role: Option<String>,
    /// Warehouse to describe the session with.
    #[serde(default)]
    pub warehouse: Option<String>,
}
