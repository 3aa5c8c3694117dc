//! The error contract holds for every kind of bad input.

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn unknown_route_is_404_route_not_found() {
    let app = spawn_app().await;
    assert_error(app.get("/nope", None).await, 404, "route_not_found").await;
}

#[tokio::test]
async fn wrong_method_is_405_method_not_allowed() {
    let app = spawn_app().await;
    let res = app
        .client
        .put(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_error(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json_naming_the_problem() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_json").await;
    let res = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .json(&serde_json::json!({"name": "x", "scope": "superuser"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 400, "invalid_json").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("superuser"));
}

#[tokio::test]
async fn unknown_fields_are_rejected_not_ignored() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .json(&serde_json::json!({"name": "x", "scope": "service", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_json").await;
}

#[tokio::test]
async fn body_over_the_limit_is_413_payload_too_large() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"name\": \"{}\", \"scope\": \"service\"}}",
        "a".repeat(1024 * 1024 + 1)
    );
    let res = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn invalid_input_values_are_400_invalid_request() {
    let app = spawn_app().await;
    for body in [
        serde_json::json!({"name": "", "scope": "service"}),
        serde_json::json!({"name": "x", "scope": "service", "connections": ["Bad Name!"]}),
    ] {
        let res = app
            .client
            .post(format!("{}/v1/api-keys", app.address))
            .bearer_auth(&app.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "invalid_request").await;
    }
}
