//! A real MCP client — the official `mcp` Python SDK, installed into `target/mcp-venv` by
//! `scripts/test.sh` — connects to `/mcp` over Streamable HTTP, lists the tools and calls
//! `snowflake_execute_query` against snowsim (`tests/mcp/client.py` does the talking).

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::sim::{spawn_with_snowsim, SimEnv};

/// The venv's interpreter: `MCP_CLIENT_PYTHON` (set by scripts/test.sh) or the default path.
fn python() -> PathBuf {
    let path = std::env::var_os("MCP_CLIENT_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mcp-venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which installs the MCP Python SDK",
        path.display()
    );
    path
}

/// Runs the client script; returns its JSON report (panics with its stderr on failure).
async fn run_client(env: &SimEnv, key: &str, args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let url = format!("{}/mcp", env.app.address);
    let mut command = std::process::Command::new(python());
    command
        .arg(script)
        .arg(&url)
        .args(["--key", key])
        .args(args)
        .stdin(Stdio::null());
    // Blocking wait off the runtime thread, which keeps serving the broker the client talks to.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the MCP client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stderr}\n{stdout}");
    assert!(
        !stderr.contains(key),
        "the client leaked the key to its logs"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

async fn service_key(env: &SimEnv, extra: Value) -> String {
    let mut body = json!({"name": "python agent", "scope": "service", "connections": ["wh"]});
    for (k, v) in extra.as_object().unwrap() {
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
    let body: Value = res.json().await.unwrap();
    body["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_python_sdk_lists_the_tools_and_runs_a_query_through_mcp() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("wh").await;
    let key = service_key(&env, json!({})).await;
    let report = run_client(
        &env,
        &key,
        &[
            "--connection",
            "wh",
            "--call",
            "snowflake_execute_query",
            r#"{"statement": "SELECT R_REGIONKEY, R_NAME FROM REGION ORDER BY R_REGIONKEY"}"#,
            "--call",
            "snowflake_execute_query",
            r#"{"statement": "SELECT * FROM NO_SUCH_TABLE"}"#,
        ],
    )
    .await;

    // `auto` mode probed server/discover, got 400, and fell back to the handshake.
    assert_eq!(report["protocol_version"], "2025-11-25", "{report}");
    assert_eq!(report["server_name"], "icebroker");
    let tools = report["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 15, "{report}");
    let query = tools
        .iter()
        .find(|t| t["name"] == "snowflake_execute_query")
        .expect("snowflake_execute_query is listed");
    assert_eq!(query["input_schema"]["required"], json!(["statement"]));

    let ok = &report["calls"][0];
    assert_eq!(ok["is_error"], false, "{ok}");
    let names: Vec<&str> = ok["structured"]["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["R_NAME"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
    );
    assert_eq!(ok["structured"]["data"]["rows"][4]["R_REGIONKEY"], 4);

    let failed = &report["calls"][1];
    assert_eq!(failed["is_error"], true, "{failed}");
    assert_eq!(failed["structured"]["error"]["code"], "statement_failed");
    assert!(failed["text"][0]
        .as_str()
        .unwrap()
        .starts_with("statement_failed: "));
}

#[tokio::test]
async fn the_python_sdk_in_legacy_mode_uses_the_keys_default_connection() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("wh").await;
    let key = service_key(&env, json!({"default_connection": "wh"})).await;
    let report = run_client(
        &env,
        &key,
        &[
            "--mode",
            "legacy",
            "--call",
            "snowflake_execute_query",
            r#"{"statement": "SELECT COUNT(*) AS N FROM NATION"}"#,
        ],
    )
    .await;
    assert_eq!(report["protocol_version"], "2025-11-25", "{report}");
    let call = &report["calls"][0];
    assert_eq!(call["is_error"], false, "{call}");
    assert_eq!(call["structured"]["data"]["rows"], json!([{"N": 25}]));
}
