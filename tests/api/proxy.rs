//! The SQL API proxy end to end against snowsim (and a recording stub where the exact upstream
//! request matters): results, async polling, partitions, cancel, pass-through errors, safe
//! retries, redirects, header hygiene, path allow-list and body limits.

use icebroker::snowsim::{FaultKind, FaultSpec};
use serde_json::{json, Value};

use crate::helpers::assert_error;
use crate::sim::{spawn_with_snowsim, SimEnv};
use crate::stub::{self, Behaviour};

async fn direct_sql(env: &SimEnv, path_and_query: &str, body: Option<Value>) -> reqwest::Response {
    let token = env
        .sim
        .control()
        .mint_access_token("JSMITH", Some("ANALYST"))
        .unwrap();
    let url = format!("{}{}", env.sim.base_url(), path_and_query);
    let client = reqwest::Client::new();
    let req = match body {
        Some(b) => client.post(url).json(&b),
        None => client.get(url),
    };
    req.bearer_auth(token)
        .header("User-Agent", "tests/1.0")
        .header("Accept", "application/json")
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap()
}

fn prefix(env: &SimEnv, connection: &str) -> String {
    format!("{}/v1/connections/{connection}", env.app.address)
}

#[tokio::test]
async fn async_statements_answer_202_and_poll_to_200_through_the_proxy() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let res = env
        .app
        .client
        .post(format!(
            "{}/api/v2/statements?async=true",
            prefix(&env, "c")
        ))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT SYSTEM$WAIT(1)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let status_url = accepted["statementStatusUrl"].as_str().unwrap();
    assert!(status_url.starts_with("/api/v2/statements/"));
    let mut last = 0;
    for _ in 0..100 {
        let res = env
            .app
            .client
            .get(format!("{}{}", prefix(&env, "c"), status_url))
            .bearer_auth(&env.app.admin_key)
            .send()
            .await
            .unwrap();
        last = res.status().as_u16();
        if last == 200 {
            break;
        }
        assert_eq!(last, 202);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, 200);
}

#[tokio::test]
async fn partitions_through_the_proxy_decode_to_the_same_rows_as_direct() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let sql = "SELECT SEQ4() AS N FROM TABLE(GENERATOR(ROWCOUNT => 25000))";
    let res = env.proxy_submit("c", &env.app.admin_key, sql).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    let handle = first["statementHandle"].as_str().unwrap().to_owned();
    let partitions = first["resultSetMetaData"]["partitionInfo"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        partitions >= 3,
        "expected several partitions, got {partitions}"
    );
    let direct_first: Value = direct_sql(
        &env,
        "/api/v2/statements",
        Some(json!({"statement": sql, "warehouse": "COMPUTE_WH"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let direct_handle = direct_first["statementHandle"].as_str().unwrap().to_owned();
    let mut proxied_rows = first["data"].as_array().unwrap().clone();
    let mut direct_rows = direct_first["data"].as_array().unwrap().clone();
    for n in 1..partitions {
        let res = env
            .app
            .client
            .get(format!(
                "{}/api/v2/statements/{handle}?partition={n}",
                prefix(&env, "c")
            ))
            .bearer_auth(&env.app.admin_key)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-encoding"],
            "gzip",
            "passed through compressed"
        );
        let bytes = res.bytes().await.unwrap();
        let body: Value =
            serde_json::from_reader(flate2::read::GzDecoder::new(&bytes[..])).unwrap();
        proxied_rows.extend(body["data"].as_array().unwrap().iter().cloned());
        let res = direct_sql(
            &env,
            &format!("/api/v2/statements/{direct_handle}?partition={n}"),
            None,
        )
        .await;
        let bytes = res.bytes().await.unwrap();
        let body: Value =
            serde_json::from_reader(flate2::read::GzDecoder::new(&bytes[..])).unwrap();
        direct_rows.extend(body["data"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(proxied_rows.len(), 25_000);
    assert_eq!(proxied_rows, direct_rows);
}

#[tokio::test]
async fn cancel_goes_through_and_unknown_handles_are_not_found() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let res = env
        .app
        .client
        .post(format!(
            "{}/api/v2/statements?async=true",
            prefix(&env, "c")
        ))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT SYSTEM$WAIT(10)"}))
        .send()
        .await
        .unwrap();
    let handle = res.json::<Value>().await.unwrap()["statementHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = env
        .app
        .client
        .post(format!(
            "{}/api/v2/statements/{handle}/cancel",
            prefix(&env, "c")
        ))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "000604");
    // A handle the broker never saw submitted has no owner to match: refused before Snowflake.
    env.sim.control().reset_counters();
    let unknown = format!(
        "{}/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be",
        prefix(&env, "c")
    );
    for res in [
        env.app.client.get(&unknown),
        env.app.client.post(format!("{unknown}/cancel")),
    ] {
        let res = res.bearer_auth(&env.app.admin_key).send().await.unwrap();
        assert_error(res, 404, "statement_not_found").await;
    }
    let upstream: u64 = env.sim.control().counters().requests_by_path.values().sum();
    assert_eq!(upstream, 0);
}

#[tokio::test]
async fn a_snowflake_422_passes_through_byte_identical() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let res = env
        .proxy_submit("c", &env.app.admin_key, "SELECT AFAF FROM NOWHERE_AT_ALL")
        .await;
    assert_eq!(res.status(), 422);
    let proxied = res.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&proxied).unwrap();
    assert_eq!(body["code"], "002003");
    assert!(body["statementHandle"].is_string());
    assert!(
        body.get("error").is_none(),
        "Snowflake's own body, not ours"
    );
    // The failed statement is its submitter's to look up: its status is Snowflake's 422 again.
    let res = env
        .app
        .client
        .get(format!(
            "{}/api/v2/statements/{}",
            prefix(&env, "c"),
            body["statementHandle"].as_str().unwrap()
        ))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "002003");
}

#[tokio::test]
async fn an_upstream_422_body_arrives_byte_for_byte() {
    const BODY: &str = "{\"code\":\"000904\",\"message\":\"SQL compilation error: error line 1 at position 7\\ninvalid identifier 'AFAF'\",\"sqlState\":\"42000\",\"statementHandle\":\"019c0728-0000-df4f-0000-00100006606e\"}";
    let (upstream, _) = stub::start(Behaviour::Fixed(422, BODY));
    let env = spawn_with_snowsim().await;
    env.create_keypair("s", json!({"host": upstream})).await;
    let res = env
        .proxy_submit("s", &env.app.admin_key, "SELECT AFAF")
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.bytes().await.unwrap(), BODY.as_bytes());
}

#[tokio::test]
async fn a_small_answer_cut_short_is_upstream_unavailable_not_a_truncated_200() {
    let upstream = stub::start_raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"code\":",
    );
    let env = spawn_with_snowsim().await;
    env.create_keypair("cut", json!({"host": upstream})).await;
    let res = env
        .proxy_submit("cut", &env.app.admin_key, "SELECT 1")
        .await;
    assert_error(res, 502, "upstream_unavailable").await;
}

#[tokio::test]
async fn two_429s_then_success_execute_once_with_one_request_id() {
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
            "{}/api/v2/statements?requestId={id}",
            prefix(&env, "c")
        ))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let counters = env.sim.control().counters();
    assert_eq!(
        counters.requests_for("/api/v2/statements"),
        3,
        "{counters:?}"
    );
    assert_eq!(counters.executions_for(&id), 1, "executed exactly once");
}

#[tokio::test]
async fn a_dropped_answer_after_execution_is_retried_and_executes_once() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    for setup in [
        "CREATE DATABASE SCRATCH",
        "CREATE TABLE SCRATCH.PUBLIC.T (X NUMBER)",
    ] {
        let res = env.proxy_submit("c", &env.app.admin_key, setup).await;
        assert_eq!(res.status(), 200, "{setup}: {}", res.text().await.unwrap());
    }
    env.sim.control().reset_counters();
    env.sim.control().inject_fault(FaultSpec {
        kind: FaultKind::DropAfter,
        path_prefix: Some("/api/v2/statements".into()),
        count: Some(1),
    });
    let res = env
        .proxy_submit(
            "c",
            &env.app.admin_key,
            "INSERT INTO SCRATCH.PUBLIC.T VALUES (42)",
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let counters = env.sim.control().counters();
    let rows = env
        .proxy_submit(
            "c",
            &env.app.admin_key,
            "SELECT COUNT(*) FROM SCRATCH.PUBLIC.T",
        )
        .await;
    assert_eq!(
        rows.json::<Value>().await.unwrap()["data"][0][0],
        "1",
        "one row inserted"
    );
    assert_eq!(counters.statements_executed, 1, "{counters:?}");
    assert_eq!(counters.executions_by_request_id.values().sum::<u64>(), 1);
}

#[tokio::test]
async fn upstream_redirects_are_not_followed() {
    let (target, target_seen) = stub::start(Behaviour::Ok);
    let (redirector, _) = stub::start(Behaviour::Redirect(format!("{target}/api/v2/statements")));
    let env = spawn_with_snowsim().await;
    env.create_keypair("r", json!({"host": redirector})).await;
    let res = env.proxy_submit("r", &env.app.admin_key, "SELECT 1").await;
    assert_error(res, 502, "upstream_unavailable").await;
    assert_eq!(
        target_seen.lock().unwrap().len(),
        0,
        "the redirect target got no request"
    );
}

#[tokio::test]
async fn upstream_sees_only_allow_listed_headers_and_never_the_api_key() {
    let (upstream, seen) = stub::start(Behaviour::Ok);
    let env = spawn_with_snowsim().await;
    env.create_keypair("e", json!({"host": upstream})).await;
    let (_, service_key) = env.app.create_key("service", &["e"]).await;
    let res = env
        .app
        .client
        .post(format!("{}/api/v2/statements", prefix(&env, "e")))
        .bearer_auth(&service_key)
        .header("Cookie", "session=secret-cookie")
        .header("Connection", "X-Secret")
        .header("X-Secret", "1")
        .header("X-Forwarded-Host", "evil")
        .header("Forwarded", "for=1.2.3.4")
        .header("X-Api-Key", &service_key)
        .header("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "upstream cookies are dropped"
    );
    assert!(res.headers().get("x-upstream-private").is_none());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (uri, headers) = &seen[0];
    assert!(
        uri.contains("requestId="),
        "a requestId is always added: {uri}"
    );
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    for name in &names {
        assert!(
            [
                "authorization",
                "x-snowflake-authorization-token-type",
                "accept",
                "user-agent",
                "content-type",
                "content-length",
                "accept-encoding",
                "host",
            ]
            .contains(name),
            "unexpected upstream header {name}"
        );
    }
    let all = format!("{uri} {headers:?}");
    assert!(!all.contains(&service_key), "the API key reached upstream");
    assert!(!all.contains("secret-cookie"));
    let token_type = headers
        .iter()
        .find(|(k, _)| k == "x-snowflake-authorization-token-type")
        .unwrap();
    assert_eq!(token_type.1, "KEYPAIR_JWT");
    let body: Vec<&(String, String)> = headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .collect();
    assert!(
        body[0].1.starts_with("Bearer ey"),
        "a JWT, not the caller's key"
    );
}

#[tokio::test]
async fn only_the_three_sql_api_shapes_are_forwarded() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    env.sim.control().reset_counters();
    let base = prefix(&env, "c");
    let payloads = [
        "/api/v2/statements/..%2f..%2fsession",
        "/api/v2/statements/%2e%2e/",
        "/api/v2/statements/%2e%2e",
        "/api/v2//statements",
        "/API/v2/statements",
        "/api/v2/statements;jsessionid=1",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be%00",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be/../cancel",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be/cancel/x",
        "/api/v2/statements/not-a-handle",
        "/api/v2/statements/..",
        "/api/v2/statements/.",
        "/api/v2/statements/%2F",
        "/api/v2/statements/%5c..%5c",
        "/api/v2/statements/\\..\\",
        "/api/v1/statements",
        "/api/v2/statement",
        "/api/v2/statements/x/cancel",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be/result",
        "/session/v1/login-request",
        "/oauth/token-request",
        "/queries/v1/query-request",
        "/api/v2/databases",
        "/api/v2/statements%2f01b03285-0001-dea1-003d-b087000ca9be",
        "/api/v2/statements/01B03285-0001-DEA1-003D-B087000CA9BE-extra",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9b",
        "/api/v2/statements/01b03285x0001-dea1-003d-b087000ca9be",
        "/api/v2/statements/%30%31b03285-0001-dea1-003d-b087000ca9be%2fcancel",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be%3fpartition=1",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be%23frag",
        "/api/v2/statements/%252e%252e",
        "/api/v2/statements/..%252f",
        "/api/v2/statements/%c0%ae%c0%ae",
        "/api/v2/statements/%u002e%u002e",
        "/api/v2/statements/....//",
        "/api/v2/statements/ 01b03285-0001-dea1-003d-b087000ca9be",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be%20",
        "/api/v2/statements/@evil.com",
        "/api/v2/statements/%40evil.com",
        "/api/v2/statements/http:%2f%2fevil.com",
        "//evil.com/api/v2/statements",
        "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be/cancel%2f..",
    ];
    assert!(payloads.len() >= 40);
    for p in payloads {
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
                status == 404 || status == 405 || status == 400,
                "{method} {p} answered {status}"
            );
        }
    }
    let counters = env.sim.control().counters();
    let upstream: u64 = counters.requests_by_path.values().sum();
    assert_eq!(upstream, 0, "nothing reached Snowflake: {counters:?}");
}

#[tokio::test]
async fn a_2_mib_body_is_413_and_bad_queries_400() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let huge = json!({"statement": format!("SELECT '{}'", "a".repeat(2 * 1024 * 1024))});
    let res = env
        .app
        .client
        .post(format!("{}/api/v2/statements", prefix(&env, "c")))
        .bearer_auth(&env.app.admin_key)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
    let res = env
        .app
        .client
        .post(format!(
            "{}/api/v2/statements?requestId=x%0d%0aEvil:1",
            prefix(&env, "c")
        ))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_key_limited_to_another_connection_gets_403_and_nothing_goes_upstream() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let (_, key) = env.app.create_key("service", &["other"]).await;
    env.sim.control().reset_counters();
    assert_error(
        env.proxy_submit("c", &key, "SELECT 1").await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        env.sim
            .control()
            .counters()
            .requests_by_path
            .values()
            .sum::<u64>(),
        0
    );
}

#[tokio::test]
async fn every_proxied_call_is_audited_without_the_statement_text() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let (key_id, key) = env.app.create_key("service", &["c"]).await;
    let statement = "SELECT 'audit-canary-text' AS X";
    let res = env
        .app
        .client
        .post(format!("{}/api/v2/statements", prefix(&env, "c")))
        .bearer_auth(&key)
        .header("X-Icebroker-Identifier", "user-42")
        .json(&json!({"statement": statement}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(statement.as_bytes()))
    };
    let mut page = Value::Null;
    for _ in 0..50 {
        page = env
            .app
            .get(
                &format!("/v1/audit?connection=c&api_key_id={key_id}"),
                Some(&env.app.admin_key),
            )
            .await
            .json()
            .await
            .unwrap();
        if !page["entries"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    let e = &entries[0];
    assert_eq!(e["statement_sha256"], expected_sha.as_str());
    assert_eq!(e["identifier"], "user-42");
    assert_eq!(e["upstream_status"], 200);
    assert_eq!(e["path"], "/api/v2/statements");
    assert!(e["request_id"].as_str().unwrap().len() == 36);
    assert!(e["statement_handle"].as_str().is_some(), "{e}");
    assert!(!page.to_string().contains("audit-canary-text"));
    env.app.state.vault.store().flush().await.unwrap();
    assert!(!crate::helpers::tree_contains(
        env.app.data_dir.path(),
        b"audit-canary-text"
    ));
    assert!(
        !crate::helpers::tree_contains(env.app.data_dir.path(), b"user-42"),
        "sealed at rest"
    );
}

#[tokio::test]
async fn the_generic_request_action_reaches_the_same_three_paths_only() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let action = |body: Value| {
        env.app
            .client
            .post(format!("{}/v1/actions/request", env.app.address))
            .bearer_auth(&env.app.admin_key)
            .json(&body)
            .send()
    };
    let res = action(json!({
        "connection_name": "c", "method": "POST", "path": "/api/v2/statements",
        "query_params": {"async": true},
        "body": {"statement": "SELECT 42"}
    }))
    .await
    .unwrap();
    assert_eq!(res.status(), 202);
    let handle = res.json::<Value>().await.unwrap()["statementHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut status = 0;
    for _ in 0..50 {
        let res = action(json!({"connection_name": "c", "method": "GET", "path": format!("/api/v2/statements/{handle}")}))
            .await
            .unwrap();
        status = res.status().as_u16();
        if status == 200 {
            assert_eq!(res.json::<Value>().await.unwrap()["data"][0][0], "42");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
    env.sim.control().reset_counters();
    for (method, path) in [
        ("GET", "/api/v2/statements"),
        ("POST", "/session/v1/login-request"),
        ("POST", "/api/v2/statements/../../oauth/token-request"),
        (
            "DELETE",
            "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be",
        ),
    ] {
        let res = action(json!({"connection_name": "c", "method": method, "path": path, "body": {"statement": "SELECT 1"}}))
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{method} {path}");
    }
    let res = action(
        json!({"connection_name": "c", "method": "GET", "path": "/api/v2/statements/not-a-handle"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        env.sim
            .control()
            .counters()
            .requests_by_path
            .values()
            .sum::<u64>(),
        0
    );
}

#[tokio::test]
async fn only_the_submitting_key_may_poll_fetch_or_cancel_a_statement() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("c").await;
    let (_, owner) = env.app.create_key("service", &["c"]).await;
    let (_, stranger) = env.app.create_key("service", &["c"]).await;
    // A 202 (the handle comes from the body) and a 200 (from the Link header).
    let res = env
        .app
        .client
        .post(format!(
            "{}/api/v2/statements?async=true",
            prefix(&env, "c")
        ))
        .bearer_auth(&owner)
        .json(&json!({"statement": "SELECT 7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let res = env.proxy_submit("c", &owner, "SELECT 8").await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    for handle in [&accepted["statementHandle"], &done["statementHandle"]] {
        let handle = handle.as_str().unwrap();
        env.sim.control().reset_counters();
        let status = format!("{}/api/v2/statements/{handle}", prefix(&env, "c"));
        for res in [
            env.app.client.get(&status).bearer_auth(&stranger),
            env.app
                .client
                .get(format!("{status}?partition=0"))
                .bearer_auth(&stranger),
            env.app
                .client
                .post(format!("{status}/cancel"))
                .bearer_auth(&stranger),
        ] {
            let res = res.send().await.unwrap();
            assert_error(res, 404, "statement_not_found").await;
        }
        let upstream: u64 = env.sim.control().counters().requests_by_path.values().sum();
        assert_eq!(upstream, 0, "refused before Snowflake");
        let mut code = 0;
        for _ in 0..50 {
            let res = env
                .app
                .client
                .get(&status)
                .bearer_auth(&owner)
                .send()
                .await
                .unwrap();
            code = res.status().as_u16();
            if code == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(code, 200, "the owner polls its own statement");
    }
}
