//! Fault injection, counters, safe retries, the control HTTP API, TLS and TOML configuration.

use std::time::{Duration, Instant};

use icebroker::snowsim::{FaultKind, FaultSpec, SimConfig};
use serde_json::json;

use super::helpers::*;

fn fault(kind: FaultKind, prefix: &str, count: Option<u64>) -> FaultSpec {
    FaultSpec {
        kind,
        path_prefix: Some(prefix.into()),
        count,
    }
}

#[tokio::test]
async fn request_id_with_retry_executes_a_statement_once_even_when_the_answer_was_lost() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let rid = uuid::Uuid::new_v4().to_string();
    sim.sim
        .inject_fault(fault(FaultKind::DropAfter, "/api/v2/statements", Some(1)));
    let lost = sim
        .client
        .post(format!("{}/api/v2/statements?requestId={rid}", sim.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", UA)
        .header("Content-Type", "application/json")
        .body(r#"{"statement":"SELECT 7"}"#)
        .send()
        .await;
    assert!(
        lost.is_err(),
        "the connection must drop without an answer: {lost:?}"
    );
    assert_eq!(sim.sim.counters().executions_for(&rid), 1, "it did run");

    let retry = sim
        .submit(
            &token,
            json!({"statement": "SELECT 7"}),
            &format!("requestId={rid}&retry=true"),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["data"], json!([["7"]]));
    let again = sim
        .submit(
            &token,
            json!({"statement": "SELECT 7"}),
            &format!("requestId={rid}&retry=true"),
        )
        .await;
    assert_eq!(
        again.json()["statementHandle"],
        retry.json()["statementHandle"]
    );
    assert_eq!(
        sim.sim.counters().executions_for(&rid),
        1,
        "retries never execute twice"
    );

    // Without retry=true the same request id runs again (the client asked for it).
    sim.submit(
        &token,
        json!({"statement": "SELECT 7"}),
        &format!("requestId={rid}"),
    )
    .await;
    assert_eq!(sim.sim.counters().executions_for(&rid), 2);
}

#[tokio::test]
async fn faults_apply_by_path_prefix_and_count_and_counters_reset() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    sim.sim.inject_fault(fault(
        FaultKind::Status {
            status: 503,
            retry_after_secs: None,
        },
        "/oauth/token-request",
        Some(2),
    ));
    sim.sim.inject_fault(fault(
        FaultKind::Latency { ms: 300 },
        "/api/v2/statements",
        Some(1),
    ));
    sim.sim
        .inject_fault(fault(FaultKind::DropBefore, "/api/v2/statements/", Some(1)));

    let refused = sim
        .client
        .post(format!("{}/oauth/token-request", sim.base))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let started = Instant::now();
    let r = sim.sql(&token, "SELECT 1").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    let handle = r.json()["statementHandle"].as_str().unwrap().to_owned();
    let dropped = sim
        .client
        .get(format!("{}/api/v2/statements/{handle}", sim.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", UA)
        .send()
        .await;
    assert!(dropped.is_err());
    assert_eq!(sim.status(&token, &handle, "").await.status, 200);

    let c = sim.sim.counters();
    assert_eq!(c.requests_for("/api/v2/statements"), 1);
    assert_eq!(
        c.token_requests_for("refresh_token"),
        0,
        "faulted requests never reach the handler"
    );
    assert_eq!(c.requests_for("/oauth/token-request"), 1);
    sim.sim.reset_counters();
    assert_eq!(sim.sim.counters().requests_for("/api/v2/statements"), 0);
}

#[tokio::test]
async fn the_control_http_api_mirrors_the_in_process_controls() {
    let sim = spawn_demo().await;
    let c = &sim.client;
    let minted: serde_json::Value = c
        .post(format!("{}/_snowsim/tokens/mint", sim.base))
        .json(&json!({"user": "JSMITH", "role": "REPORTER"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["access_token"].as_str().unwrap();
    assert_eq!(
        sim.sql(token, "SELECT CURRENT_ROLE()").await.json()["data"],
        json!([["REPORTER"]])
    );
    let f = c
        .post(format!("{}/_snowsim/faults", sim.base))
        .json(&json!({"kind": "status", "status": 500, "path_prefix": "/api/v2/", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), 200);
    assert_eq!(sim.sql(token, "SELECT 1").await.status, 500);
    c.post(format!("{}/_snowsim/tokens/expire-access", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.sql(token, "SELECT 1").await.status, 401);
    let counters: serde_json::Value = c
        .get(format!("{}/_snowsim/counters", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["requests_by_path"]["/api/v2/statements"], 3);
    assert_eq!(counters["oauth_token_rejections"], 1);
}

#[tokio::test]
async fn tls_serves_https_with_a_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sim = icebroker::snowsim::SnowSim::start_with(
        config(),
        "127.0.0.1:0".parse().unwrap(),
        Some(dir.path()),
    )
    .await
    .unwrap();
    let ca = std::fs::read(sim.ca_pem_path().unwrap()).unwrap();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let token = sim.mint_access_token("JSMITH", None).unwrap();
    let r = client
        .post(format!("{}/api/v2/statements", sim.base_url()))
        .bearer_auth(token)
        .header("User-Agent", UA)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim.stop().await;
}

#[test]
fn toml_configuration_loads_and_is_validated() {
    let text = r#"
        tpch_scale = 0.001
        partition_rows = 500
        [[accounts]]
        locator = "AB12345"
        region = "eu-west-1"
        [[accounts.users]]
        name = "ETL"
        password = "etl-pass"
        roles = ["LOADER"]
        [[accounts.roles]]
        name = "LOADER"
        [[accounts.warehouses]]
        name = "LOAD_WH"
        suspended = true
        auto_resume = false
        [[accounts.integrations]]
        name = "APP"
        client_id = "cid"
        client_secret = "csecret"
        redirect_uri = "https://app.example/cb"
        single_use_refresh_tokens = true
    "#;
    let cfg = SimConfig::from_toml_str(text).unwrap();
    assert_eq!(cfg.partition_rows, 500);
    assert_eq!(cfg.access_token_ttl_secs, 600);
    assert!(cfg.accounts[0].integrations[0].single_use_refresh_tokens);
    assert!(
        SimConfig::from_toml_str("tpch_scale = 1").is_err(),
        "no accounts"
    );
    assert!(
        SimConfig::from_toml_str("bogus = 1\n[[accounts]]\nlocator='A'").is_err(),
        "unknown keys"
    );
}
