//! `GET /oauth/authorize` and its form posts (PROTOCOL.md B.2).
//!
//! The GET validates the request the way Snowflake does and answers an error page with the
//! documented code for each problem: 390306 client_id, 390304 response_type, 390307 redirect_uri
//! (compared with the integration's `OAUTH_REDIRECT_URI` ignoring the redirect's own query
//! string), 390305 state longer than 2048 characters, 390308 scope (unknown scope, unknown or
//! blocked role), 390311 PKCE parameters (only S256; required when the integration enforces PKCE).
//! Then: login form → consent page → 302 to `redirect_uri?code=…&state=…&scope=…`. A role the user
//! does not hold fails after login. Errors never redirect to the client.

use actix_web::{web, HttpRequest, HttpResponse};

use super::live::LiveAccount;
use super::pages::{consent_page, error_page, login_page};
use super::pending::{AuthorizeRequest, Step, MAX_LOGIN_ATTEMPTS};
use super::state::SimState;
use super::tokens::Grant;
use super::util::{lock, secret_eq};

type Params = Vec<(String, String)>;

fn parse_params(raw: &[u8]) -> Params {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

/// The single value of a parameter; `Err` when it appears more than once (RFC 6749 §3.1).
fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(());
    }
    Ok(first)
}

fn without_query(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(base, _)| base)
}

fn host(req: &HttpRequest) -> Option<&str> {
    req.headers().get("host").and_then(|h| h.to_str().ok())
}

struct Scope {
    offline: bool,
    role: Option<String>,
}

fn parse_scope(raw: Option<&str>) -> Result<Scope, String> {
    let mut scope = Scope {
        offline: false,
        role: None,
    };
    for item in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        let role = if item == "refresh_token" {
            scope.offline = true;
            continue;
        } else if let Some(r) = item.strip_prefix("session:role-encoded:") {
            percent_decode(r).ok_or_else(|| format!("Invalid scope '{item}'."))?
        } else if let Some(r) = item.strip_prefix("session:role:") {
            r.to_owned()
        } else {
            return Err(format!("Invalid scope '{item}'."));
        };
        if role.is_empty() || scope.role.is_some() {
            return Err(format!("Invalid scope '{item}'."));
        }
        scope.role = Some(role);
    }
    Ok(scope)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// The error is the finished early answer of a handler (rejections are the cold path).
#[allow(clippy::result_large_err)]
fn validate(
    account: usize,
    acc: &LiveAccount,
    params: &Params,
) -> Result<(AuthorizeRequest, String), HttpResponse> {
    let err = |code: &str, msg: &str| error_page(code, msg);
    let client_id = single(params, "client_id").map_err(|_| err("390306", "Invalid client_id."))?;
    let integration = client_id
        .and_then(|c| acc.integration_by_client(c))
        .filter(|i| i.enabled)
        .ok_or_else(|| err("390306", "Invalid client_id."))?;
    let response_type = single(params, "response_type");
    if response_type != Ok(Some("code")) {
        return Err(err(
            "390304",
            "Invalid response_type. Only 'code' is supported.",
        ));
    }
    let redirect_uri = match single(params, "redirect_uri") {
        Ok(Some(r))
            if !r.contains('#') && without_query(r) == without_query(&integration.redirect_uri) =>
        {
            r
        }
        _ => return Err(err("390307", "Invalid redirect_uri.")),
    };
    let state = single(params, "state").map_err(|_| err("390305", "Invalid state."))?;
    if state.is_some_and(|s| s.len() > 2048 || !s.is_ascii()) {
        return Err(err(
            "390305",
            "Invalid state. The state must be at most 2048 ASCII characters.",
        ));
    }
    let scope = single(params, "scope")
        .map_err(|_| "Invalid scope.".to_owned())
        .and_then(parse_scope)
        .map_err(|m| err("390308", &m))?;
    if let Some(role) = &scope.role {
        if !acc.role_exists(role) {
            return Err(err(
                "390308",
                &format!("Invalid scope. Role '{role}' does not exist."),
            ));
        }
        if acc.role_blocked(integration, role) {
            return Err(err(
                "390308",
                &format!(
                    "Invalid scope. Role '{role}' is blocked from OAuth for this integration."
                ),
            ));
        }
    }
    let pkce_err = || err("390311", "Invalid code_challenge or code_challenge_method.");
    let challenge = single(params, "code_challenge").map_err(|_| pkce_err())?;
    let method = single(params, "code_challenge_method").map_err(|_| pkce_err())?;
    let code_challenge = match (challenge, method) {
        (None, None) if integration.enforce_pkce => return Err(pkce_err()),
        (None, None) => None,
        (Some(c), Some("S256"))
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(c.to_owned())
        }
        _ => return Err(pkce_err()),
    };
    let request = AuthorizeRequest {
        account,
        integration: integration.name.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        role: scope.role,
        offline: scope.offline,
        code_challenge,
    };
    Ok((request, integration.name.clone()))
}

/// `GET /oauth/authorize`: validate, then show the login form.
pub async fn get_authorize(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let Some(acc) = state.account_for_host(host(&req)) else {
        return HttpResponse::NotFound().finish();
    };
    let params = parse_params(req.query_string().as_bytes());
    match validate(acc.index, &acc.live(), &params) {
        Ok((request, name)) => {
            let token = state.pending.put(request, Step::Login { attempts: 0 });
            login_page(&token, &name, None)
        }
        Err(page) => page,
    }
}

fn redirect(request: &AuthorizeRequest, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    if let Some(s) = &request.state {
        ser.append_pair("state", s);
    }
    let sep = if request.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!("{}{}{}", request.redirect_uri, sep, ser.finish());
    HttpResponse::Found()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// `POST /oauth/authorize`: the login form (`action=login`) and the consent page
/// (`action=allow` / `action=deny`).
pub async fn post_authorize(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let invalid = || error_page("390302", "Invalid consent request.");
    let form_ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_ct {
        return invalid();
    }
    let Some(acc) = state.account_for_host(host(&req)) else {
        return HttpResponse::NotFound().finish();
    };
    let form = parse_params(&body);
    let field = |name: &str| single(&form, name).ok().flatten().unwrap_or("");
    let Some(pending) = state.pending.take(field("form_token")) else {
        return invalid();
    };
    if pending.request.account != acc.index {
        return invalid();
    }
    let request = pending.request;
    let live = acc.live();
    match (pending.step, field("action")) {
        (Step::Login { attempts }, "login") => {
            let user = live.user_by_login(field("username")).filter(|u| {
                u.password
                    .as_deref()
                    .is_some_and(|p| secret_eq(p, field("password")))
            });
            let Some(user) = user else {
                if attempts + 1 >= MAX_LOGIN_ATTEMPTS {
                    return error_page("390100", "Incorrect username or password was specified.");
                }
                let name = request.integration.clone();
                let token = state.pending.put(
                    request,
                    Step::Login {
                        attempts: attempts + 1,
                    },
                );
                return login_page(
                    &token,
                    &name,
                    Some("Incorrect username or password was specified."),
                );
            };
            if user.disabled {
                return error_page(
                    "390101",
                    "User access disabled. Contact your local system administrator.",
                );
            }
            // The login form is password authentication: a policy without PASSWORD (or not
            // allowing this integration) refuses it. Snowflake's code for this refusal is not in
            // PROTOCOL.md; the login-failure code is used with Snowflake's wording.
            if live.policy_of(user).is_some_and(|p| {
                !p.allows_method("PASSWORD") || !p.allows_integration(&request.integration)
            }) {
                return error_page("390100", super::auth::POLICY_REJECTED);
            }
            let role = request
                .role
                .clone()
                .unwrap_or_else(|| live.default_role(user));
            if !live.effective_roles(user).contains(&role) {
                return error_page(
                    "390308",
                    &format!(
                        "Invalid scope. Role '{role}' is not granted to user '{}'.",
                        user.name
                    ),
                );
            }
            let blocked = live
                .model
                .integrations
                .iter()
                .find(|i| i.name == request.integration)
                .is_none_or(|i| live.role_blocked(i, &role));
            if blocked {
                return error_page(
                    "390308",
                    &format!(
                        "Invalid scope. Role '{role}' is blocked from OAuth for this integration."
                    ),
                );
            }
            let name = request.integration.clone();
            let user_name = user.name.clone();
            let token = state.pending.put(
                request,
                Step::Consent {
                    user: user_name.clone(),
                    role: role.clone(),
                },
            );
            consent_page(&token, &name, &user_name, &role)
        }
        (Step::Consent { .. }, "deny") => redirect(&request, &[("error", "access_denied")]),
        (Step::Consent { user, role }, "allow") => {
            let grant = Grant {
                account: acc.index,
                user,
                integration: request.integration.clone(),
                role,
                offline: request.offline,
            };
            let scope = grant.scope();
            let mut tokens = lock(&state.tokens);
            tokens
                .consents
                .record(acc.index, &grant.user, &grant.role, &grant.integration);
            let code = tokens.issue_code(
                grant,
                request.redirect_uri.clone(),
                request.code_challenge.clone(),
            );
            redirect(&request, &[("code", &code), ("scope", &scope)])
        }
        _ => invalid(),
    }
}
