//! The two TPC-H seed queries through HTTP, checked against answers computed here directly from
//! `tpchgen`'s data; a 100,000-row result in several gzip partitions.

use std::collections::BTreeMap;

use serde_json::json;
use tpchgen::generators::{CustomerGenerator, OrderGenerator};

use super::helpers::*;

const SCALE: f64 = 0.01;

fn cents(s: &str) -> i64 {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<2}");
    let sign = if int.starts_with('-') { -1 } else { 1 };
    int.parse::<i64>().unwrap() * 100 + sign * frac[..2].parse::<i64>().unwrap()
}

fn money(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

async fn tpch_sim() -> TestSim {
    let mut cfg = config();
    cfg.tpch_scale = SCALE;
    spawn(cfg).await
}

#[tokio::test]
async fn seed_query_top_customers_matches_the_data() {
    let sim = tpch_sim().await;
    let token = sim.token("JSMITH", None);
    let (from, to) = ("1995-01-01", "1995-12-31");
    let body = json!({
        "statement": "SELECT c.C_CUSTKEY, c.C_NAME, SUM(o.O_TOTALPRICE) AS TOTAL_SPENT \
            FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER c JOIN SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS o ON o.O_CUSTKEY = c.C_CUSTKEY \
            WHERE o.O_ORDERDATE BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY TOTAL_SPENT DESC LIMIT 10",
        "bindings": {"1": {"type": "TEXT", "value": from}, "2": {"type": "TEXT", "value": to}},
        "warehouse": "COMPUTE_WH",
    });
    let r = sim.submit(&token, body, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();

    let names: BTreeMap<i64, String> = CustomerGenerator::new(SCALE, 1, 1)
        .iter()
        .map(|c| (c.c_custkey, c.c_name.to_string()))
        .collect();
    let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
    for o in OrderGenerator::new(SCALE, 1, 1).iter() {
        let date = o.o_orderdate.to_string();
        if date.as_str() >= from && date.as_str() <= to {
            *totals.entry(o.o_custkey).or_default() += cents(&o.o_totalprice.to_string());
        }
    }
    let mut expected: Vec<(i64, i64)> = totals.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows = b["data"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for (i, row) in rows.iter().enumerate() {
        let key: i64 = row[0].as_str().unwrap().parse().unwrap();
        let total = expected.iter().find(|(k, _)| *k == key).unwrap().1;
        assert_eq!(row[2].as_str().unwrap(), money(total), "row {i}");
        assert_eq!(total, expected[i].1, "row {i} is the {i}th largest total");
        assert_eq!(row[1].as_str().unwrap(), names[&key]);
    }
    let types: Vec<&str> = b["resultSetMetaData"]["rowType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["fixed", "text", "fixed"]);
    assert_eq!(b["resultSetMetaData"]["rowType"][2]["scale"], 2);
}

#[tokio::test]
async fn seed_query_monthly_sales_of_a_clerk_matches_the_data() {
    let sim = tpch_sim().await;
    let token = sim.token("JSMITH", None);
    let clerk = "Clerk#000000951";
    let year = 1996;
    let body = json!({
        "statement": "SELECT DATE_TRUNC('MONTH', O_ORDERDATE) AS MONTH, SUM(O_TOTALPRICE) AS SALES \
            FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS WHERE O_CLERK = ? AND YEAR(O_ORDERDATE) = ? GROUP BY 1 ORDER BY 1",
        "bindings": {"1": {"type": "TEXT", "value": clerk}, "2": {"type": "FIXED", "value": year.to_string()}},
    });
    let r = sim.submit(&token, body, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();

    let mut months: BTreeMap<i64, i64> = BTreeMap::new();
    for o in OrderGenerator::new(SCALE, 1, 1).iter() {
        let date = o.o_orderdate.to_string();
        if o.o_clerk.to_string() == clerk && date.starts_with(&year.to_string()) {
            let m: i64 = date[5..7].parse().unwrap();
            *months.entry(days_from_civil(year, m, 1)).or_default() +=
                cents(&o.o_totalprice.to_string());
        }
    }
    assert!(!months.is_empty(), "the clerk has orders that year");
    let expected: Vec<serde_json::Value> = months
        .iter()
        .map(|(d, c)| json!([d.to_string(), money(*c)]))
        .collect();
    assert_eq!(b["data"], json!(expected));
    assert_eq!(b["resultSetMetaData"]["rowType"][0]["type"], "date");
}

#[tokio::test]
async fn a_100k_row_result_arrives_in_gzip_partitions() {
    let sim = tpch_sim().await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .sql(
            &token,
            "SELECT O_ORDERKEY, N_NATIONKEY FROM ORDERS CROSS JOIN NATION LIMIT 100000",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-encoding").is_none(),
        "partition 0 is inline and plain"
    );
    let b = r.json();
    let handle = b["statementHandle"].as_str().unwrap();
    let info = b["resultSetMetaData"]["partitionInfo"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(b["resultSetMetaData"]["numRows"], 100_000);
    assert!(info.len() > 1, "several partitions");
    let mut total = b["data"].as_array().unwrap().len();
    assert_eq!(total as u64, info[0]["rowCount"].as_u64().unwrap());
    for (p, part) in info.iter().enumerate().skip(1) {
        let resp = sim.status(&token, handle, &format!("partition={p}")).await;
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("content-encoding"),
            Some("gzip"),
            "partition {p}"
        );
        let body: serde_json::Value = serde_json::from_slice(&gunzip(&resp.body)).unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1, "only data, no metadata");
        let rows = body["data"].as_array().unwrap().len();
        assert_eq!(rows as u64, part["rowCount"].as_u64().unwrap());
        total += rows;
    }
    assert_eq!(total, 100_000);
    let past_end = sim
        .status(&token, handle, &format!("partition={}", info.len()))
        .await;
    assert_eq!(past_end.status, 400);
}
