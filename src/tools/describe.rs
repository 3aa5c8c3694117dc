//! `snowflake_describe_connection`: who and where a tool call runs — current user, role,
//! warehouse, database, schema, account and every role the user could activate — in one cheap
//! statement, so an agent can orient itself before anything else.

use serde_json::{json, Value};

use super::inputs::DescribeConnectionInput;
use super::query::base_request;
use super::session::ToolSession;
use crate::error::{AppError, ErrorCode};
use crate::snowflake::SubmitOptions;

const DESCRIBE_SQL: &str = "SELECT CURRENT_USER() AS USER_NAME, CURRENT_ROLE() AS ROLE_NAME, \
     CURRENT_WAREHOUSE() AS WAREHOUSE_NAME, CURRENT_DATABASE() AS DATABASE_NAME, \
     CURRENT_SCHEMA() AS SCHEMA_NAME, CURRENT_ACCOUNT() AS ACCOUNT_NAME, \
     CURRENT_AVAILABLE_ROLES() AS AVAILABLE_ROLES";

/// Runs the describe statement and shapes its one row.
pub async fn describe(
    session: &ToolSession<'_>,
    input: DescribeConnectionInput,
    identifier: Option<&str>,
) -> Result<Value, AppError> {
    let request = base_request(DESCRIBE_SQL, &input)?;
    let result = session
        .run(request, SubmitOptions::default(), Default::default())
        .await?;
    let row = result["rows"].get(0).cloned().ok_or_else(|| {
        AppError::new(
            ErrorCode::UpstreamUnavailable,
            "Snowflake answered the describe statement without a row",
        )
    })?;
    // CURRENT_AVAILABLE_ROLES() is a VARCHAR holding a JSON array.
    let available_roles: Value = row["AVAILABLE_ROLES"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let connection = &session.connection;
    Ok(json!({
        "connection": connection.name,
        "kind": connection.kind,
        "identifier": identifier,
        "account": row["ACCOUNT_NAME"],
        "user": row["USER_NAME"],
        "role": row["ROLE_NAME"],
        "warehouse": row["WAREHOUSE_NAME"],
        "database": row["DATABASE_NAME"],
        "schema": row["SCHEMA_NAME"],
        "available_roles": available_roles,
        "defaults": connection.defaults,
        "statement_handle": result["statement_handle"],
    }))
}
