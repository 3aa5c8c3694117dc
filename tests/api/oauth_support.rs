//! Harness for the OAuth e2e tests: a broker on a manual clock, a snowsim whose integration's
//! redirect URI is the broker's derived one, an OAuth connection, and a "browser" (reqwest with a
//! cookie jar, no redirects) that drives snowsim's login and consent forms over HTTP.

use std::sync::Arc;

use icebroker::clock::ManualClock;
use icebroker::snowsim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use icebroker::snowsim::model::OAuthIntegrationModel;
use icebroker::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use icebroker::startup::Application;
use icebroker::state::AppState;
use serde_json::{json, Value};

use crate::helpers::{client, random_master_key, test_settings};

pub const RETURN_URL: &str = "https://app.example.com/oauth/done";

/// A broker + snowsim pair with one OAuth connection `sales`.
pub struct OAuthEnv {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub service_key: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub sim: RunningSnowSim,
    pub data_dir: tempfile::TempDir,
}

/// What a completed browser round trip produced.
pub struct Callback {
    /// The URL Snowflake redirected the browser to (with code and state).
    pub url: String,
    /// The browser that started the flow (holds the binding cookie).
    pub browser: reqwest::Client,
    /// The `Set-Cookie` header the link answered with.
    pub set_cookie: String,
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts the broker, then snowsim with integrations for `sales` (and `other`) whose redirect
/// URIs are the broker's, then creates the connection(s).
pub async fn spawn(single_use: bool) -> OAuthEnv {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(data_dir.path(), &random_master_key());
    settings.upstream.allow_loopback = true;
    let clock = Arc::new(ManualClock::new(now()));
    let mut app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("broker starts");
    let admin_key = app.take_bootstrap_key().unwrap().expose().to_owned();
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    config.workers = 2;
    let integration = |name: &str, conn: &str| {
        let mut i = OAuthIntegrationModel::new(
            name,
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            &format!("{address}/oauth/callback/{conn}"),
        );
        i.enforce_pkce = true;
        i
    };
    config.accounts[0].integrations = vec![integration("ICEBROKER_SALES", "sales")];
    let sim = SnowSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("snowsim starts");
    let mut env = OAuthEnv {
        address,
        client: client(),
        admin_key,
        service_key: String::new(),
        state,
        clock,
        sim,
        data_dir,
    };
    let body = env
        .create_connection("sales", json!({ "single_use_refresh_tokens": single_use }))
        .await;
    assert!(body["oauth_setup"]["create_integration_sql"]
        .as_str()
        .unwrap()
        .contains(&format!("'{}/oauth/callback/sales'", env.address)));
    env.service_key = env.key("service", &["sales"]).await;
    env
}

impl OAuthEnv {
    /// `POST /v1/connections` for an OAuth connection on the sim; `extra` overrides fields.
    pub async fn create_connection(&self, name: &str, extra: Value) -> Value {
        let res = self.post_connection(name, extra).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    pub async fn post_connection(&self, name: &str, extra: Value) -> reqwest::Response {
        let mut body = json!({
            "name": name,
            "kind": "oauth",
            "account": "xy12345.us-east-2.aws",
            "host": self.sim.base_url(),
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "scopes": ["session:role:ANALYST"],
            "allowed_return_urls": [RETURN_URL],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.client
            .post(format!("{}/v1/connections", self.address))
            .bearer_auth(&self.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn key(&self, scope: &str, connections: &[&str]) -> String {
        let res = self
            .client
            .post(format!("{}/v1/api-keys", self.address))
            .bearer_auth(&self.admin_key)
            .json(&json!({"name": "k", "scope": scope, "connections": connections}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST …/authorization-links` with the service key.
    pub async fn request_link(&self, connection: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/v1/connections/{connection}/authorization-links",
                self.address
            ))
            .bearer_auth(&self.service_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A link for `identifier` returning to [`RETURN_URL`].
    pub async fn link(&self, identifier: &str) -> String {
        let res = self
            .request_link(
                "sales",
                json!({ "identifier": identifier, "return_url": RETURN_URL }),
            )
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body["link"].as_str().unwrap().to_owned()
    }

    /// Opens `link` in a new browser, logs in as `user` and answers the consent page with
    /// `action` (`allow`/`deny`); returns Snowflake's redirect to the callback, not yet followed.
    pub async fn authorize(
        &self,
        link: &str,
        user: &str,
        password: &str,
        action: &str,
    ) -> Callback {
        let browser = browser();
        let res = browser.get(link).send().await.unwrap();
        assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
        let authorize = header(&res, "location");
        let set_cookie = header(&res, "set-cookie");
        assert!(
            authorize.contains("code_challenge_method=S256"),
            "{authorize}"
        );
        let page = browser.get(&authorize).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let token = form_token(&page.text().await.unwrap());
        let consent = self
            .post_form(
                &browser,
                &[
                    ("form_token", &token),
                    ("username", user),
                    ("password", password),
                    ("action", "login"),
                ],
            )
            .await;
        assert_eq!(consent.status(), 200);
        let token = form_token(&consent.text().await.unwrap());
        let done = self
            .post_form(&browser, &[("form_token", &token), ("action", action)])
            .await;
        assert_eq!(done.status(), 302, "{}", done.text().await.unwrap());
        let url = header(&done, "location");
        assert!(
            url.starts_with(&format!("{}/oauth/callback/", self.address)),
            "{url}"
        );
        Callback {
            url,
            browser,
            set_cookie,
        }
    }

    async fn post_form(
        &self,
        browser: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        browser
            .post(format!("{}/oauth/authorize", self.sim.base_url()))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Link → consent as JSMITH → callback; returns the callback response.
    pub async fn connect(&self, identifier: &str) -> reqwest::Response {
        let link = self.link(identifier).await;
        let cb = self
            .authorize(&link, "jsmith", "jsmith-pass", "allow")
            .await;
        cb.browser.get(&cb.url).send().await.unwrap()
    }

    /// `GET …/accounts/{identifier}` with the service key.
    pub async fn account(&self, identifier: &str) -> Value {
        let res = self
            .client
            .get(format!(
                "{}/v1/connections/sales/accounts/{identifier}",
                self.address
            ))
            .bearer_auth(&self.service_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub fn code_grants(&self) -> u64 {
        self.sim
            .control()
            .counters()
            .token_requests_for("authorization_code")
    }

    pub fn refresh_grants(&self) -> u64 {
        self.sim
            .control()
            .counters()
            .token_requests_for("refresh_token")
    }

    pub fn connection(&self, name: &str) -> Arc<icebroker::connections::Connection> {
        self.state.connections.get(name).unwrap()
    }
}

pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `form_token` hidden field of a snowsim page.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no form_token in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Runs `SELECT CURRENT_USER()` on the sim with `token`.
pub async fn current_user(
    env: &OAuthEnv,
    token: &icebroker::oauth::AccessToken,
) -> Result<String, icebroker::snowflake::SnowflakeError> {
    use icebroker::snowflake::{StatementRequest, SubmitOptions, Upstream};
    let client = env
        .state
        .sql_api
        .with_upstream(Upstream::parse(&env.sim.base_url()).unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let rows = client
        .execute(
            &token.credential(),
            &StatementRequest::new("SELECT CURRENT_USER()"),
            &SubmitOptions::default(),
            deadline,
        )
        .await?;
    Ok(rows.data[0][0].clone().unwrap())
}
