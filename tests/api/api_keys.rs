//! API keys over HTTP: authentication, scopes, revocation, and nothing secret at rest.

use crate::helpers::{assert_error, spawn_app, tree_contains};

#[tokio::test]
async fn listing_keys_without_a_key_is_401_and_with_the_admin_key_200() {
    let app = spawn_app().await;
    let res = app.get("/v1/api-keys", None).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_error(res, 401, "unauthorized").await;
    let res = app.get("/v1/api-keys", Some(&app.admin_key)).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let keys = body["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["scope"], "admin");
    assert!(!body.to_string().contains(&app.admin_key));
}

#[tokio::test]
async fn malformed_bad_checksum_and_unknown_keys_are_all_401() {
    let app = spawn_app().await;
    let mut tampered = app.admin_key.clone().into_bytes();
    tampered[12] = if tampered[12] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let unknown = icebroker::api_keys::PlaintextApiKey::generate().unwrap();
    for key in ["nonsense", tampered.as_str(), unknown.expose()] {
        assert_error(
            app.get("/v1/api-keys", Some(key)).await,
            401,
            "unauthorized",
        )
        .await;
    }
    let res = app
        .client
        .get(format!("{}/v1/api-keys", app.address))
        .header("authorization", format!("Basic {}", app.admin_key))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_service_key_cannot_use_admin_routes() {
    let app = spawn_app().await;
    let (_, service_key) = app.create_key("service", &["sales"]).await;
    assert_error(
        app.get("/v1/api-keys", Some(&service_key)).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn created_keys_are_listed_with_metadata_only() {
    let app = spawn_app().await;
    let (id, key) = app.create_key("service", &["sales", "finance"]).await;
    let body: serde_json::Value = app
        .get("/v1/api-keys", Some(&app.admin_key))
        .await
        .json()
        .await
        .unwrap();
    let listed = body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        listed["connections"],
        serde_json::json!(["sales", "finance"])
    );
    assert_eq!(listed["prefix"].as_str().unwrap(), &key[..12]);
    assert!(!body.to_string().contains(&key));
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    let app = spawn_app().await;
    let (id, key) = app.create_key("admin", &[]).await;
    assert_eq!(app.get("/v1/api-keys", Some(&key)).await.status(), 200);
    let res = app
        .client
        .delete(format!("{}/v1/api-keys/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_error(
        app.get("/v1/api-keys", Some(&key)).await,
        401,
        "unauthorized",
    )
    .await;
    let res = app
        .client
        .delete(format!("{}/v1/api-keys/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "api_key_not_found").await;
}

#[tokio::test]
async fn the_data_dir_never_contains_a_raw_key() {
    let app = spawn_app().await;
    let (_, key) = app.create_key("service", &[]).await;
    app.state.vault.store().flush().await.unwrap();
    assert!(!tree_contains(app.data_dir.path(), key.as_bytes()));
    assert!(!tree_contains(
        app.data_dir.path(),
        app.admin_key.as_bytes()
    ));
}
