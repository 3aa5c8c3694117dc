//! HTML of the OAuth browser flow: the login form, the consent page and Snowflake-style error
//! pages. Field names are fixed so tests can drive the flow with a plain HTTP client:
//! `form_token` (hidden, one-time), `username`, `password`, and `action` (`login`, `allow`, `deny`).
//! Every interpolated value goes through [`html_escape`]; pages load no external resources.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::util::html_escape;

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{}\n</body></html>\n",
        html_escape(title),
        body
    );
    HttpResponse::build(status)
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

/// Snowflake's OAuth error page: the numeric code and its message (e.g. `390307` "Invalid
/// redirect_uri"). Rendered with status 400; Snowflake shows these in the browser and never
/// redirects to an unverified client.
pub fn error_page(code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<h1>OAuth error</h1>\n<p id=\"error\" data-code=\"{code}\">{message}</p>\n<p>Error code: <span id=\"code\">{code}</span></p>",
        code = html_escape(code),
        message = html_escape(message)
    );
    page(StatusCode::BAD_REQUEST, "Snowflake OAuth error", &body)
}

/// The login form (`POST /oauth/authorize`, `action=login`).
pub fn login_page(form_token: &str, integration: &str, error: Option<&str>) -> HttpResponse {
    let error = error
        .map(|e| {
            format!(
                "<p id=\"error\" data-code=\"390100\">{}</p>\n",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to Snowflake</h1>\n<p>{integration} is requesting access to your Snowflake account.</p>\n{error}\
<form method=\"post\" action=\"/oauth/authorize\">\n\
<input type=\"hidden\" name=\"form_token\" value=\"{token}\">\n\
<label>User name <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
<button type=\"submit\" name=\"action\" value=\"login\">Sign in</button>\n</form>",
        integration = html_escape(integration),
        token = html_escape(form_token),
    );
    page(StatusCode::OK, "Sign in to Snowflake", &body)
}

/// The consent page (`action=allow` / `action=deny`).
pub fn consent_page(form_token: &str, integration: &str, user: &str, role: &str) -> HttpResponse {
    let body = format!(
        "<h1>Allow access?</h1>\n<p><span id=\"integration\">{integration}</span> wants to act as \
<span id=\"user\">{user}</span> with role <span id=\"role\">{role}</span>.</p>\n\
<form method=\"post\" action=\"/oauth/authorize\">\n\
<input type=\"hidden\" name=\"form_token\" value=\"{token}\">\n\
<button type=\"submit\" name=\"action\" value=\"allow\">Allow</button>\n\
<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n</form>",
        integration = html_escape(integration),
        user = html_escape(user),
        role = html_escape(role),
        token = html_escape(form_token),
    );
    page(StatusCode::OK, "Allow access", &body)
}
