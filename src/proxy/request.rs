//! What a caller may send through the proxy, checked before anything goes upstream
//! (SECURITY.md PX-2, PX-4, TR-10): the query allow-list with typed values, a `requestId` on
//! every submit, and the connection's defaults filled into the statement body where the caller
//! left them out.

use serde_json::{Map, Value};
use sha2::Digest;

use crate::connections::Defaults;
use crate::snowflake::RequestId;

/// Which SQL API operation a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /api/v2/statements`.
    Submit,
    /// `GET /api/v2/statements/{handle}`.
    Status,
    /// `POST /api/v2/statements/{handle}/cancel`.
    Cancel,
}

impl Operation {
    /// The one HTTP method the SQL API serves the operation with.
    pub fn method(self) -> &'static str {
        match self {
            Operation::Status => "GET",
            Operation::Submit | Operation::Cancel => "POST",
        }
    }
}

/// The validated query string to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamQuery {
    /// `requestId` (always set for submits).
    pub request_id: Option<RequestId>,
    /// `async=true`.
    pub asynchronous: bool,
    /// `nullable=false` when false.
    pub nullable: bool,
    /// `partition=N` (status only).
    pub partition: Option<u64>,
    /// Whether the caller itself asked for `retry=true`.
    pub retry: bool,
}

impl UpstreamQuery {
    /// Renders the query for one attempt; retries always carry `retry=true` (TR-10).
    pub fn render(&self, is_retry: bool) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(4);
        if let Some(id) = &self.request_id {
            parts.push(format!("requestId={id}"));
        }
        if self.retry || is_retry {
            parts.push("retry=true".to_owned());
        }
        if self.asynchronous {
            parts.push("async=true".to_owned());
        }
        if !self.nullable {
            parts.push("nullable=false".to_owned());
        }
        if let Some(p) = self.partition {
            parts.push(format!("partition={p}"));
        }
        parts.join("&")
    }
}

/// Why a request was refused before going upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// Parses the caller's query string for `operation` (unknown keys, repeated keys and badly
/// typed values are refused).
pub fn parse_query(raw: &str, operation: Operation) -> Result<UpstreamQuery, RequestError> {
    let mut query = UpstreamQuery {
        request_id: None,
        asynchronous: false,
        nullable: true,
        partition: None,
        retry: false,
    };
    let mut seen = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if seen.contains(&key) {
            return Err(RequestError(format!("query parameter {key} given twice")));
        }
        let allowed = match operation {
            Operation::Submit => {
                ["requestId", "retry", "async", "nullable"].contains(&key.as_ref())
            }
            Operation::Status => ["requestId", "partition"].contains(&key.as_ref()),
            Operation::Cancel => key == "requestId",
        };
        if !allowed {
            return Err(RequestError(format!(
                "query parameter {key:?} is not accepted on this SQL API operation"
            )));
        }
        match key.as_ref() {
            "requestId" => {
                let id = value
                    .parse::<RequestId>()
                    .map_err(|_| RequestError("requestId must be a UUID".to_owned()))?;
                query.request_id = Some(id);
            }
            "retry" => query.retry = parse_bool("retry", &value)?,
            "async" => query.asynchronous = parse_bool("async", &value)?,
            "nullable" => query.nullable = parse_bool("nullable", &value)?,
            "partition" => {
                query.partition =
                    Some(value.parse::<u64>().map_err(|_| {
                        RequestError("partition must be a whole number ≥ 0".to_owned())
                    })?)
            }
            _ => {}
        }
        seen.push(key);
    }
    if operation == Operation::Submit && query.request_id.is_none() {
        // Minted here so every retry of this logical request reuses it (TR-10).
        query.request_id = Some(RequestId::new_v4());
    }
    Ok(query)
}

fn parse_bool(name: &str, value: &str) -> Result<bool, RequestError> {
    match value {
        "true" | "TRUE" | "True" => Ok(true),
        "false" | "FALSE" | "False" => Ok(false),
        _ => Err(RequestError(format!("{name} must be true or false"))),
    }
}

/// A statement body ready to send.
#[derive(Debug)]
pub struct PreparedBody {
    /// The bytes to send upstream.
    pub bytes: Vec<u8>,
    /// SHA-256 (hex) of the statement text, for the audit log.
    pub statement_sha256: String,
}

/// Fills the connection's defaults into a statement body where the caller left them out and
/// returns the bytes to send. The body must be a JSON object with a string `statement`.
pub fn prepare_body(body: &[u8], defaults: &Defaults) -> Result<PreparedBody, RequestError> {
    let mut object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| RequestError(format!("the statement body must be a JSON object: {e}")))?;
    let statement_sha256 = match object.get("statement") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            hex::encode(sha2::Sha256::digest(s.as_bytes()))
        }
        _ => {
            return Err(RequestError(
                "the body needs a non-empty string field \"statement\"".to_owned(),
            ))
        }
    };
    let mut changed = false;
    for (field, value) in [
        ("role", &defaults.role),
        ("warehouse", &defaults.warehouse),
        ("database", &defaults.database),
        ("schema", &defaults.schema),
    ] {
        if let Some(value) = value {
            if !object.contains_key(field) {
                object.insert(field.to_owned(), Value::String(value.clone()));
                changed = true;
            }
        }
    }
    let bytes = if changed {
        serde_json::to_vec(&object).map_err(|e| RequestError(e.to_string()))?
    } else {
        body.to_vec()
    };
    Ok(PreparedBody {
        bytes,
        statement_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submits_always_get_a_request_id_and_keep_the_callers() {
        let q = parse_query("", Operation::Submit).unwrap();
        assert!(q.request_id.is_some());
        let id = "8b0b7b6c-3f0a-4c6e-9a57-8f7f6a9d1c2e";
        let q = parse_query(
            &format!("requestId={id}&async=true&nullable=false"),
            Operation::Submit,
        )
        .unwrap();
        assert_eq!(q.request_id.unwrap().to_string(), id);
        assert_eq!(
            q.render(false),
            format!("requestId={id}&async=true&nullable=false")
        );
        assert_eq!(
            q.render(true),
            format!("requestId={id}&retry=true&async=true&nullable=false")
        );
    }

    #[test]
    fn unknown_repeated_and_mistyped_parameters_are_refused() {
        for (raw, op) in [
            ("foo=1", Operation::Submit),
            ("partition=1", Operation::Submit),
            ("async=yes", Operation::Submit),
            ("requestId=x", Operation::Submit),
            ("requestId=%0d%0aX:1", Operation::Submit),
            ("async=true&async=true", Operation::Submit),
            ("partition=-1", Operation::Status),
            ("async=true", Operation::Status),
            ("partition=1", Operation::Cancel),
        ] {
            assert!(parse_query(raw, op).is_err(), "{raw}");
        }
        assert_eq!(
            parse_query("partition=3", Operation::Status)
                .unwrap()
                .partition,
            Some(3)
        );
    }

    #[test]
    fn defaults_fill_only_missing_fields() {
        let defaults = Defaults {
            role: Some("ANALYST".into()),
            warehouse: Some("COMPUTE_WH".into()),
            database: None,
            schema: None,
        };
        let out =
            prepare_body(br#"{"statement":"select 1","role":"REPORTER"}"#, &defaults).unwrap();
        let v: Value = serde_json::from_slice(&out.bytes).unwrap();
        assert_eq!(v["role"], "REPORTER");
        assert_eq!(v["warehouse"], "COMPUTE_WH");
        assert!(v.get("database").is_none());
        let unchanged = br#"{"statement":"select 1"}"#;
        let same = prepare_body(unchanged, &Defaults::default()).unwrap();
        assert_eq!(same.bytes, unchanged);
        assert_eq!(same.statement_sha256.len(), 64);
        for bad in [
            &b"[]"[..],
            b"{}",
            br#"{"statement":""}"#,
            br#"{"statement":1}"#,
            b"nope",
        ] {
            assert!(prepare_body(bad, &defaults).is_err());
        }
    }
}
