//! Fault tests: error mapping (422/408/401/400/5xx), retries with one `requestId` and
//! `retry=true` (TR-9/TR-10), redirects never followed (PX-1), input validation (PX-4).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::json;

use super::stub::{Reply, Stub};
use super::tests::{client, oauth, result_json, soon, HANDLE, TOKEN};
use super::*;

async fn submit(stub: &Stub) -> Result<Submitted, SnowflakeError> {
    client(stub)
        .submit(
            &oauth(),
            &StatementRequest::new("insert into t values (1)"),
            &SubmitOptions::default(),
        )
        .await
}

/// Every attempt carried the same requestId; attempts 2+ carry `retry=true`, the first not.
fn assert_one_request_id_with_retry_flags(stub: &Stub, attempts: usize) {
    let requests = stub.requests();
    assert_eq!(requests.len(), attempts);
    let ids: HashSet<_> = requests
        .iter()
        .map(|r| r.query("requestId").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one requestId across all attempts: {ids:?}");
    assert_eq!(requests[0].query("retry"), None);
    for later in &requests[1..] {
        assert_eq!(later.query("retry"), Some("true"));
    }
}

#[tokio::test]
async fn failed_statement_keeps_code_sql_state_and_handle() {
    let stub = Stub::start(|_, _| {
        Reply::json(
            422,
            json!({"code": "000904",
            "message": "SQL compilation error: error line 1 at position 7\ninvalid identifier 'AFAF'",
            "sqlState": "42000", "statementHandle": HANDLE}),
        )
    });
    let error = submit(&stub).await.unwrap_err();
    let SnowflakeError::Statement {
        status,
        code,
        sql_state,
        message,
        statement_handle,
    } = &error
    else {
        panic!("expected a statement error, got {error:?}")
    };
    assert_eq!(*status, 422);
    assert_eq!(code.as_deref(), Some("000904"));
    assert_eq!(sql_state.as_deref(), Some("42000"));
    assert!(message.contains("invalid identifier 'AFAF'"));
    assert_eq!(
        statement_handle.as_ref().map(StatementHandle::as_str),
        Some(HANDLE)
    );
    assert_eq!(error.code(), Some("000904"));
    assert_eq!(stub.requests().len(), 1, "422 is never retried");
}

#[tokio::test]
async fn statement_timeout_408_is_a_statement_error_and_not_retried() {
    let stub = Stub::start(|_, _| {
        Reply::json(
            408,
            json!({"code": "000630", "message": "Statement reached its statement timeout",
            "statementHandle": HANDLE}),
        )
    });
    let error = submit(&stub).await.unwrap_err();
    assert!(
        matches!(error, SnowflakeError::Statement { status: 408, .. }),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn invalid_oauth_token_maps_to_auth_expired_without_echoing_the_token() {
    let tail = &TOKEN[TOKEN.len() - 10..];
    let message = format!("Invalid OAuth access token. ...{tail}");
    let stub =
        Stub::start(move |_, _| Reply::json(401, json!({"code": "390303", "message": message})));
    let error = submit(&stub).await.unwrap_err();
    assert!(error.is_auth() && error.is_auth_expired(), "{error:?}");
    assert_eq!(error.code(), Some("390303"));
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(tail), "token tail leaked: {shown}");
    assert!(shown.contains("Invalid OAuth access token"));
    assert_eq!(
        stub.requests().len(),
        1,
        "401 is never retried by the client"
    );
}

#[tokio::test]
async fn forbidden_without_a_body_is_auth_but_not_expired() {
    let stub = Stub::start(|_, _| Reply::empty(403));
    let error = submit(&stub).await.unwrap_err();
    assert!(error.is_auth() && !error.is_auth_expired(), "{error:?}");
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn rate_limited_twice_then_ok_is_three_attempts_with_one_request_id() {
    let stub = Stub::start(|_, index| match index {
        0 | 1 => Reply::json(
            429,
            json!({"code": "390505", "message": "Too many requests."}),
        )
        .header("Retry-After", "0"),
        _ => Reply::json(200, result_json(json!([]), &[0])),
    });
    assert!(matches!(submit(&stub).await.unwrap(), Submitted::Done(_)));
    assert_one_request_id_with_retry_flags(&stub, 3);
}

#[tokio::test]
async fn dropped_connection_after_the_request_is_retried_and_executes_once() {
    // TR-10: the stub "executes" on first sight of a requestId, then loses the answer.
    let executed: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&executed);
    let stub = Stub::start(move |request, _| {
        let id = request.query("requestId").unwrap_or_default().to_owned();
        let mut seen = seen.lock().unwrap();
        if seen.contains(&id) {
            assert_eq!(request.query("retry"), Some("true"));
            Reply::json(200, result_json(json!([["1"]]), &[1]))
        } else {
            seen.push(id);
            Reply::Drop
        }
    });
    assert!(matches!(submit(&stub).await.unwrap(), Submitted::Done(_)));
    assert_one_request_id_with_retry_flags(&stub, 2);
    assert_eq!(
        executed.lock().unwrap().len(),
        1,
        "side effect happened once"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_as_unavailable() {
    let stub = Stub::start(|_, _| Reply::empty(503));
    let error = submit(&stub).await.unwrap_err();
    assert!(
        matches!(error, SnowflakeError::Unavailable { status: 503 }),
        "{error:?}"
    );
    assert_one_request_id_with_retry_flags(&stub, 5);
}

#[tokio::test]
async fn internal_error_then_success_is_retried() {
    let stub = Stub::start(|_, index| match index {
        0 => Reply::empty(500),
        _ => Reply::json(200, result_json(json!([]), &[0])),
    });
    assert!(submit(&stub).await.is_ok());
    assert_one_request_id_with_retry_flags(&stub, 2);
}

#[tokio::test]
async fn client_errors_are_attempted_exactly_once() {
    for status in [400u16, 404, 405, 415] {
        let stub = Stub::start(move |_, _| {
            Reply::json(
                status,
                json!({"code": "390142", "message": "Incoming request does not contain a valid payload."}),
            )
        });
        let error = submit(&stub).await.unwrap_err();
        assert!(
            matches!(error, SnowflakeError::Rejected { status: s, .. } if s == status),
            "{status}: {error:?}"
        );
        assert_eq!(stub.requests().len(), 1, "{status} attempted once");
    }
}

#[tokio::test]
async fn status_polls_are_retried_on_transient_failures() {
    let stub = Stub::start(|_, index| match index {
        0 => Reply::Drop,
        1 => Reply::empty(502),
        _ => Reply::json(200, result_json(json!([]), &[0])),
    });
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let answer = client(&stub).status(&oauth(), &handle).await.unwrap();
    assert!(matches!(answer, Submitted::Done(_)));
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.query("retry").is_none()),
        "GETs have no retry flag"
    );
}

#[tokio::test]
async fn a_body_over_the_raw_cap_is_refused_and_not_retried() {
    let stub = Stub::start(|_, _| Reply::json(200, json!({"data": [["x".repeat(4096)]]})));
    let mut config = client(&stub).config().clone();
    config.max_response_bytes = 1024;
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let error = SqlApiClient::new(config)
        .unwrap()
        .partition(&oauth(), &handle, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SnowflakeError::TooLarge { limit: 1024 }),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let elsewhere = Stub::start(|_, _| Reply::json(200, result_json(json!([]), &[0])));
    let target = format!("{}/api/v2/statements", elsewhere.base);
    let stub = Stub::start(move |_, _| Reply::empty(302).header("Location", &target));
    let error = submit(&stub).await.unwrap_err();
    assert!(
        matches!(error, SnowflakeError::Redirect { status: 302 }),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1);
    assert_eq!(
        elsewhere.requests().len(),
        0,
        "the redirect target got nothing"
    );
}

#[tokio::test]
async fn unreachable_upstream_is_a_transport_error_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream = Upstream::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let stub = Stub::start(|_, _| Reply::empty(500));
    let client = client(&stub).with_upstream(upstream);
    let error = client
        .execute(
            &oauth(),
            &StatementRequest::new("select 1"),
            &SubmitOptions::default(),
            soon(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, SnowflakeError::Transport(_)), "{error:?}");
    assert!(
        !format!("{error:?}").contains("requestId"),
        "no URL in the error: {error:?}"
    );
}

#[tokio::test]
async fn a_token_with_crlf_is_refused_before_any_request() {
    let stub = Stub::start(|_, _| Reply::empty(200));
    let evil = Credential::OAuth(SecretString::from("abc\r\nX-Evil: 1"));
    let error = client(&stub)
        .submit(
            &evil,
            &StatementRequest::new("select 1"),
            &SubmitOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, SnowflakeError::Invalid(_)), "{error:?}");
    assert_eq!(stub.requests().len(), 0);
    assert!(
        !format!("{evil:?}").contains("abc"),
        "Debug never shows the token"
    );
}

#[test]
fn upstreams_must_be_https_origins_or_loopback_http() {
    let good = [
        "https://xy12345.snowflakecomputing.com",
        "https://myorg-myaccount.snowflakecomputing.com/",
        "http://127.0.0.1:8080",
        "http://localhost:9000",
        "http://[::1]:9000",
    ];
    for text in good {
        assert!(Upstream::parse(text).is_ok(), "{text} should be accepted");
    }
    let bad = [
        (
            "http://xy12345.snowflakecomputing.com",
            UpstreamError::Scheme,
        ),
        ("http://169.254.169.254", UpstreamError::Scheme),
        ("ftp://127.0.0.1", UpstreamError::Scheme),
        (
            "https://user:pw@xy12345.snowflakecomputing.com",
            UpstreamError::Userinfo,
        ),
        (
            "https://xy12345.snowflakecomputing.com/api",
            UpstreamError::NotAnOrigin,
        ),
        (
            "https://xy12345.snowflakecomputing.com/?a=b",
            UpstreamError::NotAnOrigin,
        ),
        (
            "https://xy12345.snowflakecomputing.com/#x",
            UpstreamError::NotAnOrigin,
        ),
        ("not a url", UpstreamError::Unparseable),
    ];
    for (text, expected) in bad {
        assert_eq!(Upstream::parse(text), Err(expected), "{text}");
    }
}

#[test]
fn statement_handles_accept_only_the_snowflake_shape() {
    assert!(StatementHandle::parse(HANDLE).is_ok());
    assert!(StatementHandle::parse("019C06A4-0000-DF4F-0000-00100006589E").is_ok());
    let bad = [
        "",
        "../../session",
        "01b03285-0001-dea1-003d-b087000ca9be/cancel",
        "01b03285-0001-dea1-003d-b087000ca9b%",
        "01b03285-0001-dea1-003d-b087000ca9be\r\n",
        "01b032850001dea1003db087000ca9be",
        "{01b03285-0001-dea1-003d-b087000ca9be}",
        "01b03285_0001-dea1-003d-b087000ca9be",
    ];
    for text in bad {
        assert!(
            StatementHandle::parse(text).is_err(),
            "{text:?} should be refused"
        );
    }
    assert!("not-a-uuid".parse::<RequestId>().is_err());
}
