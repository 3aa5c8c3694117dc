//! The OAuth authorization server, driven through its login and consent forms over HTTP.

use icebroker::snowsim::demo::DEMO_REDIRECT_URI;

use super::helpers::*;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub async fn exchange(
    sim: &TestSim,
    code: &str,
    verifier: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEMO_REDIRECT_URI),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form.extend_from_slice(extra);
    sim.demo_token_request(&form).await
}

pub async fn code_with_pkce(sim: &TestSim, scope: &str) -> String {
    let challenge = s256(VERIFIER);
    let mut params = demo_authorize_params(scope, "st-1");
    params.push(("code_challenge", &challenge));
    params.push(("code_challenge_method", "S256"));
    let q = sim.code_flow(&params, "jsmith", "jsmith-pass").await;
    assert_eq!(param(&q, "state"), Some("st-1"));
    param(&q, "code").unwrap().to_owned()
}

fn with_pkce<'a>(scope: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p = demo_authorize_params(scope, "s");
    p.push(("code_challenge", challenge));
    p.push(("code_challenge_method", "S256"));
    p
}

pub fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn code_flow_with_pkce_issues_exactly_snowflakes_token_fields() {
    let sim = spawn_demo().await;
    let challenge = s256(VERIFIER);
    let mut params = demo_authorize_params("refresh_token session:role:ANALYST", "xyz");
    params.push(("code_challenge", &challenge));
    params.push(("code_challenge_method", "S256"));
    let q = sim.code_flow(&params, "JSMITH", "jsmith-pass").await;
    assert_eq!(param(&q, "state"), Some("xyz"));
    assert_eq!(
        param(&q, "scope"),
        Some("refresh_token session:role:ANALYST")
    );
    let code = param(&q, "code").unwrap();

    let (status, body) = exchange(&sim, code, Some(VERIFIER), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "expires_in",
            "idpInitiated",
            "refresh_token",
            "refresh_token_expires_in",
            "scope",
            "token_type",
            "username"
        ]
    );
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("ver:1-hint:"));
    assert!(body["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("ver:2-hint:"));
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["idpInitiated"], false);
    assert_eq!(body["username"], "JSMITH");
    assert_eq!(body["refresh_token_expires_in"], 7_776_000);

    // The access token works on the SQL API with the consented role.
    let at = body["access_token"].as_str().unwrap();
    let r = sim.sql(at, "SELECT CURRENT_ROLE()").await;
    assert_ne!(r.status, 401, "{}", r.text());
}

#[tokio::test]
async fn pkce_verifier_is_checked_and_required_once_a_challenge_was_sent() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (s, b) = exchange(&sim, &code, None, &[]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );
    let code = code_with_pkce(&sim, "refresh_token").await;
    let wrong = "x".repeat(43);
    let (s, b) = exchange(&sim, &code, Some(&wrong), &[]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    assert_eq!(b["success"], false);
    assert!(b["data"].is_null() && b["code"].is_null());

    // A verifier for a code that had no challenge is a downgrade attempt.
    let q = sim
        .code_flow(
            &demo_authorize_params("refresh_token", "s"),
            "jsmith",
            "jsmith-pass",
        )
        .await;
    let (s, b) = exchange(&sim, param(&q, "code").unwrap(), Some(VERIFIER), &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn authorize_errors_render_snowflake_error_pages_with_their_codes() {
    let mut cfg = config();
    cfg.accounts[0].integrations[0].enforce_pkce = true;
    let sim = spawn(cfg).await;
    let challenge = s256(VERIFIER);
    let base = |scope: &'static str| with_pkce(scope, &challenge);
    let long_state = "a".repeat(2049);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "390306",
            base("refresh_token")
                .into_iter()
                .map(|(k, v)| {
                    if k == "client_id" {
                        (k, "nope")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        (
            "390304",
            base("refresh_token")
                .into_iter()
                .map(|(k, v)| {
                    if k == "response_type" {
                        (k, "token")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        (
            "390307",
            base("refresh_token")
                .into_iter()
                .map(|(k, v)| {
                    if k == "redirect_uri" {
                        (k, "http://127.0.0.1:8099/other")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        (
            "390305",
            base("refresh_token")
                .into_iter()
                .map(|(k, v)| {
                    if k == "state" {
                        (k, long_state.as_str())
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        ("390308", base("offline_access")),
        ("390308", base("session:role:NO_SUCH_ROLE")),
        ("390308", base("session:role:ACCOUNTADMIN")),
        ("390308", base("session:role:ANALYST session:role:REPORTER")),
        (
            "390311",
            base("refresh_token")
                .into_iter()
                .map(|(k, v)| {
                    if k == "code_challenge_method" {
                        (k, "plain")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        ("390311", demo_authorize_params("refresh_token", "s")),
    ];
    for (code, params) in cases {
        let page = sim.authorize(&params).await;
        assert_eq!(page.status, 400, "expected {code}: {}", page.text());
        assert_eq!(error_code(&page.text()), code, "{params:?}");
        assert!(page.header("location").is_none());
    }
    // The redirect URI's own query string is ignored when matching.
    let mut p = base("refresh_token");
    p.retain(|(k, _)| *k != "redirect_uri");
    let with_query = format!("{DEMO_REDIRECT_URI}?tenant=7");
    p.push(("redirect_uri", &with_query));
    assert_eq!(sim.authorize(&p).await.status, 200);
    // A forged or replayed form token is an invalid consent request.
    let r = sim
        .post_form(&[("form_token", "forged"), ("action", "allow")])
        .await;
    assert_eq!(error_code(&r.text()), "390302");
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_and_a_role_the_user_lacks_fails_after_login() {
    let sim = spawn_demo().await;
    let page = sim
        .authorize(&demo_authorize_params("session:role:SYSADMIN", "s"))
        .await;
    assert_eq!(page.status, 200);
    let again = sim.login(&page, "jsmith", "wrong").await;
    assert_eq!(again.status, 200);
    assert!(again.text().contains("Incorrect username or password"));
    let failed = sim.login(&again, "jsmith", "jsmith-pass").await;
    assert_eq!(failed.status, 400);
    assert_eq!(error_code(&failed.text()), "390308");
    // ADMIN's default role ACCOUNTADMIN is blocked even without a role scope.
    let page = sim
        .authorize(&demo_authorize_params("refresh_token", "s"))
        .await;
    let blocked = sim.login(&page, "admin", "admin-pass").await;
    assert_eq!(error_code(&blocked.text()), "390308");
}
