//! `/openapi.json` is generated from the code; every operation it documents is served.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 5);
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "key_0000000000000000")
            .replace("{name}", "no-such-connection");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app
                .client
                .request(method.clone(), format!("{}{}", app.address, concrete))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(
                code != "route_not_found" && code != "method_not_allowed",
                "{method} {path} is documented but not served ({status} {code})"
            );
        }
    }
}

#[tokio::test]
async fn documented_error_codes_match_the_error_schema() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
    for field in ["code", "type", "message", "request_id"] {
        assert!(schema.get(field).is_some(), "ErrorDetail lacks {field}");
    }
}
