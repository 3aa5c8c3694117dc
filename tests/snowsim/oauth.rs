//! The OAuth authorization server, driven through its login and consent forms over HTTP.

use icebroker::snowsim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REDIRECT_URI};
use icebroker::snowsim::model::OAuthIntegrationModel;

use super::helpers::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn exchange(sim: &TestSim, code: &str, verifier: Option<&str>, extra: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", DEMO_REDIRECT_URI)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form.extend_from_slice(extra);
    sim.demo_token_request(&form).await
}

async fn code_with_pkce(sim: &TestSim, scope: &str) -> String {
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

fn keys(v: &serde_json::Value) -> Vec<String> {
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
    assert_eq!(param(&q, "scope"), Some("refresh_token session:role:ANALYST"));
    let code = param(&q, "code").unwrap();

    let (status, body) = exchange(&sim, code, Some(VERIFIER), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        ["access_token", "expires_in", "idpInitiated", "refresh_token", "refresh_token_expires_in", "scope", "token_type", "username"]
    );
    assert!(body["access_token"].as_str().unwrap().starts_with("ver:1-hint:"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("ver:2-hint:"));
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
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "missing verifier");
    let code = code_with_pkce(&sim, "refresh_token").await;
    let wrong = "x".repeat(43);
    let (s, b) = exchange(&sim, &code, Some(&wrong), &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "wrong verifier");
    assert_eq!(b["success"], false);
    assert!(b["data"].is_null() && b["code"].is_null());

    // A verifier for a code that had no challenge is a downgrade attempt.
    let q = sim.code_flow(&demo_authorize_params("refresh_token", "s"), "jsmith", "jsmith-pass").await;
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
        ("390306", base("refresh_token").into_iter().map(|(k, v)| if k == "client_id" { (k, "nope") } else { (k, v) }).collect()),
        ("390304", base("refresh_token").into_iter().map(|(k, v)| if k == "response_type" { (k, "token") } else { (k, v) }).collect()),
        ("390307", base("refresh_token").into_iter().map(|(k, v)| if k == "redirect_uri" { (k, "http://127.0.0.1:8099/other") } else { (k, v) }).collect()),
        ("390305", base("refresh_token").into_iter().map(|(k, v)| if k == "state" { (k, long_state.as_str()) } else { (k, v) }).collect()),
        ("390308", base("offline_access")),
        ("390308", base("session:role:NO_SUCH_ROLE")),
        ("390308", base("session:role:ACCOUNTADMIN")),
        ("390308", base("session:role:ANALYST session:role:REPORTER")),
        ("390311", base("refresh_token").into_iter().map(|(k, v)| if k == "code_challenge_method" { (k, "plain") } else { (k, v) }).collect()),
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
    let r = sim.post_form(&[("form_token", "forged"), ("action", "allow")]).await;
    assert_eq!(error_code(&r.text()), "390302");
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_and_a_role_the_user_lacks_fails_after_login() {
    let sim = spawn_demo().await;
    let page = sim.authorize(&demo_authorize_params("session:role:SYSADMIN", "s")).await;
    assert_eq!(page.status, 200);
    let again = sim.login(&page, "jsmith", "wrong").await;
    assert_eq!(again.status, 200);
    assert!(again.text().contains("Incorrect username or password"));
    let failed = sim.login(&again, "jsmith", "jsmith-pass").await;
    assert_eq!(failed.status, 400);
    assert_eq!(error_code(&failed.text()), "390308");
    // ADMIN's default role ACCOUNTADMIN is blocked even without a role scope.
    let page = sim.authorize(&demo_authorize_params("refresh_token", "s")).await;
    let blocked = sim.login(&page, "admin", "admin-pass").await;
    assert_eq!(error_code(&blocked.text()), "390308");
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_it_issued() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (s, first) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!(s, 200);
    let (s, again) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!((s, again["error"].as_str()), (400, Some("invalid_grant")));
    let r = sim.sql(first["access_token"].as_str().unwrap(), "SELECT 1").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "390303");
    let rt = first["refresh_token"].as_str().unwrap();
    let (s, _) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn token_endpoint_checks_redirect_uri_client_auth_and_grant_type() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (s, b) = sim
        .demo_token_request(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "http://127.0.0.1:8099/oauth/callback?x=1"), ("code_verifier", VERIFIER)])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "redirect_uri must be exact");

    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", DEMO_REDIRECT_URI)];
    let (s, b) = sim.token_request(&form, None).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")), "no Basic auth");
    let with_secret = [("client_id", DEMO_CLIENT_ID), ("client_secret", DEMO_CLIENT_SECRET)];
    let (s, _) = sim.token_request(&[form.as_slice(), &with_secret].concat(), None).await;
    assert_eq!(s, 401, "client_secret_post is not supported");
    let encoded: String = url::form_urlencoded::byte_serialize(DEMO_CLIENT_SECRET.as_bytes()).collect();
    let (s, _) = sim.token_request(&form, Some((DEMO_CLIENT_ID, &encoded))).await;
    assert_eq!(s, 401, "a percent-encoded secret is a different secret");
    let (s, b) = sim.demo_token_request(&[("grant_type", "password")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unsupported_grant_type")));
}

#[tokio::test]
async fn reusable_refresh_tokens_return_only_an_access_token() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let rt = t["refresh_token"].as_str().unwrap();
    sim.sim.reset_counters();
    for _ in 0..2 {
        let (s, b) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(keys(&b), ["access_token", "expires_in", "idpInitiated", "token_type"]);
    }
    assert_eq!(sim.sim.counters().token_requests_for("refresh_token"), 2);
}

#[tokio::test]
async fn single_use_refresh_tokens_rotate_and_reuse_kills_every_token_of_the_user() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token session:role:ANALYST").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[("enable_single_use_refresh_tokens", "true")]).await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let (s, r2) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!(s, 200);
    let rt2 = r2["refresh_token"].as_str().expect("rotation returns a new refresh token").to_owned();
    assert_ne!(rt1, rt2);
    let at2 = r2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(sim.sql(&at2, "SELECT 1").await.status, 401);

    // Replaying the dead token: refused, and every token of the user dies with it.
    let (s, b) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt2)]).await;
    assert_eq!(s, 400, "the newest refresh token is revoked too");
    assert_eq!(sim.sql(&at2, "SELECT 1").await.status, 401, "access tokens are revoked too");
}

#[tokio::test]
async fn integration_flags_single_use_and_no_refresh_tokens_are_honoured() {
    let mut cfg = config();
    let mut second = OAuthIntegrationModel::new("NO_RT", "no-rt-client", "no-rt-secret", DEMO_REDIRECT_URI);
    second.issue_refresh_tokens = false;
    cfg.accounts[0].integrations[0].single_use_refresh_tokens = true;
    cfg.accounts[0].integrations.push(second);
    let sim = spawn(cfg).await;

    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let (_, r) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert!(r["refresh_token"].is_string(), "integration requires single-use tokens: {r}");

    let params = [("client_id", "no-rt-client"), ("response_type", "code"), ("redirect_uri", DEMO_REDIRECT_URI), ("scope", "refresh_token")];
    let q = sim.code_flow(&params, "jsmith", "jsmith-pass").await;
    let (s, b) = sim
        .token_request(
            &[("grant_type", "authorization_code"), ("code", param(&q, "code").unwrap()), ("redirect_uri", DEMO_REDIRECT_URI)],
            Some(("no-rt-client", "no-rt-secret")),
        )
        .await;
    assert_eq!(s, 200);
    assert!(b.get("refresh_token").is_none(), "{b}");
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    assert_ne!(sim.sql(at, "SELECT 1").await.status, 401);
    sim.sim.expire_access_tokens();
    let r = sim.sql(at, "SELECT 1").await;
    assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("390303")));

    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(sim.sim.revoke_refresh_tokens("JSMITH"), 1);
    let (s, b) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));

    // Refresh tokens expire with their validity (shortened to 0 s here).
    sim.sim.set_token_lifetimes(None, Some(0));
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let (s, _) = sim.demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 400);
    // Expired codes are refused.
    let code = code_with_pkce(&sim, "refresh_token").await;
    sim.sim.expire_codes();
    let (s, _) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!(s, 400);
}
