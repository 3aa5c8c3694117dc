//! snowsim's SQL engine: executes Snowflake SQL against an embedded SQLite database loaded with
//! TPC-H data, and reports results the way Snowflake's SQL API does (rowType metadata with
//! lower-case type names, cells as strings in Snowflake's per-type encodings).
//!
//! The HTTP layer (`snowsim::sqlapi`) owns authentication, warehouses' suspended state, handles,
//! partitions and async execution; this module only runs statements.

mod bind;
mod catalog;
mod datetime;
mod errors;
mod exec;
mod functions;
mod infer;
mod infoschema;
mod names;
mod plan;
mod rewrite;
mod show;
mod split;

#[cfg(test)]
mod tests;
mod tpch;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use show::like;
pub use split::split_statements;

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
    /// Every role the user can activate (granted, inherited, PUBLIC), sorted: what
    /// `CURRENT_AVAILABLE_ROLES()` lists.
    pub available_roles: Vec<String>,
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

/// Cancels a running statement: `cancel()` makes `Engine::execute` stop with `000604`
/// ("SQL execution canceled") within milliseconds, also inside `SYSTEM$WAIT`.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation (idempotent).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once `cancel()` was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A per-account SQL engine. Cheap to share (`Arc<Engine>`); `execute` is blocking and callers
/// run it off the async workers.
pub struct Engine {
    config: EngineConfig,
    core: exec::Core,
    created: i64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("account", &self.config.account.locator)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds the database and loads TPC-H data.
    pub fn new(config: EngineConfig) -> Result<Self, SqlError> {
        let created = functions::system_now().epoch_secs();
        let mut cat = catalog::Catalog::default();
        let add_db = |cat: &mut catalog::Catalog, name: &str, schemas: &[&str]| {
            let db = cat.databases.entry(name.to_owned()).or_insert_with(|| {
                let mut db = catalog::Database {
                    created,
                    ..Default::default()
                };
                let mut info = catalog::Schema {
                    created,
                    ..Default::default()
                };
                for v in infoschema::views(name, created) {
                    info.tables.insert(v.name.clone(), v);
                }
                db.schemas.insert(infoschema::INFO.to_owned(), info);
                db
            });
            for s in schemas {
                db.schemas
                    .entry((*s).to_owned())
                    .or_insert_with(|| catalog::Schema {
                        created,
                        ..Default::default()
                    });
            }
        };
        add_db(&mut cat, "SNOWFLAKE_SAMPLE_DATA", &["TPCH_SF1"]);
        if let Some(s) = cat
            .databases
            .get_mut("SNOWFLAKE_SAMPLE_DATA")
            .and_then(|d| d.schemas.get_mut("TPCH_SF1"))
        {
            for t in catalog::tpch_tables(created) {
                s.tables.insert(t.name.clone(), t);
            }
        }
        // Databases the account model refers to exist, so default namespaces resolve.
        let acct = &config.account;
        let namespaces = acct
            .users
            .iter()
            .filter_map(|u| u.default_namespace.clone())
            .chain(
                acct.grants
                    .iter()
                    .filter(|g| {
                        g.object_type.eq_ignore_ascii_case("DATABASE")
                            || g.object_type.eq_ignore_ascii_case("SCHEMA")
                    })
                    .map(|g| g.object_name.clone()),
            );
        for ns in namespaces {
            let parts = names::parse_dotted(&ns).unwrap_or_default();
            match parts.as_slice() {
                [d] => add_db(&mut cat, d, &["PUBLIC"]),
                [d, s, ..] => add_db(&mut cat, d, &["PUBLIC", s]),
                _ => {}
            }
        }
        let path = scratch_path();
        let core = exec::Core::new(path, cat, "SYSADMIN".to_owned())?;
        {
            let conn = core.conn()?;
            tpch::load(&conn, config.tpch_scale).map_err(|e| {
                tracing::error!(error = %e, "loading TPC-H failed");
                SqlError::internal("tpch")
            })?;
            for (t, cols) in [
                ("CUSTOMER", "C_CUSTKEY"),
                ("ORDERS", "O_ORDERKEY"),
                ("ORDERS", "O_CUSTKEY"),
                ("LINEITEM", "L_ORDERKEY"),
                ("PART", "P_PARTKEY"),
                ("SUPPLIER", "S_SUPPKEY"),
                ("PARTSUPP", "PS_PARTKEY"),
                ("NATION", "N_NATIONKEY"),
            ] {
                let table = catalog::quote(&catalog::sqlite_name(
                    "SNOWFLAKE_SAMPLE_DATA",
                    "TPCH_SF1",
                    t,
                ));
                conn.execute_batch(&format!(
                    "CREATE INDEX \"ix_{t}_{cols}\" ON {table} (\"{cols}\")"
                ))
                .map_err(|_| SqlError::internal("index"))?;
            }
        }
        core.refresh_info()?;
        Ok(Self {
            config,
            core,
            created,
        })
    }

    /// Executes one statement (the HTTP layer splits multi-statement requests with
    /// [`split_statements`]); `cancel` stops it with `000604` "SQL execution canceled".
    pub fn execute(
        &self,
        ctx: &SessionContext,
        sql: &str,
        opts: &ExecOptions,
        cancel: &CancelToken,
    ) -> Result<QueryResult, SqlError> {
        if cancel.is_cancelled() {
            return Err(SqlError::cancelled());
        }
        let state = functions::ExecState {
            cancel: cancel.0.clone(),
            now: functions::system_now(),
        };
        functions::with_state(state, || self.run(&self.config.account, ctx, sql, opts))
    }

    /// Like [`Engine::execute`], with `account` as the model SHOW commands report (the HTTP
    /// layer passes its live model, which admin statements change after the engine was built).
    pub fn execute_in(
        &self,
        account: &AccountModel,
        ctx: &SessionContext,
        sql: &str,
        opts: &ExecOptions,
        cancel: &CancelToken,
    ) -> Result<QueryResult, SqlError> {
        if cancel.is_cancelled() {
            return Err(SqlError::cancelled());
        }
        let state = functions::ExecState {
            cancel: cancel.0.clone(),
            now: functions::system_now(),
        };
        functions::with_state(state, || self.run(account, ctx, sql, opts))
    }

    /// Same as [`Engine::execute`]: the name `snowsim::compat` adopted while `execute` still
    /// took no token.
    pub fn execute_cancellable(
        &self,
        ctx: &SessionContext,
        sql: &str,
        opts: &ExecOptions,
        cancel: &CancelToken,
    ) -> Result<QueryResult, SqlError> {
        self.execute(ctx, sql, opts, cancel)
    }

    fn run(
        &self,
        account: &AccountModel,
        ctx: &SessionContext,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<QueryResult, SqlError> {
        let fmt = types::OutputFormats::from_parameters(&opts.parameters);
        let cat = self.core.snapshot();
        if show::is_show(sql) {
            let (columns, rows) = show::run(
                sql,
                &show::ShowEnv {
                    catalog: &cat,
                    account,
                    ctx,
                    created: self.created,
                    formats: &fmt,
                },
            )?;
            return Ok(QueryResult {
                columns,
                rows,
                stats: None,
            });
        }
        let mut binds = HashMap::with_capacity(opts.bindings.len());
        let mut key_binds = String::new();
        let by_value = sql.to_ascii_uppercase().contains("IDENTIFIER");
        for (k, b) in &opts.bindings {
            let Ok(idx) = k.trim().parse::<usize>() else {
                continue;
            };
            let bound = bind::convert(b)?;
            key_binds.push_str(&format!("{idx}:{};", b.kind.to_ascii_uppercase()));
            if by_value {
                key_binds.push_str(&format!("{:?};", bound.value));
            }
            binds.insert(idx, bound);
        }
        let key = exec::PlanKey {
            sql: sql.to_owned(),
            ctx: [
                ctx.user.clone(),
                ctx.role.clone(),
                ctx.account.clone(),
                ctx.warehouse.clone().unwrap_or_default(),
                ctx.database.clone().unwrap_or_default(),
                ctx.schema.clone().unwrap_or_default(),
            ],
            binds: key_binds,
            version: cat.version,
        };
        let cached = self
            .core
            .plans
            .lock()
            .ok()
            .and_then(|p| p.get(&key).cloned());
        let plan = match cached {
            Some(p) => p,
            None => {
                let p = Arc::new(plan::plan(sql, &cat, ctx, &binds)?);
                if let Ok(mut cache) = self.core.plans.lock() {
                    if cache.len() >= exec::PLAN_CACHE {
                        cache.clear();
                    }
                    cache.insert(key, p.clone());
                }
                p
            }
        };
        let params: HashMap<usize, rusqlite::types::Value> =
            binds.into_iter().map(|(k, v)| (k, v.value)).collect();
        match plan.as_ref() {
            plan::Plan::Query { sql: q, cols, info } => {
                if *info {
                    self.core.refresh_info()?;
                }
                self.core.query(q, cols, &params, &fmt)
            }
            plan::Plan::Dml { sql: q, kind } => self.core.dml(q, *kind, &params),
            other => self.core.ddl(other, &params),
        }
    }
}

/// A fresh file for this engine's SQLite database: `snowsim-<pid>-<uuid>.sqlite` in the temp
/// dir. The engine deletes it when dropped, but a process that exits without dropping (every test
/// process, a killed demo) cannot; so files of processes that no longer run are removed here.
fn scratch_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir();
    remove_orphans(&dir);
    dir.join(format!(
        "snowsim-{}-{}.sqlite",
        std::process::id(),
        uuid::Uuid::new_v4()
    ))
}

/// Removes `snowsim-<pid>-…` files whose process is gone (Linux: no `/proc/<pid>`).
fn remove_orphans(dir: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("snowsim-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
