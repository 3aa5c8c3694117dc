use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_200_without_a_key_and_carry_a_request_id() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(
            res.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
    }
}

#[tokio::test]
async fn a_safe_caller_request_id_is_echoed_and_an_unsafe_one_replaced() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id with spaces");
}
