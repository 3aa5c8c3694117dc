//! The OAuth flow end to end over real HTTP against snowsim: link → connect → login/consent →
//! callback → active account → statements with the user's token → expiry → refresh.

use serde_json::{json, Value};

use crate::helpers::tree_contains;
use crate::oauth_support::*;

#[tokio::test]
async fn link_connect_consent_callback_then_statements_run_and_expired_tokens_refresh() {
    let env = spawn(false).await;
    let link = env.link("user-42").await;
    assert!(
        link.starts_with(&format!("{}/connect/sfb_link_", env.address)),
        "{link}"
    );
    let cb = env.authorize(&link, "jsmith", "jsmith-pass", "allow").await;
    let res = cb.browser.get(&cb.url).send().await.unwrap();

    // OA-7: 303 to the allowed return URL, code-free, uncacheable, no referrer.
    assert_eq!(res.status(), 303);
    let location = header(&res, "location");
    assert_eq!(
        location,
        format!("{RETURN_URL}?identifier=user-42&status=connected")
    );
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(header(&res, "referrer-policy"), "no-referrer");
    assert_eq!(env.code_grants(), 1);

    let account = env.account("user-42").await;
    assert_eq!(account["status"], "active", "{account}");
    assert_eq!(account["snowflake_user"], "JSMITH");
    assert_eq!(account["scope"], "refresh_token session:role:ANALYST");
    let text = account.to_string();
    assert!(
        !text.contains("ver:1-hint") && !text.contains("ver:2-hint"),
        "{text}"
    );
    assert_eq!(
        serde_json::to_value(env.connection("sales").status).unwrap(),
        "connected"
    );

    // A statement runs as that user with the broker's token.
    let tokens = env.state.oauth.tokens();
    let conn = env.connection("sales");
    let token = tokens.access_token(&conn, "user-42").await.unwrap();
    assert_eq!(current_user(&env, &token).await.unwrap(), "JSMITH");
    assert_eq!(tokens.refreshes(), 0);

    // Snowflake expires the token early: the 401 leads to one forced refresh and a retry.
    env.sim.control().expire_access_tokens();
    let err = current_user(&env, &token).await.unwrap_err();
    assert!(err.is_auth_expired(), "{err}");
    let fresh = tokens
        .force_refresh(&conn, "user-42", &token)
        .await
        .unwrap();
    assert!(fresh.generation() > token.generation());
    assert_eq!(current_user(&env, &fresh).await.unwrap(), "JSMITH");
    assert_eq!((tokens.refreshes(), env.refresh_grants()), (1, 1));
    // A second forced refresh with the same stale token reuses the replacement (no grant).
    let again = tokens
        .force_refresh(&conn, "user-42", &token)
        .await
        .unwrap();
    assert_eq!(again.generation(), fresh.generation());
    assert_eq!(env.refresh_grants(), 1);

    // TR-7: no refresh before 480 s of a 600 s token, exactly one after.
    env.clock.advance(479);
    tokens.access_token(&conn, "user-42").await.unwrap();
    assert_eq!(env.refresh_grants(), 1);
    env.clock.advance(1);
    let next = tokens.access_token(&conn, "user-42").await.unwrap();
    assert_eq!(env.refresh_grants(), 2);
    assert_eq!(current_user(&env, &next).await.unwrap(), "JSMITH");

    // The raw tokens are nowhere in the data dir (sealed), nor the link token (hashed).
    let token_text = next.expose().to_owned();
    let link_token = link.rsplit('/').next().unwrap().to_owned();
    assert!(!tree_contains(env.data_dir.path(), token_text.as_bytes()));
    assert!(!tree_contains(env.data_dir.path(), link_token.as_bytes()));
}

#[tokio::test]
async fn without_a_return_url_the_callback_shows_a_self_contained_success_page() {
    let env = spawn(false).await;
    let res = env
        .request_link("sales", json!({ "identifier": "bob" }))
        .await;
    let link = res.json::<Value>().await.unwrap()["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let cb = env.authorize(&link, "jsmith", "jsmith-pass", "allow").await;
    let res = cb.browser.get(&cb.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(header(&res, "pragma"), "no-cache");
    assert!(header(&res, "content-security-policy").starts_with("default-src 'none'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("JSMITH"), "{html}");
    for needle in ["http://", "https://", "code=", "state=", "<script"] {
        assert!(!html.contains(needle), "{needle} in {html}");
    }
}

#[tokio::test]
async fn access_denied_keeps_the_account_pending_and_makes_no_token_request() {
    let env = spawn(false).await;
    let link = env.link("carol").await;
    assert_eq!(env.account("carol").await["status"], "pending");
    let cb = env.authorize(&link, "jsmith", "jsmith-pass", "deny").await;
    let res = cb.browser.get(&cb.url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        header(&res, "location"),
        format!("{RETURN_URL}?identifier=carol&status=denied")
    );
    assert_eq!(env.code_grants(), 0);
    assert_eq!(env.account("carol").await["status"], "pending");
    let conn = env.connection("sales");
    let err = env
        .state
        .oauth
        .tokens()
        .access_token(&conn, "carol")
        .await
        .unwrap_err();
    let app_err = icebroker::error::AppError::from(err);
    assert_eq!(app_err.code().as_str(), "account_not_connected");
    assert_eq!(app_err.code().status().as_u16(), 409);
}

#[tokio::test]
async fn accounts_are_listed_by_status_and_disconnect_returns_the_revoke_sql() {
    let env = spawn(false).await;
    assert_eq!(env.connect("alice").await.status(), 303);
    env.link("pending-one").await;
    let list = |q: &'static str| {
        let env = &env;
        async move {
            let res = env
                .client
                .get(format!("{}/v1/connections/sales/accounts{q}", env.address))
                .bearer_auth(&env.service_key)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["identifier"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, ["alice", "pending-one"]);
    assert_eq!(list("?status=active").await, ["alice"]);
    assert_eq!(list("?status=pending").await, ["pending-one"]);

    let res = env
        .client
        .delete(format!(
            "{}/v1/connections/sales/accounts/alice",
            env.address
        ))
        .bearer_auth(&env.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["account"]["status"], "revoked");
    assert_eq!(
        body["revoke_sql"],
        "ALTER USER \"JSMITH\" REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION \
         ICEBROKER_SALES;"
    );
    // Run as the Snowflake admin would: the consent disappears in Snowflake (snowsim) too.
    let show = "SHOW DELEGATED AUTHORIZATIONS BY USER JSMITH";
    let before = crate::sim::run_admin_sql(&env.sim, show).await.to_string();
    assert!(before.contains("ICEBROKER_SALES"), "{before}");
    crate::sim::run_admin_sql(&env.sim, body["revoke_sql"].as_str().unwrap()).await;
    let after = crate::sim::run_admin_sql(&env.sim, show).await.to_string();
    assert!(!after.contains("ICEBROKER_SALES"), "{after}");
    let conn = env.connection("sales");
    let err = env.state.oauth.tokens().access_token(&conn, "alice").await;
    assert!(matches!(
        err,
        Err(icebroker::oauth::OAuthError::AccountNotConnected(_))
    ));
    // Unknown identifier → 404; key for another connection → 403.
    let res = env
        .client
        .get(format!(
            "{}/v1/connections/sales/accounts/nobody",
            env.address
        ))
        .bearer_auth(&env.service_key)
        .send()
        .await
        .unwrap();
    crate::helpers::assert_error(res, 404, "account_not_found").await;
    let other_key = env.key("service", &["elsewhere"]).await;
    let res = env
        .client
        .get(format!("{}/v1/connections/sales/accounts", env.address))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    crate::helpers::assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn oauth_connection_creation_validates_and_never_returns_the_secret() {
    let env = spawn(false).await;
    let body = env
        .create_connection("eu", json!({ "integration": "icebroker_eu" }))
        .await;
    let text = body.to_string();
    assert!(!text.contains(icebroker::snowsim::demo::DEMO_CLIENT_SECRET));
    assert_eq!(body["connection"]["kind"], "oauth");
    assert_eq!(
        body["oauth_setup"]["show_client_secrets_sql"],
        "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('ICEBROKER_EU');"
    );
    assert_eq!(
        body["oauth_setup"]["redirect_uri"],
        format!("{}/oauth/callback/eu", env.address)
    );
    for (extra, why) in [
        (
            json!({"scopes": ["session:role:ACCOUNTADMIN"]}),
            "privileged",
        ),
        (
            json!({"scopes": ["session:role:securityadmin"]}),
            "privileged",
        ),
        (json!({"role": "ORGADMIN"}), "privileged"),
        (json!({"scopes": ["offline_access"]}), "unknown scope"),
        (
            json!({"allowed_return_urls": ["http://app.example.com/cb"]}),
            "https",
        ),
        (
            json!({"allowed_return_urls": ["https://app.example.com"]}),
            "canonical",
        ),
        (
            json!({"token_url": "http://evil.example.com/token"}),
            "https",
        ),
        (
            json!({"authorize_url": "https://u:p@x.example.com/a"}),
            "user info",
        ),
        (json!({"client_secret": ""}), "client_secret"),
        (json!({"user": "JSMITH"}), "keypair"),
    ] {
        let res = env.post_connection("bad", extra.clone()).await;
        let body = crate::helpers::assert_error(res, 400, "invalid_request").await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{extra}: {message}");
    }
    assert!(env.state.connections.get("bad").is_err());
    let res = env.post_connection("eu", json!({})).await;
    crate::helpers::assert_error(res, 409, "connection_exists").await;
}

#[tokio::test]
async fn an_admin_key_may_issue_links_and_a_key_for_another_connection_may_not() {
    let env = spawn(false).await;
    let res = env
        .client
        .post(format!(
            "{}/v1/connections/sales/authorization-links",
            env.address
        ))
        .bearer_auth(&env.admin_key)
        .json(&json!({ "identifier": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let other = env.key("service", &["other"]).await;
    let res = env
        .client
        .post(format!(
            "{}/v1/connections/sales/authorization-links",
            env.address
        ))
        .bearer_auth(&other)
        .json(&json!({ "identifier": "x" }))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_error(res, 403, "forbidden").await;
    for body in [
        json!({ "identifier": "" }),
        json!({ "identifier": "a\nb" }),
        json!({ "identifier": "x".repeat(257) }),
        json!({ "identifier": "x", "expires_in": 1801 }),
        json!({ "identifier": "x", "return_url": "https://app.example.com/oauth/done/" }),
        json!({ "identifier": "x", "return_url": "//evil.com" }),
    ] {
        let res = env.request_link("sales", body.clone()).await;
        crate::helpers::assert_error(res, 400, "invalid_request").await;
    }
    let res = env
        .request_link("sales", json!({ "identifier": "x", "connection": "other" }))
        .await;
    crate::helpers::assert_error(res, 400, "invalid_json").await;
}

#[tokio::test]
async fn deleting_a_connection_destroys_its_accounts_and_cached_tokens() {
    let env = spawn(false).await;
    assert_eq!(env.connect("gone").await.status(), 303);
    let conn = env.connection("sales");
    let tokens = env.state.oauth.tokens();
    tokens.access_token(&conn, "gone").await.unwrap();
    let res = env
        .client
        .delete(format!("{}/v1/connections/sales", env.address))
        .bearer_auth(&env.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        env.state.vault.scan("oauth_account", Some("sales")).count(),
        0
    );
    assert_eq!(
        env.state.vault.scan("oauth_client", Some("sales")).count(),
        0
    );
    // A new connection of the same name starts empty: nothing cached is served.
    env.create_connection("sales", json!({})).await;
    let conn = env.connection("sales");
    let err = tokens.access_token(&conn, "gone").await.unwrap_err();
    assert!(
        matches!(err, icebroker::oauth::OAuthError::AccountNotConnected(_)),
        "{err}"
    );
}
