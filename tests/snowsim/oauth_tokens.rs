//! The token endpoint: code exchange, client authentication, refresh-token reuse and rotation,
//! revocation and expiry.

use icebroker::snowsim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REDIRECT_URI};
use icebroker::snowsim::model::OAuthIntegrationModel;

use super::helpers::*;
use super::oauth::{code_with_pkce, exchange, keys, VERIFIER};

#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_it_issued() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (s, first) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!(s, 200);
    let (s, again) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!((s, again["error"].as_str()), (400, Some("invalid_grant")));
    let r = sim
        .sql(first["access_token"].as_str().unwrap(), "SELECT 1")
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "390303");
    let rt = first["refresh_token"].as_str().unwrap();
    let (s, _) = sim
        .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn token_endpoint_checks_redirect_uri_client_auth_and_grant_type() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (s, b) = sim
        .demo_token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8099/oauth/callback?x=1"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "redirect_uri must be exact"
    );

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", DEMO_REDIRECT_URI),
    ];
    let (s, b) = sim.token_request(&form, None).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "no Basic auth"
    );
    let with_secret = [
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
    ];
    let (s, _) = sim
        .token_request(&[form.as_slice(), &with_secret].concat(), None)
        .await;
    assert_eq!(s, 401, "client_secret_post is not supported");
    let encoded: String =
        url::form_urlencoded::byte_serialize(DEMO_CLIENT_SECRET.as_bytes()).collect();
    let (s, _) = sim
        .token_request(&form, Some((DEMO_CLIENT_ID, &encoded)))
        .await;
    assert_eq!(s, 401, "a percent-encoded secret is a different secret");
    let (s, b) = sim.demo_token_request(&[("grant_type", "password")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn reusable_refresh_tokens_return_only_an_access_token() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let rt = t["refresh_token"].as_str().unwrap();
    sim.sim.reset_counters();
    for _ in 0..2 {
        let (s, b) = sim
            .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            keys(&b),
            ["access_token", "expires_in", "idpInitiated", "token_type"]
        );
    }
    assert_eq!(sim.sim.counters().token_requests_for("refresh_token"), 2);
}

#[tokio::test]
async fn single_use_refresh_tokens_rotate_and_reuse_kills_every_token_of_the_user() {
    let sim = spawn_demo().await;
    let code = code_with_pkce(&sim, "refresh_token session:role:ANALYST").await;
    let (_, t) = exchange(
        &sim,
        &code,
        Some(VERIFIER),
        &[("enable_single_use_refresh_tokens", "true")],
    )
    .await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let (s, r2) = sim
        .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt1)])
        .await;
    assert_eq!(s, 200);
    let rt2 = r2["refresh_token"]
        .as_str()
        .expect("rotation returns a new refresh token")
        .to_owned();
    assert_ne!(rt1, rt2);
    let at2 = r2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(sim.sql(&at2, "SELECT 1").await.status, 401);

    // Replaying the dead token: refused, and every token of the user dies with it.
    let (s, b) = sim
        .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt1)])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = sim
        .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt2)])
        .await;
    assert_eq!(s, 400, "the newest refresh token is revoked too");
    assert_eq!(
        sim.sql(&at2, "SELECT 1").await.status,
        401,
        "access tokens are revoked too"
    );
}

#[tokio::test]
async fn integration_flags_single_use_and_no_refresh_tokens_are_honoured() {
    let mut cfg = config();
    let mut second =
        OAuthIntegrationModel::new("NO_RT", "no-rt-client", "no-rt-secret", DEMO_REDIRECT_URI);
    second.issue_refresh_tokens = false;
    cfg.accounts[0].integrations[0].single_use_refresh_tokens = true;
    cfg.accounts[0].integrations.push(second);
    let sim = spawn(cfg).await;

    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let (_, r) = sim
        .demo_token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert!(
        r["refresh_token"].is_string(),
        "integration requires single-use tokens: {r}"
    );

    let params = [
        ("client_id", "no-rt-client"),
        ("response_type", "code"),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("scope", "refresh_token"),
    ];
    let q = sim.code_flow(&params, "jsmith", "jsmith-pass").await;
    let (s, b) = sim
        .token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", param(&q, "code").unwrap()),
                ("redirect_uri", DEMO_REDIRECT_URI),
            ],
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
    let (s, b) = sim
        .demo_token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));

    // Refresh tokens expire with their validity (shortened to 0 s here).
    sim.sim.set_token_lifetimes(None, Some(0));
    let code = code_with_pkce(&sim, "refresh_token").await;
    let (_, t) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    let (s, _) = sim
        .demo_token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 400);
    // Expired codes are refused.
    let code = code_with_pkce(&sim, "refresh_token").await;
    sim.sim.expire_codes();
    let (s, _) = exchange(&sim, &code, Some(VERIFIER), &[]).await;
    assert_eq!(s, 400);
}
