//! Redaction: everything the client logs (at TRACE, dependencies included) during a retried
//! submit, an auth failure and a statement failure contains no token, statement text or
//! binding value (STYLE.md §7, SECURITY.md PX-3).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::stub::{Reply, Stub};
use super::tests::{client, oauth, result_json, HANDLE, TOKEN};
use super::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_contain_tokens_statements_or_bindings() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Tests run in parallel. With a single scoped dispatcher, tracing-core computes a callsite's
    // interest from the *registering thread's* dispatcher, so a callsite first hit by another
    // test would be cached as "never" and silently skipped here. A second live dispatcher makes
    // it consult every registered one; the rebuild fixes callsites registered before.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();
    let stub = Stub::start(|request, index| match (request.path.as_str(), index) {
        (_, 0) => Reply::empty(503),
        (_, 1) => Reply::Drop,
        (_, 2) => Reply::json(200, result_json(json!([]), &[0])),
        (_, 3) => Reply::json(
            401,
            json!({"code": "390303", "message": format!("bad token {TOKEN}")}),
        ),
        _ => Reply::json(
            422,
            json!({"code": "000904", "message": "invalid identifier",
                                     "statementHandle": HANDLE}),
        ),
    });
    let client = client(&stub);
    let request = StatementRequest::new("select secret_column_xyz from t where c = ?")
        .bind(Binding::text("binding-value-sentinel"));

    for _ in 0..3 {
        let _ = client
            .submit(&oauth(), &request, &SubmitOptions::default())
            .await;
    }

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("retrying"),
        "the retry path logged something: {text}"
    );
    for secret in [TOKEN, "secret_column_xyz", "binding-value-sentinel"] {
        assert!(!text.contains(secret), "{secret} leaked into logs:\n{text}");
    }
}
