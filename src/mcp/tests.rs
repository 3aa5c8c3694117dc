//! Protocol tests of the MCP server against an in-test tool host (the end-to-end tests in
//! `tests/api/mcp*.rs` run the real catalog through `/mcp`).

use std::cell::RefCell;

use serde_json::{json, Value};

use super::host::{ToolCall, ToolHost, ToolInfo, ToolOutput};
use super::server::{handle_body, Context, Reply, Target};
use crate::api_keys::ApiKeyRecord;
use crate::error::{AppError, ErrorCode};

struct TestHost {
    schema: Value,
    calls: RefCell<Vec<ToolCall>>,
}

impl TestHost {
    fn new() -> Self {
        Self {
            schema: json!({"type": "object", "properties": {"statement": {"type": "string"}},
                           "required": ["statement"]}),
            calls: RefCell::new(Vec::new()),
        }
    }
}

impl ToolHost for TestHost {
    fn tools(&self) -> Vec<ToolInfo<'_>> {
        vec![ToolInfo {
            name: "echo",
            description: "Echoes its input.",
            input_schema: &self.schema,
            output: "the input",
        }]
    }

    async fn call(&self, _caller: &ApiKeyRecord, call: ToolCall) -> Result<ToolOutput, AppError> {
        self.calls.borrow_mut().push(call.clone());
        match call.tool_input.get("statement").and_then(Value::as_str) {
            Some("fail") => Err(AppError::new(
                ErrorCode::StatementTimeout,
                "Snowflake did not answer in time",
            )),
            Some("bug") => Err(AppError::internal(anyhow::anyhow!("secret detail"))),
            _ => Ok(ToolOutput {
                data: call.tool_input,
                execution_id: uuid::Uuid::nil(),
            }),
        }
    }
}

fn key(connections: &[&str]) -> ApiKeyRecord {
    serde_json::from_value(json!({
        "id": "key_1", "name": "t", "prefix": "ibk_x", "scope": "service",
        "connections": connections, "created_at": 0
    }))
    .unwrap()
}

fn target(connection: Option<&str>) -> Target {
    Target {
        connection: connection.map(str::to_owned),
        identifier: Some("user-1".into()),
    }
}

async fn post(host: &TestHost, caller: &ApiKeyRecord, version: &'static str, body: Value) -> Reply {
    post_raw(
        host,
        caller,
        version,
        target(Some("wh")),
        body.to_string().as_bytes(),
    )
    .await
}

async fn post_raw(
    host: &TestHost,
    caller: &ApiKeyRecord,
    version: &'static str,
    target: Target,
    body: &[u8],
) -> Reply {
    let ctx = Context {
        host,
        caller,
        target,
        version,
    };
    handle_body(&ctx, body).await
}

fn body(reply: &Reply) -> &Value {
    reply.body.as_ref().expect("a body")
}

fn req(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[tokio::test]
async fn initialize_agrees_on_the_clients_version_or_offers_the_latest() {
    let host = TestHost::new();
    let caller = key(&[]);
    for (asked, agreed) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
    ] {
        let params = json!({"protocolVersion": asked, "capabilities": {},
                            "clientInfo": {"name": "t", "version": "1"}});
        let reply = post(&host, &caller, "2025-03-26", req(1, "initialize", params)).await;
        assert_eq!(reply.status, 200);
        let result = &body(&reply)["result"];
        assert_eq!(result["protocolVersion"], agreed, "{asked}");
        assert_eq!(result["serverInfo"]["name"], "icebroker");
        assert_eq!(
            result["capabilities"],
            json!({"tools": {"listChanged": false}})
        );
        assert!(result["instructions"]
            .as_str()
            .unwrap()
            .contains("X-Icebroker-Connection"));
    }
}

#[tokio::test]
async fn initialize_without_its_required_params_is_invalid_params() {
    let host = TestHost::new();
    let reply = post(
        &host,
        &key(&[]),
        "2025-11-25",
        req(1, "initialize", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(body(&reply)["error"]["code"], -32602);
    assert_eq!(body(&reply)["id"], 1);
}

#[tokio::test]
async fn ping_answers_an_empty_result_with_the_same_id() {
    let host = TestHost::new();
    let reply = post(
        &host,
        &key(&[]),
        "2025-11-25",
        json!({"jsonrpc": "2.0", "id": "p-1", "method": "ping"}),
    )
    .await;
    assert_eq!(
        body(&reply),
        &json!({"jsonrpc": "2.0", "id": "p-1", "result": {}})
    );
}

#[tokio::test]
async fn tools_list_describes_every_tool_with_its_schema_and_output() {
    let host = TestHost::new();
    let reply = post(
        &host,
        &key(&[]),
        "2025-11-25",
        req(2, "tools/list", json!({})),
    )
    .await;
    let tools = &body(&reply)["result"]["tools"];
    assert_eq!(tools.as_array().unwrap().len(), 1);
    assert_eq!(tools[0]["name"], "echo");
    assert_eq!(tools[0]["inputSchema"], host.schema);
    assert!(tools[0]["description"]
        .as_str()
        .unwrap()
        .contains("Returns: the input"));
    assert!(body(&reply)["result"].get("resultType").is_none());
    assert!(body(&reply)["result"].get("nextCursor").is_none());

    let cursor = req(3, "tools/list", json!({"cursor": "x"}));
    let paged = post(&host, &key(&[]), "2025-11-25", cursor).await;
    assert_eq!(body(&paged)["error"]["code"], -32602);
}

#[tokio::test]
async fn tools_call_runs_on_the_target_and_returns_structured_content() {
    let host = TestHost::new();
    let params = json!({"name": "echo", "arguments": {"statement": "select 1"}});
    let reply = post(
        &host,
        &key(&["wh"]),
        "2025-11-25",
        req(4, "tools/call", params),
    )
    .await;
    let result = &body(&reply)["result"];
    assert_eq!(result["isError"], false);
    let expected = json!({"data": {"statement": "select 1"},
                          "execution_id": "00000000-0000-0000-0000-000000000000"});
    assert_eq!(result["structuredContent"], expected);
    assert_eq!(result["content"][0]["type"], "text");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, expected);
    assert_eq!(
        host.calls.borrow().as_slice(),
        [ToolCall {
            tool_name: "echo".into(),
            connection_name: "wh".into(),
            identifier: Some("user-1".into()),
            tool_input: json!({"statement": "select 1"}),
        }]
    );
}

#[tokio::test]
async fn a_failing_tool_is_a_tool_result_with_is_error_and_the_icebroker_code() {
    let host = TestHost::new();
    let cases = [
        (
            "fail",
            "statement_timeout",
            "Snowflake did not answer in time",
        ),
        (
            "bug",
            "internal",
            "internal error; quote the request_id when reporting it",
        ),
    ];
    for (statement, code, message) in cases {
        let params = json!({"name": "echo", "arguments": {"statement": statement}});
        let reply = post(&host, &key(&[]), "2025-11-25", req(5, "tools/call", params)).await;
        assert_eq!(reply.status, 200);
        let result = &body(&reply)["result"];
        assert_eq!(result["isError"], true, "{statement}");
        assert_eq!(result["structuredContent"]["error"]["code"], code);
        assert_eq!(result["structuredContent"]["error"]["message"], message);
        assert_eq!(result["content"][0]["text"], format!("{code}: {message}"));
        assert!(!reply
            .body
            .as_ref()
            .unwrap()
            .to_string()
            .contains("secret detail"));
    }
}

#[tokio::test]
async fn a_call_without_a_connection_or_outside_the_keys_connections_never_runs() {
    let host = TestHost::new();
    let params = json!({"name": "echo", "arguments": {"statement": "x"}});
    let message = req(6, "tools/call", params).to_string();
    let none = post_raw(
        &host,
        &key(&[]),
        "2025-11-25",
        target(None),
        message.as_bytes(),
    )
    .await;
    let result = &body(&none)["result"];
    assert_eq!(result["isError"], true);
    assert_eq!(
        result["structuredContent"]["error"]["code"],
        "invalid_request"
    );
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("X-Icebroker-Connection"));

    let limited = key(&["other"]);
    let other = post_raw(
        &host,
        &limited,
        "2025-11-25",
        target(Some("wh")),
        message.as_bytes(),
    )
    .await;
    assert_eq!(
        body(&other)["result"]["structuredContent"]["error"]["code"],
        "forbidden"
    );
    assert!(host.calls.borrow().is_empty());
}

#[tokio::test]
async fn protocol_errors_are_json_rpc_errors() {
    let host = TestHost::new();
    let caller = key(&[]);
    let unknown_tool = req(7, "tools/call", json!({"name": "nope", "arguments": {}}));
    let cases = [
        (unknown_tool, 200, -32602),
        (req(8, "resources/list", json!({})), 200, -32601),
        (req(9, "tools/call", json!({"arguments": {}})), 200, -32602),
        (
            json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call"}),
            200,
            -32602,
        ),
        (json!({"id": 11, "method": "ping"}), 400, -32600),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            400,
            -32600,
        ),
        (json!(42), 400, -32600),
    ];
    for (message, status, code) in cases {
        let reply = post(&host, &caller, "2025-11-25", message.clone()).await;
        assert_eq!(reply.status, status, "{message}");
        assert_eq!(body(&reply)["error"]["code"], code, "{message}");
        assert_eq!(body(&reply)["jsonrpc"], "2.0");
    }
    let garbage = post_raw(
        &host,
        &caller,
        "2025-11-25",
        target(Some("wh")),
        b"{not json",
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(body(&garbage)["error"]["code"], -32700);
    assert!(body(&garbage).get("id").is_none());
}

#[tokio::test]
async fn notifications_and_responses_are_accepted_without_a_body() {
    let host = TestHost::new();
    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "id": 1, "result": {}}),
    ] {
        let reply = post(&host, &key(&[]), "2025-11-25", message).await;
        assert_eq!(
            reply,
            Reply {
                status: 202,
                body: None
            }
        );
    }
}

#[tokio::test]
async fn batches_are_answered_under_2025_03_26_and_refused_later() {
    let host = TestHost::new();
    let batch = json!([
        req(1, "ping", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        req(2, "tools/list", json!({})),
        req(3, "initialize", json!({"protocolVersion": "2025-03-26", "capabilities": {},
                                    "clientInfo": {"name": "t", "version": "1"}})),
    ]);
    let reply = post(&host, &key(&[]), "2025-03-26", batch.clone()).await;
    assert_eq!(reply.status, 200);
    let answers = body(&reply).as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[1]["result"]["tools"][0]["name"], "echo");
    assert_eq!(answers[2]["error"]["code"], -32600);

    let only_notes = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    assert_eq!(
        post(&host, &key(&[]), "2025-03-26", only_notes)
            .await
            .status,
        202
    );
    assert_eq!(
        post(&host, &key(&[]), "2025-03-26", json!([])).await.status,
        400
    );

    for version in ["2025-06-18", "2025-11-25"] {
        let reply = post(&host, &key(&[]), version, batch.clone()).await;
        assert_eq!(reply.status, 400, "{version}");
        assert_eq!(body(&reply)["error"]["code"], -32600);
    }
}
