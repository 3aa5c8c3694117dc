//! Validates SQL API response bodies against Snowflake's OpenAPI file
//! (`../shared/specs/sqlapi.yaml`, parsed at test time, `$ref`s resolved from the document).
//!
//! The schema for a response is looked up in the spec itself: `paths[path][method]
//! .responses[status].content["application/json"].schema`. Statuses the spec gives no body schema
//! (400, 401, 403, 404, 405, 415, 429, …) are checked against PROTOCOL.md A.4 instead.
//!
//! Deliberate deviations, where PROTOCOL.md records that real Snowflake differs from the file:
//! - rowType `length`/`precision`/`scale` are `null` when not applicable (A.4: "non-applicable
//!   ones are null"; the file types them as plain integers);
//! - `statementStatusUrl` is a relative reference (`/api/v2/statements/…`, A.4 capture), while the
//!   file says `format: uri`; we accept a URI or an absolute-path reference.

use std::sync::OnceLock;

use serde_json::Value;

/// The parsed spec, or `None` (with a loud message) when the file is not beside the crate.
pub fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/sqlapi.yaml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_norway::from_str::<Value>(&text).expect("sqlapi.yaml parses")),
            Err(e) => {
                eprintln!(
                    "\n!!!!!!!! SKIPPING OpenAPI validation: cannot read {} ({e}) !!!!!!!!\n",
                    path.display()
                );
                None
            }
        }
    })
    .as_ref()
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            let target = root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolvable $ref {r}"));
            resolve(root, target)
        }
        None => schema,
    }
}

/// The body schema the spec declares for `method path` answering `status`, if any.
pub fn response_schema(spec_path: &str, method: &str, status: u16) -> Option<&'static Value> {
    let root = spec()?;
    let op = root.get("paths")?.get(spec_path)?.get(method)?;
    let resp = resolve(root, op.get("responses")?.get(status.to_string())?);
    let schema = resp
        .get("content")?
        .get("application/json")?
        .get("schema")?;
    Some(resolve(root, schema))
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn null_allowed_by_protocol(path: &str) -> bool {
    // PROTOCOL.md A.4: real rowType entries carry null for non-applicable length/precision/scale.
    path.contains(".rowType[")
        && (path.ends_with(".length") || path.ends_with(".precision") || path.ends_with(".scale"))
}

fn validate_at(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(root, schema);
    if value.is_null() {
        let nullable = schema
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !nullable && !null_allowed_by_protocol(path) {
            errors.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    match ty {
        Some("object") => {
            let Some(obj) = value.as_object() else {
                errors.push(format!("{path}: expected object, got {value}"));
                return;
            };
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = req.as_str().unwrap_or_default();
                if !obj.contains_key(name) {
                    errors.push(format!("{path}: required property {name} missing"));
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    if let Some(v) = obj.get(name) {
                        validate_at(root, sub, v, &format!("{path}.{name}"), errors);
                    }
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                errors.push(format!("{path}: expected array"));
                return;
            };
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if (items.len() as u64) < min {
                errors.push(format!("{path}: fewer than {min} items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(root, item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Some("string") => {
            let Some(s) = value.as_str() else {
                errors.push(format!("{path}: expected string, got {value}"));
                return;
            };
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
                if !allowed.iter().any(|a| a.as_str() == Some(s)) {
                    errors.push(format!("{path}: {s:?} not in enum"));
                }
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("uuid") if !is_uuid(s) => errors.push(format!("{path}: {s:?} is not a uuid")),
                // Relative reference accepted (see module docs).
                Some("uri") if !(s.starts_with('/') || s.contains("://")) => {
                    errors.push(format!("{path}: {s:?} is not a URI reference"))
                }
                _ => {}
            }
        }
        Some("integer") => match value.as_i64() {
            None => errors.push(format!("{path}: expected integer, got {value}")),
            Some(n) => {
                if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
                    if n < min {
                        errors.push(format!("{path}: {n} below minimum {min}"));
                    }
                }
            }
        },
        Some("boolean") if !value.is_boolean() => errors.push(format!("{path}: expected boolean")),
        Some("number") if !value.is_number() => errors.push(format!("{path}: expected number")),
        _ => {}
    }
}

/// Asserts that `body` answering `method spec_path` with `status` matches the spec (or, for
/// statuses without a body schema, PROTOCOL.md's `{code, message}` / empty-body rules).
pub fn assert_valid(spec_path: &str, method: &str, status: u16, body: &[u8]) {
    let Some(root) = spec() else { return };
    match response_schema(spec_path, method, status) {
        Some(schema) => {
            let value: Value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("{method} {spec_path} {status}: body is not JSON: {e}"));
            let mut errors = Vec::new();
            validate_at(root, schema, &value, "$", &mut errors);
            assert!(
                errors.is_empty(),
                "{method} {spec_path} {status}: body violates sqlapi.yaml: {errors:#?}\n{value}"
            );
        }
        None => match status {
            // PROTOCOL.md A.4: 404/405 (and 403, 406, 415 here) carry no body.
            403..=406 | 415 => assert!(body.is_empty(), "{status} must have an empty body"),
            // 5xx bodies are undocumented (PROTOCOL.md A.4); nothing to check.
            500..=599 => {}
            _ => {
                let value: Value = serde_json::from_slice(body)
                    .unwrap_or_else(|e| panic!("{status}: body is not JSON: {e}"));
                assert!(
                    value["code"].is_string(),
                    "{status}: body lacks code: {value}"
                );
                assert!(
                    value["message"].is_string(),
                    "{status}: body lacks message: {value}"
                );
            }
        },
    }
}

#[test]
fn the_spec_declares_the_schemas_we_validate_against() {
    if spec().is_none() {
        return;
    }
    for (path, method, status) in [
        ("/api/v2/statements", "post", 200),
        ("/api/v2/statements", "post", 202),
        ("/api/v2/statements", "post", 408),
        ("/api/v2/statements", "post", 422),
        ("/api/v2/statements/{statementHandle}", "get", 200),
        ("/api/v2/statements/{statementHandle}/cancel", "post", 200),
        ("/api/v2/statements/{statementHandle}/cancel", "post", 422),
    ] {
        assert!(
            response_schema(path, method, status).is_some(),
            "{method} {path} {status}"
        );
    }
    assert!(response_schema("/api/v2/statements", "post", 401).is_none());
}
