//! Per-key defaults for MCP: an API key may carry a default connection and identifier, used
//! when a request names none. They are validated at creation and survive a restart.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

async fn create(app: &crate::helpers::TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_keeps_its_default_connection_and_identifier() {
    let app = spawn_app().await;
    let res = create(
        &app,
        json!({"name": "agent", "scope": "service", "connections": ["sales"],
               "default_connection": "sales", "default_identifier": "alice@example.com"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["api_key"]["default_connection"], "sales");
    assert_eq!(
        created["api_key"]["default_identifier"],
        "alice@example.com"
    );

    let listed: Value = app
        .get("/v1/api-keys", Some(&app.admin_key))
        .await
        .json()
        .await
        .unwrap();
    let keys = listed["api_keys"].as_array().unwrap();
    let agent = keys.iter().find(|k| k["name"] == "agent").unwrap();
    assert_eq!(agent["default_connection"], "sales");
    assert_eq!(agent["default_identifier"], "alice@example.com");
    // Keys without defaults do not grow the fields.
    let admin = keys.iter().find(|k| k["scope"] == "admin").unwrap();
    assert!(admin.get("default_connection").is_none());

    // Loaded back from the store on a restart of the service.
    let reloaded = icebroker::api_keys::ApiKeyService::load(app.state.vault.clone()).unwrap();
    let agent = reloaded
        .list()
        .into_iter()
        .find(|k| k.name == "agent")
        .unwrap();
    assert_eq!(agent.default_connection.as_deref(), Some("sales"));
    assert_eq!(
        agent.default_identifier.as_deref(),
        Some("alice@example.com")
    );
}

#[tokio::test]
async fn invalid_defaults_are_refused_with_a_message_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "a", "scope": "service", "connections": ["sales"],
                   "default_connection": "finance"}),
            "default_connection",
        ),
        (
            json!({"name": "a", "scope": "service", "default_connection": "Not A Slug"}),
            "slug",
        ),
        (
            json!({"name": "a", "scope": "service", "default_identifier": ""}),
            "default_identifier",
        ),
        (
            json!({"name": "a", "scope": "service", "default_identifier": "a\nb"}),
            "default_identifier",
        ),
    ];
    for (body, needle) in cases {
        let res = create(&app, body.clone()).await;
        let error = assert_error(res, 400, "invalid_request").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
}
