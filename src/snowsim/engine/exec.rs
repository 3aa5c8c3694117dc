//! Running plans: the SQLite connection pool (one WAL database file shared by all connections),
//! the plan cache, catalogue changes, result encoding, and the mapping of SQLite failures to
//! Snowflake errors.
//!
//! Invariants: DDL and DML hold `write` so catalogue and SQLite schema change together; a
//! connection always returns to the pool (guard drop), and its progress handler aborts the
//! running statement as soon as the thread's cancel flag is set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{Connection, OpenFlags};

use super::catalog::{quote, Catalog, Database, Schema, Table};
use super::functions;
use super::infer::Col;
use super::infoschema;
use super::plan::{DmlKind, Plan};
use super::types::{encode, OutputFormats, SfType};
use super::{Column, DmlStats, QueryResult, SqlError};

/// Connections kept idle in the pool.
const POOL_IDLE: usize = 8;
/// Plans cached before the cache is cleared.
pub const PLAN_CACHE: usize = 4096;

/// Shared state of one engine.
pub struct Core {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    /// Catalogue snapshot (replaced on DDL).
    pub catalog: RwLock<Arc<Catalog>>,
    /// Serialises writers.
    pub write: Mutex<()>,
    /// Cached plans.
    pub plans: Mutex<HashMap<PlanKey, Arc<Plan>>>,
    /// INFORMATION_SCHEMA needs a rebuild.
    pub info_dirty: AtomicBool,
    /// Owner shown in INFORMATION_SCHEMA.
    pub owner: String,
}

/// Everything a plan depends on besides the catalogue version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    /// Statement text.
    pub sql: String,
    /// Session fields that get inlined (user, role, account, warehouse, db, schema).
    pub ctx: [String; 6],
    /// Binding types (and values for IDENTIFIER(?) statements).
    pub binds: String,
    /// Catalogue version.
    pub version: u64,
}

/// A pooled connection, returned on drop.
pub struct Pooled<'a> {
    core: &'a Core,
    conn: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // The Option is only emptied in drop.
        match &self.conn {
            Some(c) => c,
            None => unreachable_conn(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_conn() -> ! {
    panic!("pooled connection used after drop")
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.conn.take(), self.core.pool.lock()) {
            if pool.len() < POOL_IDLE {
                pool.push(c);
            }
        }
    }
}

/// Maps SQLite errors to Snowflake's.
pub fn map_err(e: rusqlite::Error, sql: &str) -> SqlError {
    let msg = e.to_string();
    if let Some(sf) = functions::decode_error(&msg) {
        return sf;
    }
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::OperationInterrupted {
            return SqlError::cancelled();
        }
    }
    let locate = |needle: &str| -> (u64, u64) {
        let upper = sql.to_ascii_uppercase();
        let n = needle.to_ascii_uppercase();
        let at = upper.find(&n).unwrap_or(0);
        let line = sql[..at].matches('\n').count() as u64 + 1;
        let col = at - sql[..at].rfind('\n').map_or(0, |i| i + 1);
        (line, col as u64)
    };
    let (line, pos) = locate(msg.rsplit(": ").next().unwrap_or(""));
    if let Some(col) = msg.strip_prefix("no such column: ") {
        return SqlError::invalid_identifier(line, pos, &col.to_ascii_uppercase());
    }
    if let Some(f) = msg.strip_prefix("no such function: ") {
        return SqlError::new(
            "002140",
            "42601",
            format!(
                "SQL compilation error:\nUnknown function {}",
                f.to_ascii_uppercase()
            ),
        );
    }
    if let Some(col) = msg.strip_prefix("ambiguous column name: ") {
        return SqlError::new(
            "000904",
            "42000",
            format!(
                "SQL compilation error: error line {line} at position {pos}\nambiguous column name '{}'",
                col.to_ascii_uppercase()
            ),
        );
    }
    SqlError::new("001003", "42000", format!("SQL compilation error:\n{msg}"))
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; \
         PRAGMA cache_size=-32768; PRAGMA mmap_size=268435456; PRAGMA case_sensitive_like=ON;",
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_prepared_statement_cache_capacity(256);
    functions::register(&conn)?;
    conn.progress_handler(1000, Some(functions::cancelled))?;
    Ok(conn)
}

fn internal(e: rusqlite::Error) -> SqlError {
    tracing::error!(error = %e, "snowsim engine storage error");
    SqlError::internal("storage")
}

impl Core {
    /// Creates the database file and the catalogue with the TPC-H sample data.
    pub fn new(path: PathBuf, catalog: Catalog, owner: String) -> Result<Self, SqlError> {
        let core = Self {
            path,
            pool: Mutex::new(Vec::new()),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            write: Mutex::new(()),
            plans: Mutex::new(HashMap::new()),
            info_dirty: AtomicBool::new(true),
            owner,
        };
        {
            let conn = core.conn()?;
            conn.execute_batch("BEGIN").map_err(internal)?;
            for t in catalog.tables() {
                conn.execute_batch(&t.sqlite_ddl()).map_err(internal)?;
            }
            conn.execute_batch("COMMIT").map_err(internal)?;
        }
        core.set_catalog(catalog);
        Ok(core)
    }

    /// Takes a pooled connection (opening one if none is idle).
    pub fn conn(&self) -> Result<Pooled<'_>, SqlError> {
        let idle = self
            .pool
            .lock()
            .map_err(|_| SqlError::internal("pool"))?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => open(&self.path).map_err(internal)?,
        };
        Ok(Pooled {
            core: self,
            conn: Some(conn),
        })
    }

    /// Current catalogue snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .map_or_else(|p| p.into_inner().clone(), |c| c.clone())
    }

    fn set_catalog(&self, mut cat: Catalog) {
        cat.version = self.snapshot().version + 1;
        if let Ok(mut c) = self.catalog.write() {
            *c = Arc::new(cat);
        }
        if let Ok(mut p) = self.plans.lock() {
            p.clear();
        }
        self.info_dirty.store(true, Ordering::SeqCst);
    }

    /// Rebuilds INFORMATION_SCHEMA if anything changed since the last rebuild.
    pub fn refresh_info(&self) -> Result<(), SqlError> {
        if !self.info_dirty.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _w = self.write.lock().map_err(|_| SqlError::internal("lock"))?;
        if !self.info_dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let cat = self.snapshot();
        let conn = self.conn()?;
        let count = |t: &Table| -> i64 {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {}", quote(&t.sqlite_name())),
                [],
                |r| r.get(0),
            )
            .unwrap_or(0)
        };
        conn.execute_batch("BEGIN").map_err(internal)?;
        let r = infoschema::refresh(&conn, &cat, &self.owner, &count);
        conn.execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .map_err(internal)?;
        r.map_err(internal)
    }

    /// Runs a query and encodes its rows.
    pub fn query(
        &self,
        sql: &str,
        cols: &[Col],
        params: &HashMap<usize, rusqlite::types::Value>,
        fmt: &OutputFormats,
    ) -> Result<QueryResult, SqlError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(|e| map_err(e, sql))?;
        bind_all(&mut stmt, params)?;
        let n = stmt.column_count();
        let mut types: Vec<Option<SfType>> =
            (0..n).map(|i| cols.get(i).and_then(|c| c.ty)).collect();
        let mut seen_real = vec![false; n];
        let mut seen_text = vec![false; n];
        let names: Vec<String> = (0..n)
            .map(|i| {
                cols.get(i).map(|c| c.name.clone()).unwrap_or_else(|| {
                    stmt.column_name(i)
                        .map(str::to_ascii_uppercase)
                        .unwrap_or_default()
                })
            })
            .collect();
        let mut rows = Vec::new();
        let mut q = stmt.raw_query();
        while let Some(row) = q.next().map_err(|e| map_err(e, sql))? {
            let mut out = Vec::with_capacity(n);
            for (i, ty) in types.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| map_err(e, sql))?;
                out.push(match ty {
                    Some(t) => encode(t, v, fmt),
                    None => {
                        match v {
                            rusqlite::types::ValueRef::Real(_) => seen_real[i] = true,
                            rusqlite::types::ValueRef::Text(_)
                            | rusqlite::types::ValueRef::Blob(_) => seen_text[i] = true,
                            _ => {}
                        }
                        encode(&SfType::STRING, v, fmt)
                    }
                });
            }
            rows.push(out);
        }
        for (i, t) in types.iter_mut().enumerate() {
            if t.is_none() {
                *t = Some(if seen_text[i] {
                    SfType::STRING
                } else if seen_real[i] {
                    SfType::Real
                } else {
                    SfType::INT
                });
            }
        }
        let columns = (0..n)
            .map(|i| {
                let c = cols.get(i);
                let ty = types[i].unwrap_or(SfType::STRING);
                ty.column(
                    &names[i],
                    c.and_then(|c| c.origin.as_ref()),
                    c.is_none_or(|c| c.nullable),
                )
            })
            .collect();
        Ok(QueryResult {
            columns,
            rows,
            stats: None,
        })
    }

    /// Runs INSERT/UPDATE/DELETE.
    pub fn dml(
        &self,
        sql: &str,
        kind: DmlKind,
        params: &HashMap<usize, rusqlite::types::Value>,
    ) -> Result<QueryResult, SqlError> {
        let _w = self.write.lock().map_err(|_| SqlError::internal("lock"))?;
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(|e| map_err(e, sql))?;
        bind_all(&mut stmt, params)?;
        let n = stmt.raw_execute().map_err(|e| map_err(e, sql))? as u64;
        self.info_dirty.store(true, Ordering::SeqCst);
        let count = |name: &str| SfType::INT.column(name, None, false);
        let mut stats = DmlStats::default();
        let (columns, row) = match kind {
            DmlKind::Insert => {
                stats.num_rows_inserted = n;
                (
                    vec![count("number of rows inserted")],
                    vec![Some(n.to_string())],
                )
            }
            DmlKind::Update => {
                stats.num_rows_updated = n;
                (
                    vec![
                        count("number of rows updated"),
                        count("number of multi-joined rows updated"),
                    ],
                    vec![Some(n.to_string()), Some("0".to_owned())],
                )
            }
            DmlKind::Delete => {
                stats.num_rows_deleted = n;
                (
                    vec![count("number of rows deleted")],
                    vec![Some(n.to_string())],
                )
            }
        };
        Ok(QueryResult {
            columns,
            rows: vec![row],
            stats: Some(stats),
        })
    }

    /// Applies a catalogue change (CREATE/DROP) and answers with Snowflake's status row.
    pub fn ddl(
        &self,
        plan: &Plan,
        params: &HashMap<usize, rusqlite::types::Value>,
    ) -> Result<QueryResult, SqlError> {
        let _w = self.write.lock().map_err(|_| SqlError::internal("lock"))?;
        let mut cat = (*self.snapshot()).clone();
        let conn = self.conn()?;
        let now = functions::system_now().epoch_secs();
        let mut sqls: Vec<String> = Vec::new();
        let drop_tables = |tables: Vec<&Table>, sqls: &mut Vec<String>| {
            for t in tables {
                sqls.push(format!("DROP TABLE IF EXISTS {}", quote(&t.sqlite_name())));
            }
        };
        let status = match plan {
            Plan::Status(s) => return Ok(status_result(s)),
            Plan::CreateDatabase {
                name,
                if_not_exists,
                or_replace,
            } => {
                if let Some(old) = cat.databases.get(name) {
                    if *if_not_exists {
                        return Ok(status_result(&format!(
                            "{name} already exists, statement succeeded."
                        )));
                    }
                    if !*or_replace {
                        return Err(SqlError::already_exists(name));
                    }
                    drop_tables(
                        old.schemas
                            .values()
                            .flat_map(|s| s.tables.values())
                            .collect(),
                        &mut sqls,
                    );
                }
                let mut db = Database {
                    created: now,
                    ..Database::default()
                };
                db.schemas.insert(
                    "PUBLIC".to_owned(),
                    Schema {
                        created: now,
                        ..Schema::default()
                    },
                );
                let mut info = Schema {
                    created: now,
                    ..Schema::default()
                };
                for v in infoschema::views(name, now) {
                    sqls.push(v.sqlite_ddl());
                    info.tables.insert(v.name.clone(), v);
                }
                db.schemas.insert(infoschema::INFO.to_owned(), info);
                cat.databases.insert(name.clone(), db);
                format!("Database {name} successfully created.")
            }
            Plan::CreateSchema {
                db,
                name,
                if_not_exists,
                or_replace,
            } => {
                let d = cat
                    .databases
                    .get_mut(db)
                    .ok_or_else(|| SqlError::does_not_exist("Database", db))?;
                if let Some(old) = d.schemas.get(name) {
                    if *if_not_exists {
                        return Ok(status_result(&format!(
                            "{name} already exists, statement succeeded."
                        )));
                    }
                    if !*or_replace || name == infoschema::INFO {
                        return Err(SqlError::already_exists(name));
                    }
                    drop_tables(old.tables.values().collect(), &mut sqls);
                }
                d.schemas.insert(
                    name.clone(),
                    Schema {
                        created: now,
                        ..Schema::default()
                    },
                );
                format!("Schema {name} successfully created.")
            }
            Plan::CreateTable {
                table,
                if_not_exists,
                or_replace,
                fill,
            } => {
                let s = cat
                    .databases
                    .get_mut(&table.database)
                    .ok_or_else(|| SqlError::does_not_exist("Database", &table.database))?
                    .schemas
                    .get_mut(&table.schema)
                    .filter(|_| table.schema != infoschema::INFO)
                    .ok_or_else(|| {
                        SqlError::does_not_exist(
                            "Schema",
                            &format!("{}.{}", table.database, table.schema),
                        )
                    })?;
                if let Some(old) = s.tables.get(&table.name) {
                    if *if_not_exists {
                        return Ok(status_result(&format!(
                            "{} already exists, statement succeeded.",
                            table.name
                        )));
                    }
                    if !*or_replace {
                        return Err(SqlError::already_exists(&table.name));
                    }
                    drop_tables(vec![old], &mut sqls);
                }
                sqls.push(table.sqlite_ddl());
                if let Some(f) = fill {
                    sqls.push(format!("INSERT INTO {} {f}", quote(&table.sqlite_name())));
                }
                s.tables.insert(table.name.clone(), table.clone());
                format!("Table {} successfully created.", table.name)
            }
            Plan::Drop {
                kind,
                parts,
                if_exists,
            } => {
                let gone = |what: &str| {
                    if *if_exists {
                        Ok(None)
                    } else {
                        Err(SqlError::does_not_exist(what, &parts.join(".")))
                    }
                };
                let found = match (*kind, parts.as_slice()) {
                    ("DATABASE", [d]) => match cat.databases.remove(d) {
                        Some(old) => {
                            drop_tables(
                                old.schemas
                                    .values()
                                    .flat_map(|s| s.tables.values())
                                    .collect(),
                                &mut sqls,
                            );
                            Some(d.clone())
                        }
                        None => gone("Database")?,
                    },
                    ("SCHEMA", [d, s]) => {
                        match cat.databases.get_mut(d).and_then(|db| db.schemas.remove(s)) {
                            Some(old) => {
                                drop_tables(old.tables.values().collect(), &mut sqls);
                                Some(s.clone())
                            }
                            None => gone("Schema")?,
                        }
                    }
                    ("TABLE", [d, s, t]) => {
                        match cat
                            .databases
                            .get_mut(d)
                            .and_then(|db| db.schemas.get_mut(s))
                            .and_then(|sc| sc.tables.remove(t))
                        {
                            Some(old) => {
                                drop_tables(vec![&old], &mut sqls);
                                Some(t.clone())
                            }
                            None => gone("Table")?,
                        }
                    }
                    _ => gone("Object")?,
                };
                match found {
                    Some(n) => format!("{n} successfully dropped."),
                    None => {
                        "Drop statement executed successfully (object already dropped).".to_owned()
                    }
                }
            }
            _ => return Err(SqlError::internal("plan")),
        };
        conn.execute_batch("BEGIN").map_err(internal)?;
        for s in &sqls {
            let r = conn.prepare(s).and_then(|mut st| {
                bind_all(&mut st, params)
                    .map_err(|e| rusqlite::Error::UserFunctionError(e.message.into()))?;
                st.raw_execute()
            });
            if let Err(e) = r {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(map_err(e, s));
            }
        }
        conn.execute_batch("COMMIT").map_err(internal)?;
        self.set_catalog(cat);
        Ok(status_result(&status))
    }
}

fn status_result(msg: &str) -> QueryResult {
    let len = msg.chars().count() as u64;
    QueryResult {
        columns: vec![Column {
            ..SfType::Text { length: len.max(1) }.column("status", None, false)
        }],
        rows: vec![vec![Some(msg.to_owned())]],
        stats: None,
    }
}

fn bind_all(
    stmt: &mut rusqlite::Statement<'_>,
    params: &HashMap<usize, rusqlite::types::Value>,
) -> Result<(), SqlError> {
    stmt.clear_bindings();
    for i in 1..=stmt.parameter_count() {
        let Some(name) = stmt.parameter_name(i) else {
            continue;
        };
        let idx: usize = name.trim_start_matches('?').parse().unwrap_or(0);
        let v = params
            .get(&idx)
            .cloned()
            .unwrap_or(rusqlite::types::Value::Null);
        stmt.raw_bind_parameter(i, v).map_err(|e| map_err(e, ""))?;
    }
    Ok(())
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pool.lock() {
            p.clear();
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}
