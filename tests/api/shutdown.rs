//! Graceful shutdown of the real binary: SIGTERM closes the listener at once, lets an in-flight
//! statement finish, writes its audit entry, and exits 0.

use std::time::Duration;

use icebroker::snowsim::{FaultKind, FaultSpec, RunningSnowSim, SimConfig, SnowSim};
use serde_json::{json, Value};

use crate::crash_broker::{Broker, BrokerSpec};

const STATEMENTS: &str = "/api/v2/statements";

/// Runs `sql` in snowsim as ADMIN/ACCOUNTADMIN, as the Snowflake admin would paste it.
pub async fn sim_admin_sql(sim: &RunningSnowSim, sql: &str) {
    let token = sim
        .control()
        .mint_access_token("ADMIN", Some("ACCOUNTADMIN"))
        .unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}{STATEMENTS}", sim.base_url()))
        .bearer_auth(token)
        .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
        .header("User-Agent", "icebroker-tests/1.0")
        .header("Accept", "application/json")
        .json(&json!({ "statement": sql }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Creates and enrols keypair connection `name` for JSMITH through the broker at `address`.
async fn connected_keypair(sim: &RunningSnowSim, address: &str, admin_key: &str, name: &str) {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{address}/v1/connections"))
        .bearer_auth(admin_key)
        .json(&json!({
            "name": name, "kind": "keypair", "account": "xy12345.us-east-2.aws",
            "host": sim.base_url(), "user": "jsmith", "role": "ANALYST",
            "warehouse": "COMPUTE_WH", "database": "SNOWFLAKE_SAMPLE_DATA", "schema": "TPCH_SF1",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    sim_admin_sql(
        sim,
        created["enrollment"]["alter_user_sql"].as_str().unwrap(),
    )
    .await;
    let res = client
        .post(format!("{address}/v1/connections/{name}/test"))
        .bearer_auth(admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

fn refused(port: u16) -> bool {
    matches!(
        std::net::TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_refuses_new_connections_finishes_the_in_flight_statement_and_keeps_its_audit_entry(
) {
    // Arrange: snowsim in this process, the broker binary as a child, a connected keypair
    // connection, and a statement that snowsim holds for 3 s.
    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    let sim = SnowSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = BrokerSpec::new(dir.path());
    spec.env.push((
        "ICEBROKER_SERVER__SHUTDOWN_TIMEOUT_SECS".into(),
        "20".into(),
    ));
    let broker = Broker::start(&spec);
    connected_keypair(&sim, &broker.address, &spec.admin_key, "wh").await;
    sim.control().inject_fault(FaultSpec {
        kind: FaultKind::Latency { ms: 3000 },
        path_prefix: Some(STATEMENTS.to_owned()),
        count: Some(1),
    });
    let before = sim.control().counters().requests_for(STATEMENTS);
    let url = format!("{}/v1/connections/wh{STATEMENTS}", broker.address);
    let key = spec.admin_key.clone();
    let in_flight = tokio::spawn(async move {
        let res = reqwest::Client::new()
            .post(url)
            .bearer_auth(key)
            .json(&json!({ "statement": "SELECT 42 AS ANSWER" }))
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json::<Value>().await.unwrap())
    });
    wait_until(
        "the statement reaches snowsim",
        Duration::from_secs(10),
        || sim.control().counters().requests_for(STATEMENTS) > before,
    )
    .await;

    // Act: SIGTERM while the statement is held upstream.
    broker.terminate();

    // Assert: the listener closes while the statement is still running…
    let port = broker.port;
    wait_until(
        "new connections are refused",
        Duration::from_secs(2),
        || refused(port),
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "the statement must still be in flight when new connections are already refused"
    );
    // …the statement completes with its result…
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0][0], "42", "{body}");
    // …and the broker exits 0.
    let exit = tokio::task::spawn_blocking(move || broker.wait(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");

    // The audit entry of the in-flight call is on disk: a restarted broker lists it.
    let again = Broker::start(&spec);
    let res = reqwest::Client::new()
        .get(format!("{}/v1/audit?connection=wh", again.address))
        .bearer_auth(&spec.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let statements: Vec<&Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == STATEMENTS && e["method"] == "POST")
        .collect();
    assert_eq!(statements.len(), 1, "{page}");
    assert_eq!(statements[0]["upstream_status"], 200, "{page}");
    assert!(
        statements[0]["duration_ms"].as_u64().unwrap() >= 2500,
        "{page}"
    );
    again.terminate();
    let exit = tokio::task::spawn_blocking(move || again.wait(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(exit.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_at_the_shutdown_deadline_does_not_hold_the_exit() {
    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    let sim = SnowSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = BrokerSpec::new(dir.path());
    spec.env
        .push(("ICEBROKER_SERVER__SHUTDOWN_TIMEOUT_SECS".into(), "1".into()));
    let broker = Broker::start(&spec);
    connected_keypair(&sim, &broker.address, &spec.admin_key, "wh").await;
    sim.control().inject_fault(FaultSpec {
        kind: FaultKind::Latency { ms: 8_000 },
        path_prefix: Some(STATEMENTS.to_owned()),
        count: Some(1),
    });
    let before = sim.control().counters().requests_for(STATEMENTS);
    let url = format!("{}/v1/connections/wh{STATEMENTS}", broker.address);
    let key = spec.admin_key.clone();
    let stuck = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(key)
            .json(&json!({ "statement": "SELECT 1" }))
            .send()
            .await
    });
    wait_until(
        "the statement reaches snowsim",
        Duration::from_secs(10),
        || sim.control().counters().requests_for(STATEMENTS) > before,
    )
    .await;
    let signalled = std::time::Instant::now();
    broker.terminate();
    let exit = tokio::task::spawn_blocking(move || broker.wait(Duration::from_secs(15)))
        .await
        .unwrap();
    assert!(exit.success(), "exit code 0 after the deadline, got {exit}");
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "the 1 s deadline bounds the drain, took {:?}",
        signalled.elapsed()
    );
    assert!(
        stuck.await.unwrap().is_err(),
        "the abandoned request gets no answer"
    );
}
