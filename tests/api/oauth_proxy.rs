//! The SQL API proxy for OAuth end users: statements run with the user's own token; a token that
//! Snowflake expired early is refreshed once and the statement resubmitted (executed once); a
//! refresh storm through the proxy makes one refresh; a revoked grant is
//! `reauthorization_required`.

use serde_json::{json, Value};

use crate::helpers::assert_error;
use crate::oauth_support::{spawn, OAuthEnv};

async fn submit(env: &OAuthEnv, identifier: &str, statement: &str) -> reqwest::Response {
    env.client
        .post(format!(
            "{}/v1/connections/sales/accounts/{identifier}/api/v2/statements",
            env.address
        ))
        .bearer_auth(&env.service_key)
        .json(&json!({ "statement": statement }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn statements_run_as_the_end_user_and_an_upstream_401_refreshes_once() {
    let env = spawn(false).await;
    assert_eq!(env.connect("alice").await.status(), 303);
    let res = submit(&env, "alice", "SELECT CURRENT_USER(), CURRENT_ROLE()").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0][0], "JSMITH");
    assert_eq!(body["data"][0][1], "ANALYST");

    let refreshes = env.refresh_grants();
    env.sim.control().expire_access_tokens();
    env.sim.control().reset_counters();
    let id = uuid::Uuid::new_v4().to_string();
    let res = env
        .client
        .post(format!(
            "{}/v1/connections/sales/accounts/alice/api/v2/statements?requestId={id}",
            env.address
        ))
        .bearer_auth(&env.service_key)
        .json(&json!({ "statement": "SELECT 1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(env.refresh_grants(), refreshes + 1, "exactly one refresh");
    assert_eq!(env.sim.control().counters().executions_for(&id), 1);
}

#[tokio::test]
async fn a_refresh_storm_through_the_proxy_refreshes_once_with_single_use_tokens() {
    let env = spawn(true).await;
    assert_eq!(env.connect("bob").await.status(), 303);
    env.sim.control().expire_access_tokens();
    let before = env.refresh_grants();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (client, url, key) = (
            env.client.clone(),
            format!(
                "{}/v1/connections/sales/accounts/bob/api/v2/statements",
                env.address
            ),
            env.service_key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({ "statement": "SELECT 1" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 200);
    assert_eq!(
        env.refresh_grants() - before,
        1,
        "one refresh for 200 requests"
    );
    assert_eq!(env.account("bob").await["status"], "active");
}

#[tokio::test]
async fn a_revoked_grant_answers_reauthorization_required_and_unknown_users_409() {
    let env = spawn(false).await;
    assert_eq!(env.connect("carol").await.status(), 303);
    env.sim.control().revoke_refresh_tokens("JSMITH");
    env.sim.control().expire_access_tokens();
    let res = submit(&env, "carol", "SELECT 1").await;
    let body = assert_error(res, 401, "reauthorization_required").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("authorization link"));
    assert_eq!(env.account("carol").await["status"], "expired");
    assert_error(
        submit(&env, "nobody", "SELECT 1").await,
        409,
        "account_not_connected",
    )
    .await;
}

#[tokio::test]
async fn one_end_users_statement_is_not_readable_as_another() {
    let env = spawn(false).await;
    assert_eq!(env.connect("alice").await.status(), 303);
    assert_eq!(env.connect("bob").await.status(), 303);
    let res = submit(&env, "alice", "SELECT 1").await;
    assert_eq!(res.status(), 200);
    let handle = res.json::<Value>().await.unwrap()["statementHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = |who: &str| {
        env.client
            .get(format!(
                "{}/v1/connections/sales/accounts/{who}/api/v2/statements/{handle}",
                env.address
            ))
            .bearer_auth(&env.service_key)
            .send()
    };
    assert_error(status("bob").await.unwrap(), 404, "statement_not_found").await;
    assert_eq!(status("alice").await.unwrap().status(), 200);
}

#[tokio::test]
async fn end_user_segments_are_percent_decoded_and_each_path_has_one_method() {
    let env = spawn(false).await;
    assert_eq!(env.connect("dana@example.com").await.status(), 303);
    for encoded in [
        "dana%40example.com",
        "dana@example.com",
        "%64ana%40example.com",
    ] {
        let res = submit(&env, encoded, "SELECT CURRENT_USER()").await;
        assert_eq!(
            res.status(),
            200,
            "{encoded}: {}",
            res.text().await.unwrap()
        );
    }
    env.sim.control().reset_counters();
    let base = format!("{}/v1/connections/sales/accounts", env.address);
    let wrong_method = env
        .client
        .get(format!("{base}/dana%40example.com/api/v2/statements"))
        .bearer_auth(&env.service_key)
        .send()
        .await
        .unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    let unauthenticated = env
        .client
        .post(format!("{base}/dana%40example.com/api/v2/statements"))
        .json(&json!({ "statement": "SELECT 1" }))
        .send()
        .await
        .unwrap();
    assert_error(unauthenticated, 401, "unauthorized").await;
    for malformed in ["dana%4", "dana%zz", "%c0%ae"] {
        let res = submit(&env, malformed, "SELECT 1").await;
        assert_error(res, 404, "route_not_found").await;
    }
    let upstream: u64 = env.sim.control().counters().requests_by_path.values().sum();
    assert_eq!(upstream, 0, "refused calls never reach Snowflake");
}
