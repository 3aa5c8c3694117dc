//! Helpers for the admin UI tests: a "browser" that logs in through the real login form and
//! posts forms the way a same-origin page does (Origin + Sec-Fetch-Site), with the cookie and
//! CSRF token handled by hand so tests can leave them out or forge them.

use std::sync::Arc;

use icebroker::clock::ManualClock;
use icebroker::startup::Application;
use icebroker::state::AppState;

use crate::helpers::{client, random_master_key, test_settings};

/// A broker on a manual clock, for session tests.
pub struct AdminEnv {
    pub address: String,
    pub admin_key: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub _data_dir: tempfile::TempDir,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts a broker on a [`ManualClock`]; `adjust` may change the settings first.
pub async fn spawn_admin(adjust: impl FnOnce(&mut icebroker::config::Settings)) -> AdminEnv {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(data_dir.path(), &random_master_key());
    adjust(&mut settings);
    let clock = Arc::new(ManualClock::new(now()));
    let mut app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("broker starts");
    let admin_key = app.take_bootstrap_key().unwrap().expose().to_owned();
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    AdminEnv {
        address,
        admin_key,
        state,
        clock,
        _data_dir: data_dir,
    }
}

/// The value of hidden field `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// `name=value` of the `Set-Cookie` for `name`, and the whole header.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v))
}

/// A logged-in admin browser.
pub struct Admin {
    pub base: String,
    pub client: reqwest::Client,
    /// `ib_admin=<id>`.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The login page's double-submit token and cookie.
pub async fn login_form(base: &str) -> (String, String) {
    let res = client()
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (cookie, _) = set_cookie(&res, "ib_admin_login").expect("login cookie");
    let html = res.text().await.unwrap();
    (hidden(&html, "csrf_token"), cookie)
}

/// Posts the login form with `key`; returns the response (303 on success).
pub async fn post_login(base: &str, key: &str, extra_cookie: Option<&str>) -> reqwest::Response {
    let (token, cookie) = login_form(base).await;
    let cookies = match extra_cookie {
        Some(c) => format!("{cookie}; {c}"),
        None => cookie,
    };
    client()
        .post(format!("{base}/admin/login"))
        .header("cookie", cookies)
        .header("origin", base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", token.as_str()), ("api_key", key)])
        .send()
        .await
        .unwrap()
}

impl Admin {
    /// Logs in with `key` through the form.
    pub async fn login(base: &str, key: &str) -> Self {
        let res = post_login(base, key, None).await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(res.headers()["location"], "/admin/connections");
        let (cookie, _) = set_cookie(&res, "ib_admin").expect("session cookie");
        let mut admin = Self {
            base: base.to_owned(),
            client: client(),
            cookie,
            csrf: String::new(),
        };
        let page = admin.get("/admin/connections").await;
        assert_eq!(page.status(), 200);
        admin.csrf = hidden(&page.text().await.unwrap(), "csrf_token");
        admin
    }

    /// `GET path` with the session cookie.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// `GET path`, asserting 200; returns the HTML.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        let status = res.status();
        let html = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {html}");
        html
    }

    /// A same-origin form post with the session's CSRF token added.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("csrf_token", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(
            path,
            &fields,
            &[("origin", &self.base), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// A form post with exactly these fields and headers (plus the session cookie).
    pub async fn post_raw(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }
}
