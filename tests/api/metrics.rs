//! `GET /metrics`: after proxied calls (with a refresh) the expected series are there, by name
//! and labels, and no identifier, key, token or statement text appears anywhere in the scrape;
//! a configured metrics token is enforced.

use serde_json::json;

use crate::helpers::{assert_error, spawn_app_with};
use crate::oauth_support::{spawn, OAuthEnv};

/// The value of the sample `name{labels…}` (every given label must match), if present.
pub fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_part, value) = match rest.strip_prefix('{') {
            Some(r) => {
                let end = r.find("} ")?;
                (&r[..end], &r[end + 2..])
            }
            None => ("", rest.strip_prefix(' ')?),
        };
        let all = labels
            .iter()
            .all(|(k, v)| label_part.split(',').any(|p| p == format!("{k}=\"{v}\"")));
        all.then(|| value.split(' ').next()?.parse().ok()).flatten()
    })
}

async fn scrape(address: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{address}/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

async fn submit(env: &OAuthEnv, identifier: &str, statement: &str) -> u16 {
    env.client
        .post(format!(
            "{}/v1/connections/sales/accounts/{identifier}/api/v2/statements",
            env.address
        ))
        .bearer_auth(&env.service_key)
        .json(&json!({ "statement": statement }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_scrape_after_proxied_calls_has_the_series_and_no_identifier_or_secret() {
    let env = spawn(false).await;
    let identifier = "ident-METRICS-CANARY-3f9c2e71";
    let statement = "SELECT 'STMT-METRICS-CANARY-8d41' AS marker";
    assert_eq!(env.connect(identifier).await.status(), 303);
    assert_eq!(submit(&env, identifier, statement).await, 200);
    // Snowflake expires the token early: one upstream 401, one refresh, one resubmission.
    env.sim.control().expire_access_tokens();
    assert_eq!(submit(&env, identifier, statement).await, 200);
    let connection = env.connection("sales");
    let token = env
        .state
        .oauth
        .tokens()
        .access_token(&connection, identifier)
        .await
        .unwrap();

    let res = scrape(&env.address, None).await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = res.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");

    let route = "/v1/connections/{name}/accounts/{identifier}/api/v2/statements";
    let by_route = [("route", route), ("method", "POST"), ("status", "200")];
    assert_eq!(
        sample(&body, "icebroker_http_requests_total", &by_route),
        Some(2.0),
        "{body}"
    );
    let mut bucket = by_route.to_vec();
    bucket.push(("le", "+Inf"));
    assert_eq!(
        sample(
            &body,
            "icebroker_http_request_duration_seconds_bucket",
            &bucket
        ),
        Some(2.0)
    );
    assert!(sample(
        &body,
        "icebroker_http_request_duration_seconds_sum",
        &by_route
    )
    .is_some_and(|s| s > 0.0));
    assert_eq!(
        sample(&body, "icebroker_http_requests_in_flight", &[]),
        Some(1.0),
        "only the scrape itself is in flight"
    );
    let sales_200 = [("connection", "sales"), ("status", "200")];
    assert_eq!(
        sample(&body, "icebroker_upstream_requests_total", &sales_200),
        Some(2.0)
    );
    let sales_401 = [("connection", "sales"), ("status", "401")];
    assert_eq!(
        sample(&body, "icebroker_upstream_requests_total", &sales_401),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &body,
            "icebroker_upstream_request_duration_seconds_count",
            &[("connection", "sales")]
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &body,
            "icebroker_oauth_refreshes_total",
            &[("result", "refreshed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, "icebroker_oauth_refresh_waiters", &[]),
        Some(0.0)
    );
    assert!(sample(&body, "icebroker_oauth_refresh_waits_total", &[]).is_some());
    assert_eq!(
        sample(
            &body,
            "icebroker_oauth_reauthorization_required_total",
            &[("reason", "invalid_grant")]
        ),
        Some(0.0)
    );
    assert!(sample(
        &body,
        "icebroker_vault_operation_duration_seconds_count",
        &[("op", "compare_and_swap")]
    )
    .is_some_and(|n| n >= 2.0));
    assert!(sample(
        &body,
        "icebroker_vault_operation_errors_total",
        &[("op", "get")]
    )
    .is_some());
    assert_eq!(
        sample(&body, "icebroker_jwt_signatures_total", &[]),
        Some(0.0)
    );
    for limit in ["api_key", "identifier", "connection_concurrency"] {
        assert_eq!(
            sample(&body, "icebroker_rate_limited_total", &[("limit", limit)]),
            Some(0.0)
        );
    }

    for secret in [
        identifier,
        "CANARY",
        env.service_key.as_str(),
        env.admin_key.as_str(),
        token.expose(),
        "ibk_",
    ] {
        assert!(!body.contains(secret), "{secret:?} leaked into /metrics");
    }
}

#[tokio::test]
async fn a_configured_metrics_token_is_required() {
    let token = "metrics-token-5b0d7e";
    let app = spawn_app_with(|s| s.metrics.token = Some(token.to_owned().into())).await;
    assert_error(scrape(&app.address, None).await, 401, "unauthorized").await;
    assert_error(
        scrape(&app.address, Some("wrong")).await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        scrape(&app.address, Some(&app.admin_key)).await,
        401,
        "unauthorized",
    )
    .await;
    let res = scrape(&app.address, Some(token)).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("# TYPE icebroker_http_requests counter"),
        "{body}"
    );
    assert!(!body.contains(token));
    // The rejected scrapes are counted like any request, without the token.
    assert_eq!(
        sample(
            &body,
            "icebroker_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        Some(3.0)
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_metrics_token_can_come_from_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.token");
    std::fs::write(&path, "file-token-91ac\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app = spawn_app_with(|s| s.metrics.token_file = Some(path.clone())).await;
    assert_eq!(scrape(&app.address, None).await.status(), 401);
    assert_eq!(
        scrape(&app.address, Some("file-token-91ac")).await.status(),
        200
    );
}
