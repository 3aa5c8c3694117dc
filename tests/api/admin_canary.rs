//! OA-12 / PX-10 canary for the admin UI: after a real OAuth flow, an imported private key and
//! a new API key, no admin page contains the client secret, the private key, a token or the
//! API key (which appears only in the one response that created it).

use base64::Engine as _;
use serde_json::Value;

use crate::admin_support::{hidden, Admin};
use crate::oauth_support::*;

fn stored_account(env: &OAuthEnv, identifier: &str) -> Value {
    let slot = icebroker::vault::Slot::new("oauth_account", "sales", identifier, "record").unwrap();
    let plain = env.state.vault.get(&slot).unwrap().unwrap();
    serde_json::from_slice(plain.expose()).unwrap()
}

#[tokio::test]
async fn admin_pages_never_contain_a_secret() {
    let env = spawn(false).await;
    let res = env.connect("canary-user").await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let record = stored_account(&env, "canary-user");
    let mut secrets: Vec<String> = vec![icebroker::snowsim::demo::DEMO_CLIENT_SECRET.to_owned()];
    for field in ["access_token", "refresh_token"] {
        secrets.push(record[field].as_str().expect(field).to_owned());
    }

    let admin = Admin::login(&env.address, &env.admin_key).await;
    secrets.push(env.admin_key.clone());

    // A keypair connection with an imported key: neither the PEM nor its body comes back.
    let pem = std::fs::read_to_string(format!(
        "{}/tests/fixtures/snowsim_jwt_key1.pkcs8.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&der_b64)
        .unwrap();
    secrets.push(pem.lines().nth(3).unwrap().to_owned());
    secrets.push(base64::engine::general_purpose::STANDARD.encode(&der[..200]));
    let res = admin
        .post(
            "/admin/connections",
            &[
                ("kind", "keypair"),
                ("name", "imported"),
                ("account", "xy12345.us-east-2.aws"),
                ("user", "jsmith"),
                ("private_key_pem", &pem),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());

    // A new API key is shown once, in the response that created it.
    let res = admin
        .post(
            "/admin/api-keys",
            &[
                ("name", "ci"),
                ("scope", "service"),
                ("connections", "sales"),
            ],
        )
        .await;
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let marker = "<pre id=\"new-key\" class=\"code\" tabindex=\"0\">";
    let start = html.find(marker).expect("new key shown") + marker.len();
    let new_key = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert!(new_key.starts_with("ibk_"), "{new_key}");
    secrets.push(new_key);

    // A link is shown once too; it is a capability, not a stored secret, but must not reappear.
    let res = admin
        .post(
            "/admin/connections/sales/links",
            &[("identifier", "second-user")],
        )
        .await;
    let html = res.text().await.unwrap();
    let link = hidden_link(&html);
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert!(token.starts_with("sfb_link_"), "{link}");
    secrets.push(token);

    let mut pages = Vec::new();
    for path in [
        "/admin/connections",
        "/admin/connections/sales",
        "/admin/connections/imported",
        "/admin/connections/imported/delete",
        "/admin/connections/new?kind=oauth",
        "/admin/connections/new?kind=keypair",
        "/admin/api-keys",
        "/admin/audit",
    ] {
        pages.push((path, admin.page(path).await));
    }
    let connection_page = &pages[1].1;
    assert!(connection_page.contains("canary-user"), "account listed");
    assert!(connection_page.contains("JSMITH") || connection_page.contains("jsmith"));
    // The CSRF token is per session and expected in pages; it is not one of the secrets.
    assert_eq!(hidden(connection_page, "csrf_token"), admin.csrf);
    for (path, html) in &pages {
        for secret in &secrets {
            assert!(!html.contains(secret.as_str()), "{path} contains a secret");
        }
    }
}

fn hidden_link(html: &str) -> String {
    let marker = "<pre id=\"auth-link\" class=\"code\" tabindex=\"0\">";
    let start = html.find(marker).expect("link shown") + marker.len();
    html[start..start + html[start..].find('<').unwrap()].replace("&#x2f;", "/")
}
