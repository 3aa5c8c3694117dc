//! The engine's catalogue: databases, schemas, tables with their Snowflake column types, and the
//! declared (not enforced, as in Snowflake) primary and foreign keys.
//!
//! Invariant: every catalogue table `DB.SCHEMA.TABLE` is backed by one SQLite table whose name is
//! exactly that dotted string (see [`Table::sqlite_name`]), with columns of the same names in the
//! same order. `version` grows on every DDL so cached plans die with the schema they were made for.

use std::collections::BTreeMap;

use super::types::SfType;

/// One column.
#[derive(Debug, Clone)]
pub struct CatColumn {
    /// Column name as Snowflake holds it.
    pub name: String,
    /// Declared type.
    pub ty: SfType,
    /// `NOT NULL` absent.
    pub nullable: bool,
}

/// A declared foreign key (possibly multi-column).
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// Referenced table `(db, schema, table)`.
    pub target: (String, String, String),
    /// Referenced columns, in key order.
    pub target_columns: Vec<String>,
}

/// A table (or INFORMATION_SCHEMA view).
#[derive(Debug, Clone)]
pub struct Table {
    /// Database name.
    pub database: String,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<CatColumn>,
    /// Primary key `(constraint name, columns)`.
    pub primary_key: Option<(String, Vec<String>)>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// `VIEW` for INFORMATION_SCHEMA views, else `BASE TABLE`.
    pub is_view: bool,
    /// Creation time (epoch seconds).
    pub created: i64,
}

impl Table {
    /// The backing SQLite table's name.
    pub fn sqlite_name(&self) -> String {
        sqlite_name(&self.database, &self.schema, &self.name)
    }

    /// `CREATE TABLE` for SQLite (types chosen for affinity, see [`SfType::sqlite_decl`]).
    pub fn sqlite_ddl(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", quote(&c.name), c.ty.sqlite_decl()))
            .collect();
        format!(
            "CREATE TABLE {} ({})",
            quote(&self.sqlite_name()),
            cols.join(", ")
        )
    }
}

/// SQLite name of a catalogue table.
pub fn sqlite_name(db: &str, schema: &str, table: &str) -> String {
    format!("{db}.{schema}.{table}")
}

/// Double-quotes an identifier for SQLite.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A schema.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Creation time (epoch seconds).
    pub created: i64,
}

/// A database.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// Schemas by name.
    pub schemas: BTreeMap<String, Schema>,
    /// Creation time (epoch seconds).
    pub created: i64,
}

/// All databases of one account.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Bumped on every DDL.
    pub version: u64,
    /// Databases by name.
    pub databases: BTreeMap<String, Database>,
}

impl Catalog {
    /// Looks a table up by its resolved parts.
    pub fn table(&self, db: &str, schema: &str, table: &str) -> Option<&Table> {
        self.databases
            .get(db)?
            .schemas
            .get(schema)?
            .tables
            .get(table)
    }

    /// All tables, in name order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.databases
            .values()
            .flat_map(|d| d.schemas.values())
            .flat_map(|s| s.tables.values())
    }
}

fn col(name: &str, ty: SfType) -> CatColumn {
    CatColumn {
        name: name.to_owned(),
        ty,
        nullable: false,
    }
}

const N: SfType = SfType::INT;
const D: SfType = SfType::Fixed {
    precision: 12,
    scale: 2,
};
const V: fn(u64) -> SfType = |length| SfType::Text { length };

/// The TPC-H tables of `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1` (PROTOCOL.md E.1), keys declared.
pub fn tpch_tables(created: i64) -> Vec<Table> {
    let t =
        |name: &str, cols: Vec<CatColumn>, pk: &[&str], fks: &[(&[&str], &str, &[&str])]| Table {
            database: "SNOWFLAKE_SAMPLE_DATA".to_owned(),
            schema: "TPCH_SF1".to_owned(),
            name: name.to_owned(),
            columns: cols,
            primary_key: Some((
                format!("SYS_CONSTRAINT_PK_{name}"),
                pk.iter().map(|s| (*s).to_owned()).collect(),
            )),
            foreign_keys: fks
                .iter()
                .map(|(c, target, tc)| ForeignKey {
                    name: format!("SYS_CONSTRAINT_FK_{name}_{target}"),
                    columns: c.iter().map(|s| (*s).to_owned()).collect(),
                    target: (
                        "SNOWFLAKE_SAMPLE_DATA".to_owned(),
                        "TPCH_SF1".to_owned(),
                        (*target).to_owned(),
                    ),
                    target_columns: tc.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            is_view: false,
            created,
        };
    vec![
        t(
            "REGION",
            vec![
                col("R_REGIONKEY", N),
                col("R_NAME", V(25)),
                col("R_COMMENT", V(152)),
            ],
            &["R_REGIONKEY"],
            &[],
        ),
        t(
            "NATION",
            vec![
                col("N_NATIONKEY", N),
                col("N_NAME", V(25)),
                col("N_REGIONKEY", N),
                col("N_COMMENT", V(152)),
            ],
            &["N_NATIONKEY"],
            &[(&["N_REGIONKEY"], "REGION", &["R_REGIONKEY"])],
        ),
        t(
            "SUPPLIER",
            vec![
                col("S_SUPPKEY", N),
                col("S_NAME", V(25)),
                col("S_ADDRESS", V(40)),
                col("S_NATIONKEY", N),
                col("S_PHONE", V(15)),
                col("S_ACCTBAL", D),
                col("S_COMMENT", V(101)),
            ],
            &["S_SUPPKEY"],
            &[(&["S_NATIONKEY"], "NATION", &["N_NATIONKEY"])],
        ),
        t(
            "CUSTOMER",
            vec![
                col("C_CUSTKEY", N),
                col("C_NAME", V(25)),
                col("C_ADDRESS", V(40)),
                col("C_NATIONKEY", N),
                col("C_PHONE", V(15)),
                col("C_ACCTBAL", D),
                col("C_MKTSEGMENT", V(10)),
                col("C_COMMENT", V(117)),
            ],
            &["C_CUSTKEY"],
            &[(&["C_NATIONKEY"], "NATION", &["N_NATIONKEY"])],
        ),
        t(
            "PART",
            vec![
                col("P_PARTKEY", N),
                col("P_NAME", V(55)),
                col("P_MFGR", V(25)),
                col("P_BRAND", V(10)),
                col("P_TYPE", V(25)),
                col("P_SIZE", N),
                col("P_CONTAINER", V(10)),
                col("P_RETAILPRICE", D),
                col("P_COMMENT", V(23)),
            ],
            &["P_PARTKEY"],
            &[],
        ),
        t(
            "PARTSUPP",
            vec![
                col("PS_PARTKEY", N),
                col("PS_SUPPKEY", N),
                col("PS_AVAILQTY", N),
                col("PS_SUPPLYCOST", D),
                col("PS_COMMENT", V(199)),
            ],
            &["PS_PARTKEY", "PS_SUPPKEY"],
            &[
                (&["PS_PARTKEY"], "PART", &["P_PARTKEY"]),
                (&["PS_SUPPKEY"], "SUPPLIER", &["S_SUPPKEY"]),
            ],
        ),
        t(
            "ORDERS",
            vec![
                col("O_ORDERKEY", N),
                col("O_CUSTKEY", N),
                col("O_ORDERSTATUS", V(1)),
                col("O_TOTALPRICE", D),
                col("O_ORDERDATE", SfType::Date),
                col("O_ORDERPRIORITY", V(15)),
                col("O_CLERK", V(15)),
                col("O_SHIPPRIORITY", N),
                col("O_COMMENT", V(79)),
            ],
            &["O_ORDERKEY"],
            &[(&["O_CUSTKEY"], "CUSTOMER", &["C_CUSTKEY"])],
        ),
        t(
            "LINEITEM",
            vec![
                col("L_ORDERKEY", N),
                col("L_PARTKEY", N),
                col("L_SUPPKEY", N),
                col("L_LINENUMBER", N),
                col("L_QUANTITY", D),
                col("L_EXTENDEDPRICE", D),
                col("L_DISCOUNT", D),
                col("L_TAX", D),
                col("L_RETURNFLAG", V(1)),
                col("L_LINESTATUS", V(1)),
                col("L_SHIPDATE", SfType::Date),
                col("L_COMMITDATE", SfType::Date),
                col("L_RECEIPTDATE", SfType::Date),
                col("L_SHIPINSTRUCT", V(25)),
                col("L_SHIPMODE", V(10)),
                col("L_COMMENT", V(44)),
            ],
            &["L_ORDERKEY", "L_LINENUMBER"],
            &[
                (&["L_ORDERKEY"], "ORDERS", &["O_ORDERKEY"]),
                (
                    &["L_PARTKEY", "L_SUPPKEY"],
                    "PARTSUPP",
                    &["PS_PARTKEY", "PS_SUPPKEY"],
                ),
            ],
        ),
    ]
}
