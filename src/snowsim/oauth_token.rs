//! `POST /oauth/token-request` (PROTOCOL.md B.3): HTTP Basic client authentication only,
//! `authorization_code` and `refresh_token` grants, Snowflake's error body
//! `{"data":null,"message":…,"code":null,"success":false,"error":…}`.
//!
//! Status codes of these errors are not documented by Snowflake (PROTOCOL.md open point 3). We
//! answer `invalid_client` with 401 (RFC 6749 §5.2: client authentication failed) and every other
//! error with 400 (the RFC's default), so a client that only handles one of them is caught.
//!
//! The Basic credentials are compared byte-for-byte as sent, without form-URL-decoding: Snowflake's
//! own connector base64-encodes the raw `client_id:client_secret`, and secrets contain `+/=`.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;

use super::live::LiveAccount;
use super::model::OAuthIntegrationModel;
use super::state::SimState;
use super::tokens::{CodeExchange, TokenError};
use super::util::{lock, secret_eq};

fn error_response(err: &TokenError) -> HttpResponse {
    let (status, error, message) = match err {
        TokenError::InvalidClient => (401, "invalid_client", "This is an invalid client."),
        TokenError::InvalidGrant(m) => (400, "invalid_grant", *m),
        TokenError::InvalidRequest(m) => (400, "invalid_request", *m),
        TokenError::UnsupportedGrantType => (
            400,
            "unsupported_grant_type",
            "The grant type is not supported. Use authorization_code or refresh_token.",
        ),
        TokenError::InvalidScope => (400, "invalid_scope", "The requested scope is invalid."),
    };
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "data": null, "message": message, "code": null, "success": false, "error": error
        }))
}

fn authenticate(req: &HttpRequest, live: &LiveAccount) -> Option<OAuthIntegrationModel> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let integration = live.integration_by_client(id)?;
    // Both secret slots authenticate, so a client keeps working across a secret rotation.
    let secret_ok = secret_eq(secret, &integration.client_secret)
        || integration
            .client_secret_2
            .as_deref()
            .is_some_and(|s2| secret_eq(secret, s2));
    (integration.enabled && secret_ok).then(|| integration.clone())
}

/// `POST /oauth/token-request`.
pub async fn post_token_request(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let grant_type = field(&form, "grant_type").ok().flatten().unwrap_or("");
    state.counters.token_request(grant_type);
    match handle(&req, &state, &form, grant_type) {
        Ok(resp) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(resp),
        Err(e) => error_response(&e),
    }
}

/// The single value of a form field; a repeated field is an `invalid_request` (RFC 6749 §3.2).
fn field<'a>(form: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut it = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = it.next();
    if it.next().is_some() {
        return Err(TokenError::InvalidRequest(
            "A parameter was sent more than once.",
        ));
    }
    Ok(first)
}

fn handle(
    req: &HttpRequest,
    state: &SimState,
    form: &[(String, String)],
    grant_type: &str,
) -> Result<super::tokens::TokenResponse, TokenError> {
    let field = |name: &str| field(form, name);
    let host = req.headers().get("host").and_then(|h| h.to_str().ok());
    let acc = state
        .account_for_host(host)
        .ok_or(TokenError::InvalidClient)?;
    let form_ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_ct {
        return Err(TokenError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded.",
        ));
    }
    let live = acc.live();
    let integration = authenticate(req, &live).ok_or(TokenError::InvalidClient)?;
    if let Some(body_client) = field("client_id")? {
        if body_client != integration.client_id {
            return Err(TokenError::InvalidClient);
        }
    }
    match grant_type {
        "authorization_code" => {
            let code = field("code")?.ok_or(TokenError::InvalidRequest("Missing code."))?;
            let single_use = match field("enable_single_use_refresh_tokens")? {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => {
                    return Err(TokenError::InvalidRequest(
                        "enable_single_use_refresh_tokens must be true or false.",
                    ))
                }
            };
            let exchange = CodeExchange {
                account: acc.index,
                integration: &integration.name,
                issue_refresh: integration.issue_refresh_tokens,
                single_use_required: integration.single_use_refresh_tokens,
                refresh_validity: integration.refresh_token_validity_secs,
                code,
                redirect_uri: field("redirect_uri")?,
                code_verifier: field("code_verifier")?,
                enable_single_use: single_use,
            };
            lock(&state.tokens).exchange_code(exchange)
        }
        "refresh_token" => {
            let token = field("refresh_token")?
                .ok_or(TokenError::InvalidRequest("Missing refresh_token."))?;
            let scope = field("scope")?;
            let mut tokens = lock(&state.tokens);
            let owner = tokens.refresh_owner(token);
            if owner.is_some_and(|u| live.user(&u).is_none_or(|m| m.disabled)) {
                return Err(TokenError::InvalidGrant("User access disabled."));
            }
            let response = tokens.refresh(
                acc.index,
                &integration.name,
                integration.refresh_token_validity_secs,
                token,
                scope,
            )?;
            Ok(response)
        }
        "" => Err(TokenError::InvalidRequest("Missing grant_type.")),
        _ => Err(TokenError::UnsupportedGrantType),
    }
}
