//! The metadata tools against snowsim's TPC-H catalogue (SNOWFLAKE_SAMPLE_DATA.TPCH_SF1, scale
//! 0.01): tables with their row counts, columns with their types, primary keys, foreign keys in
//! both directions, plus SHOW databases/schemas/warehouses/grants and describe_connection.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::tools::{column, tool, tools_env};

const DB: &str = "SNOWFLAKE_SAMPLE_DATA";
const SCHEMA: &str = "TPCH_SF1";

/// The TPC-H tables with their row counts at scale 0.01 (PROTOCOL.md E.2).
const TABLES: [(&str, i64); 8] = [
    ("CUSTOMER", 1500),
    ("LINEITEM", 60175),
    ("NATION", 25),
    ("ORDERS", 15000),
    ("PART", 2000),
    ("PARTSUPP", 8000),
    ("REGION", 5),
    ("SUPPLIER", 100),
];

/// Every foreign key: (table, referenced table).
const FOREIGN_KEYS: [(&str, &str); 8] = [
    ("CUSTOMER", "NATION"),
    ("LINEITEM", "ORDERS"),
    ("LINEITEM", "PARTSUPP"),
    ("NATION", "REGION"),
    ("ORDERS", "CUSTOMER"),
    ("PARTSUPP", "PART"),
    ("PARTSUPP", "SUPPLIER"),
    ("SUPPLIER", "NATION"),
];

fn strings(data: &Value, name: &str) -> Vec<String> {
    column(data, name)
        .into_iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{name}: {v}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn schemata_tables_and_columns_describe_tpch() {
    let (env, key) = tools_env(None).await;

    let schemata = tool(
        &env,
        &key,
        "snowflake_list_schemata",
        json!({"database": DB}),
    )
    .await;
    let names = strings(&schemata, "SCHEMA_NAME");
    assert!(names.contains(&SCHEMA.to_owned()), "{names:?}");
    assert!(
        names.contains(&"INFORMATION_SCHEMA".to_owned()),
        "{names:?}"
    );
    let like = tool(
        &env,
        &key,
        "snowflake_list_schemata",
        json!({"database": DB, "schema_like": "tpch%"}),
    )
    .await;
    assert_eq!(strings(&like, "SCHEMA_NAME"), [SCHEMA]);

    let tables = tool(
        &env,
        &key,
        "snowflake_list_tables",
        json!({"database": DB, "schema": SCHEMA}),
    )
    .await;
    let got: Vec<(String, i64)> = tables["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["TABLE_TYPE"], "BASE TABLE", "{r}");
            (
                r["TABLE_NAME"].as_str().unwrap().to_owned(),
                r["ROW_COUNT"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = TABLES.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect();
    assert_eq!(got, want);
    let limited = tool(
        &env,
        &key,
        "snowflake_list_tables",
        json!({"database": DB, "schema": SCHEMA, "table_name_like": "part%", "limit": 1}),
    )
    .await;
    assert_eq!(strings(&limited, "TABLE_NAME"), ["PART"]);

    let orders = tool(
        &env,
        &key,
        "snowflake_list_columns",
        json!({"database": DB, "schema": SCHEMA, "table": "ORDERS"}),
    )
    .await;
    let cols: Vec<Value> = orders["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["COLUMN_NAME"],
                r["DATA_TYPE"],
                r["NUMERIC_PRECISION"],
                r["NUMERIC_SCALE"],
                r["CHARACTER_MAXIMUM_LENGTH"],
                r["ORDINAL_POSITION"]
            ])
        })
        .collect();
    assert_eq!(
        cols,
        [
            json!(["O_ORDERKEY", "NUMBER", 38, 0, null, 1]),
            json!(["O_CUSTKEY", "NUMBER", 38, 0, null, 2]),
            json!(["O_ORDERSTATUS", "TEXT", null, null, 1, 3]),
            json!(["O_TOTALPRICE", "NUMBER", 12, 2, null, 4]),
            json!(["O_ORDERDATE", "DATE", null, null, null, 5]),
            json!(["O_ORDERPRIORITY", "TEXT", null, null, 15, 6]),
            json!(["O_CLERK", "TEXT", null, null, 15, 7]),
            json!(["O_SHIPPRIORITY", "NUMBER", 38, 0, null, 8]),
            json!(["O_COMMENT", "TEXT", null, null, 79, 9]),
        ]
    );
    let all = tool(
        &env,
        &key,
        "snowflake_list_columns",
        json!({"database": DB, "schema": SCHEMA, "limit": 10000}),
    )
    .await;
    assert_eq!(all["num_rows"], 61, "3+4+7+8+9+5+9+16 TPC-H columns");
    // `_` is a LIKE wildcard; `\_` matches it literally.
    let keys = tool(
        &env,
        &key,
        "snowflake_list_columns",
        json!({"database": DB, "schema": SCHEMA, "table": "LINEITEM", "column_name_like": "l\\_%key"}),
    )
    .await;
    assert_eq!(
        strings(&keys, "COLUMN_NAME"),
        ["L_ORDERKEY", "L_PARTKEY", "L_SUPPKEY"]
    );
}

#[tokio::test]
async fn constraints_give_every_primary_and_foreign_key() {
    let (env, key) = tools_env(None).await;

    let pks = tool(
        &env,
        &key,
        "snowflake_list_table_constraints",
        json!({"database": DB, "schema": SCHEMA, "constraint_type": "PRIMARY KEY"}),
    )
    .await;
    let tables: Vec<String> = strings(&pks, "TABLE_NAME");
    let want: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
    assert_eq!(tables, want);
    let fks = tool(
        &env,
        &key,
        "snowflake_list_table_constraints",
        json!({"database": DB, "schema": SCHEMA, "constraint_type": "foreign key"}),
    )
    .await;
    assert_eq!(fks["num_rows"], 8);
    let orders = tool(
        &env,
        &key,
        "snowflake_list_table_constraints",
        json!({"database": DB, "schema": SCHEMA, "table": "ORDERS"}),
    )
    .await;
    let kinds: BTreeSet<String> = strings(&orders, "CONSTRAINT_TYPE").into_iter().collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["FOREIGN KEY".to_owned(), "PRIMARY KEY".to_owned()])
    );

    let refs = tool(
        &env,
        &key,
        "snowflake_list_referential_constraints",
        json!({"database": DB, "schema": SCHEMA}),
    )
    .await;
    let mut pairs: Vec<(String, String)> = refs["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["REFERENCED_TABLE_SCHEMA"], SCHEMA, "{r}");
            (
                r["TABLE_NAME"].as_str().unwrap().to_owned(),
                r["REFERENCED_TABLE_NAME"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    let want: Vec<(String, String)> = FOREIGN_KEYS
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(pairs, want);
    let lineitem = tool(
        &env,
        &key,
        "snowflake_list_referential_constraints",
        json!({"database": DB, "schema": SCHEMA, "table": "LINEITEM"}),
    )
    .await;
    assert_eq!(
        strings(&lineitem, "REFERENCED_TABLE_NAME"),
        ["ORDERS", "PARTSUPP"]
    );
}

#[tokio::test]
async fn show_keys_give_key_columns_in_both_directions() {
    let (env, key) = tools_env(None).await;
    let pk = tool(
        &env,
        &key,
        "snowflake_show_primary_keys",
        json!({"database_name": DB, "schema_name": SCHEMA, "table_name": "LINEITEM"}),
    )
    .await;
    assert_eq!(strings(&pk, "column_name"), ["L_ORDERKEY", "L_LINENUMBER"]);
    assert_eq!(column(&pk, "key_sequence"), [json!(1), json!(2)]);
    let schema_pks = tool(
        &env,
        &key,
        "snowflake_show_primary_keys",
        json!({"database_name": DB, "schema_name": SCHEMA}),
    )
    .await;
    assert_eq!(schema_pks["num_rows"], 10, "8 tables, two composite keys");
    // Without names the session's namespace (the connection's defaults) is not narrowed.
    let session = tool(
        &env,
        &key,
        "snowflake_show_primary_keys",
        json!({"table_name": "ORDERS"}),
    )
    .await;
    assert_eq!(strings(&session, "column_name"), ["O_ORDERKEY"]);

    let imported = tool(
        &env,
        &key,
        "snowflake_show_imported_exported_keys",
        json!({"key_direction": "imported", "table_name": "LINEITEM", "schema_name": SCHEMA, "database_name": DB}),
    )
    .await;
    let mut pairs: Vec<(String, String)> = imported["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["fk_column_name"].as_str().unwrap().to_owned(),
                format!(
                    "{}.{}",
                    r["pk_table_name"].as_str().unwrap(),
                    r["pk_column_name"].as_str().unwrap()
                ),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("L_ORDERKEY".to_owned(), "ORDERS.O_ORDERKEY".to_owned()),
            ("L_PARTKEY".to_owned(), "PARTSUPP.PS_PARTKEY".to_owned()),
            ("L_SUPPKEY".to_owned(), "PARTSUPP.PS_SUPPKEY".to_owned()),
        ]
    );
    let exported = tool(
        &env,
        &key,
        "snowflake_show_imported_exported_keys",
        json!({"key_direction": "exported", "table_name": "NATION"}),
    )
    .await;
    let mut from: Vec<String> = strings(&exported, "fk_table_name");
    from.sort();
    assert_eq!(from, ["CUSTOMER", "SUPPLIER"]);
}

#[tokio::test]
async fn show_databases_schemas_warehouses_and_grants() {
    let (env, key) = tools_env(None).await;
    let dbs = tool(
        &env,
        &key,
        "snowflake_show_databases_schemas",
        json!({"object_type": "databases"}),
    )
    .await;
    assert!(strings(&dbs, "name").contains(&DB.to_owned()));
    let like = tool(
        &env,
        &key,
        "snowflake_show_databases_schemas",
        json!({"object_type": "databases", "like_pattern": "snowflake_sample%"}),
    )
    .await;
    assert_eq!(strings(&like, "name"), [DB]);
    let schemas = tool(
        &env,
        &key,
        "snowflake_show_databases_schemas",
        json!({"object_type": "schemas", "database_name": DB}),
    )
    .await;
    let names = strings(&schemas, "name");
    assert!(names.contains(&SCHEMA.to_owned()), "{names:?}");
    assert!(
        names.contains(&"INFORMATION_SCHEMA".to_owned()),
        "{names:?}"
    );
    assert!(
        strings(&schemas, "database_name").iter().all(|d| d == DB),
        "{schemas}"
    );

    let wh = tool(&env, &key, "snowflake_show_warehouses", json!({})).await;
    let mut names = strings(&wh, "name");
    names.sort();
    assert_eq!(names, ["AUTO_WH", "COMPUTE_WH", "SLEEPY_WH"]);
    let sleepy = tool(
        &env,
        &key,
        "snowflake_show_warehouses",
        json!({"like_pattern": "sleepy%"}),
    )
    .await;
    assert_eq!(strings(&sleepy, "state"), ["SUSPENDED"]);

    let to_role = tool(
        &env,
        &key,
        "snowflake_show_grants",
        json!({"grant_view": "to_role", "role_name": "REPORTER"}),
    )
    .await;
    assert_eq!(to_role["num_rows"], 3);
    assert!(strings(&to_role, "privilege").iter().all(|p| p == "USAGE"));
    let to_user = tool(
        &env,
        &key,
        "snowflake_show_grants",
        json!({"grant_view": "to_user", "user_name": "JSMITH"}),
    )
    .await;
    let mut roles = strings(&to_user, "role");
    roles.sort();
    assert_eq!(roles, ["ANALYST", "REPORTER"]);
    let of_role = tool(
        &env,
        &key,
        "snowflake_show_grants",
        json!({"grant_view": "of_role", "role_name": "ANALYST"}),
    )
    .await;
    assert!(strings(&of_role, "grantee_name").contains(&"JSMITH".to_owned()));
    let on = tool(
        &env,
        &key,
        "snowflake_show_grants",
        json!({"grant_view": "on_object", "object_type": "warehouse", "object_name": "compute_wh"}),
    )
    .await;
    let mut privileges = strings(&on, "privilege");
    privileges.sort();
    assert_eq!(privileges, ["OWNERSHIP", "USAGE"]);
}

#[tokio::test]
async fn describe_connection_says_who_and_where() {
    let (env, key) = tools_env(None).await;
    let data = tool(&env, &key, "snowflake_describe_connection", json!({})).await;
    assert_eq!(data["connection"], "wh");
    assert_eq!(data["kind"], "keypair");
    assert_eq!(data["user"], "JSMITH");
    assert_eq!(data["role"], "ANALYST");
    assert_eq!(data["warehouse"], "COMPUTE_WH");
    assert_eq!(data["database"], DB);
    assert_eq!(data["schema"], SCHEMA);
    assert_eq!(data["account"], "XY12345");
    assert_eq!(
        data["available_roles"],
        json!(["ANALYST", "PUBLIC", "REPORTER"])
    );
    let as_reporter = tool(
        &env,
        &key,
        "snowflake_describe_connection",
        json!({"role": "REPORTER"}),
    )
    .await;
    assert_eq!(as_reporter["role"], "REPORTER");
}
