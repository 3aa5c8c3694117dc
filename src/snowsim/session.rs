//! Turns an authenticated SQL API request into a [`Submission`]: the session role (granted to the
//! user; for OAuth exactly the consented role), warehouse and namespace (request body first, then
//! the user's defaults; names are case-sensitive), statement splitting with
//! `MULTI_STATEMENT_COUNT`, and the statement kinds the API refuses in single-statement requests.

use std::collections::BTreeMap;

use super::auth::Principal;
use super::engine::{ExecOptions, SessionContext, SqlError};
use super::execute::Submission;
use super::sqlapi::StatementRequest;
use super::state::AccountRuntime;

/// Snowflake's default `STATEMENT_TIMEOUT_IN_SECONDS` (2 days).
pub const DEFAULT_TIMEOUT_SECS: u64 = 172_800;
/// `timeout: 0` means this maximum (7 days).
pub const MAX_TIMEOUT_SECS: u64 = 604_800;

/// The effective timeout of a request.
pub fn timeout_secs(requested: Option<u64>) -> u64 {
    match requested {
        None => DEFAULT_TIMEOUT_SECS,
        Some(0) => MAX_TIMEOUT_SECS,
        Some(n) => n.min(MAX_TIMEOUT_SECS),
    }
}

fn err(code: &str, state: &str, message: String) -> SqlError {
    SqlError {
        code: code.into(),
        sql_state: state.into(),
        message,
    }
}

fn role_not_granted(role: &str) -> SqlError {
    err(
        "390189",
        "08004",
        format!("Role '{role}' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC."),
    )
}

/// Statement kinds a single-statement request may not contain (spec `statement` description).
fn unsupported_alone(sql: &str) -> Option<String> {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let kind = match (w(0), w(1)) {
        ("PUT" | "GET" | "USE" | "BEGIN" | "COMMIT" | "ROLLBACK" | "SET" | "UNSET", _) => w(0),
        ("START", "TRANSACTION") => "START TRANSACTION",
        ("ALTER", "SESSION") => "ALTER SESSION",
        ("CREATE", "TEMPORARY" | "TEMP") => "CREATE TEMPORARY",
        ("CREATE", "OR") if matches!(w(3), "TEMPORARY" | "TEMP") => "CREATE TEMPORARY",
        _ => return None,
    };
    Some(kind.to_owned())
}

fn parameters(request: &StatementRequest) -> BTreeMap<String, String> {
    request
        .parameters
        .iter()
        .flatten()
        .map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.to_ascii_uppercase(), value)
        })
        .collect()
}

/// Builds the submission or the 422 error Snowflake would answer before running anything.
pub fn build_submission(
    acc: &AccountRuntime,
    principal: &Principal,
    request: &StatementRequest,
    split: fn(&str) -> Result<Vec<String>, SqlError>,
) -> Result<Submission, SqlError> {
    let live = acc.live();
    let user = live
        .user(&principal.user)
        .ok_or_else(|| err("390144", "08004", "User does not exist.".into()))?;
    let role = match (&request.role, &principal.oauth_role) {
        (Some(r), Some(consented)) if r != consented => return Err(role_not_granted(r)),
        (Some(r), _) if !live.effective_roles(user).contains(r) => return Err(role_not_granted(r)),
        (Some(r), _) => r.clone(),
        (None, Some(consented)) => consented.clone(),
        (None, None) => live.default_role(user),
    };
    let warehouse = request
        .warehouse
        .clone()
        .or_else(|| user.default_warehouse.clone())
        .filter(|w| live.model.warehouses.iter().any(|m| &m.name == w));
    let (default_db, default_schema) = match user.default_namespace.as_deref() {
        Some(ns) => match ns.split_once('.') {
            Some((d, s)) => (Some(d.to_owned()), Some(s.to_owned())),
            None => (Some(ns.to_owned()), None),
        },
        None => (None, None),
    };
    let check_namespace = request.database.is_some() || request.schema.is_some();
    let (database, schema) = match (&request.database, &request.schema) {
        (Some(d), s) => (Some(d.clone()), s.clone()),
        (None, Some(s)) => (default_db, Some(s.clone())),
        (None, None) => (default_db, default_schema),
    };
    let params = parameters(request);
    let count = match params.get("MULTI_STATEMENT_COUNT") {
        None => 1,
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            err(
                "000008",
                "0A000",
                format!("Invalid MULTI_STATEMENT_COUNT '{v}'."),
            )
        })?,
    };
    let statements = split(&request.statement)?;
    if statements.is_empty() {
        return Err(err("000900", "42000", "Empty SQL statement.".into()));
    }
    if count != 0 && statements.len() != count {
        return Err(err(
            "000008",
            "0A000",
            format!(
                "Actual statement count {} did not match the desired statement count {count}.",
                statements.len()
            ),
        ));
    }
    let multi = count != 1;
    let bindings = request.bindings.clone().unwrap_or_default();
    if multi && !bindings.is_empty() {
        return Err(err(
            "002049",
            "0A000",
            "SQL compilation error: Unsupported feature 'bind variables in a multi-statement request'.".into(),
        ));
    }
    if !multi {
        if let Some(kind) = statements.first().and_then(|s| unsupported_alone(s)) {
            return Err(err(
                "002049",
                "0A000",
                format!("SQL compilation error: Unsupported feature '{kind}' in a single-statement SQL API request."),
            ));
        }
    }
    Ok(Submission {
        ctx: SessionContext {
            account: acc.names.locator.to_ascii_uppercase(),
            user: user.name.clone(),
            role,
            warehouse,
            database,
            schema,
            available_roles: {
                let mut roles = live.effective_roles(user);
                roles.sort();
                roles
            },
        },
        statements,
        multi,
        opts: ExecOptions {
            bindings,
            parameters: params,
        },
        check_namespace,
        base_url: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_statement_refusals_follow_the_spec_list() {
        assert_eq!(unsupported_alone("use warehouse x").as_deref(), Some("USE"));
        assert_eq!(
            unsupported_alone("ALTER SESSION SET a=1").as_deref(),
            Some("ALTER SESSION")
        );
        assert_eq!(
            unsupported_alone("create or replace temporary table t (a int)").as_deref(),
            Some("CREATE TEMPORARY")
        );
        assert_eq!(unsupported_alone("select 1"), None);
    }

    #[test]
    fn timeout_zero_means_seven_days() {
        assert_eq!(timeout_secs(Some(0)), MAX_TIMEOUT_SECS);
        assert_eq!(timeout_secs(None), DEFAULT_TIMEOUT_SECS);
    }
}
