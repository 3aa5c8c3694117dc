//! Runs a submission on the account's engine (blocking; called from `spawn_blocking`): the
//! session checks Snowflake makes before execution (database/schema exist, a running warehouse
//! for statements that need compute), single statements or a multi-statement batch with child
//! handles, and the final state of the statement.

use std::sync::Arc;

use super::compat::execute;
use super::engine::{ExecOptions, QueryResult, SessionContext, SqlError};
use super::live::LiveAccount;
use super::state::SimState;
use super::statements::{Finished, Statement, StmtState};

/// What to run.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Session context (already authorised).
    pub ctx: SessionContext,
    /// Statements (one unless `multi`).
    pub statements: Vec<String>,
    /// Whether this is a multi-statement request (`MULTI_STATEMENT_COUNT` ≠ 1).
    pub multi: bool,
    /// Bindings and parameters.
    pub opts: ExecOptions,
    /// Whether `database`/`schema` came from the request body and must be checked to exist.
    pub check_namespace: bool,
    /// `scheme://host` the request came in on (what `DESC SECURITY INTEGRATION` builds its
    /// endpoint URLs from).
    pub base_url: String,
}

/// Snowflake's error for a statement that needs compute without a usable warehouse.
pub fn no_warehouse() -> SqlError {
    SqlError {
        code: "000606".into(),
        sql_state: "57P03".into(),
        message: "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n".into(),
    }
}

fn object_missing() -> SqlError {
    SqlError {
        code: "002043".into(),
        sql_state: "02000".into(),
        message: "SQL compilation error:\nObject does not exist, or operation cannot be performed."
            .into(),
    }
}

/// Whether a statement needs a running warehouse. Approximation of Snowflake's rule (metadata
/// commands and constant queries run in cloud services; table scans and DML need compute): DML
/// always, SELECT/WITH when they read FROM something, SHOW/DESCRIBE and the rest never.
pub fn needs_warehouse(sql: &str) -> bool {
    let mut words = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty());
    match words.next().map(str::to_ascii_uppercase).as_deref() {
        Some("INSERT" | "UPDATE" | "DELETE" | "MERGE" | "COPY") => true,
        Some("SELECT" | "WITH") => words.any(|w| w.eq_ignore_ascii_case("FROM")),
        _ => false,
    }
}

fn warehouse_usable(live: &LiveAccount, ctx: &SessionContext) -> bool {
    let Some(name) = &ctx.warehouse else {
        return false;
    };
    live.model
        .warehouses
        .iter()
        .find(|w| &w.name == name)
        .is_some_and(|w| !w.suspended || w.auto_resume)
}

fn names_in(result: &QueryResult) -> Vec<String> {
    let Some(idx) = result.columns.iter().position(|c| c.name == "name") else {
        return Vec::new();
    };
    result
        .rows
        .iter()
        .filter_map(|r| r.get(idx).cloned().flatten())
        .collect()
}

/// Checks that the request's database (and schema) exist, with exact case.
fn check_namespace(
    state: &SimState,
    acc: usize,
    ctx: &SessionContext,
    stmt: &Statement,
) -> Result<(), SqlError> {
    let engine = &state.accounts[acc].engine;
    let model = &state.accounts[acc].live().model;
    let opts = ExecOptions::default();
    if let Some(db) = &ctx.database {
        let dbs = execute(engine, model, ctx, "SHOW DATABASES", &opts, &stmt.cancel)?;
        if !names_in(&dbs).contains(db) {
            return Err(object_missing());
        }
        if let Some(schema) = &ctx.schema {
            let sql = format!("SHOW SCHEMAS IN DATABASE \"{}\"", db.replace('"', "\"\""));
            let schemas = execute(engine, model, ctx, &sql, &opts, &stmt.cancel)?;
            if !names_in(&schemas).contains(schema) {
                return Err(object_missing());
            }
        }
    } else if ctx.schema.is_some() {
        return Err(object_missing());
    }
    Ok(())
}

fn run_one(
    state: &SimState,
    acc: usize,
    sub: &Submission,
    sql: &str,
    stmt: &Statement,
) -> Result<QueryResult, SqlError> {
    if stmt.cancel.is_cancelled() {
        return Err(SqlError {
            code: "000604".into(),
            sql_state: "57014".into(),
            message: "SQL execution canceled".into(),
        });
    }
    if let Some(outcome) = super::admin::execute(state, acc, &sub.ctx, &sub.base_url, sql) {
        return outcome;
    }
    let live = state.accounts[acc].live();
    if needs_warehouse(sql) && !warehouse_usable(&live, &sub.ctx) {
        return Err(no_warehouse());
    }
    execute(
        &state.accounts[acc].engine,
        &live.model,
        &sub.ctx,
        sql,
        &sub.opts,
        &stmt.cancel,
    )
}

fn multi_failure(sql: &str, err: &SqlError) -> SqlError {
    let head: String = sql.chars().take(60).collect();
    SqlError {
        code: "100132".into(),
        sql_state: "P0000".into(),
        message: format!(
            "JavaScript execution error: Uncaught Execution of multiple statements failed on statement \"{head}...\" (at line 1, position 0).\n{}",
            err.message
        ),
    }
}

/// Executes `sub` for `stmt` and records the outcome on it.
pub fn run(state: &SimState, acc: usize, stmt: &Arc<Statement>, sub: Submission) {
    let partition_rows = state.config.partition_rows;
    state
        .counters
        .execution(&stmt.request_id, sub.statements.len() as u64);
    let outcome = (|| {
        if sub.check_namespace {
            check_namespace(state, acc, &sub.ctx, stmt)?;
        }
        if !sub.multi {
            let sql = sub.statements.first().map(String::as_str).unwrap_or("");
            if let Some(done) = generated(state, acc, &sub, sql, stmt)? {
                return Ok(done);
            }
            let result = run_one(state, acc, &sub, sql, stmt)?;
            return Ok(Finished::from_result(
                result,
                partition_rows,
                stmt.nullable,
                None,
            ));
        }
        let store = &state.accounts[acc].statements;
        let mut handles = Vec::new();
        for sql in &sub.statements {
            let child = Statement::new_child(stmt, acc);
            store.insert(&child, false);
            handles.push(child.handle.clone());
            match run_one(state, acc, &sub, sql, &child) {
                Ok(result) => {
                    let done = Finished::from_result(result, partition_rows, child.nullable, None);
                    child.finish(StmtState::Succeeded(Arc::new(done)));
                }
                Err(e) => {
                    child.finish(StmtState::Failed(e.clone()));
                    return Err(multi_failure(sql, &e));
                }
            }
        }
        Ok(Finished::from_result(
            multi_summary(),
            partition_rows,
            stmt.nullable,
            Some(handles),
        ))
    })();
    stmt.finish(match outcome {
        Ok(done) => StmtState::Succeeded(Arc::new(done)),
        Err(e) => StmtState::Failed(e),
    });
}

/// A plain `GENERATOR` query (see [`super::generated`]): its result is computed per partition
/// when fetched instead of held.
fn generated(
    state: &SimState,
    acc: usize,
    sub: &Submission,
    sql: &str,
    stmt: &Statement,
) -> Result<Option<Finished>, SqlError> {
    if !sub.opts.bindings.is_empty() || stmt.cancel.is_cancelled() {
        return Ok(None);
    }
    let seed = getrandom::u64().unwrap_or_else(|_| super::util::now_millis());
    let Some((rows, columns)) = super::generated::plan(sql, seed, state.config.partition_rows)
    else {
        return Ok(None);
    };
    if !warehouse_usable(&state.accounts[acc].live(), &sub.ctx) {
        return Err(no_warehouse());
    }
    Ok(Some(Finished::generated(columns, rows)))
}

fn multi_summary() -> QueryResult {
    QueryResult {
        columns: vec![super::engine::Column {
            name: "multiple statement execution".into(),
            database: String::new(),
            schema: String::new(),
            table: String::new(),
            kind: "text".into(),
            nullable: false,
            precision: None,
            scale: None,
            length: Some(16_777_216),
            byte_length: Some(16_777_216),
            collation: None,
        }],
        rows: vec![vec![Some(
            "Multiple statements executed successfully.".into(),
        )]],
        stats: None,
    }
}

#[cfg(test)]
mod tests {
    use super::needs_warehouse;

    #[test]
    fn table_reads_and_dml_need_a_warehouse_constants_and_show_do_not() {
        assert!(needs_warehouse("select * from orders"));
        assert!(needs_warehouse("  WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(needs_warehouse("insert into t values (1)"));
        assert!(!needs_warehouse("SELECT 1"));
        assert!(!needs_warehouse("select current_user()"));
        assert!(!needs_warehouse("SHOW DATABASES"));
    }
}
