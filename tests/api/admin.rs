//! The admin UI over real HTTP: session cookie flags and rotation, CSRF (token, Origin,
//! Fetch Metadata), logout, idle timeout on the test clock, security headers, inline validation,
//! and that the HTML routes stay out of the OpenAPI document (SECURITY.md PX-10).

use icebroker::admin::session::IDLE_TIMEOUT_SECS;
use icebroker::connections::ConnectionStatus;

use crate::admin_support::*;
use crate::helpers::client;

async fn keypair_connection(env: &AdminEnv, name: &str) {
    let res = client()
        .post(format!("{}/v1/connections", env.address))
        .bearer_auth(&env.admin_key)
        .json(&serde_json::json!({
            "name": name, "kind": "keypair", "account": "xy12345.us-east-2.aws", "user": "jsmith"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_scoped_to_admin_and_a_new_id_each_time() {
    let env = spawn_admin(|_| {}).await;
    // Unauthenticated pages send the browser to the login form.
    let res = client()
        .get(format!("{}/admin/connections", env.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/login");

    let res = post_login(&env.address, &env.admin_key, None).await;
    assert_eq!(res.status(), 303);
    let (first, header) = set_cookie(&res, "ib_admin").unwrap();
    let attrs: Vec<String> = header
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for expected in ["httponly", "samesite=strict", "path=/admin"] {
        assert!(
            attrs.iter().any(|a| a == expected),
            "{expected} missing: {header}"
        );
    }
    assert!(!attrs.iter().any(|a| a == "secure"), "plain http: {header}");
    assert!(!attrs
        .iter()
        .any(|a| a.starts_with("max-age") || a.starts_with("expires")));
    let (_, login_removed) = set_cookie(&res, "ib_admin_login").unwrap();
    assert!(
        login_removed.to_ascii_lowercase().contains("max-age=0"),
        "{login_removed}"
    );

    // Logging in again from the same browser makes a new id and destroys the presented one.
    let res = post_login(&env.address, &env.admin_key, Some(&first)).await;
    let (second, _) = set_cookie(&res, "ib_admin").unwrap();
    assert_ne!(first, second);
    let old = Admin {
        base: env.address.clone(),
        client: client(),
        cookie: first,
        csrf: String::new(),
    };
    assert_eq!(old.get("/admin/connections").await.status(), 303);
    assert_eq!(env.state.admin.sessions().len(), 1);
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let env = spawn_admin(|s| {
        s.server.public_url = Some("https://broker.example.com".parse().unwrap());
    })
    .await;
    let res = client()
        .get(format!("{}/admin/login", env.address))
        .send()
        .await
        .unwrap();
    let (cookie, header) = set_cookie(&res, "__Secure-ib_admin_login").unwrap();
    assert!(header.to_ascii_lowercase().contains("; secure"), "{header}");
    let token = hidden(&res.text().await.unwrap(), "csrf_token");
    // Behind a TLS-terminating proxy the browser's Origin is the public URL.
    let res = client()
        .post(format!("{}/admin/login", env.address))
        .header("cookie", cookie)
        .header("origin", "https://broker.example.com")
        .form(&[("csrf_token", token.as_str()), ("api_key", &env.admin_key)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, header) = set_cookie(&res, "__Secure-ib_admin").unwrap();
    let lower = header.to_ascii_lowercase();
    for expected in ["; secure", "; httponly", "samesite=strict", "path=/admin"] {
        assert!(lower.contains(expected), "{expected}: {header}");
    }
}

#[tokio::test]
async fn wrong_and_service_keys_do_not_log_in() {
    let env = spawn_admin(|_| {}).await;
    let (_, service_key) = {
        let res = client()
            .post(format!("{}/v1/api-keys", env.address))
            .bearer_auth(&env.admin_key)
            .json(&serde_json::json!({"name": "svc", "scope": "service"}))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        ((), body["key"].as_str().unwrap().to_owned())
    };
    for key in [service_key.as_str(), "ibk_nope", ""] {
        let res = post_login(&env.address, key, None).await;
        assert_eq!(res.status(), 401, "{key}");
        assert!(set_cookie(&res, "ib_admin").is_none());
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("not a valid admin API key"));
    }
    assert!(env.state.admin.sessions().is_empty());
}

#[tokio::test]
async fn form_posts_without_the_token_or_from_another_origin_are_refused() {
    let env = spawn_admin(|_| {}).await;
    keypair_connection(&env, "orders").await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    let path = "/admin/connections/orders/disable";
    let same = [
        ("origin", admin.base.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let token = [("csrf_token", admin.csrf.as_str())];
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Pairs, Pairs)> = vec![
        ("no token", vec![], same.to_vec()),
        (
            "wrong token",
            vec![("csrf_token", "x".repeat(43).leak())],
            same.to_vec(),
        ),
        (
            "foreign Origin",
            token.to_vec(),
            vec![("origin", "http://evil.example")],
        ),
        ("Origin null", token.to_vec(), vec![("origin", "null")]),
        (
            "cross-site",
            token.to_vec(),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site",
            token.to_vec(),
            vec![("sec-fetch-site", "same-site")],
        ),
        (
            "cross-site with our Origin",
            token.to_vec(),
            vec![
                ("origin", admin.base.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
    ];
    for (what, form, headers) in cases {
        let res = admin.post_raw(path, &form, &headers).await;
        assert_eq!(res.status(), 403, "{what}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Request refused"), "{what}: {html}");
    }
    let status = env.state.connections.get("orders").unwrap().status;
    assert_eq!(
        status,
        ConnectionStatus::PendingEnrollment,
        "nothing changed"
    );

    // The same form from the admin UI itself works.
    let res = admin.post(path, &[]).await;
    assert_eq!(res.status(), 303);
    let status = env.state.connections.get("orders").unwrap().status;
    assert_eq!(status, ConnectionStatus::Disabled);

    // The login form: cross-site or without its double-submit cookie → 403, no session.
    let (login_token, login_cookie) = login_form(&env.address).await;
    let attempts = [
        (Some(login_cookie.as_str()), Some("cross-site")),
        (None, Some("same-origin")),
    ];
    for (cookie, site) in attempts {
        let mut req = client()
            .post(format!("{}/admin/login", env.address))
            .form(&[
                ("csrf_token", login_token.as_str()),
                ("api_key", &env.admin_key),
            ]);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            403,
            "{cookie:?} {site:?}"
        );
    }
    assert_eq!(env.state.admin.sessions().len(), 1, "only the first login");
}

#[tokio::test]
async fn logout_invalidates_the_session() {
    let env = spawn_admin(|_| {}).await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    let res = admin.post("/admin/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/login");
    let (_, removal) = set_cookie(&res, "ib_admin").unwrap();
    assert!(
        removal.to_ascii_lowercase().contains("max-age=0"),
        "{removal}"
    );
    // The browser's old cookie no longer opens anything.
    let res = admin.get("/admin/connections").await;
    assert_eq!(res.status(), 303);
    assert_eq!(admin.post("/admin/logout", &[]).await.status(), 303);
    assert!(env.state.admin.sessions().is_empty());
}

#[tokio::test]
async fn idle_sessions_expire_on_the_test_clock() {
    let env = spawn_admin(|_| {}).await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    env.clock.advance(IDLE_TIMEOUT_SECS - 60);
    assert_eq!(admin.get("/admin/api-keys").await.status(), 200);
    // That request restarted the idle timer.
    env.clock.advance(IDLE_TIMEOUT_SECS - 60);
    assert_eq!(admin.get("/admin/api-keys").await.status(), 200);
    env.clock.advance(IDLE_TIMEOUT_SECS);
    let res = admin.get("/admin/api-keys").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/login");
    assert!(env.state.admin.sessions().is_empty());
}

#[tokio::test]
async fn revoking_the_admin_key_ends_its_sessions() {
    let env = spawn_admin(|_| {}).await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    let keys = env.state.api_keys.list();
    let id = keys[0].id.clone();
    let res = admin
        .post(&format!("/admin/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(admin.get("/admin/api-keys").await.status(), 303);
}

#[tokio::test]
async fn admin_pages_carry_a_strict_csp_and_no_store() {
    let env = spawn_admin(|_| {}).await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    for path in [
        "/admin/login",
        "/admin/connections",
        "/admin/connections/new?kind=oauth",
        "/admin/api-keys",
        "/admin/audit",
        "/admin/nope",
        "/admin/connections/missing",
    ] {
        let res = admin.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let html = res.text().await.unwrap();
        for needle in ["<script>", "style=", "onclick", "http://", "https://"] {
            assert!(!html.contains(needle), "{path} has {needle}");
        }
    }
    let js = admin.get("/admin/static/admin.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let css = admin.get("/admin/static/admin.css").await;
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn the_create_form_shows_service_validation_inline_and_keeps_no_secret() {
    let env = spawn_admin(|_| {}).await;
    let admin = Admin::login(&env.address, &env.admin_key).await;
    let res = admin
        .post(
            "/admin/connections",
            &[
                ("kind", "oauth"),
                ("name", "Not A Slug"),
                ("account", "xy12345.us-east-2.aws"),
                ("client_id", "cid"),
                ("client_secret", "CANARY-form-secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("is not a slug"), "{html}");
    assert!(
        html.contains("id=\"f-name-error\""),
        "inline on the name field: {html}"
    );
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("value=\"Not A Slug\""), "sticky value");
    assert!(!html.contains("CANARY-form-secret"));

    // The JSON API refuses the same input with the same message (one rule set).
    let res = client()
        .post(format!("{}/v1/connections", env.address))
        .bearer_auth(&env.admin_key)
        .json(&serde_json::json!({"name": "Not A Slug", "kind": "oauth",
            "account": "xy12345.us-east-2.aws", "client_id": "cid", "client_secret": "s"}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(html.contains(&*askama_escape(body["error"]["message"].as_str().unwrap())));

    let res = admin
        .post(
            "/admin/connections",
            &[
                ("kind", "keypair"),
                ("name", "ok-name"),
                ("account", "xy12345.us-east-2.aws"),
                ("user", "jsmith"),
                ("role", "ACCOUNTADMIN"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("id=\"f-role-error\""));
}

/// minijinja's HTML escaping of `"`, `'`, `<`, `>`, `&`, `/`.
fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[tokio::test]
async fn admin_html_routes_are_not_in_the_openapi_document() {
    let env = spawn_admin(|_| {}).await;
    let doc: serde_json::Value = client()
        .get(format!("{}/openapi.json", env.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    assert!(paths.keys().all(|p| !p.starts_with("/admin")), "{paths:?}");
}

#[tokio::test]
async fn the_audit_page_filters_and_pages() {
    use icebroker::audit::{AuditEntry, AuditQuery};
    let env = spawn_admin(|_| {}).await;
    let base_ms = 1_795_392_000_000; // 2026-11-23 00:00 UTC
    for i in 0..130u64 {
        env.state.audit.record(AuditEntry {
            at_ms: base_ms + i * 1000,
            api_key_id: "key_test".into(),
            connection: if i % 2 == 0 { "even" } else { "odd" }.into(),
            identifier: Some(format!("user-{i}")),
            method: "POST".into(),
            path: "/api/v2/statements".into(),
            statement_sha256: None,
            request_id: None,
            statement_handle: None,
            upstream_status: Some(200),
            error_code: None,
            duration_ms: 3,
            retries: 0,
        });
    }
    // The writer task stores entries in batches; wait until all are readable.
    for _ in 0..200 {
        let all = env.state.audit.query(&AuditQuery {
            limit: Some(1000),
            ..Default::default()
        });
        if all.unwrap().entries.len() == 130 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let admin = Admin::login(&env.address, &env.admin_key).await;
    let first = admin
        .page("/admin/audit?connection=even&since=2026-11-23&until=2026-11-23")
        .await;
    assert_eq!(first.matches("<td>even</td>").count(), 50, "one page of 50");
    assert!(!first.contains("<td>odd</td>"));
    let marker = "<a href=\"";
    let next_at = first.find("rel=\"next\"").expect("a next page");
    let href_start = first[..next_at].rfind(marker).unwrap() + marker.len();
    let href = first[href_start..next_at].split('"').next().unwrap();
    let href = href.replace("&amp;", "&").replace("&#x2f;", "/");
    let second = admin.page(&href).await;
    assert_eq!(
        second.matches("<td>even</td>").count(),
        15,
        "the other 15 of 65"
    );
    assert!(!second.contains("rel=\"next\""));
    assert!(second.contains("First page"));

    let none = admin.page("/admin/audit?since=2026-11-24").await;
    assert!(none.contains("No entries"));
    let res = admin.get("/admin/audit?since=yesterday").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("since must be a date"));
}
