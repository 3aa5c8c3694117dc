//! What a caller may send through the proxy, checked before anything goes upstream
//! (SECURITY.md PX-2, PX-4, TR-10): the query allow-list with typed values, a `requestId` on
//! every submit, and the connection's defaults filled into the statement body where the caller
//! left them out.

use bytes::Bytes;
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
        let mut out = String::new();
        self.render_into(is_retry, &mut out);
        out
    }

    /// [`UpstreamQuery::render`] appended to `out` (`?` not included).
    pub fn render_into(&self, is_retry: bool, out: &mut String) {
        use std::fmt::Write as _;
        let start = out.len();
        let param = |out: &mut String, text: std::fmt::Arguments<'_>| {
            if out.len() > start {
                out.push('&');
            }
            let _ = out.write_fmt(text);
        };
        if let Some(id) = &self.request_id {
            param(out, format_args!("requestId={id}"));
        }
        if self.retry || is_retry {
            param(out, format_args!("retry=true"));
        }
        if self.asynchronous {
            param(out, format_args!("async=true"));
        }
        if !self.nullable {
            param(out, format_args!("nullable=false"));
        }
        if let Some(p) = self.partition {
            param(out, format_args!("partition={p}"));
        }
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
    pub bytes: Bytes,
    /// SHA-256 (hex) of the statement text, for the audit log.
    pub statement_sha256: String,
}

/// The session fields a connection may fill in, in the order they are appended.
const DEFAULTED: [&str; 4] = ["role", "warehouse", "database", "schema"];

/// Fills the connection's defaults into a statement body where the caller left them out and
/// returns the bytes to send. The body must be a JSON object with a non-empty string
/// `statement`. The caller's bytes are kept as they are: missing fields are appended before the
/// closing brace rather than the object being parsed into a map and written out again (one
/// allocation instead of one per member; this is every submit's path).
pub fn prepare_body(body: Bytes, defaults: &Defaults) -> Result<PreparedBody, RequestError> {
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let scan = serde::Deserializer::deserialize_map(&mut deserializer, ScanVisitor)
        .and_then(|scan| deserializer.end().map(|()| scan))
        .map_err(|e| RequestError(format!("the statement body must be a JSON object: {e}")))?;
    let statement_sha256 = match scan.statement {
        Some(Statement::Text {
            sha256,
            blank: false,
        }) => hex::encode(sha256),
        _ => {
            return Err(RequestError(
                "the body needs a non-empty string field \"statement\"".to_owned(),
            ))
        }
    };
    let values = [
        &defaults.role,
        &defaults.warehouse,
        &defaults.database,
        &defaults.schema,
    ];
    let missing: Vec<(&str, &str)> = DEFAULTED
        .iter()
        .zip(values)
        .zip(scan.present)
        .filter_map(|((field, value), present)| {
            Some((*field, value.as_deref()?)).filter(|_| !present)
        })
        .collect();
    if missing.is_empty() {
        return Ok(PreparedBody {
            bytes: body,
            statement_sha256,
        });
    }
    // The object holds at least `statement`, so every added member follows a comma.
    let close = body
        .iter()
        .rposition(|b| *b == b'}')
        .ok_or_else(|| RequestError("the statement body must be a JSON object".to_owned()))?;
    let extra: usize = missing.iter().map(|(f, v)| f.len() + v.len() + 8).sum();
    let mut out = Vec::with_capacity(body.len() + extra);
    out.extend_from_slice(&body[..close]);
    for (field, value) in missing {
        out.push(b',');
        out.push(b'"');
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut out, value).map_err(|e| RequestError(e.to_string()))?;
    }
    out.extend_from_slice(&body[close..]);
    Ok(PreparedBody {
        bytes: Bytes::from(out),
        statement_sha256,
    })
}

/// What [`prepare_body`] needs of a statement body: the `statement` value and which of
/// [`DEFAULTED`] are present (with any value, `null` included).
#[derive(Default)]
struct Scan {
    statement: Option<Statement>,
    present: [bool; 4],
}

/// The `statement` member, digested as it is read (the text is never copied).
enum Statement {
    /// A string: its SHA-256, and whether it is only white space.
    Text { sha256: [u8; 32], blank: bool },
    /// Any other JSON value.
    NotText,
}

impl Statement {
    fn text(text: &str) -> Self {
        Statement::Text {
            sha256: sha2::Sha256::digest(text.as_bytes()).into(),
            blank: text.trim().is_empty(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Statement {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess};
        struct StatementVisitor;
        impl<'de> serde::de::Visitor<'de> for StatementVisitor {
            type Value = Statement;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Statement, E> {
                Ok(Statement::text(v))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Statement, E> {
                Ok(Statement::NotText)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Statement, E> {
                Ok(Statement::NotText)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Statement, E> {
                Ok(Statement::NotText)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Statement, E> {
                Ok(Statement::NotText)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Statement, E> {
                Ok(Statement::NotText)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Statement, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Statement::NotText)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Statement, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Statement::NotText)
            }
        }
        deserializer.deserialize_any(StatementVisitor)
    }
}

/// A top-level key of a statement body.
enum Key {
    Statement,
    Defaulted(usize),
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "statement" => Key::Statement,
                    _ => DEFAULTED
                        .iter()
                        .position(|f| *f == key)
                        .map_or(Key::Other, Key::Defaulted),
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct ScanVisitor;

impl<'de> serde::de::Visitor<'de> for ScanVisitor {
    type Value = Scan;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Scan, A::Error> {
        use serde::de::{Error, IgnoredAny};
        let mut scan = Scan::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Statement if scan.statement.is_some() => {
                    return Err(A::Error::custom("field `statement` given twice"))
                }
                Key::Statement => scan.statement = Some(map.next_value()?),
                Key::Defaulted(i) => {
                    if std::mem::replace(&mut scan.present[i], true) {
                        return Err(A::Error::custom(format!(
                            "field `{}` given twice",
                            DEFAULTED[i]
                        )));
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
            schema: Some("we\"ird".into()),
        };
        let body = |b: &'static [u8]| Bytes::from_static(b);
        let out = prepare_body(
            body(br#"{"statement":"select 1","role":"REPORTER"} "#),
            &defaults,
        )
        .unwrap();
        assert_eq!(
            out.bytes,
            &br#"{"statement":"select 1","role":"REPORTER","warehouse":"COMPUTE_WH","schema":"we\"ird"} "#[..],
            "the caller's bytes are kept and missing fields appended"
        );
        let v: Value = serde_json::from_slice(&out.bytes).unwrap();
        assert_eq!(v["role"], "REPORTER");
        assert_eq!(v["schema"], "we\"ird");
        assert!(v.get("database").is_none());
        // Present with any value (null too), or spelled with escapes, counts as given; a nested
        // `role` does not.
        let out = prepare_body(
            body(br#"{"st\u0061tement":"select 1","role":null,"warehouse":"W","schema":"S","x":{"role":"R"}}"#),
            &defaults,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out.bytes).unwrap();
        assert_eq!(v["role"], Value::Null);
        assert_eq!(v["x"]["role"], "R");
        assert_eq!(
            out.statement_sha256,
            hex::encode(sha2::Sha256::digest(b"select 1"))
        );
        let unchanged = br#"{"statement":"select 1"}"#;
        let same = prepare_body(body(unchanged), &Defaults::default()).unwrap();
        assert_eq!(same.bytes, &unchanged[..]);
        assert_eq!(same.statement_sha256.len(), 64);
        for bad in [
            &b"[]"[..],
            b"{}",
            b"",
            b"{",
            br#"{"statement":""}"#,
            br#"{"statement":"  "}"#,
            br#"{"statement":1}"#,
            br#"{"statement":null}"#,
            br#"{"statement":"a","statement":"b"}"#,
            br#"{"statement":"a","role":"x","role":"y"}"#,
            br#"{"statement":"a"} {}"#,
            br#"{"statement":"a"}]"#,
            b"nope",
        ] {
            assert!(
                prepare_body(body(bad), &defaults).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
