//! SQL API status paths: 200, 202 → poll → 200, 408, 422, 400, 401, 403, 404, 405, 406, 415, 429,
//! cancel; multi-statement; session rules; nullable; handle ownership. Every SQL API body is
//! validated against sqlapi.yaml by the helpers.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::helpers::*;

fn is_handle(s: &str) -> bool {
    let g: Vec<&str> = s.split('-').collect();
    g.len() == 5 && g.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n)
}

#[tokio::test]
async fn select_one_answers_a_snowflake_result_set() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let rid = uuid::Uuid::new_v4().to_string();
    let r = sim
        .submit(
            &token,
            json!({"statement": "SELECT 1"}),
            &format!("requestId={rid}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["code"], "090001");
    assert_eq!(b["sqlState"], "00000");
    assert_eq!(b["message"], "Statement executed successfully.");
    assert_eq!(b["requestId"], rid.as_str());
    assert_eq!(b["data"], json!([["1"]]));
    let handle = b["statementHandle"].as_str().unwrap();
    assert!(is_handle(handle), "{handle}");
    assert_eq!(
        b["statementStatusUrl"],
        format!("/api/v2/statements/{handle}?requestId={rid}")
    );
    assert!(b["createdOn"].as_u64().unwrap() > 1_600_000_000_000);
    let meta = &b["resultSetMetaData"];
    assert_eq!(meta["numRows"], 1);
    assert_eq!(meta["format"], "jsonv2");
    assert_eq!(meta["partitionInfo"][0]["rowCount"], 1);
    assert_eq!(meta["rowType"][0]["type"], "fixed");
    let link = r.header("link").unwrap();
    assert!(
        link.contains(&format!(
            "</api/v2/statements/{handle}?requestId={rid}&partition=0>; rel=\"first\""
        )),
        "{link}"
    );
    // The same result through GET.
    let g = sim.status(&token, handle, "").await;
    assert_eq!((g.status, g.json()["data"].clone()), (200, json!([["1"]])));
}

#[tokio::test]
async fn async_submission_answers_202_and_polling_reaches_200() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .submit(
            &token,
            json!({"statement": "SELECT SYSTEM$WAIT(1)"}),
            "async=true",
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let b = r.json();
    assert_eq!(b["code"], "333334");
    let handle = b["statementHandle"].as_str().unwrap();
    assert_eq!(sim.status(&token, handle, "").await.status, 202);
    let done = sim.poll(&token, handle).await;
    assert_eq!(done.status, 200, "{}", done.text());
}

#[tokio::test]
async fn a_statement_outliving_the_sync_window_answers_202() {
    let sim = spawn_demo().await;
    sim.sim.set_sync_window(Duration::from_millis(200));
    let token = sim.token("JSMITH", None);
    let r = sim.sql(&token, "SELECT SYSTEM$WAIT(2)").await;
    assert_eq!(r.status, 202, "{}", r.text());
    let handle = r.json()["statementHandle"].as_str().unwrap().to_owned();
    assert_eq!(sim.poll(&token, &handle).await.status, 200);
}

#[tokio::test]
async fn exceeding_the_timeout_answers_408_and_cancels_the_statement() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .submit(
            &token,
            json!({"statement": "SELECT SYSTEM$WAIT(5)", "timeout": 1}),
            "",
        )
        .await;
    assert_eq!(r.status, 408, "{}", r.text());
    let handle = r.json()["statementHandle"].as_str().unwrap().to_owned();
    let g = sim.status(&token, &handle, "").await;
    assert_eq!((g.status, g.json()["code"].as_str()), (422, Some("000630")));
}

#[tokio::test]
async fn a_failing_statement_answers_422_with_code_sqlstate_and_handle() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let r = sim.sql(&token, "SELEC 1").await;
    assert_eq!(r.status, 422, "{}", r.text());
    let b = r.json();
    assert!(b["code"].as_str().unwrap().len() == 6, "{b}");
    assert!(b["sqlState"].is_string());
    assert!(is_handle(b["statementHandle"].as_str().unwrap()));
}

#[tokio::test]
async fn malformed_requests_answer_400_390142() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    for body in [
        json!({}),
        json!({"statement": 1}),
        json!({"statement": "SELECT 1", "timeout": -1}),
        json!({"statement": "SELECT 1", "bindings": {"1": {"type": "FIXED", "value": 1}}}),
    ] {
        let r = sim.submit(&token, body.clone(), "").await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some("390142")),
            "{body}"
        );
    }
    let bad_json = sim
        .client
        .post(format!("{}/api/v2/statements", sim.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", UA)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    for q in ["requestId=not-a-uuid", "async=maybe", "nullable=2"] {
        let r = sim
            .submit(&token, json!({"statement": "SELECT 1"}), q)
            .await;
        assert_eq!(r.status, 400, "{q}");
    }
    let no_ua = sim
        .client
        .post(format!("{}/api/v2/statements", sim.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(r#"{"statement":"SELECT 1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(no_ua.status(), 400, "User-Agent is required");
}

#[tokio::test]
async fn headers_paths_and_methods_answer_401_403_404_405_406_415() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let body = json!({"statement": "SELECT 1"});
    let r = sim
        .api(Method::POST, "/api/v2/statements", None, Some(&body), &[])
        .await;
    assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("390303")));
    let r = sim
        .api(
            Method::POST,
            "/api/v2/statements",
            Some("ver:1-hint:123-bogus"),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("390303")));
    let r = sim
        .api(
            Method::POST,
            "/api/v2/statements",
            Some(&token),
            Some(&body),
            &[("Content-Type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, 415);
    let r = sim
        .api(
            Method::POST,
            "/api/v2/statements",
            Some(&token),
            Some(&body),
            &[("Accept", "application/xml")],
        )
        .await;
    assert_eq!(r.status, 406);
    let r = sim
        .api(Method::GET, "/api/v2/statements", Some(&token), None, &[])
        .await;
    assert_eq!((r.status, r.body.len()), (405, 0));
    let r = sim
        .api(
            Method::DELETE,
            "/api/v2/statements/01b03285-0001-dea1-003d-b087000ca9be",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!((r.status, r.body.len()), (405, 0));
    let r = sim
        .api(Method::GET, "/api/v2/statementz", Some(&token), None, &[])
        .await;
    assert_eq!((r.status, r.body.len()), (404, 0));

    sim.sim.set_sql_api_enabled(false);
    assert_eq!(sim.sql(&token, "SELECT 1").await.status, 403);
}

#[tokio::test]
async fn injected_429_carries_snowflakes_body_and_retry_after() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    sim.sim.inject_fault(icebroker::snowsim::FaultSpec {
        kind: icebroker::snowsim::FaultKind::Status {
            status: 429,
            retry_after_secs: Some(3),
        },
        path_prefix: Some("/api/v2/statements".into()),
        count: Some(1),
    });
    let r = sim.sql(&token, "SELECT 1").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(
        r.json(),
        json!({"code": "390505", "message": "Too many requests."})
    );
    assert_eq!(
        sim.sql(&token, "SELECT 1").await.status,
        200,
        "the fault was for one request"
    );
}

#[tokio::test]
async fn cancel_stops_a_running_statement() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .submit(
            &token,
            json!({"statement": "SELECT SYSTEM$WAIT(10)"}),
            "async=true",
        )
        .await;
    let handle = r.json()["statementHandle"].as_str().unwrap().to_owned();
    let c = sim.cancel(&token, &handle).await;
    assert_eq!((c.status, c.json()["code"].as_str()), (200, Some("000604")));
    let g = sim.status(&token, &handle, "").await;
    assert_eq!((g.status, g.json()["code"].as_str()), (422, Some("000604")));
    let unknown = "01b03285-0001-dea1-003d-b087000ca9be";
    let c = sim.cancel(&token, unknown).await;
    assert_eq!((c.status, c.json()["code"].as_str()), (422, Some("000709")));
    let g = sim.status(&token, unknown, "").await;
    assert_eq!(g.status, 422);
}

#[tokio::test]
async fn multi_statement_requests_follow_multi_statement_count() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let body =
        json!({"statement": "SELECT 1; SELECT 2", "parameters": {"MULTI_STATEMENT_COUNT": "2"}});
    let r = sim.submit(&token, body, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(
        b["data"],
        json!([["Multiple statements executed successfully."]])
    );
    let children: Vec<String> = b["statementHandles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 2);
    let second = sim.status(&token, &children[1], "").await;
    assert_eq!(second.json()["data"], json!([["2"]]));

    let r = sim.sql(&token, "SELECT 1; SELECT 2").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["message"],
        "Actual statement count 2 did not match the desired statement count 1."
    );
    let r = sim.submit(&token, json!({"statement": "SELECT 1; SELEC 2; SELECT 3", "parameters": {"multi_statement_count": 0}}), "").await;
    assert_eq!(r.status, 422, "{}", r.text());
}

#[tokio::test]
async fn session_roles_warehouses_and_namespaces_follow_snowflakes_rules() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", Some("ANALYST"));
    let q = |extra: serde_json::Value| {
        let mut b = json!({"statement": "SELECT COUNT(*) FROM NATION"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let cases = [
        (json!({"role": "SYSADMIN"}), "390189"),
        (json!({"role": "REPORTER"}), "390189"),
        (json!({"role": "analyst"}), "390189"),
        (json!({"warehouse": "SLEEPY_WH"}), "000606"),
        (json!({"warehouse": "compute_wh"}), "000606"),
        (json!({"database": "NO_SUCH_DB"}), "002043"),
        (json!({"database": "snowflake_sample_data"}), "002043"),
    ];
    for (extra, code) in cases {
        let r = sim.submit(&token, q(extra.clone()), "").await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (422, Some(code)),
            "{extra}: {}",
            r.text()
        );
    }
    let ok = sim.submit(&token, q(json!({"warehouse": "AUTO_WH", "database": "SNOWFLAKE_SAMPLE_DATA", "schema": "TPCH_SF1", "role": "ANALYST"})), "").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    // A keypair or OAuth session without the role field runs with the consented/default role.
    let r = sim.sql(&token, "SELECT CURRENT_ROLE()").await;
    assert_eq!(r.json()["data"], json!([["ANALYST"]]));
}

#[tokio::test]
async fn nullable_false_renders_null_as_the_string_null() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let r = sim
        .submit(
            &token,
            json!({"statement": "SELECT NULL"}),
            "nullable=false",
        )
        .await;
    assert_eq!(r.json()["data"], json!([["null"]]));
    let r = sim.sql(&token, "SELECT NULL").await;
    assert_eq!(r.json()["data"], json!([[null]]));
}

#[tokio::test]
async fn handles_belong_to_the_user_who_created_them() {
    let sim = spawn_demo().await;
    let jsmith = sim.token("JSMITH", None);
    let bob = sim.token("BOB", None);
    let r = sim.sql(&jsmith, "SELECT 1").await;
    let handle = r.json()["statementHandle"].as_str().unwrap().to_owned();
    let g = sim.status(&bob, &handle, "").await;
    assert_eq!((g.status, g.json()["code"].as_str()), (422, Some("000709")));
}

#[tokio::test]
async fn bindings_are_applied() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let body = json!({"statement": "SELECT ? + 1, ?", "bindings": {"1": {"type": "FIXED", "value": "41"}, "2": {"type": "TEXT", "value": "x"}}});
    let r = sim.submit(&token, body, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"], json!([["42", "x"]]));
}

#[tokio::test]
async fn the_account_comes_from_the_host_header() {
    let sim = spawn_demo().await;
    let token = sim.token("JSMITH", None);
    let body = json!({"statement": "SELECT 1"});
    for (host, status) in [
        ("xy12345.us-east-2.aws.snowflakecomputing.com", 200),
        ("XY12345.snowflakecomputing.com:443", 200),
        ("myorg-myaccount.snowflakecomputing.com", 200),
        ("other.snowflakecomputing.com", 404),
        ("xy12345.eu-west-1.snowflakecomputing.com", 404),
    ] {
        let r = sim
            .api(
                Method::POST,
                "/api/v2/statements",
                Some(&token),
                Some(&body),
                &[("Host", host)],
            )
            .await;
        assert_eq!(r.status, status, "{host}");
    }
}
