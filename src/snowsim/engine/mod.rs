//! snowsim's SQL engine: executes Snowflake SQL against an embedded SQLite database loaded with
//! TPC-H data, and reports results the way Snowflake's SQL API does (rowType metadata with
//! lower-case type names, cells as strings in Snowflake's per-type encodings).
//!
//! The HTTP layer (`snowsim::sqlapi`) owns authentication, warehouses' suspended state, handles,
//! partitions and async execution; this module only runs statements.

use std::collections::BTreeMap;

use crate::snowsim::model::AccountModel;

/// Who runs a statement and in which namespace (already resolved by the HTTP layer; names are
/// exactly as Snowflake would hold them, i.e. upper case for unquoted identifiers).
#[derive(Debug, Clone, Default)]
pub struct SessionContext {
    /// Account locator, e.g. `XY12345` (what `CURRENT_ACCOUNT()` returns).
    pub account: String,
    /// User NAME (what `CURRENT_USER()` returns).
    pub user: String,
    /// Active role (what `CURRENT_ROLE()` returns).
    pub role: String,
    pub warehouse: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
}

/// One bind variable of the SQL API: `{"type": "FIXED", "value": "123"}`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Binding {
    #[serde(rename = "type")]
    pub kind: String,
    /// Always a string on the wire (or null for SQL NULL).
    pub value: Option<String>,
}

/// Per-statement options from the SQL API request.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Bindings keyed by 1-based position (`"1"`, `"2"`, …).
    pub bindings: BTreeMap<String, Binding>,
    /// Session parameters from the request body (keys upper-cased by the caller), e.g.
    /// `DATE_OUTPUT_FORMAT`, `TIMEZONE`, `QUERY_TAG`.
    pub parameters: BTreeMap<String, String>,
}

/// A column of `resultSetMetaData.rowType`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: String,
    pub database: String,
    pub schema: String,
    pub table: String,
    /// Lower-case Snowflake type: `fixed`, `real`, `text`, `date`, `time`, `timestamp_ntz`,
    /// `timestamp_ltz`, `timestamp_tz`, `boolean`, `binary`, `variant`, `object`, `array`.
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    pub length: Option<u64>,
    pub byte_length: Option<u64>,
    pub collation: Option<String>,
}

/// DML counters (`stats` in the SQL API response).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DmlStats {
    pub num_rows_inserted: u64,
    pub num_rows_updated: u64,
    pub num_rows_deleted: u64,
    pub num_duplicate_rows_updated: u64,
}

/// A finished statement's result: metadata plus every row, cells already encoded as Snowflake
/// sends them (`None` is SQL NULL).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
    pub stats: Option<DmlStats>,
}

/// A statement that failed the way Snowflake reports it (SQL API 422 body fields).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} ({sql_state}): {message}")]
pub struct SqlError {
    /// Snowflake error code, e.g. `"000904"` (invalid identifier), `"001003"` (syntax error),
    /// `"002003"` (object does not exist), `"100037"` (bad bind value).
    pub code: String,
    /// SQLSTATE, e.g. `"42000"`, `"42S02"`, `"22018"`.
    pub sql_state: String,
    /// Snowflake-style message, e.g. `SQL compilation error: error line 1 at position 7\ninvalid identifier 'AFAF'`.
    pub message: String,
}

/// Engine construction options.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The account this engine serves (roles, warehouses, grants, users for SHOW commands).
    pub account: AccountModel,
    /// TPC-H scale factor for `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1`.
    pub tpch_scale: f64,
}

/// A per-account SQL engine. Cheap to share (`Arc<Engine>`); `execute` is blocking and callers
/// run it off the async workers.
pub struct Engine {
    _config: EngineConfig,
}

impl Engine {
    /// Builds the database and loads TPC-H data.
    pub fn new(config: EngineConfig) -> Result<Self, SqlError> {
        Ok(Self { _config: config })
    }

    /// Executes one statement (the HTTP layer splits multi-statement requests).
    pub fn execute(
        &self,
        _ctx: &SessionContext,
        _sql: &str,
        _opts: &ExecOptions,
    ) -> Result<QueryResult, SqlError> {
        Err(SqlError {
            code: "000002".into(),
            sql_state: "0A000".into(),
            message: "engine under construction".into(),
        })
    }
}
