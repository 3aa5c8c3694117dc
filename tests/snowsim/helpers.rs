//! Test harness: a sim on 127.0.0.1:0, a plain reqwest client (no redirects, no cookies), and
//! helpers that drive the SQL API (validating every body against sqlapi.yaml) and the OAuth
//! browser flow through its HTML forms.

use std::net::SocketAddr;

use base64::Engine as _;
use icebroker::snowsim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REDIRECT_URI};
use icebroker::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::Digest;

use super::schema::assert_valid;

pub const UA: &str = "snowsim-tests/1.0";

/// A small demo configuration (TPC-H scale 0.001 keeps start-up fast).
pub fn config() -> SimConfig {
    let mut c = SimConfig::demo();
    c.tpch_scale = 0.001;
    c.workers = 1;
    c
}

pub struct TestSim {
    pub sim: RunningSnowSim,
    pub client: reqwest::Client,
    pub base: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn spawn(config: SimConfig) -> TestSim {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sim = SnowSim::start(config, addr).await.expect("sim starts");
    let base = sim.base_url();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestSim { sim, client, base }
}

pub async fn spawn_demo() -> TestSim {
    spawn(config()).await
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("body").to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// Maps a concrete SQL API path to the spec's path template.
fn spec_path(path: &str) -> (&'static str, bool) {
    let rest = path.trim_start_matches("/api/v2/statements");
    if rest.is_empty() {
        ("/api/v2/statements", false)
    } else if rest.ends_with("/cancel") {
        ("/api/v2/statements/{statementHandle}/cancel", true)
    } else {
        ("/api/v2/statements/{statementHandle}", false)
    }
}

impl TestSim {
    pub fn token(&self, user: &str, role: Option<&str>) -> String {
        self.sim.mint_access_token(user, role).expect("mint")
    }

    /// Sends a SQL API request with the usual headers (overridable) and validates the body.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path_and_query))
            .header("User-Agent", UA);
        if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            req = req.header("Accept", "application/json");
        }
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            if !extra
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("Content-Type", "application/json");
            }
            req = req.body(b.to_string());
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = into_resp(req.send().await.expect("request")).await;
        let path = path_and_query.split('?').next().unwrap_or_default();
        if path.starts_with("/api/v2/statements") {
            let (spec, _) = spec_path(path);
            let m = method.as_str().to_ascii_lowercase();
            let body = if resp.header("content-encoding") == Some("gzip") {
                gunzip(&resp.body)
            } else {
                resp.body.clone()
            };
            assert_valid(spec, &m, resp.status, &body);
        }
        resp
    }

    pub async fn submit(&self, token: &str, body: Value, query: &str) -> Resp {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        self.api(
            reqwest::Method::POST,
            &format!("/api/v2/statements{q}"),
            Some(token),
            Some(&body),
            &[],
        )
        .await
    }

    pub async fn sql(&self, token: &str, statement: &str) -> Resp {
        self.submit(token, serde_json::json!({ "statement": statement }), "")
            .await
    }

    pub async fn status(&self, token: &str, handle: &str, query: &str) -> Resp {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        self.api(
            reqwest::Method::GET,
            &format!("/api/v2/statements/{handle}{q}"),
            Some(token),
            None,
            &[],
        )
        .await
    }

    pub async fn cancel(&self, token: &str, handle: &str) -> Resp {
        self.api(
            reqwest::Method::POST,
            &format!("/api/v2/statements/{handle}/cancel"),
            Some(token),
            None,
            &[],
        )
        .await
    }

    /// Polls until the statement leaves 202 (at most ~20 s).
    pub async fn poll(&self, token: &str, handle: &str) -> Resp {
        for _ in 0..200 {
            let r = self.status(token, handle, "").await;
            if r.status != 202 {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("statement {handle} still running");
    }

    // ----- OAuth browser flow -----

    pub async fn authorize(&self, params: &[(&str, &str)]) -> Resp {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/oauth/authorize", self.base), params)
                .unwrap();
        into_resp(self.client.get(url).send().await.unwrap()).await
    }

    pub async fn post_form(&self, fields: &[(&str, &str)]) -> Resp {
        into_resp(
            self.client
                .post(format!("{}/oauth/authorize", self.base))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Logs in on the form of `page` and returns the consent page.
    pub async fn login(&self, page: &Resp, user: &str, password: &str) -> Resp {
        let token = form_token(&page.text());
        self.post_form(&[
            ("form_token", &token),
            ("username", user),
            ("password", password),
            ("action", "login"),
        ])
        .await
    }

    /// Drives authorize → login → allow and returns the redirect's query parameters.
    pub async fn code_flow(
        &self,
        params: &[(&str, &str)],
        user: &str,
        password: &str,
    ) -> Vec<(String, String)> {
        let page = self.authorize(params).await;
        assert_eq!(page.status, 200, "authorize: {}", page.text());
        let consent = self.login(&page, user, password).await;
        assert_eq!(consent.status, 200, "login: {}", consent.text());
        let token = form_token(&consent.text());
        let done = self
            .post_form(&[("form_token", &token), ("action", "allow")])
            .await;
        assert_eq!(done.status, 302, "consent: {}", done.text());
        let location = done.header("location").unwrap().to_owned();
        assert!(location.starts_with(DEMO_REDIRECT_URI), "{location}");
        let url = reqwest::Url::parse(&location).unwrap();
        url.query_pairs().into_owned().collect()
    }

    pub async fn token_request(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/oauth/token-request", self.base))
            .form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let r = into_resp(req.send().await.unwrap()).await;
        (r.status, r.json())
    }

    pub async fn demo_token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        self.token_request(form, Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)))
            .await
    }
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `form_token` hidden field of a page.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no form_token in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The `data-code` of a Snowflake-style error page.
pub fn error_code(html: &str) -> String {
    let marker = "data-code=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no error code in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip body");
    out
}

/// RFC 7636 S256, computed here independently of the sim.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

pub fn demo_authorize_params<'a>(scope: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", DEMO_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("scope", scope),
        ("state", state),
    ]
}
