//! Turns one Snowflake statement into a [`Plan`]: SQLite SQL plus the Snowflake metadata of its
//! result, or a catalogue change. Parsing uses sqlparser's `SnowflakeDialect`; parse failures
//! become Snowflake's `001003` syntax error with line and position.

use std::collections::HashMap;

use sqlparser::ast::{
    ColumnOption, CreateTable, Delete, FromTable, Insert, ObjectType, SchemaName, Statement,
    TableConstraint, TableObject, VisitMut,
};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::{Parser, ParserError};

use super::bind::BoundValue;
use super::catalog::{CatColumn, Catalog, ForeignKey, Table};
use super::infer::{sf_type, Col, Infer};
use super::names::{norm, number_placeholders, Names};
use super::rewrite::{cte_names, Rewriter};
use super::types::SfType;
use super::{SessionContext, SqlError};

/// What executing a plan does.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A query returning rows.
    Query {
        /// SQLite SQL.
        sql: String,
        /// Output columns.
        cols: Vec<Col>,
        /// Reads INFORMATION_SCHEMA (refresh first).
        info: bool,
    },
    /// INSERT / UPDATE / DELETE.
    Dml {
        /// SQLite SQL.
        sql: String,
        /// Which counter the row count goes to.
        kind: DmlKind,
    },
    /// CREATE DATABASE.
    CreateDatabase {
        /// Name.
        name: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// OR REPLACE.
        or_replace: bool,
    },
    /// CREATE SCHEMA.
    CreateSchema {
        /// Database.
        db: String,
        /// Name.
        name: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// OR REPLACE.
        or_replace: bool,
    },
    /// CREATE TABLE [AS SELECT].
    CreateTable {
        /// The new table.
        table: Table,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// OR REPLACE.
        or_replace: bool,
        /// SQLite SELECT filling it (CTAS).
        fill: Option<String>,
    },
    /// DROP DATABASE/SCHEMA/TABLE.
    Drop {
        /// `DATABASE`, `SCHEMA` or `TABLE`.
        kind: &'static str,
        /// Resolved parts.
        parts: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// A statement accepted without effect (transactions, USE, ALTER SESSION).
    Status(String),
}

/// The DML statement kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmlKind {
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
}

fn syntax_error(e: &ParserError, sql: &str) -> SqlError {
    let msg = e.to_string();
    let (mut line, mut col) = (1u64, 0u64);
    if let Some(at) = msg.rfind(" at Line: ") {
        let rest = &msg[at + 10..];
        let mut it = rest.split(", Column: ");
        line = it.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
        col = it
            .next()
            .and_then(|c| c.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .saturating_sub(1);
    }
    let found = msg
        .find("found: ")
        .map(|i| {
            let rest = &msg[i + 7..];
            rest[..rest.find(" at Line:").unwrap_or(rest.len())].to_owned()
        })
        .unwrap_or_else(|| {
            sql.lines()
                .nth(line.saturating_sub(1) as usize)
                .and_then(|l| l.get(col as usize..))
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("<EOF>")
                .to_owned()
        });
    let found = if found == "EOF" {
        "<EOF>".to_owned()
    } else {
        found
    };
    SqlError::syntax(line, col, &found)
}

/// Parses exactly one statement.
pub fn parse_one(sql: &str) -> Result<Statement, SqlError> {
    let mut stmts =
        Parser::parse_sql(&SnowflakeDialect {}, sql).map_err(|e| syntax_error(&e, sql))?;
    match stmts.len() {
        1 => Ok(stmts.remove(0)),
        0 => Err(SqlError::new(
            "000900",
            "42000",
            "SQL compilation error:\nEmpty SQL statement.",
        )),
        n => Err(SqlError::new(
            "000008",
            "0A000",
            format!("Actual statement count {n} did not match the desired statement count 1."),
        )),
    }
}

/// Plans one statement.
pub fn plan(
    sql: &str,
    catalog: &Catalog,
    ctx: &SessionContext,
    binds: &HashMap<usize, BoundValue>,
) -> Result<Plan, SqlError> {
    let mut stmt = parse_one(sql)?;
    let names = Names {
        catalog,
        ctx,
        params: number_placeholders(&SnowflakeDialect {}, sql),
        binds,
    };
    let ctes = cte_names(&mut stmt);
    let mut rw = Rewriter::new(&names, sql, ctes);
    match stmt {
        Statement::Query(q) => {
            let cols = Infer::new(&names).query(&q, &[])?;
            let mut q = q;
            if let std::ops::ControlFlow::Break(e) = q.visit(&mut rw) {
                return Err(e);
            }
            Ok(Plan::Query {
                sql: q.to_string(),
                cols,
                info: rw.reads_info_schema,
            })
        }
        Statement::Insert(mut ins) => {
            insert(&mut ins, &names, &mut rw)?;
            Ok(Plan::Dml {
                sql: Statement::Insert(ins).to_string(),
                kind: DmlKind::Insert,
            })
        }
        s @ Statement::Update(_) => dml(s, &mut rw, DmlKind::Update),
        Statement::Delete(Delete { ref using, .. }) if using.is_some() => {
            Err(SqlError::unsupported("DELETE … USING"))
        }
        s @ Statement::Delete(_) => dml(s, &mut rw, DmlKind::Delete),
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            or_replace,
            ..
        } => Ok(Plan::CreateDatabase {
            name: names.parts(&db_name)?.join("."),
            if_not_exists,
            or_replace,
        }),
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            or_replace,
            ..
        } => {
            let SchemaName::Simple(n) = schema_name else {
                return Err(SqlError::unsupported("schema authorization"));
            };
            let parts = names.parts(&n)?;
            let (db, name) = match parts.as_slice() {
                [s] => (names.qualify(&[s.clone(), String::new()])?.0, s.clone()),
                [d, s] => (d.clone(), s.clone()),
                _ => return Err(SqlError::invalid_identifier(1, 0, &parts.join("."))),
            };
            Ok(Plan::CreateSchema {
                db,
                name,
                if_not_exists,
                or_replace,
            })
        }
        Statement::CreateTable(ct) => create_table(ct, &names, &mut rw),
        Statement::Drop {
            object_type,
            if_exists,
            names: objs,
            ..
        } => {
            let kind = match object_type {
                ObjectType::Table => "TABLE",
                ObjectType::Schema => "SCHEMA",
                ObjectType::Database => "DATABASE",
                _ => return Err(SqlError::unsupported("DROP of this object type")),
            };
            let first = objs
                .first()
                .ok_or_else(|| SqlError::syntax(1, 0, "<EOF>"))?;
            let parts = names.parts(first)?;
            let parts = match kind {
                "TABLE" => {
                    let (d, s, t) = names.qualify(&parts)?;
                    vec![d, s, t]
                }
                "SCHEMA" if parts.len() == 1 => {
                    vec![
                        names.qualify(&[parts[0].clone(), String::new()])?.0,
                        parts[0].clone(),
                    ]
                }
                _ => parts,
            };
            Ok(Plan::Drop {
                kind,
                parts,
                if_exists,
            })
        }
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Use(_) => Ok(Plan::Status("Statement executed successfully.".to_owned())),
        _ => Err(SqlError::unsupported(
            sql.split_whitespace().next().unwrap_or("statement"),
        )),
    }
}

fn dml(mut s: Statement, rw: &mut Rewriter<'_, '_>, kind: DmlKind) -> Result<Plan, SqlError> {
    if let std::ops::ControlFlow::Break(e) = s.visit(rw) {
        return Err(e);
    }
    if let Statement::Delete(Delete { from, .. }) = &mut s {
        // SQLite has no `DELETE t FROM …` / bare `DELETE t` forms; both mean "from t".
        if let FromTable::WithoutKeyword(t) = from {
            *from = FromTable::WithFromKeyword(std::mem::take(t));
        }
    }
    Ok(Plan::Dml {
        sql: s.to_string(),
        kind,
    })
}

fn insert(ins: &mut Insert, names: &Names<'_>, rw: &mut Rewriter<'_, '_>) -> Result<(), SqlError> {
    let TableObject::TableName(name) = &mut ins.table else {
        return Err(SqlError::unsupported("INSERT INTO TABLE FUNCTION"));
    };
    let table = names.table(name)?;
    for c in &ins.columns {
        let Some(c) = c.0.last().and_then(|p| p.as_ident()) else {
            continue;
        };
        let n = norm(c);
        if !table.columns.iter().any(|tc| tc.name == n) {
            let (l, p) = super::names::pos(c);
            return Err(SqlError::invalid_identifier(l, p, &n));
        }
    }
    rw.table_name(name)?;
    if let Some(src) = ins.source.as_mut() {
        if let std::ops::ControlFlow::Break(e) = src.visit(rw) {
            return Err(e);
        }
    }
    Ok(())
}

fn create_table(
    ct: CreateTable,
    names: &Names<'_>,
    rw: &mut Rewriter<'_, '_>,
) -> Result<Plan, SqlError> {
    let (db, schema, name) = names.qualify(&names.parts(&ct.name)?)?;
    let mut columns = Vec::new();
    let mut pk: Option<Vec<String>> = None;
    let mut fks = Vec::new();
    for c in &ct.columns {
        let ty = sf_type(&c.data_type).ok_or_else(|| {
            SqlError::new(
                "002040",
                "42601",
                format!(
                    "SQL compilation error:\nUnsupported data type '{}'.",
                    c.data_type
                ),
            )
        })?;
        let mut nullable = true;
        for o in &c.options {
            match &o.option {
                ColumnOption::NotNull => nullable = false,
                ColumnOption::PrimaryKey(_) => {
                    nullable = false;
                    pk = Some(vec![norm(&c.name)]);
                }
                _ => {}
            }
        }
        columns.push(CatColumn {
            name: norm(&c.name),
            ty,
            nullable,
        });
    }
    for k in &ct.constraints {
        match k {
            TableConstraint::PrimaryKey(p) => {
                pk = Some(
                    p.columns
                        .iter()
                        .map(|c| c.column.expr.to_string().to_ascii_uppercase())
                        .collect(),
                );
            }
            TableConstraint::ForeignKey(f) => {
                let target = names.qualify(&names.parts(&f.foreign_table)?)?;
                fks.push(ForeignKey {
                    name: f.name.as_ref().map_or_else(
                        || format!("SYS_CONSTRAINT_FK_{name}_{}", fks.len() + 1),
                        norm,
                    ),
                    columns: f.columns.iter().map(norm).collect(),
                    target,
                    target_columns: f.referred_columns.iter().map(norm).collect(),
                });
            }
            _ => {}
        }
    }
    let mut fill = None;
    if let Some(q) = ct.query {
        let cols = Infer::new(names).query(&q, &[])?;
        if columns.is_empty() {
            columns = cols
                .iter()
                .map(|c| CatColumn {
                    name: c.name.clone(),
                    ty: c.ty.unwrap_or(SfType::STRING),
                    nullable: c.nullable,
                })
                .collect();
        }
        let mut q = q;
        if let std::ops::ControlFlow::Break(e) = q.visit(rw) {
            return Err(e);
        }
        fill = Some(q.to_string());
    }
    if columns.is_empty() {
        return Err(SqlError::syntax(1, 0, "<EOF>"));
    }
    Ok(Plan::CreateTable {
        table: Table {
            database: db,
            schema,
            primary_key: pk.map(|cols| (format!("SYS_CONSTRAINT_PK_{name}"), cols)),
            name,
            columns,
            foreign_keys: fks,
            is_view: false,
            created: super::functions::system_now().epoch_secs(),
        },
        if_not_exists: ct.if_not_exists,
        or_replace: ct.or_replace,
        fill,
    })
}
