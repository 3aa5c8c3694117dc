//! Shared test harness: spawns the real application on port 0 with a temporary data dir and a
//! random master key, and offers typed request helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use icebroker::config::Settings;
use icebroker::startup::Application;
use icebroker::state::AppState;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// A running broker plus what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub master_key_b64: String,
    pub data_dir: tempfile::TempDir,
    pub state: AppState,
}

/// Random 32-byte master key in base64.
pub fn random_master_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Settings for a test broker in `data_dir` listening on an ephemeral port.
pub fn test_settings(data_dir: &Path, master_key_b64: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 2;
    settings.storage.data_dir = data_dir.to_path_buf();
    settings.master_key = Some(SecretString::from(master_key_b64.to_owned()));
    settings
}

/// Starts a broker with a fresh vault and returns its handle.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a broker after letting the test adjust its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let master_key_b64 = random_master_key();
    let mut settings = test_settings(data_dir.path(), &master_key_b64);
    adjust(&mut settings);
    let mut app = Application::build(settings).await.expect("broker starts");
    let admin_key = app
        .take_bootstrap_key()
        .map(|k| k.expose().to_owned())
        .unwrap_or_default();
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client(),
        admin_key,
        master_key_b64,
        data_dir,
        state,
    }
}

/// A client with redirects off (the broker's redirects are assertions, not hops).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// `GET path` with an optional bearer key.
    pub async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{}", self.address, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send().await.unwrap()
    }

    /// Creates an API key through the HTTP API; returns (id, key).
    pub async fn create_key(&self, scope: &str, connections: &[&str]) -> (String, String) {
        let res = self
            .client
            .post(format!("{}/v1/api-keys", self.address))
            .bearer_auth(&self.admin_key)
            .json(&serde_json::json!({"name": "test key", "scope": scope, "connections": connections}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        (
            body["api_key"]["id"].as_str().unwrap().to_owned(),
            body["key"].as_str().unwrap().to_owned(),
        )
    }
}

/// Asserts the JSON error contract and returns the body.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let header_id = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .expect("x-request-id header");
    let body: serde_json::Value = res.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert!(body["error"]["type"].as_str().is_some());
    assert_eq!(body["error"]["request_id"], header_id.as_str(), "{body}");
    body
}

/// SHA-256 of every file under `dir`, by relative path.
pub fn hash_tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// Whether any file under `dir` contains `needle`.
pub fn tree_contains(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}
