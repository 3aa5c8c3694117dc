//! `SHOW …` commands, parsed by hand (no SQL dialect parses all of them) and answered from the
//! catalogue and the account model with Snowflake's column names.
//!
//! Safety: names and the `LIKE` pattern are read by a tokenizer that understands quoting, and
//! are only ever compared, never spliced into SQL, so `%' OR '1'='1` is just a pattern.

use rusqlite::types::Value;

use super::catalog::Catalog;
use super::datetime::DateTime;
use super::types::{encode, OutputFormats, SfType};
use super::{Column, SessionContext, SqlError};
use crate::snowsim::model::AccountModel;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Dot,
}

fn tokenize(sql: &str) -> Result<Vec<(Tok, usize)>, SqlError> {
    let b: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_whitespace() || c == ';' {
            i += 1;
        } else if c == '.' {
            out.push((Tok::Dot, start));
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(SqlError::syntax(1, start as u64, "<EOF>"));
                };
                if ch == '\\' && c == '\'' {
                    if let Some(&n) = b.get(i + 1) {
                        s.push(n);
                    }
                    i += 2;
                    continue;
                }
                if ch == c {
                    if b.get(i + 1) == Some(&c) {
                        s.push(c);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(ch);
                i += 1;
            }
            out.push((
                if c == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                },
                start,
            ));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '$') {
                i += 1;
            }
            let w: String = b[start..i].iter().collect();
            out.push((Tok::Word(w.to_ascii_uppercase()), start));
        } else {
            return Err(SqlError::syntax(1, start as u64, &c.to_string()));
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

impl P {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.i), Some((Tok::Word(x), _)) if x == w)
    }
    fn eat(&mut self, w: &str) -> bool {
        let ok = self.peek_word(w);
        if ok {
            self.i += 1;
        }
        ok
    }
    fn err(&self) -> SqlError {
        match self.toks.get(self.i) {
            Some((t, pos)) => {
                let s = match t {
                    Tok::Word(w) | Tok::Quoted(w) => w.clone(),
                    Tok::Str(s) => format!("'{s}'"),
                    Tok::Dot => ".".into(),
                };
                SqlError::syntax(1, *pos as u64, &s)
            }
            None => SqlError::syntax(1, 0, "<EOF>"),
        }
    }
    fn ident(&mut self) -> Option<String> {
        match self.toks.get(self.i) {
            Some((Tok::Word(w), _)) => {
                let w = w.clone();
                self.i += 1;
                Some(w)
            }
            Some((Tok::Quoted(w), _)) => {
                let w = w.clone();
                self.i += 1;
                Some(w)
            }
            _ => None,
        }
    }
    fn name(&mut self) -> Result<Vec<String>, SqlError> {
        let mut parts = vec![self.ident().ok_or_else(|| self.err())?];
        while matches!(self.toks.get(self.i), Some((Tok::Dot, _))) {
            self.i += 1;
            parts.push(self.ident().ok_or_else(|| self.err())?);
        }
        Ok(parts)
    }
}

/// What a `SHOW` lists.
#[derive(Debug, Clone, PartialEq)]
enum What {
    Databases,
    Schemas,
    Tables,
    Warehouses,
    Roles,
    Users,
    PrimaryKeys,
    ImportedKeys,
    ExportedKeys,
    GrantsToRole(String),
    GrantsToUser(String),
    GrantsOfRole(String),
    GrantsOn(String, Vec<String>),
}

/// `IN …` scope, resolved to optional (database, schema, table) filters.
#[derive(Debug, Clone, Default)]
struct Scope {
    db: Option<String>,
    schema: Option<String>,
    table: Option<String>,
}

/// True when `sql` is a SHOW command.
pub fn is_show(sql: &str) -> bool {
    sql.trim_start()
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("SHOW"))
        && sql.trim_start()[4..].starts_with(|c: char| c.is_whitespace())
}

/// Everything a SHOW reads.
pub struct ShowEnv<'a> {
    /// The catalogue.
    pub catalog: &'a Catalog,
    /// Roles, users, warehouses, grants.
    pub account: &'a AccountModel,
    /// Session (current database/schema/role/user).
    pub ctx: &'a SessionContext,
    /// Creation time reported for model objects.
    pub created: i64,
    /// Output formats.
    pub formats: &'a OutputFormats,
}

/// Case-insensitive SQL LIKE (`%`, `_`, `\` escape).
pub fn like(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.to_uppercase().chars().collect();
    let s: Vec<char> = s.to_uppercase().chars().collect();
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|k| go(&p[1..], &s[k..])),
            Some('_') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && go(&p[2..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

type Rows = (Vec<Column>, Vec<Vec<Option<String>>>);

/// Parses and answers a SHOW command.
pub fn run(sql: &str, env: &ShowEnv<'_>) -> Result<Rows, SqlError> {
    let mut p = P {
        toks: tokenize(sql)?,
        i: 0,
    };
    if !p.eat("SHOW") {
        return Err(p.err());
    }
    p.eat("TERSE");
    let what = if p.eat("DATABASES") {
        What::Databases
    } else if p.eat("SCHEMAS") {
        What::Schemas
    } else if p.eat("TABLES") {
        What::Tables
    } else if p.eat("WAREHOUSES") {
        What::Warehouses
    } else if p.eat("ROLES") {
        What::Roles
    } else if p.eat("USERS") {
        What::Users
    } else if p.eat("PRIMARY") {
        if !p.eat("KEYS") {
            return Err(p.err());
        }
        What::PrimaryKeys
    } else if p.eat("IMPORTED") {
        if !p.eat("KEYS") {
            return Err(p.err());
        }
        What::ImportedKeys
    } else if p.eat("EXPORTED") {
        if !p.eat("KEYS") {
            return Err(p.err());
        }
        What::ExportedKeys
    } else if p.eat("GRANTS") {
        if p.eat("TO") {
            if p.eat("ROLE") {
                What::GrantsToRole(p.ident().ok_or_else(|| p.err())?)
            } else if p.eat("USER") {
                What::GrantsToUser(p.ident().ok_or_else(|| p.err())?)
            } else {
                return Err(p.err());
            }
        } else if p.eat("OF") {
            if !p.eat("ROLE") {
                return Err(p.err());
            }
            What::GrantsOfRole(p.ident().ok_or_else(|| p.err())?)
        } else if p.eat("ON") {
            if p.eat("ACCOUNT") {
                What::GrantsOn("ACCOUNT".into(), Vec::new())
            } else {
                let kind = p.ident().ok_or_else(|| p.err())?;
                What::GrantsOn(kind, p.name()?)
            }
        } else {
            What::GrantsToUser(env.ctx.user.clone())
        }
    } else {
        return Err(p.err());
    };
    let mut pattern = None;
    if p.eat("LIKE") {
        match p.toks.get(p.i) {
            Some((Tok::Str(s), _)) => {
                pattern = Some(s.clone());
                p.i += 1;
            }
            _ => return Err(p.err()),
        }
    }
    let mut scope = default_scope(&what, env.ctx);
    if p.eat("IN") {
        scope = parse_scope(&mut p, env)?;
    }
    if p.i < p.toks.len() {
        return Err(p.err());
    }
    check_scope(&scope, env.catalog)?;
    let table = build(&what, &scope, env);
    let rows = table
        .1
        .into_iter()
        .filter(|(name, _)| pattern.as_deref().is_none_or(|pat| like(pat, name)))
        .map(|(_, cells)| {
            cells
                .into_iter()
                .zip(&table.0)
                .map(|(v, (_, ty))| encode(ty, (&v).into(), env.formats))
                .collect()
        })
        .collect();
    let cols = table
        .0
        .iter()
        .map(|(n, ty)| ty.column(n, None, true))
        .collect();
    Ok((cols, rows))
}

fn default_scope(what: &What, ctx: &SessionContext) -> Scope {
    match what {
        What::Schemas
        | What::Tables
        | What::PrimaryKeys
        | What::ImportedKeys
        | What::ExportedKeys => Scope {
            db: ctx.database.clone(),
            schema: if matches!(what, What::Schemas) {
                None
            } else {
                ctx.schema.clone()
            },
            table: None,
        },
        _ => Scope::default(),
    }
}

fn parse_scope(p: &mut P, env: &ShowEnv<'_>) -> Result<Scope, SqlError> {
    if p.eat("ACCOUNT") {
        return Ok(Scope::default());
    }
    let kind = if p.eat("DATABASE") {
        1
    } else if p.eat("SCHEMA") {
        2
    } else if p.eat("TABLE") {
        3
    } else {
        0
    };
    let name = if p.i < p.toks.len() {
        p.name()?
    } else {
        Vec::new()
    };
    let ctx = env.ctx;
    let mut s = Scope::default();
    match (kind, name.len()) {
        (1, 0) => s.db = ctx.database.clone(),
        (1, 1) | (0, 1) => s.db = Some(name[0].clone()),
        (2, 0) => (s.db, s.schema) = (ctx.database.clone(), ctx.schema.clone()),
        (2, 1) => (s.db, s.schema) = (ctx.database.clone(), Some(name[0].clone())),
        (2, 2) | (0, 2) => (s.db, s.schema) = (Some(name[0].clone()), Some(name[1].clone())),
        (3, 1) => {
            (s.db, s.schema, s.table) = (
                ctx.database.clone(),
                ctx.schema.clone(),
                Some(name[0].clone()),
            )
        }
        (3, 2) => {
            (s.db, s.schema, s.table) = (
                ctx.database.clone(),
                Some(name[0].clone()),
                Some(name[1].clone()),
            )
        }
        (3, 3) | (0, 3) => {
            (s.db, s.schema, s.table) = (
                Some(name[0].clone()),
                Some(name[1].clone()),
                Some(name[2].clone()),
            )
        }
        _ => return Err(p.err()),
    }
    Ok(s)
}

fn check_scope(s: &Scope, cat: &Catalog) -> Result<(), SqlError> {
    if let Some(db) = &s.db {
        let Some(d) = cat.databases.get(db) else {
            return Err(SqlError::does_not_exist("Database", db));
        };
        if let Some(schema) = &s.schema {
            let Some(sc) = d.schemas.get(schema) else {
                return Err(SqlError::does_not_exist(
                    "Schema",
                    &format!("{db}.{schema}"),
                ));
            };
            if let Some(t) = &s.table {
                if !sc.tables.contains_key(t) {
                    return Err(SqlError::does_not_exist(
                        "Table",
                        &format!("{db}.{schema}.{t}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

type Table = (Vec<(&'static str, SfType)>, Vec<(String, Vec<Value>)>);

const T: SfType = SfType::STRING;
const TS: SfType = SfType::TimestampLtz { scale: 3 };
const NUM: SfType = SfType::INT;

fn ts(secs: i64) -> Value {
    Value::Text(DateTime::from_epoch(secs, 0).to_storage())
}
fn s(v: &str) -> Value {
    Value::Text(v.to_owned())
}
fn yn(b: bool) -> Value {
    s(if b { "Y" } else { "N" })
}

fn build(what: &What, scope: &Scope, env: &ShowEnv<'_>) -> Table {
    let (ctx, acct, c) = (env.ctx, env.account, env.created);
    let in_scope = |db: &str, schema: &str, table: &str| {
        scope.db.as_deref().is_none_or(|d| d == db)
            && scope.schema.as_deref().is_none_or(|x| x == schema)
            && scope.table.as_deref().is_none_or(|x| x == table)
    };
    match what {
        What::Databases => (
            vec![
                ("created_on", TS),
                ("name", T),
                ("is_default", T),
                ("is_current", T),
                ("origin", T),
                ("owner", T),
                ("comment", T),
                ("options", T),
                ("retention_time", T),
                ("kind", T),
                ("owner_role_type", T),
            ],
            env.catalog
                .databases
                .iter()
                .map(|(name, d)| {
                    let owner = if name == "SNOWFLAKE_SAMPLE_DATA" {
                        ""
                    } else {
                        "ACCOUNTADMIN"
                    };
                    (
                        name.clone(),
                        vec![
                            ts(d.created),
                            s(name),
                            yn(false),
                            yn(ctx.database.as_deref() == Some(name)),
                            s(""),
                            s(owner),
                            s(""),
                            s(""),
                            s("1"),
                            s(if owner.is_empty() {
                                "IMPORTED DATABASE"
                            } else {
                                "STANDARD"
                            }),
                            s(if owner.is_empty() { "" } else { "ROLE" }),
                        ],
                    )
                })
                .collect(),
        ),
        What::Schemas => (
            vec![
                ("created_on", TS),
                ("name", T),
                ("is_default", T),
                ("is_current", T),
                ("database_name", T),
                ("owner", T),
                ("comment", T),
                ("options", T),
                ("retention_time", T),
                ("owner_role_type", T),
            ],
            env.catalog
                .databases
                .iter()
                .filter(|(db, _)| scope.db.as_deref().is_none_or(|d| d == db.as_str()))
                .flat_map(|(db, d)| d.schemas.iter().map(move |(n, sc)| (db, n, sc)))
                .map(|(db, name, sc)| {
                    (
                        name.clone(),
                        vec![
                            ts(sc.created),
                            s(name),
                            yn(false),
                            yn(ctx.schema.as_deref() == Some(name)
                                && ctx.database.as_deref() == Some(db)),
                            s(db),
                            s(""),
                            s(""),
                            s(""),
                            s("1"),
                            s(""),
                        ],
                    )
                })
                .collect(),
        ),
        What::Tables => (
            vec![
                ("created_on", TS),
                ("name", T),
                ("database_name", T),
                ("schema_name", T),
                ("kind", T),
                ("comment", T),
                ("cluster_by", T),
                ("rows", NUM),
                ("bytes", NUM),
                ("owner", T),
                ("retention_time", T),
            ],
            env.catalog
                .tables()
                .filter(|t| !t.is_view && in_scope(&t.database, &t.schema, &t.name))
                .map(|t| {
                    (
                        t.name.clone(),
                        vec![
                            ts(t.created),
                            s(&t.name),
                            s(&t.database),
                            s(&t.schema),
                            s("TABLE"),
                            s(""),
                            s(""),
                            Value::Null,
                            Value::Null,
                            s(""),
                            s("1"),
                        ],
                    )
                })
                .collect(),
        ),
        What::Warehouses => (
            vec![
                ("name", T),
                ("state", T),
                ("type", T),
                ("size", T),
                ("min_cluster_count", NUM),
                ("max_cluster_count", NUM),
                ("started_clusters", NUM),
                ("running", NUM),
                ("queued", NUM),
                ("is_default", T),
                ("is_current", T),
                ("auto_suspend", NUM),
                ("auto_resume", T),
                ("available", T),
                ("provisioning", T),
                ("quiescing", T),
                ("other", T),
                ("created_on", TS),
                ("resumed_on", TS),
                ("updated_on", TS),
                ("owner", T),
                ("comment", T),
                ("resource_monitor", T),
                ("scaling_policy", T),
                ("owner_role_type", T),
            ],
            acct.warehouses
                .iter()
                .map(|w| {
                    let started = !w.suspended;
                    (
                        w.name.clone(),
                        vec![
                            s(&w.name),
                            s(if started { "STARTED" } else { "SUSPENDED" }),
                            s("STANDARD"),
                            s(&w.size),
                            Value::Integer(1),
                            Value::Integer(1),
                            Value::Integer(i64::from(started)),
                            Value::Integer(0),
                            Value::Integer(0),
                            yn(false),
                            yn(ctx.warehouse.as_deref() == Some(w.name.as_str())),
                            Value::Integer(600),
                            s(if w.auto_resume { "true" } else { "false" }),
                            s(if started { "100" } else { "" }),
                            s(if started { "0" } else { "" }),
                            s(if started { "0" } else { "" }),
                            s(if started { "0" } else { "" }),
                            ts(c),
                            ts(c),
                            ts(c),
                            s("SYSADMIN"),
                            s(""),
                            s("null"),
                            s("STANDARD"),
                            s("ROLE"),
                        ],
                    )
                })
                .collect(),
        ),
        What::Roles => (
            vec![
                ("created_on", TS),
                ("name", T),
                ("is_default", T),
                ("is_current", T),
                ("is_inherited", T),
                ("assigned_to_users", NUM),
                ("granted_to_roles", NUM),
                ("granted_roles", NUM),
                ("owner", T),
                ("comment", T),
            ],
            acct.roles
                .iter()
                .map(|r| {
                    let users = acct
                        .users
                        .iter()
                        .filter(|u| u.roles.contains(&r.name))
                        .count();
                    let to_roles = acct
                        .roles
                        .iter()
                        .filter(|o| o.granted_roles.contains(&r.name))
                        .count();
                    (
                        r.name.clone(),
                        vec![
                            ts(c),
                            s(&r.name),
                            yn(false),
                            yn(ctx.role == r.name),
                            yn(false),
                            Value::Integer(users as i64),
                            Value::Integer(to_roles as i64),
                            Value::Integer(r.granted_roles.len() as i64),
                            s(""),
                            s(""),
                        ],
                    )
                })
                .collect(),
        ),
        What::Users => (
            vec![
                ("name", T),
                ("created_on", TS),
                ("login_name", T),
                ("disabled", T),
                ("default_warehouse", T),
                ("default_namespace", T),
                ("default_role", T),
                ("has_rsa_public_key", T),
            ],
            acct.users
                .iter()
                .map(|u| {
                    let opt = |o: &Option<String>| o.as_deref().map_or(Value::Null, s);
                    (
                        u.name.clone(),
                        vec![
                            s(&u.name),
                            ts(c),
                            s(u.login_name.as_deref().unwrap_or(&u.name)),
                            s(if u.disabled { "true" } else { "false" }),
                            opt(&u.default_warehouse),
                            opt(&u.default_namespace),
                            opt(&u.default_role),
                            s(
                                if u.rsa_public_key.is_some() || u.rsa_public_key_2.is_some() {
                                    "true"
                                } else {
                                    "false"
                                },
                            ),
                        ],
                    )
                })
                .collect(),
        ),
        What::PrimaryKeys => (
            vec![
                ("created_on", TS),
                ("database_name", T),
                ("schema_name", T),
                ("table_name", T),
                ("column_name", T),
                ("key_sequence", NUM),
                ("constraint_name", T),
                ("rely", T),
                ("comment", T),
            ],
            env.catalog
                .tables()
                .filter(|t| in_scope(&t.database, &t.schema, &t.name))
                .flat_map(|t| {
                    t.primary_key.iter().flat_map(move |(name, cols)| {
                        cols.iter().enumerate().map(move |(i, col)| {
                            (
                                t.name.clone(),
                                vec![
                                    ts(t.created),
                                    s(&t.database),
                                    s(&t.schema),
                                    s(&t.name),
                                    s(col),
                                    Value::Integer(i as i64 + 1),
                                    s(name),
                                    s("false"),
                                    Value::Null,
                                ],
                            )
                        })
                    })
                })
                .collect(),
        ),
        What::ImportedKeys | What::ExportedKeys => {
            keys(what == &What::ImportedKeys, &in_scope, env)
        }
        What::GrantsToRole(_) | What::GrantsOn(..) => privilege_grants(what, env),
        What::GrantsToUser(user) => (
            role_grant_cols(),
            acct.users
                .iter()
                .filter(|u| &u.name == user)
                .flat_map(|u| u.roles.iter().map(move |r| (r, u)))
                .map(|(r, u)| (r.clone(), vec![ts(c), s(r), s("USER"), s(&u.name), s("")]))
                .collect(),
        ),
        What::GrantsOfRole(role) => {
            let mut rows: Vec<(String, Vec<Value>)> = acct
                .roles
                .iter()
                .filter(|r| r.granted_roles.contains(role))
                .map(|r| {
                    (
                        r.name.clone(),
                        vec![ts(c), s(role), s("ROLE"), s(&r.name), s("")],
                    )
                })
                .collect();
            rows.extend(
                acct.users
                    .iter()
                    .filter(|u| u.roles.contains(role))
                    .map(|u| {
                        (
                            u.name.clone(),
                            vec![ts(c), s(role), s("USER"), s(&u.name), s("")],
                        )
                    }),
            );
            (role_grant_cols(), rows)
        }
    }
}

fn role_grant_cols() -> Vec<(&'static str, SfType)> {
    vec![
        ("created_on", TS),
        ("role", T),
        ("granted_to", T),
        ("grantee_name", T),
        ("granted_by", T),
    ]
}

fn privilege_grants(what: &What, env: &ShowEnv<'_>) -> Table {
    let acct = env.account;
    let rows = acct
        .grants
        .iter()
        .filter(|g| match what {
            What::GrantsToRole(r) => &g.role == r,
            What::GrantsOn(kind, name) => {
                g.object_type.eq_ignore_ascii_case(kind)
                    && (name.is_empty() || g.object_name == name.join("."))
            }
            _ => false,
        })
        .map(|g| {
            (
                g.object_name.clone(),
                vec![
                    ts(env.created),
                    s(&g.privilege.to_ascii_uppercase()),
                    s(&g.object_type.to_ascii_uppercase()),
                    s(&g.object_name),
                    s("ROLE"),
                    s(&g.role),
                    s("false"),
                    s("ACCOUNTADMIN"),
                ],
            )
        })
        .collect();
    (
        vec![
            ("created_on", TS),
            ("privilege", T),
            ("granted_on", T),
            ("name", T),
            ("granted_to", T),
            ("grantee_name", T),
            ("grant_option", T),
            ("granted_by", T),
        ],
        rows,
    )
}

fn keys(imported: bool, in_scope: &dyn Fn(&str, &str, &str) -> bool, env: &ShowEnv<'_>) -> Table {
    let mut rows = Vec::new();
    for t in env.catalog.tables() {
        for fk in &t.foreign_keys {
            let (pdb, psc, ptb) = &fk.target;
            let scoped = if imported {
                in_scope(&t.database, &t.schema, &t.name)
            } else {
                in_scope(pdb, psc, ptb)
            };
            if !scoped {
                continue;
            }
            let pk_name = env
                .catalog
                .table(pdb, psc, ptb)
                .and_then(|p| p.primary_key.as_ref())
                .map_or(Value::Null, |(n, _)| s(n));
            for (i, (fcol, pcol)) in fk.columns.iter().zip(&fk.target_columns).enumerate() {
                rows.push((
                    if imported {
                        t.name.clone()
                    } else {
                        ptb.clone()
                    },
                    vec![
                        ts(t.created),
                        s(pdb),
                        s(psc),
                        s(ptb),
                        s(pcol),
                        s(&t.database),
                        s(&t.schema),
                        s(&t.name),
                        s(fcol),
                        Value::Integer(i as i64 + 1),
                        s("NO ACTION"),
                        s("NO ACTION"),
                        s(&fk.name),
                        pk_name.clone(),
                        s("NOT DEFERRABLE"),
                        s("false"),
                        Value::Null,
                    ],
                ));
            }
        }
    }
    (
        vec![
            ("created_on", TS),
            ("pk_database_name", T),
            ("pk_schema_name", T),
            ("pk_table_name", T),
            ("pk_column_name", T),
            ("fk_database_name", T),
            ("fk_schema_name", T),
            ("fk_table_name", T),
            ("fk_column_name", T),
            ("key_sequence", NUM),
            ("update_rule", T),
            ("delete_rule", T),
            ("fk_name", T),
            ("pk_name", T),
            ("deferrability", T),
            ("rely", T),
            ("comment", T),
        ],
        rows,
    )
}
