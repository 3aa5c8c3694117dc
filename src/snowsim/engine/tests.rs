//! Engine tests against the real TPC-H data: seed queries checked against `tpchgen`'s own rows,
//! types and encodings, binds, SHOW / INFORMATION_SCHEMA, cancellation, injection payloads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // STYLE.md §9: tests may unwrap

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tpchgen::generators::{CustomerGenerator, OrderGenerator};

use super::*;

/// Built through serde so fields the model gains later take their defaults.
fn account() -> AccountModel {
    serde_json::from_value(serde_json::json!({
        "locator": "XY12345",
        "users": [
            {"name": "JSMITH", "default_role": "ANALYST", "default_warehouse": "COMPUTE_WH",
             "default_namespace": "ANALYTICS.PUBLIC", "roles": ["ANALYST"]},
            {"name": "ADMIN", "default_role": "SYSADMIN", "roles": ["SYSADMIN", "ANALYST"]}
        ],
        "roles": [
            {"name": "ANALYST", "granted_roles": []},
            {"name": "SYSADMIN", "granted_roles": ["ANALYST"]}
        ],
        "warehouses": [
            {"name": "COMPUTE_WH", "size": "X-Small", "suspended": false, "auto_resume": true},
            {"name": "IDLE_WH", "size": "Small", "suspended": true, "auto_resume": false}
        ],
        "grants": [
            {"privilege": "USAGE", "object_type": "WAREHOUSE", "object_name": "COMPUTE_WH", "role": "ANALYST"},
            {"privilege": "SELECT", "object_type": "TABLE",
             "object_name": "SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS", "role": "ANALYST"}
        ]
    }))
    .expect("account model")
}

fn engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| {
        let t = Instant::now();
        let e = Engine::new(EngineConfig {
            account: account(),
            tpch_scale: 0.01,
        })
        .expect("engine");
        eprintln!("engine with TPC-H 0.01 ready in {:?}", t.elapsed());
        Arc::new(e)
    })
    .clone()
}

fn ctx() -> SessionContext {
    SessionContext {
        account: "XY12345".into(),
        user: "JSMITH".into(),
        role: "ANALYST".into(),
        warehouse: Some("COMPUTE_WH".into()),
        database: Some("SNOWFLAKE_SAMPLE_DATA".into()),
        schema: Some("TPCH_SF1".into()),
        available_roles: vec!["ANALYST".into(), "PUBLIC".into()],
    }
}

fn opts(binds: &[(&str, &str)]) -> ExecOptions {
    ExecOptions {
        bindings: binds
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                (
                    (i + 1).to_string(),
                    Binding {
                        kind: (*k).into(),
                        value: Some((*v).into()),
                    },
                )
            })
            .collect(),
        parameters: BTreeMap::new(),
    }
}

fn run(sql: &str, binds: &[(&str, &str)]) -> Result<QueryResult, SqlError> {
    engine().execute(&ctx(), sql, &opts(binds), &CancelToken::new())
}

fn ok(sql: &str) -> QueryResult {
    run(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn cell(r: &QueryResult) -> Option<String> {
    r.rows[0][0].clone()
}

fn cents(s: &str) -> i64 {
    let (i, f) = s.split_once('.').unwrap();
    i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

#[test]
fn seed_query_top_customers_matches_tpchgen() {
    let (from, to) = ("1995-01-01", "1996-12-31");
    let r = run(
        "SELECT c.C_CUSTKEY, c.C_NAME, SUM(o.O_TOTALPRICE) AS TOTAL_SPENT \
         FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER c JOIN SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS o \
           ON o.O_CUSTKEY = c.C_CUSTKEY \
         WHERE o.O_ORDERDATE BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY TOTAL_SPENT DESC LIMIT 10",
        &[("DATE", "788918400000"), ("TEXT", to)],
    )
    .unwrap();

    // Independent answer straight from the generator's rows.
    let mut totals: HashMap<i64, i64> = HashMap::new();
    for o in OrderGenerator::new(0.01, 1, 1).iter() {
        let d = o.o_orderdate.to_string();
        if d.as_str() >= from && d.as_str() <= to {
            *totals.entry(o.o_custkey).or_default() += o.o_totalprice.into_inner();
        }
    }
    let names: HashMap<i64, String> = CustomerGenerator::new(0.01, 1, 1)
        .iter()
        .map(|c| (c.c_custkey, c.c_name.to_string()))
        .collect();
    let mut want: Vec<(i64, i64)> = totals.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    want.truncate(10);

    assert_eq!(r.rows.len(), 10);
    for (row, (key, total)) in r.rows.iter().zip(&want) {
        assert_eq!(row[0].as_deref(), Some(key.to_string().as_str()));
        assert_eq!(row[1].as_deref(), Some(names[key].as_str()));
        assert_eq!(
            cents(row[2].as_deref().unwrap()),
            *total,
            "exact decimal for {key}"
        );
        assert_eq!(
            row[2].as_deref().unwrap().split('.').nth(1).unwrap().len(),
            2
        );
    }
    let c = &r.columns;
    assert_eq!(
        (
            c[0].name.as_str(),
            c[0].kind.as_str(),
            c[0].precision,
            c[0].scale
        ),
        ("C_CUSTKEY", "fixed", Some(38), Some(0))
    );
    assert_eq!(
        (
            c[0].database.as_str(),
            c[0].schema.as_str(),
            c[0].table.as_str()
        ),
        ("SNOWFLAKE_SAMPLE_DATA", "TPCH_SF1", "CUSTOMER")
    );
    assert_eq!(
        (c[1].kind.as_str(), c[1].length, c[1].byte_length),
        ("text", Some(25), Some(100))
    );
    assert_eq!(
        (
            c[2].name.as_str(),
            c[2].kind.as_str(),
            c[2].precision,
            c[2].scale
        ),
        ("TOTAL_SPENT", "fixed", Some(38), Some(2))
    );
    assert_eq!(
        (c[2].database.as_str(), c[2].table.as_str(), c[2].length),
        ("", "", None)
    );
}

#[test]
fn seed_query_monthly_sales_of_one_clerk_matches_tpchgen() {
    let clerk = "Clerk#000000951";
    for year_bind in [("FIXED", "1995"), ("TEXT", "1995")] {
        let r = run(
            "SELECT DATE_TRUNC('MONTH', O_ORDERDATE) AS MONTH, SUM(O_TOTALPRICE) AS SALES \
             FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS WHERE O_CLERK = ? AND YEAR(O_ORDERDATE) = ? \
             GROUP BY 1 ORDER BY 1",
            &[("TEXT", clerk), year_bind],
        )
        .unwrap();
        let mut want: BTreeMap<i64, i64> = BTreeMap::new();
        for o in OrderGenerator::new(0.01, 1, 1).iter() {
            let (y, m, _) = o.o_orderdate.to_ymd();
            if o.o_clerk.to_string() == clerk && y + 1900 == 1995 {
                let days = datetime::days_from_civil(1995, m as u32, 1);
                *want.entry(days).or_default() += o.o_totalprice.into_inner();
            }
        }
        assert!(!want.is_empty());
        let got: Vec<(i64, i64)> = r
            .rows
            .iter()
            .map(|row| {
                (
                    row[0].as_deref().unwrap().parse().unwrap(),
                    cents(row[1].as_deref().unwrap()),
                )
            })
            .collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{year_bind:?}");
        assert_eq!(r.columns[0].kind, "date");
        assert_eq!(
            (r.columns[1].kind.as_str(), r.columns[1].scale),
            ("fixed", Some(2))
        );
    }
}

#[test]
fn generator_returns_one_hundred_thousand_rows() {
    let r = ok("SELECT SEQ4() AS N FROM TABLE(GENERATOR(ROWCOUNT => 100000))");
    assert_eq!(r.rows.len(), 100_000);
    assert_eq!(r.rows[0][0].as_deref(), Some("0"));
    assert_eq!(r.rows[99_999][0].as_deref(), Some("99999"));
    assert_eq!(r.columns[0].name, "N");
    assert_eq!(r.columns[0].kind, "fixed");
    let s = ok("SELECT SEQ4() AS N, R_NAME FROM REGION ORDER BY R_REGIONKEY");
    assert_eq!(s.rows[4][0].as_deref(), Some("4"));
    let u = ok("SELECT UNIFORM(1, 6, RANDOM()) AS D FROM TABLE(GENERATOR(ROWCOUNT => 50))");
    assert!(u
        .rows
        .iter()
        .all(|r| (1..=6).contains(&r[0].as_deref().unwrap().parse::<i64>().unwrap())));
}

#[test]
fn literal_and_expression_types_follow_snowflake() {
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<u32>,
        Option<u32>,
        Option<u64>,
        &'a str,
    );
    let cases: &[Case<'_>] = &[
        ("SELECT 1", "fixed", Some(1), Some(0), None, "1"),
        ("SELECT 1.50", "fixed", Some(3), Some(2), None, "1.50"),
        ("SELECT 'abc'", "text", None, None, Some(3), "abc"),
        ("SELECT 1 = 1", "boolean", None, None, None, "true"),
        ("SELECT 2 < 1", "boolean", None, None, None, "false"),
        (
            "SELECT COUNT(*) FROM ORDERS",
            "fixed",
            Some(18),
            Some(0),
            None,
            "15000",
        ),
        ("SELECT 7 / 2", "fixed", Some(7), Some(6), None, "3.500000"),
        ("SELECT 1.5 * 2", "fixed", Some(3), Some(1), None, "3.0"),
        (
            "SELECT DATE_TRUNC('MONTH', TO_DATE('2020-03-17'))",
            "date",
            None,
            None,
            None,
            "18322",
        ),
        (
            "SELECT YEAR(TO_DATE('2020-03-17'))",
            "fixed",
            Some(9),
            Some(0),
            None,
            "2020",
        ),
        (
            "SELECT DATEADD(day, 1, TO_DATE('2019-12-31'))",
            "date",
            None,
            None,
            None,
            "18262",
        ),
        (
            "SELECT '2020-01-01'::DATE",
            "date",
            None,
            None,
            None,
            "18262",
        ),
        (
            "SELECT CAST('1.234' AS NUMBER(10,2))",
            "fixed",
            Some(10),
            Some(2),
            None,
            "1.23",
        ),
        (
            "SELECT '23:01:59'::TIME",
            "time",
            Some(0),
            Some(9),
            None,
            "82919.000000000",
        ),
        (
            "SELECT '2021-03-19 17:06:59'::TIMESTAMP_NTZ",
            "timestamp_ntz",
            Some(0),
            Some(9),
            None,
            "1616173619.000000000",
        ),
        (
            "SELECT '2021-03-19 18:06:59 +01:00'::TIMESTAMP_TZ",
            "timestamp_tz",
            Some(0),
            Some(9),
            None,
            "1616173619.000000000 1500",
        ),
        ("SELECT TRUE", "boolean", None, None, None, "true"),
        ("SELECT 1.5::FLOAT", "real", None, None, None, "1.5"),
        (
            "SELECT IFF(1 < 2, 'yes', 'no')",
            "text",
            None,
            None,
            Some(3),
            "yes",
        ),
        (
            "SELECT COALESCE(NULL, 5)",
            "fixed",
            Some(1),
            Some(0),
            None,
            "5",
        ),
        (
            "SELECT AVG(O_TOTALPRICE) > 0 FROM ORDERS",
            "boolean",
            None,
            None,
            None,
            "true",
        ),
        (
            "SELECT CURRENT_USER()",
            "text",
            None,
            None,
            Some(16_777_216),
            "JSMITH",
        ),
        (
            "SELECT CURRENT_ROLE()",
            "text",
            None,
            None,
            Some(16_777_216),
            "ANALYST",
        ),
        (
            "SELECT CURRENT_ACCOUNT()",
            "text",
            None,
            None,
            Some(16_777_216),
            "XY12345",
        ),
        (
            "SELECT CURRENT_WAREHOUSE()",
            "text",
            None,
            None,
            Some(16_777_216),
            "COMPUTE_WH",
        ),
        (
            "SELECT CURRENT_DATABASE()",
            "text",
            None,
            None,
            Some(16_777_216),
            "SNOWFLAKE_SAMPLE_DATA",
        ),
        (
            "SELECT CURRENT_SCHEMA()",
            "text",
            None,
            None,
            Some(16_777_216),
            "TPCH_SF1",
        ),
    ];
    for (sql, kind, p, s, len, val) in cases {
        let r = ok(sql);
        let c = &r.columns[0];
        assert_eq!(
            (c.kind.as_str(), c.precision, c.scale, c.length),
            (*kind, *p, *s, *len),
            "{sql}"
        );
        assert_eq!(cell(&r).as_deref(), Some(*val), "{sql}");
    }
    let r = ok("SELECT 1, SUM(O_TOTALPRICE), AVG(O_TOTALPRICE) FROM ORDERS");
    assert_eq!(r.columns[0].name, "1");
    assert_eq!(r.columns[1].name, "SUM(O_TOTALPRICE)");
    assert_eq!(
        (r.columns[2].precision, r.columns[2].scale),
        (Some(38), Some(8))
    );
    let ts = ok("SELECT CURRENT_TIMESTAMP()");
    assert_eq!(ts.columns[0].kind, "timestamp_ltz");
    let secs: f64 = cell(&ts).unwrap().parse().unwrap();
    let now = functions::system_now().epoch_secs() as f64;
    assert!((secs - now).abs() < 5.0);
}

#[test]
fn every_binding_type_round_trips() {
    let cases = [
        ("FIXED", "123", "fixed", "123"),
        ("REAL", "1.5", "real", "1.5"),
        ("TEXT", "hello", "text", "hello"),
        ("BINARY", "ABCD", "binary", "ABCD"),
        ("BOOLEAN", "true", "boolean", "true"),
        ("DATE", "1577836800000", "date", "18262"),
        ("TIME", "82919000000000", "time", "82919.000000000"),
        (
            "TIMESTAMP_NTZ",
            "1616173619000000000",
            "timestamp_ntz",
            "1616173619.000000000",
        ),
        (
            "TIMESTAMP_LTZ",
            "1616173619000000000",
            "timestamp_ltz",
            "1616173619.000000000",
        ),
        (
            "TIMESTAMP_TZ",
            "1616173619000000000 1500",
            "timestamp_tz",
            "1616173619.000000000 1500",
        ),
    ];
    for (bt, v, kind, want) in cases {
        let r = run("SELECT ?", &[(bt, v)]).unwrap();
        assert_eq!(r.columns[0].kind, kind, "{bt}");
        assert_eq!(cell(&r).as_deref(), Some(want), "{bt}");
    }
    let r = run("SELECT :2, :1", &[("FIXED", "1"), ("TEXT", "b")]).unwrap();
    assert_eq!(r.rows[0], vec![Some("b".into()), Some("1".into())]);
}

#[test]
fn bad_and_missing_binds_fail_like_snowflake() {
    let e = run("SELECT ?", &[("FIXED", "abc")]).unwrap_err();
    assert_eq!((e.code.as_str(), e.sql_state.as_str()), ("100037", "22018"));
    assert_eq!(e.message, "FIXED value 'abc' is not recognized");
    let e = run("SELECT ? + ?", &[("FIXED", "1")]).unwrap_err();
    assert_eq!(e.code, "002049");
    assert!(
        e.message.contains("Bind variable ? not set."),
        "{}",
        e.message
    );
}

#[test]
fn output_format_parameters_apply() {
    let mut o = opts(&[]);
    o.parameters
        .insert("DATE_OUTPUT_FORMAT".into(), "MM/DD/YYYY".into());
    let r = engine()
        .execute(
            &ctx(),
            "SELECT TO_DATE('2019-03-27') AS D",
            &o,
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(cell(&r).as_deref(), Some("03/27/2019"));
    assert_eq!(r.columns[0].kind, "date");
}

#[test]
fn errors_carry_snowflake_codes() {
    let cases = [
        ("SELEC 1", "001003", "42000", "SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'SELEC'."),
        ("SELECT afaf", "000904", "42000", "SQL compilation error: error line 1 at position 7\ninvalid identifier 'AFAF'"),
        (
            "SELECT * FROM NOPE",
            "002003",
            "42S02",
            "SQL compilation error:\nObject 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.NOPE' does not exist or not authorized.",
        ),
        ("SELECT 1/0", "100051", "22012", "Division by zero"),
    ];
    for (sql, code, state, msg) in cases {
        let e = run(sql, &[]).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.sql_state.as_str(), e.message.as_str()),
            (code, state, msg),
            "{sql}"
        );
    }
    for junk in [
        "",
        ";",
        "'",
        "SELECT (",
        "SELECT * FROM IDENTIFIER(1)",
        "\u{0}",
        "SHOW",
        "SHOW GRANTS TO",
    ] {
        assert!(run(junk, &[]).is_err(), "{junk:?}");
    }
}

#[test]
fn show_commands_answer_from_catalogue_and_model() {
    let r = ok("SHOW IMPORTED KEYS IN TABLE SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS");
    let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        &names[..5],
        [
            "created_on",
            "pk_database_name",
            "pk_schema_name",
            "pk_table_name",
            "pk_column_name"
        ]
    );
    let col = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0][col("pk_table_name")].as_deref(), Some("CUSTOMER"));
    assert_eq!(
        r.rows[0][col("fk_column_name")].as_deref(),
        Some("O_CUSTKEY")
    );
    let r = ok("SHOW EXPORTED KEYS IN TABLE SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER");
    assert_eq!(r.rows.len(), 1);
    let r = ok("SHOW PRIMARY KEYS IN SCHEMA SNOWFLAKE_SAMPLE_DATA.TPCH_SF1");
    assert_eq!(r.rows.len(), 10);
    let r = ok("show warehouses like 'idle%'");
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0][0].as_deref(), Some("IDLE_WH"));
    assert_eq!(r.rows[0][1].as_deref(), Some("SUSPENDED"));
    let r = ok("SHOW GRANTS TO ROLE ANALYST");
    assert_eq!(r.columns[1].name, "privilege");
    assert_eq!(r.rows.len(), 2);
    assert_eq!(ok("SHOW GRANTS OF ROLE ANALYST").rows.len(), 3);
    assert_eq!(ok("SHOW GRANTS TO USER ADMIN").rows.len(), 2);
    assert_eq!(ok("SHOW GRANTS ON WAREHOUSE COMPUTE_WH").rows.len(), 1);
    let dbs = ok("SHOW DATABASES");
    assert!(dbs
        .rows
        .iter()
        .any(|r| r[1].as_deref() == Some("SNOWFLAKE_SAMPLE_DATA")));
    assert!(dbs
        .rows
        .iter()
        .any(|r| r[1].as_deref() == Some("ANALYTICS")));
    let sc = ok("SHOW SCHEMAS IN DATABASE SNOWFLAKE_SAMPLE_DATA");
    assert_eq!(sc.rows.len(), 2);
    let e = run("SHOW SCHEMAS IN DATABASE NOPE", &[]).unwrap_err();
    assert_eq!(e.code, "002003");
}

#[test]
fn information_schema_views_describe_tpch() {
    let r = run(
        "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE \
         FROM SNOWFLAKE_SAMPLE_DATA.INFORMATION_SCHEMA.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        &[("TEXT", "TPCH_SF1"), ("TEXT", "ORDERS")],
    )
    .unwrap();
    assert_eq!(r.rows.len(), 9);
    let row = |i: usize| {
        r.rows[i]
            .iter()
            .map(|c| c.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(row(3), ["O_TOTALPRICE", "NUMBER", "12", "2", "", "NO"]);
    assert_eq!(row(4)[..2], ["O_ORDERDATE", "DATE"]);
    assert_eq!(row(6)[..5], ["O_CLERK", "TEXT", "", "", "15"]);
    let rc = ok(
        "SELECT CONSTRAINT_NAME, UNIQUE_CONSTRAINT_NAME FROM SNOWFLAKE_SAMPLE_DATA.INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS \
         WHERE CONSTRAINT_NAME LIKE '%ORDERS_CUSTOMER'",
    );
    assert_eq!(rc.rows.len(), 1);
    assert_eq!(rc.rows[0][1].as_deref(), Some("SYS_CONSTRAINT_PK_CUSTOMER"));
    let t = ok(
        "SELECT TABLE_NAME, ROW_COUNT FROM SNOWFLAKE_SAMPLE_DATA.INFORMATION_SCHEMA.TABLES \
         WHERE TABLE_SCHEMA = 'TPCH_SF1' AND TABLE_NAME = 'LINEITEM'",
    );
    assert_eq!(t.rows[0][1].as_deref(), Some("60175"));
    assert_eq!(ok("SELECT COUNT(*) FROM SNOWFLAKE_SAMPLE_DATA.INFORMATION_SCHEMA.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = 'TPCH_SF1'").rows[0][0].as_deref(), Some("16"));
    assert!(
        ok("SELECT SCHEMA_NAME FROM SNOWFLAKE_SAMPLE_DATA.INFORMATION_SCHEMA.SCHEMATA")
            .rows
            .len()
            >= 2
    );
}

#[test]
fn identifier_bind_resolves_objects_and_rejects_injection() {
    let r = run(
        "SELECT COUNT(*) FROM IDENTIFIER(?) WHERE O_ORDERSTATUS = ?",
        &[
            ("TEXT", "SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS"),
            ("TEXT", "F"),
        ],
    )
    .unwrap();
    assert!(cell(&r).unwrap().parse::<i64>().unwrap() > 0);
    for payload in [
        "ORDERS; DROP TABLE ORDERS",
        "ORDERS WHERE 1=1 --",
        "\"ORDERS\" UNION SELECT 1",
        "NOPE",
    ] {
        let e = run("SELECT COUNT(*) FROM IDENTIFIER(?)", &[("TEXT", payload)]).unwrap_err();
        assert!(
            ["000904", "002003"].contains(&e.code.as_str()),
            "{payload}: {e}"
        );
    }
    let r = ok("SHOW WAREHOUSES LIKE '%'' OR ''1''=''1'");
    assert!(r.rows.is_empty());
    assert!(run("SHOW WAREHOUSES LIKE '%' OR '1'='1'", &[]).is_err());
    assert_eq!(
        ok("SELECT COUNT(*) FROM ORDERS").rows[0][0].as_deref(),
        Some("15000")
    );
}

#[test]
fn cancel_stops_system_wait_quickly() {
    let e = engine();
    let token = CancelToken::new();
    let t2 = token.clone();
    let h = std::thread::spawn(move || {
        let start = Instant::now();
        let r = e.execute(&ctx(), "SELECT SYSTEM$WAIT(10)", &opts(&[]), &t2);
        (r, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    let cancelled_at = Instant::now();
    token.cancel();
    let (r, _) = h.join().unwrap();
    let stop = cancelled_at.elapsed();
    let err = r.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.sql_state.as_str()),
        ("000604", "57014")
    );
    assert_eq!(err.message, "SQL execution canceled");
    assert!(stop < Duration::from_millis(100), "stopped after {stop:?}");
    let r = ok("SELECT SYSTEM$WAIT(20, 'MILLISECONDS')");
    assert_eq!(r.columns[0].kind, "text");
}

#[test]
fn ddl_and_dml_report_snowflake_result_shapes() {
    let e = engine();
    let c = SessionContext {
        database: Some("SCRATCH_DB".into()),
        schema: Some("PUBLIC".into()),
        ..ctx()
    };
    let x = |sql: &str, b: &[(&str, &str)]| e.execute(&c, sql, &opts(b), &CancelToken::new());
    assert_eq!(
        cell(&x("CREATE DATABASE IF NOT EXISTS scratch_db", &[]).unwrap()).as_deref(),
        Some("Database SCRATCH_DB successfully created.")
    );
    x("CREATE OR REPLACE TABLE t (id NUMBER(38,0) NOT NULL, price NUMBER(10,2), d DATE, PRIMARY KEY (id))", &[]).unwrap();
    let ins = x(
        "INSERT INTO t (id, price, d) VALUES (?, ?, ?), (2, 2.5, '2020-01-01')",
        &[("FIXED", "1"), ("REAL", "1.25"), ("DATE", "0")],
    )
    .unwrap();
    assert_eq!(ins.columns[0].name, "number of rows inserted");
    assert_eq!(ins.rows[0][0].as_deref(), Some("2"));
    assert_eq!(ins.stats.as_ref().unwrap().num_rows_inserted, 2);
    let up = x("UPDATE t SET price = price * 2 WHERE id = 1", &[]).unwrap();
    assert_eq!(up.columns[0].name, "number of rows updated");
    assert_eq!(up.stats.unwrap().num_rows_updated, 1);
    let r = x(
        "SELECT id, price, d FROM scratch_db.public.t ORDER BY id",
        &[],
    )
    .unwrap();
    assert_eq!(
        r.rows[0],
        vec![Some("1".into()), Some("2.50".into()), Some("0".into())]
    );
    assert_eq!(r.columns[1].table, "T");
    let del = x("DELETE FROM t WHERE id = 2", &[]).unwrap();
    assert_eq!(del.stats.unwrap().num_rows_deleted, 1);
    let pk = x("SHOW PRIMARY KEYS IN TABLE t", &[]).unwrap();
    assert_eq!(pk.rows.len(), 1);
    x("DROP TABLE t", &[]).unwrap();
    assert_eq!(x("SELECT * FROM t", &[]).unwrap_err().code, "002003");
}

#[test]
fn split_statements_is_exported() {
    assert_eq!(split_statements("select 1; select ';'").unwrap().len(), 2);
}

#[test]
fn select_one_cost_micro_measure() {
    let e = engine();
    let c = ctx();
    let o = opts(&[]);
    let tok = CancelToken::new();
    e.execute(&c, "SELECT 1", &o, &tok).unwrap();
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        e.execute(&c, "SELECT 1", &o, &tok).unwrap();
    }
    let per = start.elapsed() / n;
    eprintln!("SELECT 1: {per:?} per statement in the engine ({n} runs, debug build)");
}

#[test]
fn current_available_roles_is_a_json_array_of_the_users_roles() {
    let r = ok("SELECT CURRENT_AVAILABLE_ROLES() AS ROLES");
    assert_eq!(r.columns[0].kind, "text");
    assert_eq!(cell(&r).as_deref(), Some(r#"["ANALYST","PUBLIC"]"#));
}

#[test]
fn parse_json_gives_a_variant_and_to_binary_a_binary() {
    let r = ok("SELECT PARSE_JSON('{\"a\": [1, 2]}') AS V, TO_BINARY('abcd', 'HEX') AS B, TO_BINARY('00FF') AS C");
    assert_eq!(r.columns[0].kind, "variant");
    assert_eq!(r.columns[1].kind, "binary");
    let v: serde_json::Value = serde_json::from_str(r.rows[0][0].as_deref().unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"a": [1, 2]}));
    assert_eq!(r.rows[0][1].as_deref(), Some("ABCD"));
    assert_eq!(r.rows[0][2].as_deref(), Some("00FF"));
    assert!(run("SELECT PARSE_JSON('{oops')", &[]).is_err());
}
