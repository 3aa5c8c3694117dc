//! `<db>.INFORMATION_SCHEMA` views (SCHEMATA, TABLES, COLUMNS, TABLE_CONSTRAINTS,
//! REFERENTIAL_CONSTRAINTS), materialised as ordinary catalogue tables so they can be queried
//! with any WHERE clause, join or bind like in Snowflake.
//!
//! Invariant: the backing tables are rewritten from the catalogue whenever a statement reads
//! them after a DDL or DML (the engine tracks a dirty flag), so they never show stale objects.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::catalog::{quote, CatColumn, Catalog, Table};
use super::datetime;
use super::types::SfType;

/// Name of the schema every database carries.
pub const INFO: &str = "INFORMATION_SCHEMA";

const T: SfType = SfType::STRING;
const NUM: SfType = SfType::Fixed {
    precision: 9,
    scale: 0,
};
const BIG: SfType = SfType::INT;
const TS: SfType = SfType::TimestampLtz { scale: 9 };

fn view(db: &str, name: &str, cols: &[(&str, SfType)], created: i64) -> Table {
    Table {
        database: db.to_owned(),
        schema: INFO.to_owned(),
        name: name.to_owned(),
        columns: cols
            .iter()
            .map(|(n, ty)| CatColumn {
                name: (*n).to_owned(),
                ty: *ty,
                nullable: true,
            })
            .collect(),
        primary_key: None,
        foreign_keys: Vec::new(),
        is_view: true,
        created,
    }
}

/// The five views of one database (empty; filled by [`refresh`]).
pub fn views(db: &str, created: i64) -> Vec<Table> {
    vec![
        view(
            db,
            "SCHEMATA",
            &[
                ("CATALOG_NAME", T),
                ("SCHEMA_NAME", T),
                ("SCHEMA_OWNER", T),
                ("IS_TRANSIENT", T),
                ("IS_MANAGED_ACCESS", T),
                ("RETENTION_TIME", NUM),
                ("DEFAULT_CHARACTER_SET_CATALOG", T),
                ("DEFAULT_CHARACTER_SET_SCHEMA", T),
                ("DEFAULT_CHARACTER_SET_NAME", T),
                ("SQL_PATH", T),
                ("CREATED", TS),
                ("LAST_ALTERED", TS),
                ("COMMENT", T),
            ],
            created,
        ),
        view(
            db,
            "TABLES",
            &[
                ("TABLE_CATALOG", T),
                ("TABLE_SCHEMA", T),
                ("TABLE_NAME", T),
                ("TABLE_OWNER", T),
                ("TABLE_TYPE", T),
                ("IS_TRANSIENT", T),
                ("CLUSTERING_KEY", T),
                ("ROW_COUNT", BIG),
                ("BYTES", BIG),
                ("RETENTION_TIME", NUM),
                ("CREATED", TS),
                ("LAST_ALTERED", TS),
                ("LAST_DDL", TS),
                ("AUTO_CLUSTERING_ON", T),
                ("COMMENT", T),
            ],
            created,
        ),
        view(
            db,
            "COLUMNS",
            &[
                ("TABLE_CATALOG", T),
                ("TABLE_SCHEMA", T),
                ("TABLE_NAME", T),
                ("COLUMN_NAME", T),
                ("ORDINAL_POSITION", NUM),
                ("COLUMN_DEFAULT", T),
                ("IS_NULLABLE", T),
                ("DATA_TYPE", T),
                ("CHARACTER_MAXIMUM_LENGTH", NUM),
                ("CHARACTER_OCTET_LENGTH", NUM),
                ("NUMERIC_PRECISION", NUM),
                ("NUMERIC_PRECISION_RADIX", NUM),
                ("NUMERIC_SCALE", NUM),
                ("DATETIME_PRECISION", NUM),
                ("COLLATION_NAME", T),
                ("IS_IDENTITY", T),
                ("COMMENT", T),
            ],
            created,
        ),
        view(
            db,
            "TABLE_CONSTRAINTS",
            &[
                ("CONSTRAINT_CATALOG", T),
                ("CONSTRAINT_SCHEMA", T),
                ("CONSTRAINT_NAME", T),
                ("TABLE_CATALOG", T),
                ("TABLE_SCHEMA", T),
                ("TABLE_NAME", T),
                ("CONSTRAINT_TYPE", T),
                ("IS_DEFERRABLE", T),
                ("INITIALLY_DEFERRED", T),
                ("ENFORCED", T),
                ("COMMENT", T),
                ("CREATED", TS),
                ("LAST_ALTERED", TS),
                ("RELY", T),
            ],
            created,
        ),
        view(
            db,
            "REFERENTIAL_CONSTRAINTS",
            &[
                ("CONSTRAINT_CATALOG", T),
                ("CONSTRAINT_SCHEMA", T),
                ("CONSTRAINT_NAME", T),
                ("UNIQUE_CONSTRAINT_CATALOG", T),
                ("UNIQUE_CONSTRAINT_SCHEMA", T),
                ("UNIQUE_CONSTRAINT_NAME", T),
                ("MATCH_OPTION", T),
                ("UPDATE_RULE", T),
                ("DELETE_RULE", T),
                ("COMMENT", T),
                ("CREATED", TS),
                ("LAST_ALTERED", TS),
            ],
            created,
        ),
    ]
}

fn s(v: &str) -> Value {
    Value::Text(v.to_owned())
}
fn n(v: i64) -> Value {
    Value::Integer(v)
}
fn ts(secs: i64) -> Value {
    Value::Text(datetime::DateTime::from_epoch(secs, 0).to_storage())
}
fn opt(v: Option<u64>) -> Value {
    v.map_or(Value::Null, |x| Value::Integer(x as i64))
}

/// Rewrites every database's views from the catalogue; `row_count` reports a table's rows.
pub fn refresh(
    conn: &Connection,
    cat: &Catalog,
    owner: &str,
    row_count: &dyn Fn(&Table) -> i64,
) -> rusqlite::Result<()> {
    for (db, database) in &cat.databases {
        let mut rows: [Vec<Vec<Value>>; 5] = Default::default();
        for (sname, schema) in &database.schemas {
            rows[0].push(vec![
                s(db),
                s(sname),
                if sname == INFO { Value::Null } else { s(owner) },
                s("NO"),
                s("NO"),
                n(1),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                ts(schema.created),
                ts(schema.created),
                Value::Null,
            ]);
            for t in schema.tables.values().filter(|t| !t.is_view) {
                let count = row_count(t);
                rows[1].push(vec![
                    s(db),
                    s(sname),
                    s(&t.name),
                    s(owner),
                    s("BASE TABLE"),
                    s("NO"),
                    Value::Null,
                    n(count),
                    n(count * 64),
                    n(1),
                    ts(t.created),
                    ts(t.created),
                    ts(t.created),
                    s("NO"),
                    Value::Null,
                ]);
                for (i, c) in t.columns.iter().enumerate() {
                    let (len, prec, radix, scale, dtp) = match c.ty {
                        SfType::Text { length } | SfType::Binary { length } => {
                            (Some(length), None, None, None, None)
                        }
                        SfType::Fixed { precision, scale } => (
                            None,
                            Some(u64::from(precision)),
                            Some(10),
                            Some(u64::from(scale)),
                            None,
                        ),
                        SfType::Real => (None, Some(53), Some(2), None, None),
                        SfType::Time { scale }
                        | SfType::TimestampNtz { scale }
                        | SfType::TimestampLtz { scale }
                        | SfType::TimestampTz { scale } => {
                            (None, None, None, None, Some(u64::from(scale)))
                        }
                        SfType::Date => (None, None, None, None, Some(0)),
                        _ => (None, None, None, None, None),
                    };
                    let octets = match c.ty {
                        SfType::Text { length } => Some((length * 4).min(16_777_216)),
                        _ => len,
                    };
                    rows[2].push(vec![
                        s(db),
                        s(sname),
                        s(&t.name),
                        s(&c.name),
                        n(i as i64 + 1),
                        Value::Null,
                        s(if c.nullable { "YES" } else { "NO" }),
                        s(c.ty.info_name()),
                        opt(len),
                        opt(octets),
                        opt(prec),
                        opt(radix),
                        opt(scale),
                        opt(dtp),
                        Value::Null,
                        s("NO"),
                        Value::Null,
                    ]);
                }
                let constraint = |name: &str, kind: &str| {
                    vec![
                        s(db),
                        s(sname),
                        s(name),
                        s(db),
                        s(sname),
                        s(&t.name),
                        s(kind),
                        s("NO"),
                        s("NO"),
                        s("NO"),
                        Value::Null,
                        ts(t.created),
                        ts(t.created),
                        s("NO"),
                    ]
                };
                if let Some((pk, _)) = &t.primary_key {
                    rows[3].push(constraint(pk, "PRIMARY KEY"));
                }
                for fk in &t.foreign_keys {
                    rows[3].push(constraint(&fk.name, "FOREIGN KEY"));
                    let target = cat.table(&fk.target.0, &fk.target.1, &fk.target.2);
                    let pk_name = target
                        .and_then(|t| t.primary_key.as_ref())
                        .map_or(Value::Null, |(name, _)| s(name));
                    rows[4].push(vec![
                        s(db),
                        s(sname),
                        s(&fk.name),
                        s(&fk.target.0),
                        s(&fk.target.1),
                        pk_name,
                        s("NONE"),
                        s("NO ACTION"),
                        s("NO ACTION"),
                        Value::Null,
                        ts(t.created),
                        ts(t.created),
                    ]);
                }
            }
        }
        let names = [
            "SCHEMATA",
            "TABLES",
            "COLUMNS",
            "TABLE_CONSTRAINTS",
            "REFERENTIAL_CONSTRAINTS",
        ];
        for (name, rows) in names.iter().zip(rows) {
            let Some(table) = cat.table(db, INFO, name) else {
                continue;
            };
            let tname = quote(&table.sqlite_name());
            conn.execute(&format!("DELETE FROM {tname}"), [])?;
            let marks = vec!["?"; table.columns.len()].join(",");
            let mut stmt = conn.prepare(&format!("INSERT INTO {tname} VALUES ({marks})"))?;
            for row in rows {
                stmt.execute(rusqlite::params_from_iter(row))?;
            }
        }
    }
    Ok(())
}
