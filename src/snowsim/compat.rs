//! The one place the HTTP layer touches the engine's execution API, so the engine can evolve
//! (cancellation tokens, statement splitting) without edits spread over the HTTP modules.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::engine::{Engine, ExecOptions, QueryResult, SessionContext, SqlError};

/// Cancels a running statement (shared between the HTTP layer and the engine's worker).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Splits a multi-statement request on `;` outside quotes and comments.
pub fn split_statements(sql: &str) -> Result<Vec<String>, SqlError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';') => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_owned());
                }
                current.clear();
            }
            (None, c) => current.push(c),
        }
    }
    if quote.is_some() {
        return Err(SqlError {
            code: "001003".into(),
            sql_state: "42000".into(),
            message: "SQL compilation error:\nsyntax error: unterminated quoted string.".into(),
        });
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    Ok(out)
}

/// Runs one statement on `engine`.
pub fn execute(
    engine: &Engine,
    ctx: &SessionContext,
    sql: &str,
    opts: &ExecOptions,
    cancel: &CancelToken,
) -> Result<QueryResult, SqlError> {
    let _ = cancel;
    engine.execute(ctx, sql, opts)
}
