//! Wire DTOs of the SQL API v2 (PROTOCOL.md A.3–A.6): the statement request we send and the
//! result, status and cancel bodies Snowflake answers with.
//!
//! Invariants: requests skip unset fields (Snowflake then applies the user's defaults); responses
//! are lenient — every field real Snowflake may omit or add (A.8: `statementHandles`,
//! `requestId`, rowType `database/schema/table/byteLength/collation`, `compressedSize`) is optional
//! and unknown fields are ignored. Cells are `Option<String>`; a non-string JSON scalar (which
//! Snowflake never sends, but a double might) is turned into its JSON text rather than rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cells::deserialize_rows;
use super::handle::StatementHandle;

/// One row of a result: one cell per column, `None` for SQL NULL (with `nullable=true`).
pub type Row = Vec<Option<String>>;

/// Body of `POST /api/v2/statements`.
///
/// `Debug` shows the statement's length and the bindings' types only: statement text and bind
/// values may carry customer data and must not reach logs by accident.
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementRequest {
    /// The SQL text (one statement, or several with `MULTI_STATEMENT_COUNT`).
    pub statement: String,
    /// Statement timeout in seconds; `0` = Snowflake's maximum (7 days); unset = account default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Database (case-sensitive, as `SHOW` prints it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Schema (case-sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Warehouse (case-sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Role (case-sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Bind values keyed by 1-based position (`"1"`, `"2"`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, Binding>,
    /// Session parameters (`QUERY_TAG`, `MULTI_STATEMENT_COUNT`, …), passed through untouched.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

impl StatementRequest {
    /// A request for `statement` with every optional field unset.
    pub fn new(statement: impl Into<String>) -> Self {
        Self {
            statement: statement.into(),
            ..Self::default()
        }
    }

    /// Appends `binding` as the next positional bind variable (`?` number `len + 1`).
    #[must_use]
    pub fn bind(mut self, binding: Binding) -> Self {
        let position = self.bindings.len() + 1;
        self.bindings.insert(position.to_string(), binding);
        self
    }
}

impl std::fmt::Debug for StatementRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let binding_types: BTreeMap<&str, &str> = self
            .bindings
            .iter()
            .map(|(position, binding)| (position.as_str(), binding.kind.as_str()))
            .collect();
        f.debug_struct("StatementRequest")
            .field(
                "statement",
                &format_args!("<{} chars>", self.statement.chars().count()),
            )
            .field("timeout", &self.timeout)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("warehouse", &self.warehouse)
            .field("role", &self.role)
            .field("binding_types", &binding_types)
            .field("parameters", &self.parameters)
            .finish()
    }
}

/// One bind value: Snowflake type name and the value, always as a string (PROTOCOL.md A.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// `TEXT`, `FIXED`, `REAL`, `BOOLEAN`, `DATE`, `TIMESTAMP_NTZ`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The value in the encoding that type expects (DATE: epoch millis, TIMESTAMP: nanos, …).
    pub value: String,
}

impl Binding {
    /// A binding of any Snowflake type.
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            value: value.into(),
        }
    }

    /// A `TEXT` binding.
    pub fn text(value: impl Into<String>) -> Self {
        Self::new("TEXT", value)
    }

    /// A `FIXED` (integer/decimal) binding.
    pub fn fixed(value: impl ToString) -> Self {
        Self::new("FIXED", value.to_string())
    }

    /// A `BOOLEAN` binding.
    pub fn boolean(value: bool) -> Self {
        Self::new("BOOLEAN", value.to_string())
    }
}

/// A `200` answer: the statement finished and this is partition 0 plus metadata for all partitions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSet {
    /// Handle of the statement (of the batch, for multi-statement requests).
    pub statement_handle: StatementHandle,
    /// Child handles of a multi-statement request, in order.
    #[serde(default)]
    pub statement_handles: Option<Vec<StatementHandle>>,
    /// `090001` on success; `391908` means the result is too large and incomplete.
    #[serde(default)]
    pub code: Option<String>,
    /// Snowflake's message (`Statement executed successfully.`).
    #[serde(default)]
    pub message: Option<String>,
    /// SQLSTATE, `00000` on success.
    #[serde(default)]
    pub sql_state: Option<String>,
    /// Creation time in epoch milliseconds.
    #[serde(default)]
    pub created_on: Option<i64>,
    /// The request id echoed back (real captures; not in the spec).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Relative status URL (`/api/v2/statements/{handle}…`); informational only.
    #[serde(default)]
    pub statement_status_url: Option<String>,
    /// Column and partition metadata; absent for some DDL answers.
    #[serde(default)]
    pub result_set_meta_data: Option<ResultSetMetaData>,
    /// Rows of partition 0 (after [`super::SqlApiClient::fetch_all_rows`]: all rows).
    #[serde(default, deserialize_with = "deserialize_rows")]
    pub data: Vec<Row>,
    /// DML counters.
    #[serde(default)]
    pub stats: Option<Stats>,
}

impl ResultSet {
    /// The column descriptions (empty when Snowflake sent no metadata).
    pub fn columns(&self) -> &[ColumnType] {
        self.result_set_meta_data
            .as_ref()
            .map_or(&[], |meta| meta.row_type.as_slice())
    }

    /// Position of the column called `name` (Snowflake's case, compared case-insensitively).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns()
            .iter()
            .position(|column| column.name.eq_ignore_ascii_case(name))
    }

    /// Code `391908`: Snowflake says the result is too large and this answer is incomplete.
    pub fn is_incomplete(&self) -> bool {
        self.code.as_deref() == Some("391908")
    }

    /// Partition descriptions; index `i` describes partition `i`.
    pub fn partitions(&self) -> &[PartitionInfo] {
        self.result_set_meta_data
            .as_ref()
            .map_or(&[], |meta| meta.partition_info.as_slice())
    }
}

/// `resultSetMetaData`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSetMetaData {
    /// Total rows over all partitions.
    #[serde(default)]
    pub num_rows: Option<u64>,
    /// `jsonv2`.
    #[serde(default)]
    pub format: Option<String>,
    /// One entry per partition.
    #[serde(default)]
    pub partition_info: Vec<PartitionInfo>,
    /// One entry per column.
    #[serde(default)]
    pub row_type: Vec<ColumnType>,
}

/// `partitionInfo[i]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionInfo {
    /// Rows in this partition.
    #[serde(default)]
    pub row_count: u64,
    /// Size of the decompressed JSON in bytes.
    #[serde(default)]
    pub uncompressed_size: Option<u64>,
    /// Size on the wire; often absent for partition 0.
    #[serde(default)]
    pub compressed_size: Option<u64>,
}

/// `rowType[i]`: one column. Inapplicable fields are `null` on the wire (`None` here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnType {
    /// Column name as Snowflake prints it.
    #[serde(default)]
    pub name: String,
    /// Source database (`""` for computed columns).
    #[serde(default)]
    pub database: Option<String>,
    /// Source schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// Source table.
    #[serde(default)]
    pub table: Option<String>,
    /// Type name; lower case on the wire, upper case in docs — use [`ColumnType::is_type`].
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Whether the column may hold NULL.
    #[serde(default)]
    pub nullable: Option<bool>,
    /// Numeric precision.
    #[serde(default)]
    pub precision: Option<i64>,
    /// Numeric / fractional-seconds scale.
    #[serde(default)]
    pub scale: Option<i64>,
    /// Text length in characters.
    #[serde(default)]
    pub length: Option<i64>,
    /// Text length in bytes.
    #[serde(default)]
    pub byte_length: Option<i64>,
    /// Collation, if any.
    #[serde(default)]
    pub collation: Option<String>,
}

impl ColumnType {
    /// Whether this column's type is `kind`, compared case-insensitively (`fixed` == `FIXED`).
    pub fn is_type(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }
}

/// DML counters of a `200` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Rows inserted.
    #[serde(default)]
    pub num_rows_inserted: Option<u64>,
    /// Rows updated.
    #[serde(default)]
    pub num_rows_updated: Option<u64>,
    /// Rows deleted.
    #[serde(default)]
    pub num_rows_deleted: Option<u64>,
    /// Duplicate rows updated.
    #[serde(default)]
    pub num_duplicate_rows_updated: Option<u64>,
}

/// A `202` answer (still running) and the body of most error statuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub sql_state: Option<String>,
    #[serde(default)]
    pub statement_handle: Option<String>,
    #[serde(default)]
    pub statement_status_url: Option<String>,
}

/// The `200` answer of `POST …/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelStatus {
    /// `000604` when cancelled.
    #[serde(default)]
    pub code: Option<String>,
    /// `57014` when cancelled.
    #[serde(default)]
    pub sql_state: Option<String>,
    /// `SQL execution canceled`.
    #[serde(default)]
    pub message: Option<String>,
    /// The cancelled statement's handle.
    #[serde(default)]
    pub statement_handle: Option<String>,
}

/// Body of `GET …?partition=n` (after gunzip): only `data` is read; metadata, if any, is ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct PartitionBody {
    #[serde(default, deserialize_with = "deserialize_rows")]
    pub data: Vec<Row>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statement_request_debug_hides_text_and_bind_values() {
        let request = StatementRequest::new("select ssn from people where name = ?")
            .bind(Binding::text("Alice Sentinel"));
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("ssn") && !shown.contains("Alice"),
            "{shown}"
        );
        assert!(
            shown.contains("TEXT") && shown.contains("<37 chars>"),
            "{shown}"
        );
    }

    #[test]
    fn result_set_parsing_is_lenient_and_types_compare_case_insensitively() {
        let body = json!({
            "statementHandle": "01b03285-0001-dea1-003d-b087000ca9be", "somethingNew": {"x": 1},
            "resultSetMetaData": {"partitionInfo": [{"rowCount": 1}],
                "rowType": [{"name": "CREATED_ON", "type": "TIMESTAMP_NTZ", "scale": 3, "extra": true}]},
            "data": [["1620151584.132000000"], [null], [5], [true]]
        });
        let result: ResultSet = serde_json::from_value(body).unwrap();
        assert!(result.columns()[0].is_type("timestamp_ntz"));
        assert_eq!(result.column_index("created_on"), Some(0));
        assert_eq!(result.partitions()[0].compressed_size, None);
        assert_eq!(result.data[1], vec![None]);
        assert_eq!(
            result.data[2],
            vec![Some("5".into())],
            "non-string scalars become their JSON text"
        );
        assert_eq!(result.data[3], vec![Some("true".into())]);
        assert_eq!(result.code, None);
    }

    #[test]
    fn a_result_without_a_valid_handle_does_not_parse() {
        let body = json!({"statementHandle": "../../session", "data": []});
        assert!(serde_json::from_value::<ResultSet>(body).is_err());
    }
}
