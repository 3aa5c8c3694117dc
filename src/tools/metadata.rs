//! The INFORMATION_SCHEMA tools: schemata, tables, columns, table constraints and referential
//! constraints of one database.
//!
//! Invariant (SECURITY.md SQ-1): the statement texts are constants picked by which filters are
//! present; the database reaches Snowflake only inside a bound `IDENTIFIER(?)` string (quoted per
//! SQ-2), every filter value as a TEXT binding, and the limit as a validated integer.

use serde_json::Value;

use super::decode::DecodeOptions;
use super::inputs::{
    ListColumnsInput, ListReferentialConstraintsInput, ListSchemataInput,
    ListTableConstraintsInput, ListTablesInput,
};
use super::query::base_request;
use super::session::ToolSession;
use super::sql::{self, check_name, check_pattern, info_schema_view, BoundQuery, InfoQuery};
use super::{input_error, SessionOverrides};
use crate::error::AppError;
use crate::snowflake::{Binding, SubmitOptions};

/// `ILIKE ? ESCAPE '\\'`: `\` escapes `%` and `_` in the caller's pattern.
macro_rules! ilike {
    ($column:literal) => {
        concat!($column, " ILIKE ? ESCAPE '\\\\'")
    };
}

/// Constraint types of TABLE_CONSTRAINTS.
const CONSTRAINT_TYPES: [&str; 3] = ["PRIMARY KEY", "UNIQUE", "FOREIGN KEY"];

fn name<'a>(field: &str, value: &'a Option<String>) -> Result<Option<&'a str>, AppError> {
    match value {
        Some(v) => {
            check_name(field, v)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn pattern<'a>(field: &str, value: &'a Option<String>) -> Result<Option<&'a str>, AppError> {
    match value {
        Some(v) => {
            check_pattern(field, v)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

async fn run(
    session: &ToolSession<'_>,
    query: BoundQuery,
    input: &impl SessionOverrides,
) -> Result<Value, AppError> {
    let mut request = base_request(query.statement, input)?;
    for value in query.bindings {
        request = request.bind(Binding::text(value));
    }
    session
        .run(request, SubmitOptions::default(), DecodeOptions::default())
        .await
}

/// `snowflake_list_schemata`.
pub async fn list_schemata(
    session: &ToolSession<'_>,
    input: ListSchemataInput,
) -> Result<Value, AppError> {
    run(session, schemata_query(&input)?, &input).await
}

/// The statement and bindings of `snowflake_list_schemata`.
pub fn schemata_query(input: &ListSchemataInput) -> Result<BoundQuery, AppError> {
    check_name("database", &input.database)?;
    Ok(InfoQuery::new(
        "CATALOG_NAME, SCHEMA_NAME, SCHEMA_OWNER, IS_TRANSIENT, IS_MANAGED_ACCESS, \
         RETENTION_TIME, CREATED, LAST_ALTERED, COMMENT",
        "IDENTIFIER(?)",
        vec![info_schema_view(&input.database, "SCHEMATA")],
    )
    .filter(
        ilike!("SCHEMA_NAME"),
        pattern("schema_like", &input.schema_like)?,
    )
    .order_by("SCHEMA_NAME")
    .build(sql::limit(input.limit)?))
}

/// `snowflake_list_tables`.
pub async fn list_tables(
    session: &ToolSession<'_>,
    input: ListTablesInput,
) -> Result<Value, AppError> {
    run(session, tables_query(&input)?, &input).await
}

/// The statement and bindings of `snowflake_list_tables`.
pub fn tables_query(input: &ListTablesInput) -> Result<BoundQuery, AppError> {
    check_name("database", &input.database)?;
    Ok(InfoQuery::new(
        "TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ROW_COUNT, BYTES, CREATED, \
         LAST_ALTERED, COMMENT",
        "IDENTIFIER(?)",
        vec![info_schema_view(&input.database, "TABLES")],
    )
    .filter("TABLE_SCHEMA = ?", name("schema", &input.schema)?)
    .filter(
        ilike!("TABLE_NAME"),
        pattern("table_name_like", &input.table_name_like)?,
    )
    .order_by("TABLE_SCHEMA, TABLE_NAME")
    .build(sql::limit(input.limit)?))
}

/// `snowflake_list_columns`.
pub async fn list_columns(
    session: &ToolSession<'_>,
    input: ListColumnsInput,
) -> Result<Value, AppError> {
    run(session, columns_query(&input)?, &input).await
}

/// The statement and bindings of `snowflake_list_columns`.
pub fn columns_query(input: &ListColumnsInput) -> Result<BoundQuery, AppError> {
    check_name("database", &input.database)?;
    Ok(InfoQuery::new(
        "TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, IS_NULLABLE, \
         COLUMN_DEFAULT, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, COMMENT",
        "IDENTIFIER(?)",
        vec![info_schema_view(&input.database, "COLUMNS")],
    )
    .filter("TABLE_SCHEMA = ?", name("schema", &input.schema)?)
    .filter("TABLE_NAME = ?", name("table", &input.table)?)
    .filter(
        ilike!("COLUMN_NAME"),
        pattern("column_name_like", &input.column_name_like)?,
    )
    .order_by("TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION")
    .build(sql::limit(input.limit)?))
}

/// `snowflake_list_table_constraints`.
pub async fn list_table_constraints(
    session: &ToolSession<'_>,
    input: ListTableConstraintsInput,
) -> Result<Value, AppError> {
    run(session, table_constraints_query(&input)?, &input).await
}

/// The statement and bindings of `snowflake_list_table_constraints`.
pub fn table_constraints_query(input: &ListTableConstraintsInput) -> Result<BoundQuery, AppError> {
    check_name("database", &input.database)?;
    let constraint_type = match &input.constraint_type {
        Some(kind) => {
            let upper = kind.to_ascii_uppercase().replace('_', " ");
            if !CONSTRAINT_TYPES.contains(&upper.as_str()) {
                return Err(input_error(
                    "constraint_type",
                    "must be PRIMARY KEY, UNIQUE or FOREIGN KEY",
                ));
            }
            Some(upper)
        }
        None => None,
    };
    Ok(InfoQuery::new(
        "CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_SCHEMA, TABLE_NAME, \
         CONSTRAINT_TYPE, IS_DEFERRABLE, INITIALLY_DEFERRED, ENFORCED, COMMENT",
        "IDENTIFIER(?)",
        vec![info_schema_view(&input.database, "TABLE_CONSTRAINTS")],
    )
    .filter("TABLE_SCHEMA = ?", name("schema", &input.schema)?)
    .filter("TABLE_NAME = ?", name("table", &input.table)?)
    .filter("CONSTRAINT_TYPE = ?", constraint_type.as_deref())
    .order_by("TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME")
    .build(sql::limit(input.limit)?))
}

/// `snowflake_list_referential_constraints`: REFERENTIAL_CONSTRAINTS joined with
/// TABLE_CONSTRAINTS twice, for the referencing and the referenced table.
pub async fn list_referential_constraints(
    session: &ToolSession<'_>,
    input: ListReferentialConstraintsInput,
) -> Result<Value, AppError> {
    run(session, referential_constraints_query(&input)?, &input).await
}

/// The statement and bindings of `snowflake_list_referential_constraints`.
pub fn referential_constraints_query(
    input: &ListReferentialConstraintsInput,
) -> Result<BoundQuery, AppError> {
    check_name("database", &input.database)?;
    Ok(InfoQuery::new(
        "RC.CONSTRAINT_CATALOG, RC.CONSTRAINT_SCHEMA, RC.CONSTRAINT_NAME, \
         FK.TABLE_SCHEMA AS TABLE_SCHEMA, FK.TABLE_NAME AS TABLE_NAME, \
         RC.UNIQUE_CONSTRAINT_SCHEMA, RC.UNIQUE_CONSTRAINT_NAME, \
         PK.TABLE_SCHEMA AS REFERENCED_TABLE_SCHEMA, PK.TABLE_NAME AS REFERENCED_TABLE_NAME, \
         RC.MATCH_OPTION, RC.UPDATE_RULE, RC.DELETE_RULE, RC.COMMENT",
        "IDENTIFIER(?) AS RC \
         JOIN IDENTIFIER(?) AS FK ON FK.CONSTRAINT_SCHEMA = RC.CONSTRAINT_SCHEMA \
         AND FK.CONSTRAINT_NAME = RC.CONSTRAINT_NAME \
         LEFT JOIN IDENTIFIER(?) AS PK ON PK.CONSTRAINT_SCHEMA = RC.UNIQUE_CONSTRAINT_SCHEMA \
         AND PK.CONSTRAINT_NAME = RC.UNIQUE_CONSTRAINT_NAME",
        vec![
            info_schema_view(&input.database, "REFERENTIAL_CONSTRAINTS"),
            info_schema_view(&input.database, "TABLE_CONSTRAINTS"),
            info_schema_view(&input.database, "TABLE_CONSTRAINTS"),
        ],
    )
    .filter("FK.TABLE_SCHEMA = ?", name("schema", &input.schema)?)
    .filter("FK.TABLE_NAME = ?", name("table", &input.table)?)
    .order_by("TABLE_SCHEMA, TABLE_NAME, RC.CONSTRAINT_NAME")
    .build(sql::limit(input.limit)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "x'\"; DROP TABLE ORDERS; --\\";

    /// Golden statements (SQ-1): constant text whatever the input; every value is a binding.
    #[test]
    fn statements_are_constant_and_values_are_bound() {
        let tables = tables_query(&ListTablesInput {
            database: HOSTILE.into(),
            schema: Some(HOSTILE.into()),
            table_name_like: Some(HOSTILE.into()),
            limit: Some(5),
            role: None,
            warehouse: None,
        })
        .unwrap();
        assert_eq!(
            tables.statement,
            "SELECT TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ROW_COUNT, BYTES, \
             CREATED, LAST_ALTERED, COMMENT FROM IDENTIFIER(?) WHERE TABLE_SCHEMA = ? AND \
             TABLE_NAME ILIKE ? ESCAPE '\\\\' ORDER BY TABLE_SCHEMA, TABLE_NAME LIMIT 5"
        );
        assert_eq!(
            tables.bindings,
            [
                "\"x'\"\"; DROP TABLE ORDERS; --\\\".INFORMATION_SCHEMA.TABLES",
                HOSTILE,
                HOSTILE
            ]
        );
        let columns = columns_query(&ListColumnsInput {
            database: HOSTILE.into(),
            schema: None,
            table: Some(HOSTILE.into()),
            column_name_like: None,
            limit: None,
            role: None,
            warehouse: None,
        })
        .unwrap();
        assert_eq!(
            columns.statement,
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, \
             IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, \
             NUMERIC_SCALE, COMMENT FROM IDENTIFIER(?) WHERE TABLE_NAME = ? ORDER BY \
             TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION LIMIT 100"
        );
        assert_eq!(columns.bindings.len(), 2);
        let refs = referential_constraints_query(&ListReferentialConstraintsInput {
            database: "D".into(),
            schema: Some(HOSTILE.into()),
            table: None,
            limit: None,
            role: None,
            warehouse: None,
        })
        .unwrap();
        assert_eq!(refs.bindings.len(), 4);
        assert_eq!(refs.statement.matches('?').count(), 4);
        assert!(!refs.statement.contains(HOSTILE));
        for q in [&tables, &columns, &refs] {
            assert!(!q.statement.contains(';'), "SQ-4: {}", q.statement);
        }
        let constraint = table_constraints_query(&ListTableConstraintsInput {
            database: "D".into(),
            schema: None,
            table: None,
            constraint_type: Some("foreign_key".into()),
            limit: None,
            role: None,
            warehouse: None,
        })
        .unwrap();
        assert_eq!(constraint.bindings[1], "FOREIGN KEY");
        let schemata = schemata_query(&ListSchemataInput {
            database: "D".into(),
            schema_like: None,
            limit: Some(10_000),
            role: None,
            warehouse: None,
        })
        .unwrap();
        assert!(schemata
            .statement
            .ends_with("ORDER BY SCHEMA_NAME LIMIT 10000"));
    }
}
