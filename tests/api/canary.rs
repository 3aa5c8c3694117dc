//! OA-12 canary: with every crate logging at TRACE, run the broker's flows with known secrets
//! and check that none of them reaches a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::helpers::spawn_app;

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

#[tokio::test]
async fn no_secret_appears_in_any_log_line_at_trace_level() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the canary test owns the global subscriber");

    let app = spawn_app().await;
    let mut secrets = vec![app.admin_key.clone(), app.master_key_b64.clone()];
    let (id, service_key) = app.create_key("service", &["sales"]).await;
    secrets.push(service_key.clone());
    app.get("/v1/api-keys", Some(&app.admin_key)).await;
    app.get("/v1/api-keys", Some(&service_key)).await;
    let mut tampered = service_key.clone();
    tampered.replace_range(
        10..11,
        if &service_key[10..11] == "x" {
            "y"
        } else {
            "x"
        },
    );
    secrets.push(tampered.clone());
    app.get("/v1/api-keys", Some(&tampered)).await;
    app.get(&format!("/v1/api-keys?code={}", app.admin_key), None)
        .await;
    app.client
        .delete(format!("{}/v1/api-keys/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    app.get("/v1/api-keys", Some(&service_key)).await;

    let canary = format!("CANARY-{}", uuid::Uuid::new_v4());
    secrets.push(canary.clone());
    let slot =
        icebroker::vault::Slot::new("oauth_account", "sales", "alice", "refresh_token").unwrap();
    app.state.vault.put(&slot, canary.as_bytes()).await.unwrap();
    let opened = app.state.vault.get(&slot).unwrap().unwrap();
    assert_eq!(opened.expose(), canary.as_bytes());
    let report = app.state.vault.rotate_key(true).await.unwrap();
    tracing::info!(?report, "rotated");
    tracing::debug!(
        ?opened,
        ?slot,
        "debug-printing secret wrappers must redact them"
    );

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("request"), "capture saw no request logs");
    assert!(logs.lines().count() > 20, "capture saw too little: {logs}");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
}
