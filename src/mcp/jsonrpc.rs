//! JSON-RPC 2.0 framing for MCP: classifies one incoming JSON value as a request, a
//! notification or a response, and builds the response objects. The MCP types themselves
//! (request ids, error data and codes) are rmcp's; the framing rules are JSON-RPC 2.0's plus
//! MCP's restriction that a request id is a string or an integer, never `null`.

use rmcp::model::{ErrorData, JsonRpcError, JsonRpcResponse, NumberOrString, RequestId};
use serde::Serialize;
use serde_json::{Map, Value};

/// One classified incoming message.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: it gets exactly one response.
    Request {
        /// The caller's id, echoed in the response.
        id: RequestId,
        /// The method name.
        method: String,
        /// The `params` member, if any.
        params: Option<Value>,
    },
    /// A notification: no response.
    Notification {
        /// The method name.
        method: String,
    },
    /// A response to a server-to-client request (this server sends none; accepted and dropped).
    Response,
}

/// Why a value is not a JSON-RPC message; carries the id when one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The request id, if the message had a usable one.
    pub id: Option<RequestId>,
    /// What is wrong.
    pub message: String,
}

/// Classifies one JSON value (an element of a batch or a whole body).
pub fn classify(value: Value) -> Result<Incoming, Invalid> {
    let Value::Object(mut object) = value else {
        return Err(invalid(None, "a JSON-RPC message must be a JSON object"));
    };
    let id = match object.remove("id") {
        None => None,
        Some(raw) => Some(parse_id(raw).ok_or_else(|| {
            invalid(
                None,
                "`id` must be a string or an integer (MCP forbids null ids)",
            )
        })?),
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id, "`jsonrpc` must be \"2.0\""));
    }
    match object.remove("method") {
        Some(Value::String(method)) => {
            let params = object.remove("params");
            if let Some(p) = &params {
                if !p.is_object() {
                    return Err(invalid(id, "`params` must be an object"));
                }
            }
            Ok(match id {
                Some(id) => Incoming::Request { id, method, params },
                None => Incoming::Notification { method },
            })
        }
        Some(_) => Err(invalid(id, "`method` must be a string")),
        None if id.is_some() && (has(&object, "result") || has(&object, "error")) => {
            Ok(Incoming::Response)
        }
        None => Err(invalid(id, "not a request, notification or response")),
    }
}

fn has(object: &Map<String, Value>, key: &str) -> bool {
    object.contains_key(key)
}

fn parse_id(raw: Value) -> Option<RequestId> {
    match raw {
        Value::String(s) => Some(NumberOrString::String(s.into())),
        Value::Number(n) => n.as_i64().map(NumberOrString::Number),
        _ => None,
    }
}

fn invalid(id: Option<RequestId>, message: &str) -> Invalid {
    Invalid {
        id,
        message: message.to_owned(),
    }
}

/// A success response object.
pub fn result<R: Serialize>(id: RequestId, result: R) -> Value {
    to_value(&JsonRpcResponse {
        jsonrpc: Default::default(),
        id,
        result,
    })
}

/// An error response object; `id` is omitted when it could not be read (MCP's rule for
/// parse errors and invalid requests).
pub fn error(id: Option<RequestId>, error: ErrorData) -> Value {
    to_value(&JsonRpcError::new(id, error))
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Serialising these plain structs cannot fail; a null would only hide a bug in a test.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let cases = [
            (
                json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
                Incoming::Request {
                    id: NumberOrString::Number(1),
                    method: "ping".into(),
                    params: None,
                },
            ),
            (
                json!({"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {}}),
                Incoming::Request {
                    id: NumberOrString::String("a".into()),
                    method: "tools/list".into(),
                    params: Some(json!({})),
                },
            ),
            (
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                Incoming::Notification {
                    method: "notifications/initialized".into(),
                },
            ),
            (
                json!({"jsonrpc": "2.0", "id": 7, "result": {}}),
                Incoming::Response,
            ),
            (
                json!({"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "x"}}),
                Incoming::Response,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(classify(value.clone()).unwrap(), expected, "{value}");
        }
    }

    #[test]
    fn malformed_messages_are_invalid_and_keep_a_readable_id() {
        let cases = [
            (json!([1]), None),
            (json!("ping"), None),
            (json!({"id": 1, "method": "ping"}), Some(1)),
            (
                json!({"jsonrpc": "1.0", "id": 2, "method": "ping"}),
                Some(2),
            ),
            (
                json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
                None,
            ),
            (json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}), None),
            (json!({"jsonrpc": "2.0", "id": 3, "method": 5}), Some(3)),
            (
                json!({"jsonrpc": "2.0", "id": 4, "method": "x", "params": 1}),
                Some(4),
            ),
            (json!({"jsonrpc": "2.0", "id": 5}), Some(5)),
            (json!({"jsonrpc": "2.0"}), None),
        ];
        for (value, id) in cases {
            let err = classify(value.clone()).unwrap_err();
            assert_eq!(err.id, id.map(NumberOrString::Number), "{value}");
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn responses_follow_the_json_rpc_shape() {
        assert_eq!(
            result(NumberOrString::Number(3), json!({})),
            json!({"jsonrpc": "2.0", "id": 3, "result": {}})
        );
        assert_eq!(
            error(None, ErrorData::parse_error("bad", None)),
            json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "bad"}})
        );
    }
}
