//! Tools: input rules (400 `invalid_tool_input` naming the field), SQL injection payloads through
//! every metadata path (SECURITY.md SQ-1..SQ-4: empty results or Snowflake errors, never broken
//! statements), error mapping, key scoping, the audit log, and OAuth end users (their own
//! identity; an expired token refreshed once).

use serde_json::{json, Value};

use crate::helpers::assert_error;
use crate::oauth_support::spawn;
use crate::tools::{execute, tool, tools_env};

async fn rejected(res: reqwest::Response, status: u16, code: &str) -> String {
    let body = assert_error(res, status, code).await;
    body["error"]["message"].as_str().unwrap().to_owned()
}

fn call(tool: &str, input: Value) -> Value {
    json!({"tool_name": tool, "connection_name": "wh", "tool_input": input})
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_field() {
    let (env, key) = tools_env(None).await;
    let executed_before = env.sim.control().counters().statements_executed;
    let cases = [
        ("snowflake_execute_query", json!({}), "statement"),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "timeout": 0}),
            "tool_input.timeout",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "timeout": "soon"}),
            "tool_input.timeout",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": " "}),
            "tool_input.statement",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "colour": "red"}),
            "colour",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "request_id": "nope"}),
            "tool_input.request_id",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "retry": true}),
            "tool_input.retry",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select ?", "bindings": {"0": {"type": "TEXT", "value": "x"}}}),
            "tool_input.bindings.0",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select ?", "bindings": {"1": {"type": "CHAR", "value": "x"}}}),
            "tool_input.bindings.1.type",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1; select 2", "parameters": {"MULTI_STATEMENT_COUNT": "2"}}),
            "tool_input.parameters.MULTI_STATEMENT_COUNT",
        ),
        (
            "snowflake_execute_query",
            json!({"statement": "select 1", "role": "A\nB"}),
            "tool_input.role",
        ),
        (
            "snowflake_get_statement_status",
            json!({"statement_handle": "../../session"}),
            "tool_input.statement_handle",
        ),
        (
            "snowflake_get_partition",
            json!({"statement_handle": "01b03285-0001-dea1-003d-b087000ca9be", "partition": -1}),
            "tool_input.partition",
        ),
        (
            "snowflake_list_tables",
            json!({"database": "SNOWFLAKE_SAMPLE_DATA", "limit": 0}),
            "tool_input.limit",
        ),
        (
            "snowflake_list_tables",
            json!({"database": "SNOWFLAKE_SAMPLE_DATA", "limit": 10001}),
            "tool_input.limit",
        ),
        (
            "snowflake_list_tables",
            json!({"database": ""}),
            "tool_input.database",
        ),
        (
            "snowflake_list_columns",
            json!({"database": "D", "table": "x".repeat(256)}),
            "tool_input.table",
        ),
        (
            "snowflake_list_table_constraints",
            json!({"database": "D", "constraint_type": "CHECK"}),
            "tool_input.constraint_type",
        ),
        (
            "snowflake_show_databases_schemas",
            json!({"object_type": "tables"}),
            "tool_input.object_type",
        ),
        (
            "snowflake_show_databases_schemas",
            json!({"object_type": "databases", "database_name": "D"}),
            "tool_input.database_name",
        ),
        (
            "snowflake_show_warehouses",
            json!({"like_pattern": "a\u{0}"}),
            "tool_input.like_pattern",
        ),
        (
            "snowflake_show_grants",
            json!({"grant_view": "to_role"}),
            "tool_input.role_name",
        ),
        (
            "snowflake_show_grants",
            json!({"grant_view": "to_user", "user_name": "U", "role_name": "R"}),
            "tool_input.role_name",
        ),
        (
            "snowflake_show_grants",
            json!({"grant_view": "on_object", "object_type": "FUNCTION", "object_name": "f"}),
            "tool_input.object_type",
        ),
        (
            "snowflake_show_grants",
            json!({"grant_view": "on_object", "object_type": "TABLE"}),
            "tool_input.object_name",
        ),
        (
            "snowflake_show_grants",
            json!({"grant_view": "on_object", "object_type": "TABLE", "object_name": "a;b"}),
            "tool_input.object_name",
        ),
        (
            "snowflake_show_primary_keys",
            json!({"database_name": "D", "table_name": "T"}),
            "tool_input.schema_name",
        ),
        (
            "snowflake_show_imported_exported_keys",
            json!({"key_direction": "sideways", "table_name": "T"}),
            "tool_input.key_direction",
        ),
        (
            "snowflake_show_imported_exported_keys",
            json!({"key_direction": "imported"}),
            "table_name",
        ),
        (
            "snowflake_describe_connection",
            json!({"verbose": true}),
            "verbose",
        ),
    ];
    for (name, input, field) in cases {
        let res = execute(&env, &key, call(name, input.clone())).await;
        let message = rejected(res, 400, "invalid_tool_input").await;
        assert!(message.contains(field), "{name} {input}: {message}");
    }
    // Nothing above reached Snowflake.
    assert_eq!(
        env.sim.control().counters().statements_executed,
        executed_before
    );

    let res = execute(&env, &key, call("snowflake_drop_everything", json!({}))).await;
    rejected(res, 404, "tool_not_found").await;
    let res = execute(
        &env,
        &key,
        json!({"tool_name": "snowflake_describe_connection", "connection_name": "wh", "extra": 1}),
    )
    .await;
    rejected(res, 400, "invalid_json").await;
}

#[tokio::test]
async fn injection_payloads_stay_values_and_never_break_statements() {
    let (env, key) = tools_env(None).await;
    let payloads = [
        "a\"b",
        "a'b",
        "a\\b",
        "x' OR 1=1 --",
        "\";DROP TABLE ORDERS;--",
        "%' OR '1'='1",
        "ORDERS; DROP TABLE ORDERS",
        "$$ || $$",
        "/* */ ORDERS",
        "\\'; DROP TABLE ORDERS; --",
    ];
    for p in payloads {
        for (name, input) in [
            (
                "snowflake_list_tables",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "schema": p}),
            ),
            (
                "snowflake_list_tables",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "table_name_like": p}),
            ),
            (
                "snowflake_list_columns",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "table": p, "column_name_like": p}),
            ),
            (
                "snowflake_list_schemata",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "schema_like": p}),
            ),
            (
                "snowflake_list_table_constraints",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "table": p}),
            ),
            (
                "snowflake_list_referential_constraints",
                json!({"database": "SNOWFLAKE_SAMPLE_DATA", "schema": p}),
            ),
            ("snowflake_show_warehouses", json!({"like_pattern": p})),
            (
                "snowflake_show_databases_schemas",
                json!({"object_type": "databases", "like_pattern": p}),
            ),
        ] {
            let data = tool(&env, &key, name, input.clone()).await;
            assert_eq!(data["num_rows"], 0, "{name} {input}: {data}");
        }
        // Names that cannot exist: Snowflake's "does not exist", not a syntax error.
        for (name, input) in [
            ("snowflake_list_tables", json!({"database": p})),
            (
                "snowflake_show_databases_schemas",
                json!({"object_type": "schemas", "database_name": p}),
            ),
            ("snowflake_show_primary_keys", json!({"table_name": p})),
            (
                "snowflake_show_imported_exported_keys",
                json!({"key_direction": "exported", "table_name": p}),
            ),
        ] {
            let res = execute(&env, &key, call(name, input.clone())).await;
            let message = rejected(res, 422, "statement_failed").await;
            assert!(
                message.contains("does not exist"),
                "{name} {input}: {message}"
            );
        }
    }
    let count = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT COUNT(*) AS N FROM ORDERS"}),
    )
    .await;
    assert_eq!(
        count["rows"],
        json!([{"N": 15000}]),
        "ORDERS is still there"
    );
}

#[tokio::test]
async fn snowflake_errors_keys_and_audit() {
    let (env, key) = tools_env(None).await;
    let res = execute(
        &env,
        &key,
        call(
            "snowflake_execute_query",
            json!({"statement": "SELECT NOPE FROM ORDERS"}),
        ),
    )
    .await;
    let message = rejected(res, 422, "statement_failed").await;
    assert!(
        message.contains("000904") && message.contains("NOPE"),
        "{message}"
    );

    let res = execute(
        &env,
        &key,
        call(
            "snowflake_execute_query",
            json!({"statement": "SELECT 1", "role": "ACCOUNTADMIN"}),
        ),
    )
    .await;
    rejected(res, 422, "statement_failed").await;

    // A key limited to another connection.
    // (Created, not enrolled: enrolling would replace JSMITH's key for `wh`.)
    env.create_keypair("other", json!({})).await;
    let (_, other_key) = env.app.create_key("service", &["other"]).await;
    let res = execute(
        &env,
        &other_key,
        call("snowflake_describe_connection", json!({})),
    )
    .await;
    rejected(res, 403, "forbidden").await;
    let res = execute(
        &env,
        &key,
        json!({"tool_name": "snowflake_describe_connection", "connection_name": "nope", "tool_input": {}}),
    )
    .await;
    rejected(res, 403, "forbidden").await;
    let res = execute(
        &env,
        &env.app.admin_key,
        json!({"tool_name": "snowflake_describe_connection", "connection_name": "nope", "tool_input": {}}),
    )
    .await;
    rejected(res, 404, "connection_not_found").await;

    // Every execution is audited under the tool's name, with its execution id.
    let res = execute(&env, &key, call("snowflake_describe_connection", json!({}))).await;
    let body: Value = res.json().await.unwrap();
    let execution_id = body["execution_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    // The audit log flushes once a second.
    let mut audit = Value::Null;
    let mut found = None;
    for _ in 0..150 {
        audit = env
            .app
            .get("/v1/audit?connection=wh", Some(&env.app.admin_key))
            .await
            .json()
            .await
            .unwrap();
        found = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["request_id"] == execution_id.as_str())
            .cloned();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let entries = audit["entries"].as_array().unwrap();
    let entry = found.unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(entry["path"], "/v1/tools/snowflake_describe_connection");
    assert_eq!(entry["statement_handle"], body["data"]["statement_handle"]);
    assert!(entries
        .iter()
        .any(|e| e["error_code"] == "statement_failed"));
}

#[tokio::test]
async fn oauth_end_users_run_tools_as_themselves_and_expired_tokens_refresh_once() {
    let env = spawn(false).await;
    assert_eq!(env.connect("alice").await.status(), 303);
    let run = |input: Value| {
        let (client, url, key) = (
            env.client.clone(),
            format!("{}/v1/tools/execute", env.address),
            env.service_key.clone(),
        );
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&input)
                .send()
                .await
                .unwrap()
        }
    };
    let describe = json!({"tool_name": "snowflake_describe_connection", "connection_name": "sales",
                          "identifier": "alice", "tool_input": {}});
    let res = run(describe.clone()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["user"], "JSMITH");
    assert_eq!(body["data"]["kind"], "oauth");
    assert_eq!(body["data"]["identifier"], "alice");

    let before = env.refresh_grants();
    env.sim.control().expire_access_tokens();
    let res = run(json!({"tool_name": "snowflake_list_tables", "connection_name": "sales",
                         "identifier": "alice",
                         "tool_input": {"database": "SNOWFLAKE_SAMPLE_DATA", "schema": "TPCH_SF1"}}))
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["num_rows"], 8);
    assert_eq!(env.refresh_grants(), before + 1, "exactly one refresh");

    let mut no_identifier = describe.clone();
    no_identifier.as_object_mut().unwrap().remove("identifier");
    rejected(run(no_identifier).await, 400, "invalid_request").await;
    let mut stranger = describe;
    stranger["identifier"] = json!("mallory");
    rejected(run(stranger).await, 409, "account_not_connected").await;
}
