//! Wire-shape tests of [`SqlApiClient`] against the recording [`stub`](super::stub): exact
//! headers, query and body; 202 polling; partitions and gzip; cancel; lenient parsing.

use std::io::Write;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tokio::time::Instant;

use super::stub::{Reply, Stub};
use super::*;

pub(super) const HANDLE: &str = "01b03285-0001-dea1-003d-b087000ca9be";
pub(super) const TOKEN: &str = "sentinel-oauth-token-4f1c9a7e2b";

pub(super) fn client(stub: &Stub) -> SqlApiClient {
    let mut config = SqlApiConfig::new(stub.upstream());
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        total_budget: Duration::from_secs(5),
    };
    config.poll = PollPolicy {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    SqlApiClient::new(config).unwrap()
}

pub(super) fn oauth() -> Credential {
    Credential::OAuth(SecretString::from(TOKEN))
}

pub(super) fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

/// A 200 body in the shape of the real capture (PROTOCOL.md A.4), lower-case types.
pub(super) fn result_json(rows: serde_json::Value, partitions: &[u64]) -> serde_json::Value {
    let info: Vec<_> = partitions
        .iter()
        .map(|n| json!({"rowCount": n, "uncompressedSize": 100}))
        .collect();
    json!({
        "resultSetMetaData": {
            "numRows": partitions.iter().sum::<u64>(), "format": "jsonv2",
            "partitionInfo": info,
            "rowType": [
                {"name": "N", "database": "", "schema": "", "table": "", "type": "fixed",
                 "nullable": false, "precision": 38, "scale": 0, "length": null,
                 "byteLength": null, "collation": null},
                {"name": "S", "database": "DB", "schema": "PUBLIC", "table": "T", "type": "text",
                 "nullable": true, "precision": null, "scale": null, "length": 4,
                 "byteLength": 16, "collation": null}
            ]
        },
        "data": rows,
        "code": "090001", "sqlState": "00000",
        "statementStatusUrl": format!("/api/v2/statements/{HANDLE}"),
        "requestId": "ignored", "statementHandle": HANDLE,
        "message": "Statement executed successfully.", "createdOn": 1620151584132_i64
    })
}

fn running_json() -> serde_json::Value {
    json!({"code": "333334", "message": "Asynchronous execution in progress.",
           "statementHandle": HANDLE, "statementStatusUrl": format!("/api/v2/statements/{HANDLE}")})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gzip_reply(value: serde_json::Value) -> Reply {
    Reply::Http {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        body: gzip(value.to_string().as_bytes()),
    }
}

#[tokio::test]
async fn submit_sends_exact_headers_query_and_body() {
    let stub = Stub::start(|_, _| Reply::json(200, result_json(json!([["1", "a"]]), &[1])));
    let request_id = RequestId::new_v4();
    let request = StatementRequest {
        timeout: Some(10),
        warehouse: Some("WH".into()),
        role: Some("ANALYST".into()),
        ..StatementRequest::new("select ?, ?")
    }
    .bind(Binding::fixed(1))
    .bind(Binding::text("x"));
    let options = SubmitOptions {
        request_id: Some(request_id),
        asynchronous: true,
        nullable: false,
        retry: false,
    };

    let answer = client(&stub)
        .submit(&oauth(), &request, &options)
        .await
        .unwrap();

    let Submitted::Done(result) = answer else {
        panic!("expected a finished statement")
    };
    assert_eq!(result.statement_handle.as_str(), HANDLE);
    assert_eq!(result.data, vec![vec![Some("1".into()), Some("a".into())]]);
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/api/v2/statements")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        sent.header("x-snowflake-authorization-token-type"),
        Some("OAUTH")
    );
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("user-agent"), Some(USER_AGENT_VALUE));
    assert!(USER_AGENT_VALUE.starts_with("icebroker/"));
    assert_eq!(
        sent.query("requestId"),
        Some(request_id.to_string().as_str())
    );
    assert_eq!(sent.query("async"), Some("true"));
    assert_eq!(sent.query("nullable"), Some("false"));
    assert_eq!(sent.query("retry"), None, "a first attempt is not a retry");
    assert_eq!(
        sent.json(),
        json!({"statement": "select ?, ?", "timeout": 10, "warehouse": "WH", "role": "ANALYST",
               "bindings": {"1": {"type": "FIXED", "value": "1"}, "2": {"type": "TEXT", "value": "x"}}}),
        "unset fields are skipped"
    );
}

#[tokio::test]
async fn defaults_send_a_fresh_v4_request_id_and_no_optional_flags() {
    let stub = Stub::start(|_, _| Reply::json(200, result_json(json!([]), &[0])));
    let client = client(&stub);
    for _ in 0..2 {
        client
            .submit(
                &oauth(),
                &StatementRequest::new("select 1"),
                &SubmitOptions::default(),
            )
            .await
            .unwrap();
    }
    let requests = stub.requests();
    let ids: Vec<uuid::Uuid> = requests
        .iter()
        .map(|r| r.query("requestId").unwrap().parse().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1], "each logical request gets its own id");
    assert!(ids.iter().all(|id| id.get_version_num() == 4));
    assert!(requests
        .iter()
        .all(|r| r.query("async").is_none() && r.query("nullable").is_none()));
}

#[tokio::test]
async fn keypair_credential_sends_keypair_jwt_token_type() {
    let stub = Stub::start(|_, _| Reply::json(200, result_json(json!([]), &[0])));
    let jwt = Credential::KeypairJwt(SecretString::from("eyJhbGciOi.eyJpc3Mi.c2lnbmF0dXJl"));
    client(&stub)
        .submit(
            &jwt,
            &StatementRequest::new("select 1"),
            &SubmitOptions::default(),
        )
        .await
        .unwrap();
    let sent = &stub.requests()[0];
    assert_eq!(
        sent.header("x-snowflake-authorization-token-type"),
        Some("KEYPAIR_JWT")
    );
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer eyJhbGciOi.eyJpc3Mi.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn running_statement_is_polled_until_done() {
    let stub = Stub::start(|_, index| match index {
        0..=2 => Reply::json(202, running_json()),
        _ => Reply::json(200, result_json(json!([["7", null]]), &[1])),
    });

    let result = client(&stub)
        .execute(
            &oauth(),
            &StatementRequest::new("select 7, null"),
            &SubmitOptions::default(),
            soon(),
        )
        .await
        .unwrap();

    assert_eq!(result.data, vec![vec![Some("7".into()), None]]);
    let requests = stub.requests();
    assert_eq!(
        requests.len(),
        4,
        "submit + 2 polls answered 202 + 1 poll answered 200"
    );
    for poll in &requests[1..] {
        assert_eq!(poll.method, "GET");
        assert_eq!(poll.path, format!("/api/v2/statements/{HANDLE}"));
        assert_eq!(
            poll.header("content-type"),
            None,
            "no body, no content type"
        );
        assert_eq!(
            poll.header("x-snowflake-authorization-token-type"),
            Some("OAUTH")
        );
        assert!(poll.body.is_empty());
    }
}

#[tokio::test]
async fn async_submit_answers_running_with_the_handle() {
    let stub = Stub::start(|_, _| Reply::json(202, running_json()));
    let options = SubmitOptions {
        asynchronous: true,
        ..SubmitOptions::default()
    };
    let answer = client(&stub)
        .submit(&oauth(), &StatementRequest::new("select 1"), &options)
        .await
        .unwrap();
    let expected_url = format!("/api/v2/statements/{HANDLE}");
    assert!(matches!(answer, Submitted::Running { handle, status_url }
        if handle.as_str() == HANDLE && status_url.as_deref() == Some(expected_url.as_str())));
}

#[tokio::test]
async fn wait_stops_at_the_deadline_with_the_handle() {
    let stub = Stub::start(|_, _| Reply::json(202, running_json()));
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let error = client(&stub)
        .wait(
            &oauth(),
            &handle,
            Instant::now() + Duration::from_millis(60),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SnowflakeError::StillRunning { statement_handle } if statement_handle == &handle)
    );
    assert!(
        stub.requests().len() >= 2,
        "polled more than once before giving up"
    );
}

#[tokio::test]
async fn gzip_partition_is_decoded() {
    let stub = Stub::start(|_, _| gzip_reply(json!({"data": [["2", "b"], ["3", null]]})));
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let rows = client(&stub).partition(&oauth(), &handle, 1).await.unwrap();
    assert_eq!(
        rows,
        vec![
            vec![Some("2".into()), Some("b".into())],
            vec![Some("3".into()), None]
        ]
    );
    let sent = &stub.requests()[0];
    assert_eq!(sent.query("partition"), Some("1"));
    assert_eq!(sent.header("accept-encoding"), Some("gzip"));
}

#[tokio::test]
async fn gzip_bomb_partition_is_refused_at_the_cap() {
    let mut bomb = b"{\"data\":[[\"".to_vec();
    bomb.extend(std::iter::repeat_n(b'9', 8 * 1024 * 1024));
    bomb.extend(b"\"]]}");
    let compressed = gzip(&bomb);
    let stub = Stub::start(move |_, _| Reply::Http {
        status: 200,
        headers: vec![("Content-Encoding".into(), "gzip".into())],
        body: compressed.clone(),
    });
    let mut config = client(&stub).config().clone();
    config.max_decompressed_bytes = 1024 * 1024;
    let client = SqlApiClient::new(config).unwrap();
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let error = client.partition(&oauth(), &handle, 1).await.unwrap_err();
    assert!(
        matches!(error, SnowflakeError::TooLarge { limit } if limit == 1024 * 1024),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1, "a too-large body is not retried");
}

#[tokio::test]
async fn fetch_all_rows_walks_three_partitions() {
    let stub = Stub::start(|request, _| match request.query("partition") {
        None => Reply::json(
            200,
            result_json(json!([["1", "a"], ["2", "b"]]), &[2, 1, 3]),
        ),
        Some("1") => gzip_reply(json!({"data": [["3", "c"]]})),
        Some("2") => gzip_reply(json!({"data": [["4", "d"], ["5", null], ["6", "f"]]})),
        Some(_) => Reply::empty(404),
    });
    let client = client(&stub);
    let first = client
        .execute(
            &oauth(),
            &StatementRequest::new("select *"),
            &SubmitOptions::default(),
            soon(),
        )
        .await
        .unwrap();

    let all = client.fetch_all_rows(&oauth(), first).await.unwrap();

    let numbers: Vec<_> = all.data.iter().map(|row| row[0].clone().unwrap()).collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5", "6"]);
    let partitions: Vec<_> = stub
        .requests()
        .iter()
        .filter_map(|r| r.query("partition").map(str::to_owned))
        .collect();
    assert_eq!(partitions, ["1", "2"], "partition 0 came inline");
}

#[tokio::test]
async fn a_partition_shorter_than_its_metadata_is_a_protocol_error() {
    let stub = Stub::start(|request, _| match request.query("partition") {
        None => Reply::json(200, result_json(json!([["1", "a"]]), &[1, 2])),
        _ => gzip_reply(json!({"data": [["2", "b"]]})),
    });
    let client = client(&stub);
    let first = client
        .execute(
            &oauth(),
            &StatementRequest::new("select *"),
            &SubmitOptions::default(),
            soon(),
        )
        .await
        .unwrap();
    let error = client.fetch_all_rows(&oauth(), first).await.unwrap_err();
    assert!(matches!(error, SnowflakeError::Protocol(_)), "{error:?}");
}

#[tokio::test]
async fn cancel_posts_to_the_cancel_path_without_a_body() {
    let stub = Stub::start(|_, _| {
        Reply::json(
            200,
            json!({"code": "000604", "sqlState": "57014",
            "message": "SQL execution canceled", "statementHandle": HANDLE}),
        )
    });
    let handle = StatementHandle::parse(HANDLE).unwrap();
    let status = client(&stub).cancel(&oauth(), &handle).await.unwrap();
    assert_eq!(status.code.as_deref(), Some("000604"));
    let sent = &stub.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        (
            "POST",
            format!("/api/v2/statements/{HANDLE}/cancel").as_str()
        )
    );
    assert!(sent.body.is_empty());
}
