//! `ALTER WAREHOUSE`, OAuth security integrations created by SQL (driven through the browser
//! flow and the token endpoint) and delegated authorizations.

use serde_json::{json, Value};

use super::admin_helpers::*;
use super::helpers::*;
use icebroker::snowsim::demo::DEMO_REDIRECT_URI;

#[tokio::test]
async fn alter_warehouse_resume_and_suspend_decide_whether_statements_run() {
    let sim = spawn_demo().await;
    let jsmith = sim.token("JSMITH", Some("ANALYST"));
    let query = json!({"statement": "SELECT COUNT(*) FROM NATION", "warehouse": "SLEEPY_WH"});
    let r = sim.submit(&jsmith, query.clone(), "").await;
    assert_sql_error(&r, "000606", "57P03", "No active warehouse");

    let bob = sim.token("BOB", Some("REPORTER"));
    let r = run(&sim, &bob, "ALTER WAREHOUSE SLEEPY_WH RESUME").await;
    assert_sql_error(
        &r,
        "003001",
        "42501",
        "Insufficient privileges to operate on warehouse 'SLEEPY_WH'",
    );
    let sysadmin = sim.token("ADMIN", Some("SYSADMIN"));
    let r = run(&sim, &sysadmin, "alter warehouse sleepy_wh resume").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let show = rows(&run(&sim, &sysadmin, "SHOW WAREHOUSES LIKE 'SLEEPY_WH'").await);
    assert_eq!(show[0][1].as_deref(), Some("STARTED"), "{show:?}");
    assert_eq!(sim.submit(&jsmith, query.clone(), "").await.status, 200);
    // Resuming a running warehouse is an invalid state unless IF SUSPENDED is said.
    assert_eq!(
        run(&sim, &sysadmin, "ALTER WAREHOUSE SLEEPY_WH RESUME")
            .await
            .status,
        422
    );
    let r = run(
        &sim,
        &sysadmin,
        "ALTER WAREHOUSE SLEEPY_WH RESUME IF SUSPENDED",
    )
    .await;
    assert_eq!(r.status, 200);

    run(&sim, &sysadmin, "ALTER WAREHOUSE SLEEPY_WH SUSPEND").await;
    assert_eq!(sim.submit(&jsmith, query.clone(), "").await.status, 422);
    let r = run(
        &sim,
        &sysadmin,
        "ALTER WAREHOUSE SLEEPY_WH SET AUTO_RESUME = TRUE",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sim.submit(&jsmith, query, "").await.status, 200);
    let show = rows(&run(&sim, &sysadmin, "SHOW WAREHOUSES LIKE 'SLEEPY_WH'").await);
    assert!(
        show[0].contains(&Some("true".to_owned())),
        "auto_resume: {show:?}"
    );

    let r = run(&sim, &sysadmin, "ALTER WAREHOUSE NOPE SUSPEND").await;
    assert_sql_error(
        &r,
        "002003",
        "02000",
        "Warehouse 'NOPE' does not exist or not authorized.",
    );
    let r = run(&sim, &sysadmin, "ALTER WAREHOUSE IF EXISTS NOPE SUSPEND").await;
    assert_eq!(r.status, 200);
    sim.sim.stop().await;
}

const CREATE: &str = "CREATE SECURITY INTEGRATION broker_oauth
  TYPE = OAUTH
  ENABLED = TRUE
  OAUTH_CLIENT = CUSTOM
  OAUTH_CLIENT_TYPE = 'CONFIDENTIAL'
  OAUTH_REDIRECT_URI = '{redirect}'
  OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE
  OAUTH_ENFORCE_PKCE = TRUE
  OAUTH_ISSUE_REFRESH_TOKENS = TRUE
  OAUTH_REFRESH_TOKEN_VALIDITY = 86400
  OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED = FALSE
  BLOCKED_ROLES_LIST = ('SYSADMIN')
  COMMENT = 'made by the test';";

async fn secrets(sim: &TestSim, name: &str) -> Value {
    let token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    let sql = format!("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{name}')");
    let r = run(sim, &token, &sql).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let column = &r.json()["resultSetMetaData"]["rowType"][0]["name"];
    assert_eq!(
        column,
        &format!("SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{name}')")
    );
    let text = scalar(&r);
    assert!(
        text.as_str()
            .unwrap()
            .starts_with("{\"OAUTH_CLIENT_SECRET_2\":"),
        "{text}"
    );
    serde_json::from_str(text.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_security_integration_created_by_sql_completes_an_oauth_code_flow() {
    let sim = spawn_demo().await;
    let created = admin(&sim, &CREATE.replace("{redirect}", DEMO_REDIRECT_URI)).await;
    assert_eq!(
        created[0][0].as_deref(),
        Some("Integration BROKER_OAUTH successfully created.")
    );
    let s = secrets(&sim, "BROKER_OAUTH").await;
    let client_id = s["OAUTH_CLIENT_ID"].as_str().unwrap().to_owned();
    let secret = s["OAUTH_CLIENT_SECRET"].as_str().unwrap().to_owned();
    let secret_2 = s["OAUTH_CLIENT_SECRET_2"].as_str().unwrap().to_owned();
    assert_ne!(secret, secret_2);

    let d = admin(&sim, "DESC SECURITY INTEGRATION BROKER_OAUTH").await;
    assert_eq!(desc(&d, "OAUTH_CLIENT_ID", 2).as_deref(), Some(&*client_id));
    assert_eq!(
        desc(&d, "OAUTH_REDIRECT_URI", 2).as_deref(),
        Some(DEMO_REDIRECT_URI)
    );
    let authorize = format!("{}/oauth/authorize", sim.base);
    assert_eq!(
        desc(&d, "OAUTH_AUTHORIZATION_ENDPOINT", 2).as_deref(),
        Some(&*authorize)
    );
    let token_url = format!("{}/oauth/token-request", sim.base);
    assert_eq!(
        desc(&d, "OAUTH_TOKEN_ENDPOINT", 2).as_deref(),
        Some(&*token_url)
    );
    assert_eq!(desc(&d, "OAUTH_ENFORCE_PKCE", 2).as_deref(), Some("true"));
    assert_eq!(
        desc(&d, "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED", 2).as_deref(),
        Some("false")
    );
    assert!(desc(&d, "BLOCKED_ROLES_LIST", 2)
        .unwrap()
        .contains("SYSADMIN"));
    let show = admin(&sim, "SHOW SECURITY INTEGRATIONS LIKE 'broker%'").await;
    assert_eq!(show.len(), 1);
    assert_eq!(show[0][1].as_deref(), Some("OAUTH - CUSTOM"));

    // The browser flow with PKCE (enforced), then the token endpoint with Basic credentials.
    let verifier = "a-verifier-that-is-long-enough-to-satisfy-rfc-7636-rules";
    let challenge = s256(verifier);
    let params = [
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("scope", "refresh_token session:role:ANALYST"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let back = sim.code_flow(&params, "jsmith", "jsmith-pass").await;
    let code = param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("code_verifier", verifier),
    ];
    let (status, body) = sim.token_request(&form, Some((&client_id, &secret))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token_expires_in"], 86400);
    let access = body["access_token"].as_str().unwrap();
    let r = run(&sim, access, "SELECT CURRENT_ROLE()").await;
    assert_eq!(scalar(&r), "ANALYST");
    // The rotation slot authenticates too.
    let refresh = body["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (status, body) = sim
        .token_request(&form, Some((&client_id, &secret_2)))
        .await;
    assert_eq!(status, 200, "{body}");
    sim.sim.stop().await;
}

#[tokio::test]
async fn integration_ddl_checks_privileges_values_and_replaces_credentials() {
    let sim = spawn_demo().await;
    let admin_token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    let https = CREATE.replace("{redirect}", "https://broker.example/oauth/callback/x");
    let bob = sim.token("BOB", Some("REPORTER"));
    let r = run(&sim, &bob, &https).await;
    assert_sql_error(
        &r,
        "003001",
        "42501",
        "Insufficient privileges to operate on account 'XY12345'",
    );
    let r = run(
        &sim,
        &bob,
        "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('ICEBROKER_OAUTH')",
    )
    .await;
    assert_sql_error(&r, "003001", "42501", "integration 'ICEBROKER_OAUTH'");

    let bad = [
        https.replace("86400", "3600"),
        CREATE
            .replace("{redirect}", "http://broker.example/cb")
            .replace("  OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE\n", ""),
        https.replace(
            "OAUTH_CLIENT_TYPE = 'CONFIDENTIAL'",
            "OAUTH_CLIENT_TYPE = 'SECRET'",
        ),
        https.replace("COMMENT", "NOT_A_PROPERTY"),
        "CREATE SECURITY INTEGRATION x TYPE = OAUTH OAUTH_CLIENT = CUSTOM".to_owned(),
    ];
    for sql in &bad {
        let r = run(&sim, &admin_token, sql).await;
        assert_eq!(r.status, 422, "{sql}: {}", r.text());
    }
    admin(&sim, &https).await;
    let r = run(&sim, &admin_token, &https).await;
    assert_sql_error(
        &r,
        "002002",
        "42710",
        "Object 'BROKER_OAUTH' already exists.",
    );
    let first = secrets(&sim, "BROKER_OAUTH").await;
    admin(&sim, &https.replace("CREATE", "CREATE OR REPLACE")).await;
    let second = secrets(&sim, "BROKER_OAUTH").await;
    assert_ne!(first["OAUTH_CLIENT_ID"], second["OAUTH_CLIENT_ID"]);

    // Disabled → the authorize endpoint no longer knows the client; dropped → gone.
    admin(
        &sim,
        "ALTER SECURITY INTEGRATION broker_oauth SET ENABLED = FALSE, OAUTH_ENFORCE_PKCE = FALSE",
    )
    .await;
    let d = admin(&sim, "DESC INTEGRATION BROKER_OAUTH").await;
    assert_eq!(desc(&d, "ENABLED", 2).as_deref(), Some("false"));
    let page = sim
        .authorize(&[
            ("client_id", second["OAUTH_CLIENT_ID"].as_str().unwrap()),
            ("response_type", "code"),
            ("redirect_uri", "https://broker.example/oauth/callback/x"),
        ])
        .await;
    assert_eq!(error_code(&page.text()), "390306");
    let r = run(
        &sim,
        &admin_token,
        "ALTER SECURITY INTEGRATION broker_oauth SET OAUTH_REFRESH_TOKEN_VALIDITY = 10",
    )
    .await;
    assert_eq!(r.status, 422);
    let dropped = admin(&sim, "DROP SECURITY INTEGRATION broker_oauth").await;
    assert_eq!(
        dropped[0][0].as_deref(),
        Some("BROKER_OAUTH successfully dropped.")
    );
    let r = run(&sim, &admin_token, "DESC SECURITY INTEGRATION BROKER_OAUTH").await;
    assert_sql_error(
        &r,
        "002003",
        "02000",
        "Integration 'BROKER_OAUTH' does not exist",
    );
    let r = run(
        &sim,
        &admin_token,
        "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('BROKER_OAUTH')",
    )
    .await;
    assert_sql_error(&r, "002003", "02000", "BROKER_OAUTH");
    sim.sim.stop().await;
}

#[tokio::test]
async fn remove_delegated_authorizations_kills_refresh_and_access_tokens() {
    let sim = spawn_demo().await;
    let back = sim
        .code_flow(
            &demo_authorize_params("refresh_token session:role:ANALYST", "s1"),
            "jsmith",
            "jsmith-pass",
        )
        .await;
    let code = param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEMO_REDIRECT_URI),
    ];
    let (status, body) = sim.demo_token_request(&form).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    assert_eq!(sim.demo_token_request(&refresh_form).await.0, 200);

    let listed = admin(&sim, "SHOW DELEGATED AUTHORIZATIONS BY USER JSMITH").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        &listed[0][1..],
        [
            Some("JSMITH".into()),
            Some("ANALYST".into()),
            Some("ICEBROKER_OAUTH".into())
        ]
    );

    let remove = "ALTER USER JSMITH REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION ICEBROKER_OAUTH";
    let r = run(&sim, &sim.token("BOB", Some("REPORTER")), remove).await;
    assert_sql_error(&r, "003001", "42501", "user 'JSMITH'");
    let r = run(
        &sim,
        &sim.token("ADMIN", Some("ACCOUNTADMIN")),
        &remove.replace("ICEBROKER_OAUTH", "NOPE"),
    )
    .await;
    assert_sql_error(&r, "002003", "02000", "Integration 'NOPE'");
    admin(&sim, &format!("{remove};")).await;

    let (status, body) = sim.demo_token_request(&refresh_form).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, "invalid_grant".into()),
        "{body}"
    );
    let r = run(&sim, &access, "SELECT 1").await;
    assert_eq!((r.status, r.json()["code"].clone()), (401, "390303".into()));
    let to = "SHOW DELEGATED AUTHORIZATIONS TO SECURITY INTEGRATION ICEBROKER_OAUTH";
    assert!(admin(&sim, to).await.is_empty());
    sim.sim.stop().await;
}
