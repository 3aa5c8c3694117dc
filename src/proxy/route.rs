//! Recognises the six SQL API proxy paths by splitting on `/`, without the router's regular
//! expressions: these paths carry the traffic, and matching them through actix's regex resources
//! cost the OAuth route ~9 % of its CPU (BENCHMARKS.md).
//!
//! ```text
//! /v1/connections/{name}/api/v2/statements[/{handle}[/cancel]]                       (keypair)
//! /v1/connections/{name}/accounts/{identifier}/api/v2/statements[/{handle}[/cancel]] (OAuth)
//! ```
//!
//! Matching is on the raw path: literal segments must be spelled exactly (no percent-escapes),
//! variable segments are non-empty and percent-decoded strictly (a malformed escape or non-UTF-8
//! result is no match). Anything else is not a proxy path and falls through to the other routes,
//! so it ends in 404 without contacting Snowflake (SECURITY.md PX-2).

use std::borrow::Cow;

use super::request::Operation;
use crate::http::percent;

/// The path prefix every proxy path starts with.
const PREFIX: &str = "/v1/connections/";
/// The SQL API's own path, after the connection (and account) segments.
const SQL_API: [&str; 3] = ["api", "v2", "statements"];

/// Which of the six proxy paths a request has, before its segments are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Whether the path names an end user (`/accounts/{identifier}/`): an OAuth call.
    pub end_user: bool,
    /// The SQL API operation the path names.
    pub operation: Operation,
}

impl Shape {
    /// The route pattern (for logs and metrics labels; never the concrete path).
    pub fn pattern(self) -> &'static str {
        match (self.end_user, self.operation) {
            (false, Operation::Submit) => "/v1/connections/{name}/api/v2/statements",
            (false, Operation::Status) => "/v1/connections/{name}/api/v2/statements/{handle}",
            (false, Operation::Cancel) => {
                "/v1/connections/{name}/api/v2/statements/{handle}/cancel"
            }
            (true, Operation::Submit) => {
                "/v1/connections/{name}/accounts/{identifier}/api/v2/statements"
            }
            (true, Operation::Status) => {
                "/v1/connections/{name}/accounts/{identifier}/api/v2/statements/{handle}"
            }
            (true, Operation::Cancel) => {
                "/v1/connections/{name}/accounts/{identifier}/api/v2/statements/{handle}/cancel"
            }
        }
    }
}

/// A proxy path with its variable segments decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath<'a> {
    /// Which of the six paths it is.
    pub shape: Shape,
    /// The connection name.
    pub connection: Cow<'a, str>,
    /// The end user, on OAuth paths.
    pub identifier: Option<Cow<'a, str>>,
    /// The statement handle segment, on status and cancel paths (not yet validated).
    pub handle: Option<Cow<'a, str>>,
}

/// The raw segments of a proxy path: `(connection, identifier, handle)` and its shape.
type RawParts<'a> = (Shape, &'a str, Option<&'a str>, Option<&'a str>);

fn split(path: &str) -> Option<RawParts<'_>> {
    let rest = path.strip_prefix(PREFIX)?;
    let mut segments = rest.split('/');
    let connection = segments.next().filter(|s| !s.is_empty())?;
    let mut next = segments.next()?;
    let identifier = if next == "accounts" {
        let identifier = segments.next().filter(|s| !s.is_empty())?;
        next = segments.next()?;
        Some(identifier)
    } else {
        None
    };
    if next != SQL_API[0] {
        return None;
    }
    for literal in &SQL_API[1..] {
        if segments.next()? != *literal {
            return None;
        }
    }
    let (operation, handle) = match (segments.next(), segments.next(), segments.next()) {
        (None, _, _) => (Operation::Submit, None),
        (Some(h), None, _) if !h.is_empty() => (Operation::Status, Some(h)),
        (Some(h), Some("cancel"), None) if !h.is_empty() => (Operation::Cancel, Some(h)),
        _ => return None,
    };
    let shape = Shape {
        end_user: identifier.is_some(),
        operation,
    };
    Some((shape, connection, identifier, handle))
}

/// The shape of `path` if it is one of the six proxy paths (no allocation; segments are not
/// decoded, so [`ProxyPath::parse`] may still refuse it).
pub fn shape(path: &str) -> Option<Shape> {
    split(path).map(|(shape, ..)| shape)
}

impl<'a> ProxyPath<'a> {
    /// The proxy path `path` (the raw request path) names, or `None` if it is none of the six or
    /// a variable segment does not decode.
    pub fn parse(path: &'a str) -> Option<Self> {
        let (shape, connection, identifier, handle) = split(path)?;
        let decode_optional = |segment: Option<&'a str>| match segment {
            Some(s) => percent::decode(s).map(Some),
            None => Some(None),
        };
        Some(Self {
            shape,
            connection: percent::decode(connection)?,
            identifier: decode_optional(identifier)?,
            handle: decode_optional(handle)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(path: &str) -> Option<(Shape, String, Option<String>, Option<String>)> {
        ProxyPath::parse(path).map(|p| {
            (
                p.shape,
                p.connection.into_owned(),
                p.identifier.map(Cow::into_owned),
                p.handle.map(Cow::into_owned),
            )
        })
    }

    fn shape_of(end_user: bool, operation: Operation) -> Shape {
        Shape {
            end_user,
            operation,
        }
    }

    #[test]
    fn the_six_paths_are_recognised() {
        let h = "01b03285-0001-dea1-003d-b087000ca9be";
        let cases = [
            (
                "/v1/connections/c/api/v2/statements".to_owned(),
                false,
                Operation::Submit,
                None,
                None,
            ),
            (
                format!("/v1/connections/c/api/v2/statements/{h}"),
                false,
                Operation::Status,
                None,
                Some(h),
            ),
            (
                format!("/v1/connections/c/api/v2/statements/{h}/cancel"),
                false,
                Operation::Cancel,
                None,
                Some(h),
            ),
            (
                "/v1/connections/c/accounts/u%40x.com/api/v2/statements".to_owned(),
                true,
                Operation::Submit,
                Some("u@x.com"),
                None,
            ),
            (
                format!("/v1/connections/c/accounts/u/api/v2/statements/{h}"),
                true,
                Operation::Status,
                Some("u"),
                Some(h),
            ),
            (
                format!("/v1/connections/c/accounts/u/api/v2/statements/{h}/cancel"),
                true,
                Operation::Cancel,
                Some("u"),
                Some(h),
            ),
        ];
        for (path, end_user, operation, identifier, handle) in cases {
            let shape = shape_of(end_user, operation);
            assert_eq!(super::shape(&path), Some(shape), "{path}");
            assert_eq!(
                parsed(&path),
                Some((
                    shape,
                    "c".to_owned(),
                    identifier.map(str::to_owned),
                    handle.map(str::to_owned)
                )),
                "{path}"
            );
            assert!(shape.pattern().starts_with(PREFIX));
        }
    }

    #[test]
    fn near_misses_are_not_proxy_paths() {
        for path in [
            "/v1/connections/c",
            "/v1/connections/c/api/v2",
            "/v1/connections//api/v2/statements",
            "/v1/connections/c/api/v2/statements/",
            "/v1/connections/c/api/v2//statements",
            "/v1/connections/c/API/v2/statements",
            "/v1/connections/c/%61pi/v2/statements",
            "/v1/connections/c/api/v2/statements%2fx",
            "/v1/connections/c/api/v2/statements/h/cancel/x",
            "/v1/connections/c/api/v2/statements/h/result",
            "/v1/connections/c/api/v2/statements//cancel",
            "/v1/connections/c/accounts//api/v2/statements",
            "/v1/connections/c/accounts/u/api/v2/statements/",
            "/v1/connections/c/accounts/u",
            "/v1/connections/c/accounts/u/v2/statements",
            "/v1/connections/c/test",
            "/v2/connections/c/api/v2/statements",
            "//v1/connections/c/api/v2/statements",
        ] {
            assert_eq!(shape(path), None, "{path}");
            assert_eq!(parsed(path), None, "{path}");
        }
    }

    #[test]
    fn variable_segments_are_decoded_strictly() {
        let path = "/v1/connections/c/api/v2/statements/..%2f..%2fsession";
        assert_eq!(
            parsed(path).and_then(|p| p.3),
            Some("../../session".to_owned()),
            "decoded; the handle check refuses it later"
        );
        for path in [
            "/v1/connections/c%zz/api/v2/statements",
            "/v1/connections/c/accounts/%c0%ae/api/v2/statements",
            "/v1/connections/c/api/v2/statements/100%",
        ] {
            assert!(shape(path).is_some(), "{path}");
            assert_eq!(parsed(path), None, "{path}");
        }
    }
}
