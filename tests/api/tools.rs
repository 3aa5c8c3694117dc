//! Tools end to end: `GET /v1/tools` and `POST /v1/tools/execute` against snowsim over real
//! HTTP — typed results, partitions followed up to the row cap, async statements, status and
//! cancel. `tools_catalog.rs` checks the metadata tools against the TPC-H catalogue;
//! `tools_security.rs` the input rules, injection payloads, errors and OAuth end users.

use icebroker::snowsim::SimConfig;
use serde_json::{json, Value};

use crate::helpers::assert_error;
use crate::sim::{spawn_with_config, spawn_with_snowsim, SimEnv};

/// A keypair connection `wh` (JSMITH, ANALYST, SNOWFLAKE_SAMPLE_DATA.TPCH_SF1) and a service
/// key limited to it.
pub async fn tools_env(config: Option<SimConfig>) -> (SimEnv, String) {
    let env = match config {
        Some(config) => spawn_with_config(config).await,
        None => spawn_with_snowsim().await,
    };
    env.connected_keypair("wh").await;
    let (_, key) = env.app.create_key("service", &["wh"]).await;
    (env, key)
}

/// `POST /v1/tools/execute`; returns the raw response.
pub async fn execute(env: &SimEnv, key: &str, body: Value) -> reqwest::Response {
    env.app
        .client
        .post(format!("{}/v1/tools/execute", env.app.address))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Runs `tool` on connection `wh` and returns `data` (asserting 200 and an execution id).
pub async fn tool(env: &SimEnv, key: &str, tool: &str, input: Value) -> Value {
    let res = execute(
        env,
        key,
        json!({"tool_name": tool, "connection_name": "wh", "tool_input": input}),
    )
    .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{tool} {body}");
    assert!(
        uuid::Uuid::parse_str(body["execution_id"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    body["data"].clone()
}

/// The values of column `name` over the rows of a typed result.
pub fn column(data: &Value, name: &str) -> Vec<Value> {
    data["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {data}"))
        .iter()
        .map(|r| r[name].clone())
        .collect()
}

#[tokio::test]
async fn the_catalog_lists_every_tool_with_a_generated_input_schema() {
    let (env, key) = tools_env(None).await;
    let res = env.app.get("/v1/tools", Some(&key)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let tools = body["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "snowflake_execute_query",
            "snowflake_get_statement_status",
            "snowflake_get_partition",
            "snowflake_cancel_statement",
            "snowflake_list_schemata",
            "snowflake_list_tables",
            "snowflake_list_columns",
            "snowflake_list_table_constraints",
            "snowflake_list_referential_constraints",
            "snowflake_show_databases_schemas",
            "snowflake_show_warehouses",
            "snowflake_show_grants",
            "snowflake_show_primary_keys",
            "snowflake_show_imported_exported_keys",
            "snowflake_describe_connection",
        ]
    );
    for t in tools {
        assert_eq!(t["input_schema"]["type"], "object", "{t}");
        assert!(!t["description"].as_str().unwrap().is_empty());
        assert!(!t["output"].as_str().unwrap().is_empty());
    }
    let exec = &tools[0]["input_schema"];
    let mut fields: Vec<&str> = exec["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "async",
            "bindings",
            "database",
            "nullable",
            "parameters",
            "request_id",
            "retry",
            "role",
            "schema",
            "statement",
            "timeout",
            "warehouse"
        ]
    );
    let anonymous = env.app.get("/v1/tools", None).await;
    assert_error(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn execute_query_returns_typed_tpch_rows_with_bindings() {
    let (env, key) = tools_env(None).await;
    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({
            "statement": "SELECT O_ORDERKEY, O_CUSTKEY, O_TOTALPRICE, O_ORDERDATE, O_CLERK, O_COMMENT \
                          FROM ORDERS WHERE O_ORDERKEY <= ? ORDER BY O_ORDERKEY",
            "bindings": {"1": {"type": "FIXED", "value": 3}},
        }),
    )
    .await;
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["num_rows"], 3);
    assert_eq!(data["total_rows"], 3);
    assert_eq!(data["partitions"], json!({"total": 1, "returned": 1}));
    assert_eq!(data["truncated"], false);
    assert_eq!(
        data["columns"][2],
        json!({"name": "O_TOTALPRICE", "type": "fixed", "nullable": false, "precision": 12, "scale": 2})
    );
    assert_eq!(data["columns"][3]["type"], "date");
    // dbgen's first order (PROTOCOL.md E.2).
    assert_eq!(
        data["rows"][0],
        json!({"O_ORDERKEY": 1, "O_CUSTKEY": 370, "O_TOTALPRICE": 172799.49,
               "O_ORDERDATE": "1996-01-02", "O_CLERK": "Clerk#000000951",
               "O_COMMENT": "nstructions sleep furiously among "})
    );
    assert_eq!(column(&data, "O_ORDERKEY"), [json!(1), json!(2), json!(3)]);
    assert!(data["statement_handle"].as_str().unwrap().len() == 36);
}

#[tokio::test]
async fn every_snowflake_type_comes_back_typed_over_http() {
    let (env, key) = tools_env(None).await;
    // snowsim stores numbers in SQLite (64-bit), so the widest exact value over HTTP is i64::MAX;
    // 38-digit values are covered by the decoding table in src/tools/decode.rs.
    let statement = "SELECT CAST(9223372036854775807 AS NUMBER(38,0)) AS BIG, \
        CAST(-7 AS NUMBER(38,0)) AS SMALL, CAST(1.5 AS NUMBER(10,2)) AS DEC, \
        CAST(2.25 AS DOUBLE) AS DBL, 'text' AS TXT, TRUE AS BOOL, \
        TO_DATE('1969-07-20') AS OLD_DATE, TO_TIME('23:01:59') AS T, \
        TO_TIMESTAMP_NTZ('1900-01-01 00:00:00.123') AS NTZ, \
        TO_TIMESTAMP_TZ('2021-03-19 18:06:59 +01:00') AS TZ, \
        PARSE_JSON('{\"a\": [1, 2]}') AS V, TO_BINARY('ABCD', 'HEX') AS BIN, \
        CAST(NULL AS NUMBER(38,0)) AS MISSING";
    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": statement}),
    )
    .await;
    let row = &data["rows"][0];
    assert_eq!(row["BIG"], "9223372036854775807", "{data}");
    assert_eq!(row["SMALL"], -7);
    assert_eq!(row["DEC"], 1.5);
    assert_eq!(row["DBL"], 2.25);
    assert_eq!(row["TXT"], "text");
    assert_eq!(row["BOOL"], true);
    assert_eq!(row["OLD_DATE"], "1969-07-20");
    assert_eq!(row["T"], "23:01:59.000000000");
    assert_eq!(row["NTZ"], "1900-01-01T00:00:00.123000000");
    assert_eq!(row["TZ"], "2021-03-19T18:06:59.000000000+01:00");
    assert_eq!(row["V"], json!({"a": [1, 2]}));
    assert_eq!(row["BIN"], "q80=");
    assert_eq!(row["MISSING"], Value::Null);

    // nullable=false: Snowflake sends "null"; the typed result still says null.
    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT CAST(NULL AS NUMBER(38,0)) AS N, CAST(NULL AS VARCHAR) AS S", "nullable": false}),
    )
    .await;
    assert_eq!(data["rows"][0], json!({"N": null, "S": "null"}));
}

#[tokio::test]
async fn partitions_are_followed_up_to_the_row_cap_and_the_rest_fetched_by_number() {
    let mut config = SimConfig::demo();
    config.partition_rows = 1000;
    let (env, key) = tools_env(Some(config)).await;

    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT O_ORDERKEY FROM ORDERS ORDER BY O_ORDERKEY LIMIT 2500"}),
    )
    .await;
    assert_eq!(data["partitions"], json!({"total": 3, "returned": 3}));
    assert_eq!(data["num_rows"], 2500);
    assert_eq!(data["truncated"], false);
    let keys = column(&data, "O_ORDERKEY");
    assert!(keys.windows(2).all(|w| w[0].as_i64() < w[1].as_i64()));

    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT L_ORDERKEY, L_LINENUMBER FROM LINEITEM ORDER BY 1, 2"}),
    )
    .await;
    assert_eq!(data["total_rows"], 60175);
    assert_eq!(data["num_rows"], 10_000);
    assert_eq!(data["truncated"], true);
    assert_eq!(data["next_partition"], 10);
    assert_eq!(data["partitions"], json!({"total": 61, "returned": 10}));
    let handle = data["statement_handle"].as_str().unwrap().to_owned();
    assert!(data["message"].as_str().unwrap().contains(&handle));

    let part = tool(
        &env,
        &key,
        "snowflake_get_partition",
        json!({"statement_handle": handle, "partition": 60}),
    )
    .await;
    assert_eq!(part["partition"], 60);
    assert_eq!(part["num_rows"], 175);
    assert_eq!(part["columns"][0]["name"], "L_ORDERKEY");
    assert!(part["rows"][0]["L_ORDERKEY"].is_i64());

    let res = execute(
        &env,
        &key,
        json!({"tool_name": "snowflake_get_partition", "connection_name": "wh",
               "tool_input": {"statement_handle": handle, "partition": 61}}),
    )
    .await;
    let body = assert_error(res, 400, "invalid_tool_input").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("tool_input.partition"));
}

#[tokio::test]
async fn async_statements_can_be_polled_and_cancelled() {
    let (env, key) = tools_env(None).await;
    let data = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT SYSTEM$WAIT(30)", "async": true}),
    )
    .await;
    assert_eq!(data["status"], "running", "{data}");
    let handle = data["statement_handle"].as_str().unwrap().to_owned();

    let status = tool(
        &env,
        &key,
        "snowflake_get_statement_status",
        json!({"statement_handle": handle}),
    )
    .await;
    assert_eq!(status["status"], "running");

    let cancelled = tool(
        &env,
        &key,
        "snowflake_cancel_statement",
        json!({"statement_handle": handle}),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["code"], "000604");

    let res = execute(
        &env,
        &key,
        json!({"tool_name": "snowflake_get_statement_status", "connection_name": "wh",
               "tool_input": {"statement_handle": handle}}),
    )
    .await;
    let body = assert_error(res, 422, "statement_failed").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("000604"));

    // A finished statement's status is its typed result.
    let done = tool(
        &env,
        &key,
        "snowflake_execute_query",
        json!({"statement": "SELECT COUNT(*) AS N FROM NATION"}),
    )
    .await;
    let again = tool(
        &env,
        &key,
        "snowflake_get_statement_status",
        json!({"statement_handle": done["statement_handle"]}),
    )
    .await;
    assert_eq!(again["rows"], json!([{"N": 25}]));
}

#[tokio::test]
async fn only_the_submitting_key_may_poll_fetch_or_cancel_a_tool_statement() {
    let (env, owner) = tools_env(None).await;
    let (_, stranger) = env.app.create_key("service", &["wh"]).await;
    let data = tool(
        &env,
        &owner,
        "snowflake_execute_query",
        json!({"statement": "SELECT SYSTEM$WAIT(30)", "async": true}),
    )
    .await;
    let handle = data["statement_handle"].as_str().unwrap().to_owned();
    let status_url = format!(
        "{}/v1/connections/wh/api/v2/statements/{handle}",
        env.app.address
    );

    // Another key of the same connection (the same Snowflake user) is refused by every tool and
    // by the proxy, before Snowflake hears of it.
    env.sim.control().reset_counters();
    for (name, input) in [
        (
            "snowflake_get_statement_status",
            json!({"statement_handle": handle}),
        ),
        (
            "snowflake_get_partition",
            json!({"statement_handle": handle, "partition": 0}),
        ),
        (
            "snowflake_cancel_statement",
            json!({"statement_handle": handle}),
        ),
    ] {
        let res = execute(
            &env,
            &stranger,
            json!({"tool_name": name, "connection_name": "wh", "tool_input": input}),
        )
        .await;
        assert_error(res, 404, "statement_not_found").await;
    }
    let res = env
        .app
        .client
        .get(&status_url)
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "statement_not_found").await;
    let upstream: u64 = env.sim.control().counters().requests_by_path.values().sum();
    assert_eq!(upstream, 0, "refused before Snowflake");

    // The owner may poll the tool's statement through the proxy, and cancel it with the tool.
    let res = env
        .app
        .client
        .get(&status_url)
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let cancelled = tool(
        &env,
        &owner,
        "snowflake_cancel_statement",
        json!({"statement_handle": handle}),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
}

#[tokio::test]
async fn a_request_id_resubmitted_with_retry_runs_once() {
    let (env, key) = tools_env(None).await;
    let id = uuid::Uuid::new_v4().to_string();
    let input = json!({"statement": "SELECT 1 AS ONE", "request_id": id, "retry": true});
    tool(&env, &key, "snowflake_execute_query", input.clone()).await;
    let second = tool(&env, &key, "snowflake_execute_query", input).await;
    assert_eq!(second["rows"], json!([{"ONE": 1}]));
    assert_eq!(env.sim.control().counters().executions_for(&id), 1);
}
