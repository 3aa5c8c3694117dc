//! Rate limits and bounds over real HTTP against snowsim: the request after the burst → 429
//! `rate_limited` with `Retry-After` while other keys and identifiers pass; the per-connection
//! concurrency cap → 429 `connection_busy`; slow clients (headers, body) and idle keep-alive
//! connections are cut off.

use std::time::{Duration, Instant};

use icebroker::config::Settings;
use icebroker::snowsim::faults::{FaultKind, FaultSpec};
use icebroker::snowsim::{SimConfig, SnowSim};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_error, spawn_app_with};
use crate::metrics::sample;
use crate::sim::SimEnv;

/// A broker with `adjust`ed settings, a snowsim, and a connected keypair connection `kp`.
async fn spawn(adjust: impl FnOnce(&mut Settings)) -> SimEnv {
    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    let sim = SnowSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("snowsim starts");
    let app = spawn_app_with(|s| {
        s.upstream.allow_loopback = true;
        s.proxy.retry_base_ms = 5;
        s.proxy.retry_cap_ms = 50;
        adjust(s);
    })
    .await;
    let env = SimEnv { app, sim };
    env.connected_keypair("kp").await;
    env
}

async fn submit_as(env: &SimEnv, key: &str, identifier: Option<&str>) -> reqwest::Response {
    let mut req = env
        .app
        .client
        .post(format!(
            "{}/v1/connections/kp/api/v2/statements",
            env.app.address
        ))
        .bearer_auth(key)
        .json(&json!({ "statement": "SELECT 1" }));
    if let Some(identifier) = identifier {
        req = req.header("X-Icebroker-Identifier", identifier);
    }
    req.send().await.unwrap()
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds")
}

async fn scrape(env: &SimEnv) -> String {
    env.app.get("/metrics", None).await.text().await.unwrap()
}

#[tokio::test]
async fn the_request_after_an_api_keys_burst_is_429_with_retry_after_and_other_keys_pass() {
    let env = spawn(|s| {
        s.limits.api_key_per_second = 1;
        s.limits.api_key_burst = 3;
    })
    .await;
    let (_, k1) = env.app.create_key("service", &[]).await;
    let (_, k2) = env.app.create_key("service", &[]).await;
    for i in 0..3 {
        let res = submit_as(&env, &k1, None).await;
        assert_eq!(res.status(), 200, "request {i} within the burst");
    }
    let res = submit_as(&env, &k1, None).await;
    let wait = retry_after(&res);
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let body = assert_error(res, 429, "rate_limited").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("API key"));
    assert_eq!(
        submit_as(&env, &k2, None).await.status(),
        200,
        "k2 unaffected"
    );

    // After Retry-After, k1 may call again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(submit_as(&env, &k1, None).await.status(), 200);

    let scrape = scrape(&env).await;
    assert_eq!(
        sample(
            &scrape,
            "icebroker_rate_limited_total",
            &[("limit", "api_key")]
        ),
        Some(1.0)
    );
    assert!(!scrape.contains(&k1) && !scrape.contains(&k2));
}

#[tokio::test]
async fn end_users_are_limited_one_by_one_and_never_named() {
    let alice = "user-RL-CANARY-alice-51e0";
    let bob = "user-RL-CANARY-bob-77d2";
    let env = spawn(|s| {
        s.limits.identifier_per_second = 1;
        s.limits.identifier_burst = 2;
    })
    .await;
    let (_, key) = env.app.create_key("service", &[]).await;
    for _ in 0..2 {
        assert_eq!(submit_as(&env, &key, Some(alice)).await.status(), 200);
    }
    let res = submit_as(&env, &key, Some(alice)).await;
    assert!(retry_after(&res) >= 1);
    let body = assert_error(res, 429, "rate_limited").await;
    assert!(!body.to_string().contains(alice), "{body}");
    assert_eq!(submit_as(&env, &key, Some(bob)).await.status(), 200);
    // Calls made for no end user are not limited per identifier.
    for _ in 0..4 {
        assert_eq!(submit_as(&env, &key, None).await.status(), 200);
    }
    let scrape = scrape(&env).await;
    assert_eq!(
        sample(
            &scrape,
            "icebroker_rate_limited_total",
            &[("limit", "identifier")]
        ),
        Some(1.0)
    );
    assert!(
        !scrape.contains("CANARY"),
        "identifiers leaked into /metrics"
    );
}

#[tokio::test]
async fn a_connection_at_its_concurrency_cap_answers_connection_busy() {
    let env = spawn(|s| s.limits.connection_max_concurrent = 2).await;
    let (_, key) = env.app.create_key("service", &[]).await;
    env.sim.control().inject_fault(FaultSpec {
        kind: FaultKind::Latency { ms: 1500 },
        path_prefix: Some("/api/v2/statements".into()),
        count: Some(2),
    });
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = env.app.client.clone();
            let url = format!("{}/v1/connections/kp/api/v2/statements", env.app.address);
            let key = key.clone();
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({ "statement": "SELECT 1" }))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let retry = res.headers().get("retry-after").is_some();
                let body: serde_json::Value = res.json().await.unwrap();
                (status, retry, body, started.elapsed())
            })
        })
        .collect();
    let mut ok = 0;
    let mut busy = 0;
    for call in calls {
        let (status, retry, body, elapsed) = call.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                busy += 1;
                assert!(retry, "Retry-After on connection_busy");
                assert_eq!(body["error"]["code"], "connection_busy", "{body}");
                assert!(elapsed < Duration::from_millis(1400), "turned away at once");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, busy), (2, 2));
    // The slots are free again once the answers are in.
    assert_eq!(submit_as(&env, &key, None).await.status(), 200);
    let scrape = scrape(&env).await;
    assert_eq!(
        sample(
            &scrape,
            "icebroker_rate_limited_total",
            &[("limit", "connection_concurrency")]
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "icebroker_upstream_in_flight",
            &[("connection", "kp")]
        ),
        Some(0.0)
    );
}

/// A result still streaming to the caller holds its concurrency slot: the call is in flight to
/// Snowflake until the last byte is passed on.
#[tokio::test]
async fn a_streaming_result_holds_its_concurrency_slot_until_it_ends() {
    let env = spawn(|s| s.limits.connection_max_concurrent = 1).await;
    let (_, key) = env.app.create_key("service", &[]).await;
    // ~30 MB in the first partition: far more than the socket buffers between the broker and
    // a caller that does not read.
    let big = env
        .app
        .client
        .post(format!(
            "{}/v1/connections/kp/api/v2/statements",
            env.app.address
        ))
        .bearer_auth(&key)
        .json(&json!({
            "statement": "SELECT RANDSTR(3000, SEQ4()) FROM TABLE(GENERATOR(ROWCOUNT => 10000))"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = submit_as(&env, &key, None).await;
    assert_error(busy, 429, "connection_busy").await;

    let body = big.bytes().await.unwrap();
    assert!(body.len() > 20_000_000, "{} bytes", body.len());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = submit_as(&env, &key, None).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// when it closed.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

fn address(env_address: &str) -> String {
    env_address.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(address(&app.address))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(8), reader.read_to_end(&mut out)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(elapsed < Duration::from_secs(3), "closed after {elapsed:?}");
    // The server still serves well-behaved clients.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn a_client_sending_its_body_slowly_gets_408_and_is_disconnected() {
    let app = spawn_app_with(|s| s.server.body_read_timeout_secs = 1).await;
    let (_, key) = app.create_key("service", &[]).await;
    for (path, bearer) in [
        ("/v1/connections/kp/api/v2/statements", key.as_str()),
        ("/v1/api-keys", app.admin_key.as_str()),
    ] {
        let mut stream = tokio::net::TcpStream::connect(address(&app.address))
            .await
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {bearer}\r\n\
             Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let trickle = tokio::spawn(async move {
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if writer.write_all(b" ").await.is_err() {
                    return;
                }
            }
        });
        let started = Instant::now();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(8), reader.read_to_end(&mut out)).await;
        let elapsed = started.elapsed();
        trickle.abort();
        let answer = String::from_utf8_lossy(&out);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer:?}");
        assert!(answer.contains("\"request_timeout\""), "{path}: {answer:?}");
        assert!(
            elapsed < Duration::from_secs(3),
            "{path}: closed after {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|s| s.server.keep_alive_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(address(&app.address))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (answer, elapsed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "idle connection open for {elapsed:?}"
    );
}

#[tokio::test]
async fn mcp_tool_calls_count_against_the_same_limits() {
    let env = spawn(|s| {
        s.limits.api_key_per_second = 1;
        s.limits.api_key_burst = 2;
    })
    .await;
    let (_, key) = env.app.create_key("service", &["kp"]).await;
    let call = || {
        env.app
            .client
            .post(format!("{}/mcp", env.app.address))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("x-icebroker-connection", "kp")
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                    "name": "snowflake_execute_query",
                    "arguments": {"statement": "SELECT 1"}}})
                .to_string(),
            )
            .send()
    };
    for i in 0..2 {
        let body: serde_json::Value = call().await.unwrap().json().await.unwrap();
        assert_eq!(body["result"]["isError"], false, "call {i}: {body}");
    }
    let body: serde_json::Value = call().await.unwrap().json().await.unwrap();
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["error"]["code"], "rate_limited",
        "{body}"
    );
}
