//! The admin UI in a real browser: headless Chromium (Debian's package, installed by
//! `scripts/test.sh`) driven by `tests/browser/admin_flow.mjs` through playwright-core. This test
//! starts the broker and snowsim on port 0, registers the OAuth security integration in snowsim by
//! SQL (as a Snowflake admin would) and hands the script the URLs, keys and credentials; the
//! script logs in, creates and enrolls a keypair connection, tests it, creates an OAuth
//! connection, completes an authorization link through snowsim's login page, revokes the
//! account, and saves a screenshot of each page under `target/browser-artifacts/`.
//!
//! Without Chromium or playwright-core this test fails with the command that installs them
//! (always in CI); `ICEBROKER_SKIP_BROWSER_TEST=1` skips it outside CI, on purpose only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::sim::spawn_with_snowsim;

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `Ok(())` when the browser stack is installed; otherwise why not.
fn browser_stack() -> Result<(), String> {
    if !Path::new(CHROMIUM).exists() {
        return Err(format!("{CHROMIUM} is missing"));
    }
    let module = root().join("tests/browser/node_modules/playwright-core/package.json");
    if !module.exists() {
        return Err("tests/browser/node_modules/playwright-core is missing".to_owned());
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("node is not on PATH".to_owned()),
    }
}

/// Creates the security integration for connection `sales` in snowsim and reads its client
/// id and secret back with `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS`.
async fn integration(env: &crate::sim::SimEnv) -> (String, String) {
    let redirect = format!("{}/oauth/callback/sales", env.app.address);
    env.admin_sql(&format!(
        "CREATE OR REPLACE SECURITY INTEGRATION ICEBROKER_SALES TYPE = OAUTH \
         OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' \
         OAUTH_REDIRECT_URI = '{redirect}' OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE \
         OAUTH_ISSUE_REFRESH_TOKENS = TRUE OAUTH_ENFORCE_PKCE = TRUE"
    ))
    .await;
    let body = env
        .admin_sql("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('ICEBROKER_SALES')")
        .await;
    let json: Value = serde_json::from_str(body["data"][0][0].as_str().unwrap()).unwrap();
    (
        json["OAUTH_CLIENT_ID"].as_str().unwrap().to_owned(),
        json["OAUTH_CLIENT_SECRET"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_both_connection_kinds_in_a_real_browser() {
    if let Err(missing) = browser_stack() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        let skip = std::env::var("ICEBROKER_SKIP_BROWSER_TEST").is_ok_and(|v| v == "1");
        if skip && !ci {
            eprintln!("SKIPPED admin browser test on request: {missing}");
            return;
        }
        panic!(
            "the admin browser test needs headless Chromium and playwright-core, but {missing}. \
             Run scripts/test.sh, which installs them (apt-get install chromium; npm ci in \
             tests/browser)."
        );
    }
    let env = spawn_with_snowsim().await;
    let (client_id, client_secret) = integration(&env).await;
    let sim_token = env
        .sim
        .control()
        .mint_access_token("ADMIN", Some("ACCOUNTADMIN"))
        .unwrap();
    let artifacts = root().join("target/browser-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);

    let mut cmd = Command::new("node");
    cmd.current_dir(root())
        .arg("tests/browser/admin_flow.mjs")
        .env("BROKER_URL", &env.app.address)
        .env("ADMIN_KEY", &env.app.admin_key)
        .env("SIM_URL", env.sim.base_url())
        .env("SIM_ADMIN_TOKEN", &sim_token)
        .env("OAUTH_CLIENT_ID", &client_id)
        .env("OAUTH_CLIENT_SECRET", &client_secret)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", CHROMIUM);
    // The servers keep running on this runtime's other worker while node blocks here.
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser flow finishes within 4 minutes")
        .unwrap()
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "browser flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("admin_flow: OK"), "{stdout}");

    // What the browser did is visible in the broker's state too.
    let keypair = env.app.state.connections.get("warehouse-bot").unwrap();
    assert_eq!(
        keypair.status,
        icebroker::connections::ConnectionStatus::Connected
    );
    let account = env.app.state.oauth.account("sales", "alice").unwrap();
    assert_eq!(account.status, icebroker::oauth::AccountStatus::Revoked);
    let shots = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .count();
    assert!(
        shots >= 15,
        "{shots} screenshots in {}",
        artifacts.display()
    );
}
