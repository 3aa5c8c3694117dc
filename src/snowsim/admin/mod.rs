//! Account-administration statements executed by snowsim's SQL API layer: they change the live
//! account model ([`super::live`]), not SQLite data, so they run here before the engine sees a
//! statement. Supported (Snowflake syntax, keywords case-insensitive):
//!
//! - `ALTER USER [IF EXISTS] u SET|UNSET …`, `… SET|UNSET AUTHENTICATION POLICY`,
//!   `… ADD|REMOVE DELEGATED AUTHORIZATION(S) …`; `DESC[RIBE] USER u` ([`user`]);
//! - `CREATE|ALTER|DROP|DESC AUTHENTICATION POLICY`, `SHOW AUTHENTICATION POLICIES` ([`policy`]);
//! - `ALTER WAREHOUSE [IF EXISTS] w RESUME [IF SUSPENDED] | SUSPEND | SET …` ([`warehouse`]);
//! - `CREATE|ALTER|DROP|DESC [SECURITY] INTEGRATION`, `SHOW [SECURITY] INTEGRATIONS`,
//!   `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>')` ([`integration`],
//!   [`integration_read`]);
//! - `SHOW DELEGATED AUTHORIZATIONS [BY USER u] [TO SECURITY INTEGRATION i]` ([`delegated`]).
//!
//! `SHOW USERS` and `SHOW WAREHOUSES` stay with the engine, which reads the same live model.
//! Every other statement returns `None` from [`execute`] after a check of its first word, so the
//! `SELECT 1` path pays one short scan.

pub mod delegated;
pub mod integration;
pub mod integration_read;
pub mod parse;
pub mod policy;
pub mod user;
pub mod warehouse;

use super::engine::{Column, QueryResult, SessionContext, SqlError};
use super::live::LiveAccount;
use super::state::{AccountRuntime, SimState};
use parse::{first_word, lex, Parser};

/// Everything an admin statement needs.
pub struct Cx<'a> {
    /// Shared sim state (token store for revocations).
    pub state: &'a SimState,
    /// The account.
    pub acc: &'a AccountRuntime,
    /// The session (user and active role).
    pub ctx: &'a SessionContext,
    /// `scheme://host` the request came in on.
    pub base_url: &'a str,
}

impl Cx<'_> {
    /// Whether the session's role holds any of `roles` through the hierarchy.
    pub fn role_holds(&self, live: &LiveAccount, roles: &[&str]) -> bool {
        live.role_holds_any(&self.ctx.role, roles)
    }

    /// Whether the session's role (or a role it inherits) was granted `privilege` on an object.
    pub fn has_grant(
        &self,
        live: &LiveAccount,
        privileges: &[&str],
        object_type: &str,
        name: &str,
    ) -> bool {
        let roles = live.closure(std::slice::from_ref(&self.ctx.role));
        live.model.grants.iter().any(|g| {
            privileges
                .iter()
                .any(|p| g.privilege.eq_ignore_ascii_case(p))
                && g.object_type.eq_ignore_ascii_case(object_type)
                && g.object_name == name
                && roles.contains(&g.role)
        })
    }
}

/// Runs `sql` when it is an administration statement; `None` hands it to the engine.
pub fn execute(
    state: &SimState,
    acc: usize,
    ctx: &SessionContext,
    base_url: &str,
    sql: &str,
) -> Option<Result<QueryResult, SqlError>> {
    let head = first_word(sql)?;
    let is = |w: &str| head.eq_ignore_ascii_case(w);
    let candidate = ["ALTER", "CREATE", "DROP", "DESC", "DESCRIBE", "SHOW"]
        .iter()
        .any(|w| is(w))
        || (is("SELECT") && contains_ignore_case(sql, "SYSTEM$SHOW_OAUTH_CLIENT_SECRETS"));
    if !candidate {
        return None;
    }
    let mut p = Parser::new(sql, lex(sql)?);
    let cx = Cx {
        state,
        acc: state.accounts.get(acc)?,
        ctx,
        base_url,
    };
    dispatch(&mut p, &cx)
}

fn dispatch(p: &mut Parser<'_>, cx: &Cx<'_>) -> Option<Result<QueryResult, SqlError>> {
    let integration_kw =
        |p: &mut Parser<'_>| p.kws(&["SECURITY", "INTEGRATION"]) || p.kw("INTEGRATION");
    if p.kw("ALTER") {
        if p.kw("USER") {
            return Some(user::alter(p, cx));
        }
        if p.kw("WAREHOUSE") {
            return Some(warehouse::alter(p, cx));
        }
        if integration_kw(p) {
            return Some(integration::alter(p, cx));
        }
        if p.kws(&["AUTHENTICATION", "POLICY"]) {
            return Some(policy::alter(p, cx));
        }
    } else if p.kw("CREATE") {
        let or_replace = p.kws(&["OR", "REPLACE"]);
        if p.kws(&["SECURITY", "INTEGRATION"]) {
            return Some(integration::create(p, cx, or_replace));
        }
        if p.kws(&["AUTHENTICATION", "POLICY"]) {
            return Some(policy::create(p, cx, or_replace));
        }
    } else if p.kw("DROP") {
        if integration_kw(p) {
            return Some(integration::drop(p, cx));
        }
        if p.kws(&["AUTHENTICATION", "POLICY"]) {
            return Some(policy::drop(p, cx));
        }
    } else if p.kw("DESC") || p.kw("DESCRIBE") {
        if p.kw("USER") {
            return Some(user::describe(p, cx));
        }
        if integration_kw(p) {
            return Some(integration_read::describe(p, cx));
        }
        if p.kws(&["AUTHENTICATION", "POLICY"]) {
            return Some(policy::describe(p, cx));
        }
    } else if p.kw("SHOW") {
        if p.kws(&["SECURITY", "INTEGRATIONS"]) || p.kw("INTEGRATIONS") {
            return Some(integration_read::show(p, cx));
        }
        if p.kws(&["DELEGATED", "AUTHORIZATIONS"]) {
            return Some(delegated::show(p, cx));
        }
        if p.kws(&["AUTHENTICATION", "POLICIES"]) {
            return Some(policy::show(p, cx));
        }
    } else if p.kw("SELECT") {
        return integration_read::show_secrets(p, cx);
    }
    None
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// An optional `LIKE '<pattern>'` clause.
pub fn like_clause(p: &mut Parser<'_>) -> Result<Option<String>, SqlError> {
    if p.kw("LIKE") {
        return p.string().map(Some);
    }
    Ok(None)
}

// ----- errors (Snowflake's wording; codes noted where PROTOCOL.md does not record them) -----

fn sql_error(code: &str, sql_state: &str, message: String) -> SqlError {
    SqlError {
        code: code.into(),
        sql_state: sql_state.into(),
        message,
    }
}

/// `002003`: "<Kind> '<NAME>' does not exist or not authorized."
pub fn not_found(kind: &str, name: &str) -> SqlError {
    sql_error(
        "002003",
        "02000",
        format!("SQL compilation error:\n{kind} '{name}' does not exist or not authorized."),
    )
}

/// `003001`: insufficient privileges on an object (`kind` lower case, e.g. `user`).
pub fn insufficient(kind: &str, name: &str) -> SqlError {
    sql_error(
        "003001",
        "42501",
        format!("SQL access control error:\nInsufficient privileges to operate on {kind} '{name}'"),
    )
}

/// `002002`: the object exists already (CREATE without OR REPLACE / IF NOT EXISTS).
pub fn already_exists(name: &str) -> SqlError {
    sql_error(
        "002002",
        "42710",
        format!("SQL compilation error:\nObject '{name}' already exists."),
    )
}

/// An invalid property value. Snowflake words these per property; the code and state are an
/// approximation (PROTOCOL.md records none).
pub fn invalid_value(message: String) -> SqlError {
    sql_error(
        "002029",
        "22023",
        format!("SQL compilation error:\n{message}"),
    )
}

/// A property the object type does not have.
pub fn invalid_property(property: &str, kind: &str) -> SqlError {
    sql_error(
        "002029",
        "42601",
        format!("SQL compilation error:\ninvalid property '{property}' for '{kind}'"),
    )
}

// ----- result sets -----

fn column(name: &str, kind: &str, scale: Option<u32>) -> Column {
    let text = kind == "text";
    Column {
        name: name.to_owned(),
        database: String::new(),
        schema: String::new(),
        table: String::new(),
        kind: kind.to_owned(),
        nullable: true,
        precision: (!text).then_some(0),
        scale,
        length: text.then_some(16_777_216),
        byte_length: text.then_some(16_777_216),
        collation: None,
    }
}

/// A result whose columns are all text except those named in `timestamps` (TIMESTAMP_LTZ(3),
/// cells as `"<secs>.<9 digits>"`, PROTOCOL.md A.6).
pub fn table(names: &[&str], timestamps: &[&str], rows: Vec<Vec<Option<String>>>) -> QueryResult {
    QueryResult {
        columns: names
            .iter()
            .map(|n| {
                if timestamps.contains(n) {
                    column(n, "timestamp_ltz", Some(3))
                } else {
                    column(n, "text", None)
                }
            })
            .collect(),
        rows,
        stats: None,
    }
}

/// Epoch seconds as a TIMESTAMP_LTZ cell.
pub fn ts_cell(secs: u64) -> Option<String> {
    Some(format!("{secs}.000000000"))
}

/// The one-row `status` result Snowflake answers DDL with.
pub fn status(message: impl Into<String>) -> QueryResult {
    table(&["status"], &[], vec![vec![Some(message.into())]])
}

/// `Statement executed successfully.`
pub fn executed() -> QueryResult {
    status("Statement executed successfully.")
}

/// Text cell; `None` renders as Snowflake's `null` text in DESC output.
pub fn desc_value(v: Option<&str>) -> Option<String> {
    Some(v.unwrap_or("null").to_owned())
}
