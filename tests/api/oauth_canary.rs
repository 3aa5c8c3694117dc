//! OA-12 canary for the OAuth flow: with every crate logging at TRACE, run link → consent →
//! callback → statements → forced and timed refreshes → error paths, capture every secret the
//! flow handled (client secret, link token, cookie, state, code, access and refresh tokens) and
//! check that none appears in a log line, an error body or an API response.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::oauth_support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stored_refresh_token(env: &OAuthEnv, identifier: &str) -> String {
    let slot = icebroker::vault::Slot::new("oauth_account", "sales", identifier, "record").unwrap();
    let plain = env.state.vault.get(&slot).unwrap().unwrap();
    let record: Value = serde_json::from_slice(plain.expose()).unwrap();
    record["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_oauth_secret_reaches_a_log_line_error_body_or_api_response() {
    // Each test of this binary runs in its own process under nextest: a global subscriber is ours.
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        // `cookie_store` is the cookie jar of the test's simulated browser (a dev-dependency
        // feature the broker never uses); it logs the cookies it stores, as a browser would.
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,cookie_store=off"))
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the canary test owns the global subscriber");

    let env = spawn(true).await;
    let mut secrets = vec![icebroker::snowsim::demo::DEMO_CLIENT_SECRET.to_owned()];
    let mut bodies: Vec<String> = Vec::new();

    let link = env.link("canary-user").await;
    secrets.push(link.rsplit('/').next().unwrap().to_owned());
    let cb = env.authorize(&link, "jsmith", "jsmith-pass", "allow").await;
    let callback = reqwest::Url::parse(&cb.url).unwrap();
    for (k, v) in callback.query_pairs() {
        if k == "code" || k == "state" {
            secrets.push(v.into_owned());
        }
    }
    let cookie = cb.set_cookie.split(';').next().unwrap();
    secrets.push(cookie.split_once('=').unwrap().1.to_owned());
    let res = cb.browser.get(&cb.url).send().await.unwrap();
    bodies.push(format!("{:?}", res.headers()));
    bodies.push(res.text().await.unwrap());
    secrets.push(stored_refresh_token(&env, "canary-user"));

    let tokens = env.state.oauth.tokens();
    let conn = env.connection("sales");
    let first = tokens.access_token(&conn, "canary-user").await.unwrap();
    secrets.push(first.expose().to_owned());
    current_user(&env, &first).await.unwrap();
    env.sim.control().expire_access_tokens();
    let err = current_user(&env, &first).await.unwrap_err();
    bodies.push(format!("{err} {err:?}"));
    let second = tokens
        .force_refresh(&conn, "canary-user", &first)
        .await
        .unwrap();
    secrets.push(second.expose().to_owned());
    secrets.push(stored_refresh_token(&env, "canary-user"));
    for _ in 0..20 {
        current_user(&env, &second).await.unwrap();
    }
    env.clock.advance(601);
    let third = tokens.access_token(&conn, "canary-user").await.unwrap();
    secrets.push(third.expose().to_owned());
    secrets.push(stored_refresh_token(&env, "canary-user"));
    tracing::debug!(
        ?third,
        ?conn,
        "debug-printing secret wrappers must redact them"
    );

    // Error paths: replayed callback, used link, forged state, revoked refresh token.
    let res = cb.browser.get(&cb.url).send().await.unwrap();
    bodies.push(res.text().await.unwrap());
    let res = browser().get(&link).send().await.unwrap();
    bodies.push(res.text().await.unwrap());
    let forged = format!(
        "{}/oauth/callback/sales?code={}&state=x",
        env.address, secrets[2]
    );
    bodies.push(
        browser()
            .get(forged)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    env.sim.control().revoke_refresh_tokens("JSMITH");
    env.clock.advance(601);
    let err = tokens.access_token(&conn, "canary-user").await.unwrap_err();
    bodies.push(format!("{err} {err:?}"));
    for path in [
        "/v1/connections/sales",
        "/v1/connections/sales/accounts",
        "/v1/connections/sales/accounts/canary-user",
    ] {
        let res = env
            .client
            .get(format!("{}{path}", env.address))
            .bearer_auth(&env.admin_key)
            .send()
            .await
            .unwrap();
        bodies.push(res.text().await.unwrap());
    }
    let res = env
        .request_link(
            "sales",
            json!({"identifier": "x", "return_url": secrets[1]}),
        )
        .await;
    bodies.push(res.text().await.unwrap());

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("token refreshed"),
        "capture saw no oauth logs"
    );
    assert!(logs.lines().count() > 50, "capture saw too little");
    assert!(secrets.len() >= 10, "{} secrets", secrets.len());
    for (i, secret) in secrets.iter().enumerate() {
        assert!(secret.len() >= 20, "secret {i} is too short to be a canary");
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            panic!("secret {i} leaked into the logs: {line}");
        }
        for body in &bodies {
            assert!(
                !body.contains(secret.as_str()),
                "secret {i} leaked into a response: {body}"
            );
        }
    }
}
