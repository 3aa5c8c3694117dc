//! The data-plane listener (`server.data_listen`) against snowsim: the same answers, codes,
//! audit entries and metrics as the main listener for the six proxy paths, and nothing else.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use icebroker::snowsim::{FaultKind, FaultSpec};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with};
use crate::proxy::NOT_FORWARDED;
use crate::sim::{spawn_with_snowsim, SimEnv};

fn data(env: &SimEnv) -> &str {
    env.app
        .data_address
        .as_deref()
        .expect("the sim env turns the data plane on")
}

async fn submit_at(env: &SimEnv, base: &str, statement: &str) -> reqwest::Response {
    env.app
        .client
        .post(format!("{base}/v1/connections/c/api/v2/statements"))
        .bearer_auth(&env.app.admin_key)
        .header("x-request-id", "dp-test-1")
        .json(&json!({ "statement": statement }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keypair_statements_answer_the_same_on_both_listeners_and_are_audited() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let statement = "SELECT 42 AS ANSWER, CURRENT_USER()";
    let main = submit_at(&env, &env.app.address, statement).await;
    let fast = submit_at(&env, data(&env), statement).await;
    assert_eq!(main.status(), 200);
    assert_eq!(fast.status(), 200);
    for name in ["content-type", "x-content-type-options", "referrer-policy"] {
        assert_eq!(main.headers()[name], fast.headers()[name], "{name}");
    }
    assert_eq!(fast.headers()["x-request-id"], "dp-test-1");
    assert!(fast.headers().get("set-cookie").is_none());
    let main: Value = main.json().await.unwrap();
    let fast: Value = fast.json().await.unwrap();
    assert_eq!(main["data"], fast["data"]);
    assert_eq!(fast["data"][0][1], "JSMITH");
    assert_ne!(main["statementHandle"], fast["statementHandle"]);

    // Both calls are in the audit log, the data plane's with its statement handle.
    let mut entries = Vec::new();
    for _ in 0..100 {
        let page: Value = env
            .app
            .get("/v1/audit?connection=c", Some(&env.app.admin_key))
            .await
            .json()
            .await
            .unwrap();
        entries = page["entries"].as_array().unwrap().clone();
        if entries.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handles: Vec<&Value> = entries.iter().map(|e| &e["statement_handle"]).collect();
    assert!(handles.contains(&&fast["statementHandle"]), "{entries:?}");
    assert!(handles.contains(&&main["statementHandle"]), "{entries:?}");
}

#[tokio::test]
async fn partitions_stream_through_the_data_plane_byte_for_byte_compressed() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let sql = "SELECT SEQ4() AS N FROM TABLE(GENERATOR(ROWCOUNT => 25000))";
    let res = submit_at(&env, data(&env), sql).await;
    assert_eq!(res.status(), 200);
    let first = res.bytes().await.unwrap();
    assert!(first.len() > 16 * 1024, "large enough to be streamed back");
    let first: Value = serde_json::from_slice(&first).unwrap();
    let handle = first["statementHandle"].as_str().unwrap().to_owned();
    let partitions = first["resultSetMetaData"]["partitionInfo"]
        .as_array()
        .unwrap()
        .len();
    assert!(partitions >= 3, "{partitions} partitions");
    let mut rows = first["data"].as_array().unwrap().len();
    for n in 1..partitions {
        let mut answers = Vec::new();
        for base in [data(&env), env.app.address.as_str()] {
            let res = env
                .app
                .client
                .get(format!(
                    "{base}/v1/connections/c/api/v2/statements/{handle}?partition={n}"
                ))
                .bearer_auth(&env.app.admin_key)
                .header("Accept-Encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-encoding"], "gzip");
            answers.push(res.bytes().await.unwrap());
        }
        assert_eq!(answers[0], answers[1], "partition {n} is the same on both");
        let body: Value =
            serde_json::from_reader(flate2::read::GzDecoder::new(&answers[0][..])).unwrap();
        rows += body["data"].as_array().unwrap().len();
    }
    assert_eq!(rows, 25_000);
}

#[tokio::test]
async fn only_the_proxy_paths_exist_and_bad_calls_get_the_main_listeners_codes() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    env.sim.control().reset_counters();
    let base = format!("{}/v1/connections/c", data(&env));
    for p in NOT_FORWARDED {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let res = env
                .app
                .client
                .request(method.clone(), format!("{base}{p}"))
                .bearer_auth(&env.app.admin_key)
                .json(&json!({"statement": "SELECT 1"}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert!(
                [400, 404, 405].contains(&status),
                "{method} {p} answered {status}"
            );
        }
    }
    let upstream: u64 = env.sim.control().counters().requests_by_path.values().sum();
    assert_eq!(upstream, 0, "nothing reached Snowflake");

    let client = &env.app.client;
    let res = client
        .get(format!("{}/v1/health", data(&env)))
        .header("x-request-id", "dp-404")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "dp-404");
    let body = assert_error(res, 404, "route_not_found").await;
    assert_eq!(body["error"]["request_id"], "dp-404");
    let res = client
        .get(format!("{base}/api/v2/statements"))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap();
    assert_error(res, 405, "method_not_allowed").await;
    let res = client
        .post(format!("{base}/api/v2/statements"))
        .bearer_auth("ibk_not_a_key")
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
    let huge = json!({"statement": format!("SELECT '{}'", "a".repeat(2 * 1024 * 1024))});
    let res = client
        .post(format!("{base}/api/v2/statements"))
        .bearer_auth(&env.app.admin_key)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
    let res = client
        .post(format!("{base}/api/v2/statements?requestId=x%0d%0aEvil:1"))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_request").await;
    let res = client
        .post(format!("{base}/accounts/alice/api/v2/statements"))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "wrong_connection_kind").await;
}

#[tokio::test]
async fn two_429s_then_success_execute_once_through_the_data_plane() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    env.sim.control().reset_counters();
    env.sim.control().inject_fault(FaultSpec {
        kind: FaultKind::Status {
            status: 429,
            retry_after_secs: None,
        },
        path_prefix: Some("/api/v2/statements".into()),
        count: Some(2),
    });
    let id = uuid::Uuid::new_v4().to_string();
    let res = env
        .app
        .client
        .post(format!(
            "{}/v1/connections/c/api/v2/statements?requestId={id}",
            data(&env)
        ))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let counters = env.sim.control().counters();
    assert_eq!(counters.requests_for("/api/v2/statements"), 3);
    assert_eq!(counters.executions_for(&id), 1, "executed exactly once");
}

#[tokio::test]
async fn oauth_end_users_go_through_the_data_plane_and_an_upstream_401_refreshes_once() {
    let env = crate::oauth_support::spawn(false).await;
    assert_eq!(env.connect("alice").await.status(), 303);
    let submit = |id: String| {
        env.client
            .post(format!(
                "{}/v1/connections/sales/accounts/alice/api/v2/statements?requestId={id}",
                env.data_address
            ))
            .bearer_auth(&env.service_key)
            .json(&json!({ "statement": "SELECT CURRENT_USER()" }))
            .send()
    };
    let res = submit(uuid::Uuid::new_v4().to_string()).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0][0], "JSMITH");

    let refreshes = env.refresh_grants();
    env.sim.control().expire_access_tokens();
    env.sim.control().reset_counters();
    let id = uuid::Uuid::new_v4().to_string();
    let res = submit(id.clone()).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(env.refresh_grants(), refreshes + 1, "exactly one refresh");
    assert_eq!(env.sim.control().counters().executions_for(&id), 1);

    let res = env
        .client
        .post(format!(
            "{}/v1/connections/sales/accounts/nobody/api/v2/statements",
            env.data_address
        ))
        .bearer_auth(&env.service_key)
        .json(&json!({ "statement": "SELECT 1" }))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "account_not_connected").await;

    let metrics = env
        .client
        .get(format!("{}/metrics", env.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = "icebroker_http_requests_total{route=\"/v1/connections/{name}/accounts/{identifier}/api/v2/statements\",method=\"POST\",status=\"200\"}";
    assert!(
        metrics.lines().any(|l| l.starts_with(series)),
        "data-plane requests are counted under their route: {metrics}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_is_408_and_the_connection_is_closed() {
    let app = spawn_app_with(|s| {
        s.server.data_listen = Some("127.0.0.1:0".parse().unwrap());
        s.server.body_read_timeout_secs = 1;
    })
    .await;
    let addr = app
        .data_address
        .as_deref()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "POST /v1/connections/c/api/v2/statements HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"statement\"",
        app.admin_key
    )
    .unwrap();
    let mut answer = String::new();
    // Read to the end: the broker closes the connection after the 408.
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn stopping_the_broker_closes_the_data_listener_and_releases_the_store() {
    let data_dir = tempfile::tempdir().unwrap();
    let master = crate::helpers::random_master_key();
    let settings = || {
        let mut s = crate::helpers::test_settings(data_dir.path(), &master);
        s.server.data_listen = Some("127.0.0.1:0".parse().unwrap());
        s
    };
    let app = icebroker::startup::Application::build(settings())
        .await
        .unwrap();
    let port = app.data_port().unwrap();
    let res = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "the data listener serves the proxy paths only"
    );
    app.stop().await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the data listener is closed"
    );
    // The data listener's workers let go of the store: it opens again at once.
    let again = icebroker::startup::Application::build(settings())
        .await
        .unwrap();
    again.stop().await;
}
