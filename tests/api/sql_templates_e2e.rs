//! The templates rendered for real connections, executed by snowsim's account administration
//! SQL as an admin would paste them (statement by statement, as the SQL API takes one per
//! request): a keypair connection's describe, warehouse, authentication-policy and rotation
//! statements, and an OAuth connection's integration, secrets and redirect-URI check. The
//! enrolment and revoke statements the API returns are executed in `keypair.rs`/`oauth_flow.rs`.

use icebroker::connections::Connection;
use icebroker::sqltpl::{self, for_connection, Values};
use serde_json::{json, Value};

use crate::oauth_support;
use crate::sim::{run_admin_sql, spawn_with_snowsim, SimEnv};

async fn connection(env: &SimEnv, name: &str) -> Connection {
    let res = env
        .app
        .client
        .get(format!("{}/v1/connections/{name}", env.app.address))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    serde_json::from_value(body["connection"].clone()).unwrap()
}

/// Renders `template` and runs its statements in snowsim; returns each result body.
async fn run(env: &SimEnv, template: &str, values: &Values, only: usize) -> Vec<Value> {
    let rendered = sqltpl::render_parts(template, values).unwrap();
    let mut out = Vec::new();
    for statement in rendered.statements.iter().take(only) {
        out.push(env.admin_sql(statement).await);
    }
    out
}

#[tokio::test]
async fn keypair_templates_rendered_for_the_connection_run_in_snowsim() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("tpl").await;
    let conn = connection(&env, "tpl").await;
    let values = for_connection(&conn, Some(&env.app.address));
    let active = &conn.keypair.as_ref().unwrap().active;

    // DESC USER shows the fingerprint icebroker holds.
    let desc = run(&env, "keypair_desc_user", &values, 1).await;
    assert!(
        desc[0].to_string().contains(&active.fingerprint),
        "{}",
        desc[0]
    );

    // Warehouse check (SHOW … LIKE; RESULT_SCAN is not simulated) and the fix.
    let shown = run(&env, "warehouse_check_auto_resume", &values, 1).await;
    assert!(shown[0].to_string().contains("COMPUTE_WH"), "{}", shown[0]);
    run(&env, "warehouse_enable_auto_resume", &values, 1).await;

    // An authentication policy allowing KEYPAIR and OAUTH only, set on the user: the
    // connection still tests "connected" (its JWTs are KEYPAIR).
    let mut policy = values.clone();
    policy
        .set("policy_database", "GOVERNANCE")
        .set("policy_schema", "POLICIES")
        .set("policy", "icebroker_only");
    run(&env, "auth_policy_keypair_oauth", &policy, 2).await;
    let described = env
        .admin_sql("DESC AUTHENTICATION POLICY ICEBROKER_ONLY")
        .await
        .to_string();
    assert!(
        described.contains("KEYPAIR") && described.contains("OAUTH"),
        "{described}"
    );
    let (status, tested) = env.admin_post("/v1/connections/tpl/test").await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["connection"]["status"], "connected", "{tested}");

    // Rotation through the second slot, from the template, then the retired key removed.
    let (status, started) = env.admin_post("/v1/connections/tpl/rotate-key").await;
    assert_eq!(status, 200, "{started}");
    let rotating = for_connection(&connection(&env, "tpl").await, None);
    let next = rotating.get("next_public_key").unwrap().to_owned();
    let results = run(&env, "keypair_rotate_public_key", &rotating, 2).await;
    assert!(
        results[1]
            .to_string()
            .contains(started["enrollment"]["fingerprint"].as_str().unwrap()),
        "{}",
        results[1]
    );
    assert!(!next.is_empty());
    let (status, done) = env
        .admin_post("/v1/connections/tpl/rotate-key/complete")
        .await;
    assert_eq!(status, 200, "{done}");
    let after = for_connection(&connection(&env, "tpl").await, None);
    let unset = sqltpl::render_parts("keypair_unset_public_key", &after).unwrap();
    assert_eq!(
        unset.sql(),
        done["cleanup_sql"][0],
        "template and API agree"
    );
    env.admin_sql(&unset.statements[0]).await;
    let desc = run(&env, "keypair_desc_user", &after, 1).await[0].to_string();
    assert!(
        !desc.contains(&active.fingerprint),
        "the retired key is gone: {desc}"
    );
    let (_, tested) = env.admin_post("/v1/connections/tpl/test").await;
    assert_eq!(tested["connection"]["status"], "connected", "{tested}");
}

#[tokio::test]
async fn oauth_integration_created_from_the_brokers_sql_has_the_exact_redirect_uri() {
    let env = oauth_support::spawn(true).await;
    let body = env
        .create_connection(
            "eu",
            json!({ "integration": "icebroker_eu", "single_use_refresh_tokens": true }),
        )
        .await;
    let setup = &body["oauth_setup"];
    let admin = |sql: String| {
        let sim = &env.sim;
        async move { run_admin_sql(sim, &sql).await }
    };
    admin(setup["create_integration_sql"].as_str().unwrap().to_owned()).await;
    let secrets = admin(
        setup["show_client_secrets_sql"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
    .await
    .to_string();
    assert!(secrets.contains("OAUTH_CLIENT_ID") && secrets.contains("OAUTH_CLIENT_SECRET"));

    let conn = env.connection("eu");
    let values = for_connection(&conn, Some(&env.address));
    let check = sqltpl::render_parts("oauth_check_redirect_uri", &values).unwrap();
    let described = admin(check.statements[0].clone()).await;
    let rows = described["data"].as_array().unwrap();
    let property = |name: &str| {
        rows.iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} missing: {described}"))[2]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        property("OAUTH_REDIRECT_URI"),
        format!("{}/oauth/callback/eu", env.address)
    );
    assert_eq!(property("OAUTH_ENFORCE_PKCE"), "true");
    assert_eq!(property("OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED"), "true");
    let blocked = property("BLOCKED_ROLES_LIST");
    assert!(blocked.contains("SECURITYADMIN"), "{blocked}");
    // The second statement compares the value with the very literal icebroker renders.
    assert!(check.statements[1].contains(&format!("= '{}/oauth/callback/eu'", env.address)));
}
