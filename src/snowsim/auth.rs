//! Authentication and header checks of the SQL API (PROTOCOL.md A.2, C.1).
//!
//! `Authorization: Bearer <token>` is required. `X-Snowflake-Authorization-Token-Type` may be
//! `OAUTH` or `KEYPAIR_JWT`; when absent the type is inferred from the token (the current docs:
//! "Snowflake determines the token type by examining the token"), so both kinds work without it.
//! OAuth failures answer 401 `390303`; JWT failures 401 `390144` with the reason in the message.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::responses::{api_error, bad_payload};
use super::state::{AccountRuntime, SimState};
use super::tokens::AccessCheck;
use super::util::{lock, now_secs};

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User NAME.
    pub user: String,
    /// For OAuth tokens: the consented role (the only role the session may use).
    pub oauth_role: Option<String>,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks `Content-Type` (POST with a body: absent or `application/json`, else 415), `Accept`
/// (when present it must admit `application/json`, else 406) and `User-Agent` (required, else
/// 400).
// The error is the finished early answer of a handler (rejections are the cold path).
#[allow(clippy::result_large_err)]
pub fn check_headers(req: &HttpRequest, has_body: bool) -> Result<(), HttpResponse> {
    if has_body {
        if let Some(ct) = header(req, "content-type") {
            let media = ct.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/json") {
                return Err(HttpResponse::UnsupportedMediaType().finish());
            }
        }
    }
    if let Some(accept) = header(req, "accept") {
        let ok = accept.split(',').any(|item| {
            let media = item.split(';').next().unwrap_or("").trim();
            ["application/json", "*/*", "application/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
        });
        if !ok {
            return Err(HttpResponse::NotAcceptable().finish());
        }
    }
    match header(req, "user-agent") {
        Some(ua) if !ua.trim().is_empty() => Ok(()),
        _ => Err(bad_payload()),
    }
}

fn oauth_invalid(state: &SimState) -> HttpResponse {
    state.counters.oauth_rejection();
    let id = uuid::Uuid::new_v4();
    api_error(
        StatusCode::UNAUTHORIZED,
        "390303",
        &format!("Invalid OAuth access token. [{id}]"),
    )
}

fn jwt_invalid(state: &SimState, kind: &str, reason: &str) -> HttpResponse {
    state.counters.jwt_rejection(kind);
    let id = uuid::Uuid::new_v4();
    api_error(
        StatusCode::UNAUTHORIZED,
        "390144",
        &format!("JWT token is invalid. {reason} [{id}]"),
    )
}

/// The message Snowflake gives when an authentication policy refuses the method; the code stays
/// the method's usual 401 code (`390144` keypair JWT, `390303` OAuth) so clients classify it as
/// they classify other credential failures. (Snowflake's own code for this case is not documented
/// in PROTOCOL.md; the wording is Snowflake's.)
pub const POLICY_REJECTED: &str =
    "Authentication attempt rejected by the current authentication policy.";

fn policy_rejected(state: &SimState, code: &str, kind: &str) -> HttpResponse {
    if code == "390144" {
        state.counters.jwt_rejection(kind);
    } else {
        state.counters.oauth_rejection();
    }
    let id = uuid::Uuid::new_v4();
    api_error(
        StatusCode::UNAUTHORIZED,
        code,
        &format!("{POLICY_REJECTED} [{id}]"),
    )
}

fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

/// Authenticates a SQL API request for `acc`.
// The error is the finished early answer of a handler (rejections are the cold path).
#[allow(clippy::result_large_err)]
pub fn authenticate(
    state: &SimState,
    acc: &AccountRuntime,
    req: &HttpRequest,
) -> Result<Principal, HttpResponse> {
    let token = header(req, "authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    let kind = header(req, "x-snowflake-authorization-token-type")
        .map(|k| k.trim().to_ascii_uppercase())
        .filter(|k| !k.is_empty());
    let Some(token) = token else {
        // Without a token Snowflake assumes OAuth and rejects it.
        return Err(oauth_invalid(state));
    };
    let kind = kind.unwrap_or_else(|| {
        if looks_like_jwt(token) {
            "KEYPAIR_JWT".into()
        } else {
            "OAUTH".into()
        }
    });
    match kind.as_str() {
        "OAUTH" => {
            let check = lock(&state.tokens).check_access(acc.index, token);
            let AccessCheck::Valid(grant) = check else {
                return Err(oauth_invalid(state));
            };
            let live = acc.live();
            // A dropped or disabled integration's tokens stop working with it.
            let integration_ok = live
                .integration(&grant.integration)
                .is_some_and(|i| i.enabled);
            let user = match live.user(&grant.user) {
                Some(u) if !u.disabled && integration_ok => u,
                _ => return Err(oauth_invalid(state)),
            };
            if live.policy_of(user).is_some_and(|p| {
                !p.allows_method("OAUTH") || !p.allows_integration(&grant.integration)
            }) {
                return Err(policy_rejected(state, "390303", "authentication_policy"));
            }
            Ok(Principal {
                user: grant.user.clone(),
                oauth_role: Some(grant.role.clone()),
            })
        }
        "KEYPAIR_JWT" => {
            let now = i64::try_from(now_secs()).unwrap_or(i64::MAX);
            let live = acc.live();
            match super::jwt::verify(token, &live.model, &live.keys, now) {
                Ok(user) => {
                    let denied = live
                        .user(&user)
                        .and_then(|u| live.policy_of(u))
                        .is_some_and(|p| !p.allows_method("KEYPAIR"));
                    if denied {
                        return Err(policy_rejected(state, "390144", "authentication_policy"));
                    }
                    Ok(Principal {
                        user,
                        oauth_role: None,
                    })
                }
                Err(r) => Err(jwt_invalid(state, r.kind, &r.reason)),
            }
        }
        other => Err(api_error(
            StatusCode::UNAUTHORIZED,
            "390303",
            &format!("Unsupported authorization token type '{other}'."),
        )),
    }
}
