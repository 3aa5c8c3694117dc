//! `/mcp` over real HTTP: the transport rules (Origin, API key, media types, protocol-version
//! header, GET/DELETE), JSON-RPC errors, and tools listed and run against snowsim exactly as
//! `/v1/tools` does. `mcp_client.rs` drives the same endpoint with the official Python SDK.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::sim::{spawn_with_snowsim, SimEnv};

const ACCEPT: &str = "application/json, text/event-stream";

fn post(app: &TestApp, key: Option<&str>) -> reqwest::RequestBuilder {
    let mut req = app
        .client
        .post(format!("{}/mcp", app.address))
        .header("accept", ACCEPT)
        .header("content-type", "application/json");
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req
}

async fn rpc(app: &TestApp, key: &str, message: Value) -> (u16, Value) {
    let res = post(app, Some(key))
        .header("mcp-protocol-version", "2025-11-25")
        .body(message.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["content-type"], "application/json");
    (status, res.json().await.unwrap())
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn initialize(version: &str) -> Value {
    request(
        0,
        "initialize",
        json!({"protocolVersion": version, "capabilities": {},
               "clientInfo": {"name": "icebroker-tests", "version": "1"}}),
    )
}

#[tokio::test]
async fn a_missing_or_unknown_key_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let unknown = icebroker::api_keys::PlaintextApiKey::generate().unwrap();
    for key in [None, Some("nonsense"), Some(unknown.expose())] {
        let res = post(&app, key)
            .body(initialize("2025-11-25").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert_error(res, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_foreign_origin_is_403_even_with_a_valid_key_and_the_brokers_own_origin_passes() {
    let app = spawn_app().await;
    for origin in ["http://evil.example", "null", "http://localhost:1"] {
        for key in [None, Some(app.admin_key.as_str())] {
            let res = post(&app, key)
                .header("origin", origin)
                .body(initialize("2025-11-25").to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{origin}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], -32600, "{body}");
            assert!(body.get("id").is_none());
        }
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let res = app
                .client
                .request(method, format!("{}/mcp", app.address))
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{origin}");
        }
    }
    let res = post(&app, Some(&app.admin_key))
        .header("origin", app.address.as_str())
        .body(initialize("2025-11-25").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn initialize_then_initialized_then_ping_is_a_stateless_session() {
    let app = spawn_app().await;
    let res = post(&app, Some(&app.admin_key))
        .body(initialize("2025-06-18").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("mcp-session-id").is_none());
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], 0);
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(
        body["result"]["capabilities"]["tools"]["listChanged"],
        false
    );

    let res = post(&app, Some(&app.admin_key))
        .header("mcp-protocol-version", "2025-06-18")
        .body(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert!(res.bytes().await.unwrap().is_empty());

    let (status, body) = rpc(&app, &app.admin_key, request(1, "ping", json!({}))).await;
    assert_eq!(
        (status, body),
        (200, json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
    );
}

#[tokio::test]
async fn protocol_errors_are_json_rpc_errors_with_the_right_status() {
    let app = spawn_app().await;
    let key = app.admin_key.clone();
    let res = post(&app, Some(&key))
        .body("{\"jsonrpc\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");

    let (status, body) = rpc(&app, &key, request(5, "prompts/list", json!({}))).await;
    assert_eq!(
        (status, &body["error"]["code"], &body["id"]),
        (200, &json!(-32601), &json!(5))
    );

    let (status, body) = rpc(
        &app,
        &key,
        json!({"jsonrpc": "2.0", "id": true, "method": "ping"}),
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!(-32600)));

    let batch = json!([request(1, "ping", json!({})), request(2, "ping", json!({}))]);
    let (status, body) = rpc(&app, &key, batch.clone()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!(-32600)),
        "{body}"
    );
    // Without the header the revision is 2025-03-26, whose servers must answer batches.
    let res = post(&app, Some(&key))
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn an_unsupported_protocol_version_header_is_400_except_on_initialize() {
    let app = spawn_app().await;
    for version in ["2026-07-28", "1900-01-01", "not-a-version"] {
        let res = post(&app, Some(&app.admin_key))
            .header("mcp-protocol-version", version)
            .body(request(1, "tools/list", json!({})).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{version}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32022, "{body}");
        assert_eq!(body["error"]["data"]["supported"][0], "2025-11-25");
    }
    let res = post(&app, Some(&app.admin_key))
        .header("mcp-protocol-version", "2026-07-28")
        .body(initialize("2026-07-28").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn media_types_get_and_delete_follow_the_transport_rules() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/mcp", app.address))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body(initialize("2025-11-25").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = app
        .client
        .post(format!("{}/mcp", app.address))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(initialize("2025-11-25").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let res = app
            .client
            .request(method.clone(), format!("{}/mcp", app.address))
            .bearer_auth(&app.admin_key)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", "anything")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["allow"], "POST", "{method}");
        assert_error(res, 405, "method_not_allowed").await;
    }
}

/// A keypair connection `wh` and a service key limited to it, optionally with defaults.
async fn tools_env(defaults: Value) -> (SimEnv, String) {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("wh").await;
    let mut body = json!({"name": "agent", "scope": "service", "connections": ["wh"]});
    for (k, v) in defaults.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = env
        .app
        .client
        .post(format!("{}/v1/api-keys", env.app.address))
        .bearer_auth(&env.app.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    (env, created["key"].as_str().unwrap().to_owned())
}

async fn call(env: &SimEnv, key: &str, connection: Option<&str>, name: &str, args: Value) -> Value {
    let mut req = post(&env.app, Some(key)).header("mcp-protocol-version", "2025-11-25");
    if let Some(connection) = connection {
        req = req.header("x-icebroker-connection", connection);
    }
    let message = request(9, "tools/call", json!({"name": name, "arguments": args}));
    let res = req.body(message.to_string()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["result"].clone()
}

#[tokio::test]
async fn tools_list_is_the_v1_tools_catalog() {
    let (env, key) = tools_env(json!({})).await;
    let (status, listed) = rpc(&env.app, &key, request(1, "tools/list", json!({}))).await;
    assert_eq!(status, 200);
    let catalog: Value = env
        .app
        .get("/v1/tools", Some(&key))
        .await
        .json()
        .await
        .unwrap();
    let mcp_tools = listed["result"]["tools"].as_array().unwrap();
    let rest_tools = catalog["tools"].as_array().unwrap();
    assert_eq!(mcp_tools.len(), 15);
    assert_eq!(mcp_tools.len(), rest_tools.len());
    for (m, r) in mcp_tools.iter().zip(rest_tools) {
        assert_eq!(m["name"], r["name"]);
        assert_eq!(m["inputSchema"], r["input_schema"], "{}", r["name"]);
        let description = m["description"].as_str().unwrap();
        assert!(description.starts_with(r["description"].as_str().unwrap()));
        assert!(description.contains(r["output"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn tools_call_runs_a_query_on_the_header_connection_and_types_the_rows() {
    let (env, key) = tools_env(json!({})).await;
    let args =
        json!({"statement": "SELECT N_NATIONKEY, N_NAME FROM NATION ORDER BY N_NATIONKEY LIMIT 3"});
    let result = call(&env, &key, Some("wh"), "snowflake_execute_query", args).await;
    assert_eq!(result["isError"], false, "{result}");
    let data = &result["structuredContent"]["data"];
    assert_eq!(
        data["rows"],
        json!([{"N_NATIONKEY": 0, "N_NAME": "ALGERIA"}, {"N_NATIONKEY": 1, "N_NAME": "ARGENTINA"},
               {"N_NATIONKEY": 2, "N_NAME": "BRAZIL"}])
    );
    let execution_id = result["structuredContent"]["execution_id"]
        .as_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(execution_id).is_ok());
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&text, &result["structuredContent"]);
}

#[tokio::test]
async fn the_keys_default_connection_applies_when_no_header_names_one() {
    let (env, key) = tools_env(json!({"default_connection": "wh"})).await;
    let args = json!({"statement": "SELECT COUNT(*) AS N FROM REGION"});
    let result = call(&env, &key, None, "snowflake_execute_query", args).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(
        result["structuredContent"]["data"]["rows"],
        json!([{"N": 5}])
    );
}

#[tokio::test]
async fn tool_failures_are_is_error_results_carrying_the_icebroker_code() {
    let (env, key) = tools_env(json!({})).await;
    let cases = [
        (Some("wh"), json!({"timeout": 0}), "invalid_tool_input"),
        (None, json!({"statement": "SELECT 1"}), "invalid_request"),
        (
            Some("elsewhere"),
            json!({"statement": "SELECT 1"}),
            "forbidden",
        ),
        (
            Some("wh"),
            json!({"statement": "SELECT * FROM NO_SUCH_TABLE"}),
            "statement_failed",
        ),
    ];
    for (connection, args, code) in cases {
        let result = call(
            &env,
            &key,
            connection,
            "snowflake_execute_query",
            args.clone(),
        )
        .await;
        assert_eq!(result["isError"], true, "{args}: {result}");
        let error = &result["structuredContent"]["error"];
        assert_eq!(error["code"], code, "{args}: {result}");
        assert!(error["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()));
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with(&format!("{code}: ")), "{text}");
    }
    let (status, body) = rpc(
        &env.app,
        &key,
        request(
            3,
            "tools/call",
            json!({"name": "snowflake_drop_everything", "arguments": {}}),
        ),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (200, &json!(-32602)),
        "{body}"
    );
}
