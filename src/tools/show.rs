//! The SHOW tools: databases/schemas, warehouses, grants, primary keys, imported/exported keys.
//!
//! SHOW cannot take bind variables (snowflake-connector-nodejs #387), so these statements are
//! built from fixed keywords, identifiers checked and quoted per SQ-2 and LIKE patterns checked
//! and quoted per SQ-3; object types come from an allow-list. The builders are pure functions so
//! the property tests can check them directly.

use serde_json::Value;

use super::decode::DecodeOptions;
use super::inputs::{
    DbObjectType, GrantView, KeyDirection, ShowDatabasesSchemasInput, ShowGrantsInput,
    ShowImportedExportedKeysInput, ShowPrimaryKeysInput, ShowWarehousesInput, GRANT_OBJECT_TYPES,
};
use super::query::base_request;
use super::session::ToolSession;
use super::sql::{check_name, check_pattern, parse_object_name, quote_ident, quote_literal};
use super::{input_error, SessionOverrides};
use crate::error::AppError;
use crate::snowflake::SubmitOptions;

fn like(pattern: &Option<String>) -> Result<String, AppError> {
    match pattern {
        Some(p) => {
            check_pattern("like_pattern", p)?;
            Ok(format!(" LIKE {}", quote_literal(p)))
        }
        None => Ok(String::new()),
    }
}

fn ident(field: &str, value: &str) -> Result<String, AppError> {
    check_name(field, value)?;
    Ok(quote_ident(value))
}

fn forbid(field: &str, value: &Option<String>, why: &str) -> Result<(), AppError> {
    match value {
        Some(_) => Err(input_error(field, why)),
        None => Ok(()),
    }
}

fn require<'a>(field: &str, value: &'a Option<String>, why: &str) -> Result<&'a str, AppError> {
    value.as_deref().ok_or_else(|| input_error(field, why))
}

/// `SHOW DATABASES [LIKE '…']` or `SHOW SCHEMAS [LIKE '…'] IN {DATABASE "…" | ACCOUNT}`.
pub fn databases_schemas_sql(input: &ShowDatabasesSchemasInput) -> Result<String, AppError> {
    let like = like(&input.like_pattern)?;
    match input.object_type {
        DbObjectType::Databases => {
            forbid(
                "database_name",
                &input.database_name,
                "applies to object_type schemas only",
            )?;
            Ok(format!("SHOW DATABASES{like}"))
        }
        DbObjectType::Schemas => {
            let scope = match &input.database_name {
                Some(db) => format!("DATABASE {}", ident("database_name", db)?),
                None => "ACCOUNT".to_owned(),
            };
            Ok(format!("SHOW SCHEMAS{like} IN {scope}"))
        }
    }
}

/// `SHOW WAREHOUSES [LIKE '…']`.
pub fn warehouses_sql(input: &ShowWarehousesInput) -> Result<String, AppError> {
    Ok(format!("SHOW WAREHOUSES{}", like(&input.like_pattern)?))
}

/// `SHOW GRANTS TO ROLE|TO USER|OF ROLE|ON …` with the fields each form needs.
pub fn grants_sql(input: &ShowGrantsInput) -> Result<String, AppError> {
    let role_only = |form: &str| -> Result<String, AppError> {
        let role = require(
            "role_name",
            &input.role_name,
            "is required for this grant_view",
        )?;
        forbid(
            "user_name",
            &input.user_name,
            "applies to grant_view to_user only",
        )?;
        forbid(
            "object_type",
            &input.object_type,
            "applies to grant_view on_object only",
        )?;
        forbid(
            "object_name",
            &input.object_name,
            "applies to grant_view on_object only",
        )?;
        Ok(format!("SHOW GRANTS {form} {}", ident("role_name", role)?))
    };
    match input.grant_view {
        GrantView::ToRole => role_only("TO ROLE"),
        GrantView::OfRole => role_only("OF ROLE"),
        GrantView::ToUser => {
            let user = require("user_name", &input.user_name, "is required for to_user")?;
            forbid(
                "role_name",
                &input.role_name,
                "applies to to_role and of_role only",
            )?;
            forbid(
                "object_type",
                &input.object_type,
                "applies to on_object only",
            )?;
            forbid(
                "object_name",
                &input.object_name,
                "applies to on_object only",
            )?;
            Ok(format!("SHOW GRANTS TO USER {}", ident("user_name", user)?))
        }
        GrantView::OnObject => {
            forbid(
                "role_name",
                &input.role_name,
                "applies to to_role and of_role only",
            )?;
            forbid("user_name", &input.user_name, "applies to to_user only")?;
            let kind = require(
                "object_type",
                &input.object_type,
                "is required for on_object",
            )?
            .to_ascii_uppercase();
            if !GRANT_OBJECT_TYPES.contains(&kind.as_str()) {
                return Err(input_error(
                    "object_type",
                    format!("must be one of {}", GRANT_OBJECT_TYPES.join(", ")),
                ));
            }
            if kind == "ACCOUNT" {
                forbid(
                    "object_name",
                    &input.object_name,
                    "ACCOUNT takes no object_name",
                )?;
                return Ok("SHOW GRANTS ON ACCOUNT".to_owned());
            }
            let name = require(
                "object_name",
                &input.object_name,
                "is required for on_object",
            )?;
            let parts = parse_object_name("object_name", name)?;
            Ok(format!(
                "SHOW GRANTS ON {kind} {}",
                super::sql::quote_path(&parts)
            ))
        }
    }
}

/// The `IN …` scope of SHOW … KEYS from optional database, schema and table names.
fn key_scope(
    database: &Option<String>,
    schema: &Option<String>,
    table: &Option<String>,
) -> Result<String, AppError> {
    let q = |field: &str, v: &Option<String>| v.as_deref().map(|v| ident(field, v)).transpose();
    let (d, s, t) = (
        q("database_name", database)?,
        q("schema_name", schema)?,
        q("table_name", table)?,
    );
    Ok(match (d, s, t) {
        (Some(_), None, Some(_)) => {
            return Err(input_error(
                "schema_name",
                "is required with database_name and table_name",
            ))
        }
        (d, s, Some(t)) => {
            let path: Vec<String> = [d, s, Some(t)].into_iter().flatten().collect();
            format!("IN TABLE {}", path.join("."))
        }
        (d, Some(s), None) => {
            let path: Vec<String> = [d, Some(s)].into_iter().flatten().collect();
            format!("IN SCHEMA {}", path.join("."))
        }
        (Some(d), None, None) => format!("IN DATABASE {d}"),
        (None, None, None) => "IN ACCOUNT".to_owned(),
    })
}

/// `SHOW PRIMARY KEYS IN …`.
pub fn primary_keys_sql(input: &ShowPrimaryKeysInput) -> Result<String, AppError> {
    Ok(format!(
        "SHOW PRIMARY KEYS {}",
        key_scope(&input.database_name, &input.schema_name, &input.table_name)?
    ))
}

/// `SHOW IMPORTED|EXPORTED KEYS IN TABLE …`.
pub fn keys_sql(input: &ShowImportedExportedKeysInput) -> Result<String, AppError> {
    let direction = match input.key_direction {
        KeyDirection::Imported => "IMPORTED",
        KeyDirection::Exported => "EXPORTED",
    };
    let table = Some(input.table_name.clone());
    Ok(format!(
        "SHOW {direction} KEYS {}",
        key_scope(&input.database_name, &input.schema_name, &table)?
    ))
}

/// Runs a SHOW statement as a typed result.
pub async fn run_show(
    session: &ToolSession<'_>,
    statement: String,
    input: &impl SessionOverrides,
) -> Result<Value, AppError> {
    let request = base_request(statement, input)?;
    session
        .run(request, SubmitOptions::default(), DecodeOptions::default())
        .await
}
