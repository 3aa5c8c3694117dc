//! SECURITY.md §1/§3 over HTTP: the six negative state cases (OA-2/OA-3/OA-5) with zero token
//! requests, single-use and expiring links (OA-9), the refresh storm (TR-1/TR-5) and a revoked
//! refresh token (TR-6).

use serde_json::json;

use crate::oauth_support::*;

fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut q = parsed.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    parsed.into()
}

async fn assert_rejected(res: reqwest::Response, case: &str) {
    let status = res.status().as_u16();
    assert_eq!(header(&res, "cache-control"), "no-store", "{case}");
    let body = res.text().await.unwrap();
    assert_eq!(status, 400, "{case}: {body}");
    assert!(!body.contains("code="), "{case}");
}

#[tokio::test]
async fn the_six_negative_state_cases_are_4xx_with_zero_token_requests() {
    let env = spawn(false).await;
    env.create_connection("other", json!({})).await;

    // 1. missing state.
    let cb = env
        .authorize(&env.link("u1").await, "jsmith", "jsmith-pass", "allow")
        .await;
    let res = cb
        .browser
        .get(with_param(&cb.url, "state", None))
        .send()
        .await
        .unwrap();
    assert_rejected(res, "missing state").await;
    // 2. unknown state.
    let forged = with_param(
        &cb.url,
        "state",
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    );
    assert_rejected(
        cb.browser.get(forged).send().await.unwrap(),
        "unknown state",
    )
    .await;
    // 3. expired state (t = 601 s).
    let cb = env
        .authorize(&env.link("u3").await, "jsmith", "jsmith-pass", "allow")
        .await;
    env.clock.advance(601);
    assert_rejected(
        cb.browser.get(&cb.url).send().await.unwrap(),
        "expired state",
    )
    .await;
    // 4. state of connection `sales` delivered to connection `other` (OA-5).
    let cb = env
        .authorize(&env.link("u4").await, "jsmith", "jsmith-pass", "allow")
        .await;
    let other = cb
        .url
        .replace("/oauth/callback/sales", "/oauth/callback/other");
    assert_rejected(
        cb.browser.get(other).send().await.unwrap(),
        "other connection",
    )
    .await;
    // The state was consumed by that attempt: the right path cannot use it any more.
    assert_rejected(
        cb.browser.get(&cb.url).send().await.unwrap(),
        "consumed by other",
    )
    .await;
    // 5. another browser (no cookie, then a foreign cookie).
    let cb = env
        .authorize(&env.link("u5").await, "jsmith", "jsmith-pass", "allow")
        .await;
    assert_rejected(browser().get(&cb.url).send().await.unwrap(), "no cookie").await;
    let cb = env
        .authorize(&env.link("u5b").await, "jsmith", "jsmith-pass", "allow")
        .await;
    let res = reqwest::Client::new()
        .get(&cb.url)
        .header(
            "cookie",
            "sfb_flow=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_rejected(res, "other cookie").await;
    assert_eq!(env.code_grants(), 0, "no token request for cases 1-5");

    // 6. replayed state: the first callback works, the replay is refused without a token call.
    let cb = env
        .authorize(&env.link("u6").await, "jsmith", "jsmith-pass", "allow")
        .await;
    assert_eq!(cb.browser.get(&cb.url).send().await.unwrap().status(), 303);
    assert_eq!(env.code_grants(), 1);
    assert_rejected(
        cb.browser.get(&cb.url).send().await.unwrap(),
        "replayed state",
    )
    .await;
    assert_eq!(env.code_grants(), 1, "the replay made no token request");
    for id in ["u1", "u3", "u4", "u5", "u5b"] {
        assert_eq!(env.account(id).await["status"], "pending", "{id}");
    }
}

#[tokio::test]
async fn a_mismatched_issuer_is_refused_before_the_code_exchange() {
    let env = spawn(false).await;
    let cb = env
        .authorize(&env.link("i").await, "jsmith", "jsmith-pass", "allow")
        .await;
    let url = with_param(&cb.url, "iss", Some("https://evil.example.com"));
    assert_rejected(cb.browser.get(url).send().await.unwrap(), "iss").await;
    assert_eq!(env.code_grants(), 0);
}

#[tokio::test]
async fn links_work_once_expire_and_cannot_be_tampered_with() {
    let env = spawn(false).await;
    // Single use: the second open is 410 with the friendly page.
    let link = env.link("once").await;
    assert_eq!(browser().get(&link).send().await.unwrap().status(), 302);
    let res = browser().get(&link).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert!(res.text().await.unwrap().contains("This link has expired"));

    // Expiry: 30 min max; at 30 min + 1 s it is gone.
    let res = env
        .request_link("sales", json!({ "identifier": "late", "expires_in": 1800 }))
        .await;
    let late = res.json::<serde_json::Value>().await.unwrap()["link"]
        .as_str()
        .unwrap()
        .to_owned();
    env.clock.advance(1801);
    assert_eq!(browser().get(&late).send().await.unwrap().status(), 410);

    // Unknown token → 410; query-string tampering → 400 and the link is not consumed.
    let unknown = format!("{}/connect/sfb_link_{}", env.address, "A".repeat(43));
    assert_eq!(browser().get(&unknown).send().await.unwrap().status(), 410);
    let link = env.link("tamper").await;
    for q in [
        "?identifier=mallory",
        "?connection=other",
        "?return_url=https://evil.com",
        "?redirect_uri=https://evil.com",
        "?scope=session:role:ACCOUNTADMIN",
    ] {
        let res = browser().get(format!("{link}{q}")).send().await.unwrap();
        assert_eq!(res.status(), 400, "{q}");
    }
    let res = browser().get(&link).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let location = header(&res, "location");
    let cookie = header(&res, "set-cookie");
    assert!(cookie.starts_with("sfb_flow="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let authorize = reqwest::Url::parse(&location).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        q["redirect_uri"],
        format!("{}/oauth/callback/sales", env.address)
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["state"].len(), 43);
    assert_eq!(q["scope"], "refresh_token session:role:ANALYST");
    assert_eq!(env.code_grants(), 0);
}

#[tokio::test]
async fn refresh_storm_of_200_on_an_expired_token_makes_exactly_one_refresh_grant() {
    let env = spawn(true).await;
    assert_eq!(env.connect("storm").await.status(), 303);
    let conn = env.connection("sales");
    env.clock.advance(601);
    let tokens = env.state.oauth.tokens();
    let calls = (0..200).map(|_| tokens.access_token(&conn, "storm"));
    let results = futures_util::future::join_all(calls).await;
    let tokens_seen: std::collections::HashSet<u64> = results
        .iter()
        .map(|r| r.as_ref().expect("every caller gets a token").generation())
        .collect();
    assert_eq!(tokens_seen.len(), 1, "all 200 share one refreshed token");
    assert_eq!(env.refresh_grants(), 1);
    assert_eq!(tokens.refreshes(), 1);
    assert_eq!(env.account("storm").await["status"], "active");
    let token = results[199].as_ref().unwrap();
    assert_eq!(current_user(&env, token).await.unwrap(), "JSMITH");

    // The rotated refresh token was stored: the next refresh works (the old one would revoke
    // the whole family under single-use rules).
    env.clock.advance(601);
    let next = tokens.access_token(&conn, "storm").await.unwrap();
    assert_eq!(env.refresh_grants(), 2);
    assert_eq!(current_user(&env, &next).await.unwrap(), "JSMITH");
    assert_eq!(env.account("storm").await["status"], "active");
}

#[tokio::test]
async fn a_revoked_refresh_token_expires_the_account_and_asks_for_reauthorization() {
    let env = spawn(false).await;
    assert_eq!(env.connect("rev").await.status(), 303);
    let conn = env.connection("sales");
    env.sim.control().revoke_refresh_tokens("JSMITH");
    env.clock.advance(601);
    let tokens = env.state.oauth.tokens();
    let err = tokens.access_token(&conn, "rev").await.unwrap_err();
    let app_err = icebroker::error::AppError::from(err);
    assert_eq!(app_err.code().as_str(), "reauthorization_required");
    assert_eq!(app_err.code().status().as_u16(), 401);
    assert!(
        app_err.message().contains("authorization-links"),
        "{}",
        app_err.message()
    );
    let account = env.account("rev").await;
    assert_eq!(account["status"], "expired");
    assert!(account["last_error"]
        .as_str()
        .unwrap()
        .contains("invalid_grant"));
    assert_eq!(env.refresh_grants(), 1);
    // Terminal: no further grant with the dead token.
    assert!(tokens.access_token(&conn, "rev").await.is_err());
    assert_eq!(env.refresh_grants(), 1);
    // A new link brings the account back.
    assert_eq!(env.connect("rev").await.status(), 303);
    assert_eq!(env.account("rev").await["status"], "active");
    assert!(tokens.access_token(&conn, "rev").await.is_ok());
}

#[tokio::test]
async fn a_disabled_connection_refuses_tokens_with_connection_disabled() {
    let env = spawn(false).await;
    assert_eq!(env.connect("d").await.status(), 303);
    env.state
        .connections
        .set_disabled("sales", true)
        .await
        .unwrap();
    let conn = env.connection("sales");
    let err = env
        .state
        .oauth
        .tokens()
        .access_token(&conn, "d")
        .await
        .unwrap_err();
    let app_err = icebroker::error::AppError::from(err);
    assert_eq!(app_err.code().as_str(), "connection_disabled");
}

#[tokio::test]
async fn links_and_flow_states_that_expire_unused_are_swept_from_the_store() {
    let env = spawn(false).await;
    let none = icebroker::oauth::Swept::default();
    let _unopened = [env.link("erin").await, env.link("frank").await];
    let opened = env.link("gina").await;
    let res = browser().get(&opened).send().await.unwrap();
    assert_eq!(
        res.status(),
        302,
        "the link starts a flow that is never finished"
    );
    let oauth = &env.state.oauth;
    assert_eq!(oauth.sweep_expired_flows().await.unwrap(), none);

    env.clock.advance(icebroker::oauth::LINK_TTL_MAX + 1);
    let fresh = env.link("hana").await;
    let swept = oauth.sweep_expired_flows().await.unwrap();
    assert_eq!((swept.links, swept.states), (2, 1));
    assert_eq!(oauth.sweep_expired_flows().await.unwrap(), none);

    let cb = env
        .authorize(&fresh, "jsmith", "jsmith-pass", "allow")
        .await;
    let done = cb.browser.get(&cb.url).send().await.unwrap();
    assert_eq!(done.status(), 303, "a live link survives the sweep");
    assert_eq!(env.account("hana").await["status"], "active");
}
