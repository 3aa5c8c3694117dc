//! The one place the HTTP layer touches the engine's execution API, so the engine can evolve
//! (cancellation tokens, statement splitting) without edits spread over the HTTP modules.

use super::engine::{Engine, ExecOptions, QueryResult, SessionContext, SqlError};
use super::model::AccountModel;

pub use super::engine::{split_statements, CancelToken};

/// Runs one statement on `engine`; `cancel` stops it (`SYSTEM$WAIT` and long scans poll it).
/// `account` is the live model SHOW commands report.
pub fn execute(
    engine: &Engine,
    account: &AccountModel,
    ctx: &SessionContext,
    sql: &str,
    opts: &ExecOptions,
    cancel: &CancelToken,
) -> Result<QueryResult, SqlError> {
    engine.execute_in(account, ctx, sql, opts, cancel)
}
