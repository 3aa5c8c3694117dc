//! `TABLE(GENERATOR(ROWCOUNT => n))` results computed per partition on demand: over HTTP they
//! look like any other result (partition 0 inline, gzip partitions ≥ 1 whose row counts and
//! uncompressed sizes match `partitionInfo`, the same bytes when fetched twice), and a result far
//! larger than memory is answered at once.

use super::helpers::*;

#[tokio::test]
async fn a_generator_result_is_served_partition_by_partition() {
    let mut cfg = config();
    cfg.partition_rows = 7_000;
    let sim = spawn(cfg).await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .sql(
            &token,
            "SELECT SEQ4() AS ID, UNIFORM(1, 100, RANDOM()) AS N, RANDSTR(20, RANDOM()) AS S \
             FROM TABLE(GENERATOR(ROWCOUNT => 50000))",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    let meta = &b["resultSetMetaData"];
    assert_eq!(meta["numRows"], 50_000);
    let types: Vec<_> = meta["rowType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(types, [("ID", "fixed"), ("N", "fixed"), ("S", "text")]);
    let info = meta["partitionInfo"].as_array().unwrap().clone();
    assert_eq!(info.len(), 8, "50,000 rows in partitions of 7,000");
    let handle = b["statementHandle"].as_str().unwrap();
    let mut rows: Vec<Vec<String>> = serde_json::from_value(b["data"].clone()).unwrap();
    assert_eq!(
        serde_json::to_string(&b["data"]).unwrap().len() as u64,
        info[0]["uncompressedSize"].as_u64().unwrap()
    );
    for (p, part) in info.iter().enumerate().skip(1) {
        let resp = sim.status(&token, handle, &format!("partition={p}")).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding"), Some("gzip"));
        let plain = gunzip(&resp.body);
        assert_eq!(
            plain.len() as u64,
            part["uncompressedSize"].as_u64().unwrap() + "{\"data\":}".len() as u64,
            "partition {p}"
        );
        let again = sim.status(&token, handle, &format!("partition={p}")).await;
        assert_eq!(
            gunzip(&again.body),
            plain,
            "a partition is the same when re-read"
        );
        let body: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        let part_rows: Vec<Vec<String>> = serde_json::from_value(body["data"].clone()).unwrap();
        assert_eq!(part_rows.len() as u64, part["rowCount"].as_u64().unwrap());
        rows.extend(part_rows);
    }
    assert_eq!(rows.len(), 50_000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        assert!((1..=100).contains(&row[1].parse::<i64>().unwrap()));
        assert_eq!(row[2].len(), 20);
    }
    let past_end = sim.status(&token, handle, "partition=8").await;
    assert_eq!(past_end.status, 400);
}

#[tokio::test]
async fn a_result_larger_than_memory_is_answered_at_once() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let started = std::time::Instant::now();
    // 100 million rows of ~110 bytes: ~11 GB of JSON, never materialised.
    let r = sim
        .sql(
            &token,
            "SELECT SEQ8(), RANDSTR(100, RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => 100000000))",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["resultSetMetaData"]["numRows"], 100_000_000u64);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
