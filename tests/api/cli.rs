//! The binary as a new user runs it: zero-configuration start, the printed admin key, CLI key
//! management, key rotation, and refusal to start with another master key.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::hash_tree;

fn icebroker(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_icebroker"));
    cmd.current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("ICEBROKER_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    // Everything default except the port, so parallel tests never collide.
    cmd.env("ICEBROKER_SERVER__LISTEN", "127.0.0.1:0");
    cmd
}

struct Served {
    child: Child,
    port: u16,
    admin_key: Option<String>,
}

fn serve(cwd: &Path) -> Served {
    let mut child = icebroker(cwd)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the test stops listening, so the broker never writes into a
        // closed pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut admin_key = None;
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the broker never printed its listening line");
        };
        if let Some(key) = line.trim().strip_prefix("ibk_") {
            admin_key = Some(format!("ibk_{key}"));
        }
        if let Some(port) = line.split("port=").nth(1) {
            let port: u16 = port
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            return Served {
                child,
                port,
                admin_key,
            };
        }
    }
}

fn stop(mut served: Served) {
    let _ = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status();
    let status = served.child.wait().unwrap();
    assert!(status.success(), "graceful stop exits 0, got {status}");
}

async fn get(port: u16, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn zero_config_start_prints_an_admin_key_once_and_serves_the_api() {
    let cwd = tempfile::tempdir().unwrap();
    let served = serve(cwd.path());
    let key = served
        .admin_key
        .clone()
        .expect("first start prints an admin key");
    assert_eq!(get(served.port, "/healthz", None).await.status(), 200);
    let res = get(served.port, "/v1/api-keys", None).await;
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(
        get(served.port, "/v1/api-keys", Some(&key)).await.status(),
        200
    );
    assert!(cwd.path().join("data/master.key").exists());
    stop(served);

    let again = serve(cwd.path());
    assert!(
        again.admin_key.is_none(),
        "the admin key is printed only once"
    );
    assert_eq!(
        get(again.port, "/v1/api-keys", Some(&key)).await.status(),
        200
    );
    stop(again);
}

#[tokio::test]
async fn restarting_with_another_master_key_refuses_and_leaves_the_data_dir_unchanged() {
    let cwd = tempfile::tempdir().unwrap();
    stop(serve(cwd.path()));
    let data = cwd.path().join("data");
    let before = hash_tree(&data);
    let other = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
    let out = icebroker(cwd.path())
        .env("ICEBROKER_MASTER_KEY", other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.to_lowercase().contains("master key"), "{stderr}");
    assert_eq!(before, hash_tree(&data));
}

#[tokio::test]
async fn api_keys_can_be_managed_from_the_command_line() {
    let cwd = tempfile::tempdir().unwrap();
    stop(serve(cwd.path()));
    let out = icebroker(cwd.path())
        .args([
            "api-key",
            "create",
            "--name",
            "ci",
            "--scope",
            "service",
            "--connection",
            "sales",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .unwrap()
        .trim()
        .to_owned();
    let list = icebroker(cwd.path())
        .args(["api-key", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(listing.contains(&id) && listing.contains("sales"));
    assert!(!listing.contains(&key), "list never shows keys");
    let revoke = icebroker(cwd.path())
        .args(["api-key", "revoke", &id])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let revoke_again = icebroker(cwd.path())
        .args(["api-key", "revoke", &id])
        .output()
        .unwrap();
    assert!(!revoke_again.status.success());
}

#[tokio::test]
async fn rotate_key_reseals_the_vault_and_the_broker_still_opens_it() {
    let cwd = tempfile::tempdir().unwrap();
    let first = serve(cwd.path());
    let key = first.admin_key.clone().unwrap();
    stop(first);
    let out = icebroker(cwd.path())
        .args(["vault", "rotate-key"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = serve(cwd.path());
    assert_eq!(
        get(again.port, "/v1/api-keys", Some(&key)).await.status(),
        200
    );
    stop(again);
}

#[test]
fn version_prints_the_crate_version() {
    let cwd = tempfile::tempdir().unwrap();
    let out = icebroker(cwd.path()).arg("version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("icebroker {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn the_demo_prints_keys_a_working_curl_and_an_oauth_link() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = icebroker(cwd.path())
        .args(["demo", "--sim-port", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut url = None;
    let mut key = None;
    let mut body = None;
    let mut admin_key = None;
    let mut link = None;
    while link.is_none() {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo never printed its curl");
        };
        let line = line.trim().to_owned();
        if let Some(rest) = line.strip_prefix("curl -s ") {
            url = Some(rest.trim_end_matches('\\').trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("-H 'Authorization: Bearer ") {
            key = Some(rest.split('\'').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("-d '") {
            body = Some(rest.trim_end_matches('\'').to_owned());
        } else if line.starts_with("ibk_") {
            admin_key = Some(line.clone());
        } else if line.starts_with("http") && line.contains("/connect/") {
            link = Some(line.clone());
        }
    }
    let url = url.unwrap();
    let base = url.split("/v1/").next().unwrap().to_owned();
    let admin_key = admin_key.expect("the first demo start prints the admin key");
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let keys = reqwest::Client::new()
        .get(format!("{base}/v1/api-keys"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 200);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = browser.get(link.unwrap()).send().await.unwrap();
    assert_eq!(
        opened.status(),
        302,
        "the OAuth link redirects to snowsim's login"
    );
    let location = opened.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/oauth/authorize?"), "{location}");
    let res = reqwest::Client::new()
        .post(url)
        .bearer_auth(key.unwrap())
        .header("content-type", "application/json")
        .body(body.unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: serde_json::Value = res.json().await.unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"].as_array().unwrap().len(), 10);
    assert_eq!(
        json["resultSetMetaData"]["rowType"][2]["name"],
        "TOTAL_SPENT"
    );
}
