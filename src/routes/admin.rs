//! `/admin`: the server-rendered admin UI (issue 8). Handlers are thin: extract the session
//! (which checks the origin of unsafe requests), check the form's CSRF token, call the same
//! service functions as the JSON API, render a template or redirect (POST → 303 → GET).
//! These routes are deliberately not in the OpenAPI document, which describes the JSON API.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{body::MessageBody, dev::ServiceRequest, dev::ServiceResponse};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::value::merge_maps;
use minijinja::value::Serde;
use minijinja::{context, Value};
use secrecy::ExposeSecret;

use crate::admin::csrf::{check_origin, CsrfFailure};
use crate::admin::forms::{
    error_field, AccountForm, ApiKeyForm, AuditFilter, CsrfForm, FormKind, LinkForm, LoginForm,
    NewConnectionForm,
};
use crate::admin::guard::session_cookie;
use crate::admin::session::{random_token, tokens_equal};
use crate::admin::{models, views, AdminError, AdminSession};
use crate::api_keys::Scope;
use crate::connections::{probe, sql, ConnectionKind};
use crate::error::{AppError, ErrorCode};
use crate::routes::connections::map_error;
use crate::state::AppState;

type Page = Result<HttpResponse, AdminError>;

/// Registers the `/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use web::{get, post};
    let conn = "/connections/{name}";
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(security_headers))
            .app_data(form_config())
            .app_data(query_config())
            .route("", get().to(get_home))
            .route("/", get().to(get_home))
            .route("/static/admin.css", get().to(get_css))
            .route("/static/admin.js", get().to(get_js))
            .route("/login", get().to(get_login))
            .route("/login", post().to(post_login))
            .route("/logout", post().to(post_logout))
            .route("/connections", get().to(get_connections))
            .route("/connections", post().to(post_connection))
            .route("/connections/new", get().to(get_new_connection))
            .route(conn, get().to(get_connection))
            .route(&format!("{conn}/test"), post().to(post_test))
            .route(&format!("{conn}/enable"), post().to(post_enable))
            .route(&format!("{conn}/disable"), post().to(post_disable))
            .route(&format!("{conn}/rotate-key"), post().to(post_rotate))
            .route(
                &format!("{conn}/rotate-key/complete"),
                post().to(post_rotate_complete),
            )
            .route(&format!("{conn}/delete"), get().to(get_delete))
            .route(&format!("{conn}/delete"), post().to(post_delete))
            .route(&format!("{conn}/links"), post().to(post_link))
            .route(
                &format!("{conn}/accounts/revoke"),
                post().to(post_revoke_account),
            )
            .route("/api-keys", get().to(get_api_keys))
            .route("/api-keys", post().to(post_api_key))
            .route("/api-keys/{id}/revoke", post().to(post_revoke_key))
            .route("/audit", get().to(get_audit))
            .default_service(web::to(not_found)),
    );
}

/// Headers of every `/admin` response, error pages and redirects included.
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    let set = |h: &mut actix_web::http::header::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(
            actix_web::http::header::HeaderName::from_static(k),
            actix_web::http::header::HeaderValue::from_static(v),
        );
    };
    set(h, "content-security-policy", views::CSP);
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !h.contains_key("cache-control") {
        set(h, "cache-control", "no-store");
    }
    Ok(res)
}

fn form_config() -> web::FormConfig {
    // 64 KiB: room for a pasted PEM key, nothing like a file upload (SECURITY.md PX-5).
    web::FormConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _| {
            let page = views::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid form",
                &format!("The form could not be read: {err}"),
            );
            actix_web::error::InternalError::from_response(err, page).into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let page = views::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            &format!("The address has an invalid query string: {err}"),
        );
        actix_web::error::InternalError::from_response(err, page).into()
    })
}

async fn not_found() -> HttpResponse {
    views::error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such admin page.",
    )
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}

/// `/admin/connections/{name}` with the name percent-encoded.
fn connection_url(name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/admin/connections/{encoded}")
}

/// The context every logged-in page shares (navigation, logout form).
fn base(s: &AdminSession, nav: &str) -> Value {
    context! { csrf_token => s.session.csrf_token.clone(), key_name => s.key.name.clone(), nav => nav }
}

async fn get_home(_s: AdminSession) -> HttpResponse {
    see_other("/admin/connections")
}

async fn get_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(views::ADMIN_CSS)
}

async fn get_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(views::ADMIN_JS)
}

// ---- login / logout ----------------------------------------------------------------------

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> Page {
    let ui = &state.admin;
    let token = random_token().map_err(|e| AdminError::from(AppError::internal(e)))?;
    let cookie = Cookie::build(ui.login_cookie_name(req), token.clone())
        .path("/admin/login")
        .http_only(true)
        .secure(ui.secure(req))
        .same_site(SameSite::Strict)
        .max_age(Duration::hours(1))
        .finish();
    let body = views::render(
        "admin/login.html",
        context! { login_token => token, error => error },
    )?;
    let mut res = views::html(status, body);
    res.add_cookie(&cookie)
        .map_err(|e| AdminError::Render(e.to_string()))?;
    Ok(res)
}

async fn get_login(req: HttpRequest, state: web::Data<AppState>) -> Page {
    login_page(&req, &state, StatusCode::OK, None)
}

async fn post_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Page {
    let ui = &state.admin;
    check_origin(req.headers(), &ui.own_origins(&req)).map_err(AdminError::Csrf)?;
    let cookie = req.cookie(ui.login_cookie_name(&req));
    if !cookie.is_some_and(|c| tokens_equal(c.value(), &form.csrf_token)) {
        return Err(AdminError::Csrf(CsrfFailure::Token));
    }
    let key = form
        .api_key
        .as_ref()
        .and_then(|k| state.api_keys.authenticate(k.expose_secret().trim()).ok())
        .filter(|k| k.scope == Scope::Admin);
    let Some(key) = key else {
        tracing::info!("admin sign-in refused");
        let message = "That is not a valid admin API key.";
        return login_page(&req, &state, StatusCode::UNAUTHORIZED, Some(message));
    };
    // A new session id at every login; whatever session the browser had is destroyed.
    let previous = req
        .cookie(ui.cookie_name(&req))
        .map(|c| c.value().to_owned());
    let (id, _) = ui
        .sessions()
        .create(&key.id, state.clock.now(), previous.as_deref())
        .map_err(|e| AdminError::from(AppError::internal(e)))?;
    tracing::info!(key_id = %key.id, "admin signed in");
    let mut res = see_other("/admin/connections");
    let secure = ui.secure(&req);
    res.add_cookie(&session_cookie(ui.cookie_name(&req), id, secure))
        .map_err(|e| AdminError::Render(e.to_string()))?;
    let mut gone = Cookie::build(ui.login_cookie_name(&req), "")
        .path("/admin/login")
        .finish();
    gone.make_removal();
    res.add_cookie(&gone)
        .map_err(|e| AdminError::Render(e.to_string()))?;
    Ok(res)
}

async fn post_logout(
    req: HttpRequest,
    s: AdminSession,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    state.admin.sessions().remove(s.id());
    tracing::info!(key_id = %s.key.id, "admin signed out");
    let mut res = see_other("/admin/login");
    let mut gone = session_cookie(state.admin.cookie_name(&req), String::new(), false);
    gone.make_removal();
    res.add_cookie(&gone)
        .map_err(|e| AdminError::Render(e.to_string()))?;
    Ok(res)
}

// ---- connections -------------------------------------------------------------------------

async fn get_connections(s: AdminSession, state: web::Data<AppState>) -> Page {
    let rows: Vec<Value> = state
        .connections
        .list()
        .iter()
        .map(|c| models::connection_row(c))
        .collect();
    views::page(
        "admin/connections.html",
        context! { connections => rows, ..base(&s, "connections") },
    )
}

/// `?kind=` of the new-connection page.
#[derive(serde::Deserialize)]
struct KindQuery {
    #[serde(default)]
    kind: FormKind,
}

fn new_connection_page(
    s: &AdminSession,
    state: &AppState,
    kind: FormKind,
    status: StatusCode,
    form: Value,
    error: Option<&str>,
) -> Page {
    let field = error.and_then(error_field);
    let body = views::render(
        "admin/connection_new.html",
        context! {
            kind => kind.as_str(), form => form, error => error,
            error_field => field, public_url => state.admin.public_url(), ..base(s, "connections"),
        },
    )?;
    Ok(views::html(status, body))
}

async fn get_new_connection(
    s: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<KindQuery>,
) -> Page {
    new_connection_page(&s, &state, query.kind, StatusCode::OK, context! {}, None)
}

async fn post_connection(
    s: AdminSession,
    state: web::Data<AppState>,
    form: web::Form<NewConnectionForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let form = form.into_inner();
    let (kind, sticky) = (form.kind, form.sticky());
    match create_connection(&state, form).await {
        Ok(name) => Ok(see_other(&connection_url(&name))),
        Err(e) if e.code() == ErrorCode::Internal => Err(e.into()),
        Err(e) => {
            let status = e.code().status();
            new_connection_page(&s, &state, kind, status, sticky, Some(e.message()))
        }
    }
}

/// The same service calls as `POST /v1/connections`, from the form.
async fn create_connection(state: &AppState, form: NewConnectionForm) -> Result<String, AppError> {
    let body = form
        .into_request()
        .map_err(|m| AppError::new(ErrorCode::InvalidRequest, m))?;
    if body.kind == ConnectionKind::Oauth {
        let input = crate::routes::oauth::new_oauth(body)?;
        let connection = state.oauth.create_connection(input).await?;
        tracing::info!(connection = %connection.name, "oauth connection created (admin UI)");
        return Ok(connection.name.clone());
    }
    let input = crate::routes::connections::new_keypair(body)?;
    let connection = state
        .connections
        .create_keypair(input)
        .await
        .map_err(map_error)?;
    tracing::info!(connection = %connection.name, "keypair connection created (admin UI)");
    Ok(connection.name.clone())
}

fn connection_page(
    s: &AdminSession,
    state: &AppState,
    name: &str,
    status: StatusCode,
    extra: Value,
) -> Page {
    let connection = state.connections.get(name).map_err(not_found_or)?;
    let accounts = if connection.kind == ConnectionKind::Oauth {
        state.oauth.accounts(name, None).map_err(AppError::from)?
    } else {
        Vec::new()
    };
    let body = views::render(
        "admin/connection.html",
        merge_maps([
            context! { c => models::connection_detail(&connection, &accounts, state.admin.public_url()) },
            base(s, "connections"),
            extra,
        ]),
    )?;
    Ok(views::html(status, body))
}

fn not_found_or(err: crate::connections::ConnectionError) -> AdminError {
    match err {
        crate::connections::ConnectionError::NotFound(name) => {
            AdminError::NotFound(format!("There is no connection named {name:?}."))
        }
        other => map_error(other).into(),
    }
}

async fn get_connection(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Page {
    connection_page(&s, &state, &name, StatusCode::OK, context! {})
}

/// The same calls as `POST /v1/connections/{name}/test`: sign a JWT, run the probe, record it.
async fn post_test(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let connection = state.connections.usable(&name).map_err(not_found_or)?;
    let jwt = state
        .connections
        .jwt(&connection)
        .await
        .map_err(map_error)?;
    let report = probe::run(&state.sql_api, &connection, &jwt, state.clock.now()).await;
    tracing::info!(connection = %connection.name, ok = report.ok, "connection tested (admin UI)");
    state
        .connections
        .record_test(&name, report)
        .await
        .map_err(map_error)?;
    Ok(see_other(&format!("{}#test", connection_url(&name))))
}

async fn set_disabled(
    s: AdminSession,
    state: &AppState,
    name: &str,
    token: &str,
    off: bool,
) -> Page {
    s.verify_csrf(token)?;
    state
        .connections
        .set_disabled(name, off)
        .await
        .map_err(not_found_or)?;
    Ok(see_other(&connection_url(name)))
}

async fn post_enable(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    set_disabled(s, &state, &name, &form.csrf_token, false).await
}

async fn post_disable(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    set_disabled(s, &state, &name, &form.csrf_token, true).await
}

async fn post_rotate(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    state
        .connections
        .start_rotation(&name)
        .await
        .map_err(not_found_or)?;
    Ok(see_other(&connection_url(&name)))
}

/// The same calls as `POST …/rotate-key/complete`: test the new key, then switch to it.
async fn post_rotate_complete(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let connection = state.connections.usable(&name).map_err(not_found_or)?;
    let jwt = state
        .connections
        .next_key_jwt(&connection)
        .await
        .map_err(map_error)?;
    let report = probe::run(&state.sql_api, &connection, &jwt, state.clock.now()).await;
    if !report.ok {
        let detail = report.hint.or(report.error_message).unwrap_or_default();
        let message = format!("The new key does not work yet; the old key stays active. {detail}");
        return connection_page(
            &s,
            &state,
            &name,
            StatusCode::CONFLICT,
            context! { notice => message, notice_bad => true },
        );
    }
    let (_, retired) = state
        .connections
        .finish_rotation(&name)
        .await
        .map_err(map_error)?;
    let connection = state
        .connections
        .record_test(&name, report)
        .await
        .map_err(map_error)?;
    let user = connection
        .keypair
        .as_ref()
        .map(|k| k.user.to_uppercase())
        .unwrap_or_default();
    result_page(
        &s,
        "Key rotation completed",
        "icebroker signs with the new key now and destroyed the old one. Remove the old key \
         from the Snowflake user:",
        vec![sql::unset_public_key(&user, retired.slot)],
        &connection_url(&name),
    )
}

fn result_page(s: &AdminSession, title: &str, message: &str, sql: Vec<String>, back: &str) -> Page {
    views::page(
        "admin/result.html",
        context! {
            title => title, message => message, sql => sql, back => back, ..base(s, "connections"),
        },
    )
}

async fn get_delete(s: AdminSession, state: web::Data<AppState>, name: web::Path<String>) -> Page {
    let connection = state.connections.get(&name).map_err(not_found_or)?;
    views::page(
        "admin/connection_delete.html",
        context! {
            name => connection.name.clone(), oauth => connection.kind == ConnectionKind::Oauth,
            ..base(&s, "connections"),
        },
    )
}

/// The same calls as `DELETE /v1/connections/{name}`.
async fn post_delete(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let connection = state
        .connections
        .delete(&name)
        .await
        .map_err(not_found_or)?;
    if connection.kind == ConnectionKind::Oauth {
        state
            .oauth
            .forget_connection(&name)
            .await
            .map_err(AppError::from)?;
    }
    tracing::info!(connection = %connection.name, "connection deleted (admin UI)");
    let cleanup: Vec<String> = connection
        .keypair
        .iter()
        .flat_map(|k| {
            let user = k.user.to_uppercase();
            std::iter::once(&k.active)
                .chain(k.next.iter())
                .map(move |key| sql::unset_public_key(&user, key.slot))
        })
        .collect();
    let message = if cleanup.is_empty() {
        "The connection, its client secret and every connected account's tokens are gone."
    } else {
        "The connection and its private keys are gone. Remove the public keys from the user:"
    };
    result_page(
        &s,
        "Connection deleted",
        message,
        cleanup,
        "/admin/connections",
    )
}

/// Issues an authorization link bound to the session's admin key, shown once.
async fn post_link(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<LinkForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    match state.oauth.issue_link(&s.key, &name, form.request()).await {
        Ok(issued) => connection_page(
            &s,
            &state,
            &name,
            StatusCode::OK,
            context! {
                link => issued.link, link_identifier => form.identifier.clone(),
                link_expires_at => issued.expires_at,
            },
        ),
        Err(e) => {
            let e = AppError::from(e);
            if e.code() == ErrorCode::Internal || e.code() == ErrorCode::ConnectionNotFound {
                return Err(e.into());
            }
            connection_page(
                &s,
                &state,
                &name,
                e.code().status(),
                context! { link_error => e.message(), link_form_identifier => form.identifier.clone() },
            )
        }
    }
}

/// The same call as `DELETE …/accounts/{identifier}`.
async fn post_revoke_account(
    s: AdminSession,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<AccountForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let (_, revoke_sql) = state
        .oauth
        .disconnect(&name, &form.identifier)
        .await
        .map_err(AppError::from)?;
    let message = if revoke_sql.is_some() {
        "icebroker forgot the account's tokens. Run this in Snowflake (ACCOUNTADMIN or the \
         user's owner) to end the consent and every token Snowflake issued for it:"
    } else {
        "icebroker forgot the account's tokens. The Snowflake user is unknown, so there is no \
         statement to run."
    };
    result_page(
        &s,
        &format!("Account {} revoked", form.identifier),
        message,
        revoke_sql.into_iter().collect(),
        &connection_url(&name),
    )
}

// ---- API keys ----------------------------------------------------------------------------

fn api_keys_page(s: &AdminSession, state: &AppState, status: StatusCode, extra: Value) -> Page {
    let body = views::render(
        "admin/api_keys.html",
        merge_maps([
            context! { keys => Serde(state.api_keys.list()), own_key => s.key.id.clone() },
            base(s, "api-keys"),
            extra,
        ]),
    )?;
    Ok(views::html(status, body))
}

async fn get_api_keys(s: AdminSession, state: web::Data<AppState>) -> Page {
    api_keys_page(&s, &state, StatusCode::OK, context! {})
}

/// Creates a key and shows it in this one response only.
async fn post_api_key(
    s: AdminSession,
    state: web::Data<AppState>,
    form: web::Form<ApiKeyForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    let created = state
        .api_keys
        .create(&form.name, form.scope, form.connection_list())
        .await;
    match created {
        Ok((record, key)) => {
            tracing::info!(key_id = %record.id, "api key created (admin UI)");
            api_keys_page(
                &s,
                &state,
                StatusCode::CREATED,
                context! { new_key => key.expose(), new_record => Serde(&record) },
            )
        }
        Err(crate::api_keys::ApiKeyError::Invalid(message)) => api_keys_page(
            &s,
            &state,
            StatusCode::BAD_REQUEST,
            context! { error => message, form_name => form.name.clone(), form_connections => form.connections.clone() },
        ),
        Err(e) => Err(AppError::internal(e).into()),
    }
}

async fn post_revoke_key(
    s: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    s.verify_csrf(&form.csrf_token)?;
    match state.api_keys.revoke(&id).await {
        Ok(_) => {}
        Err(crate::api_keys::ApiKeyError::NotFound(_)) => {
            return Err(AdminError::NotFound("There is no such API key.".to_owned()))
        }
        Err(e) => return Err(AppError::internal(e).into()),
    }
    state.admin.sessions().remove_for_key(&id);
    tracing::info!(key_id = %id, "api key revoked (admin UI)");
    Ok(see_other("/admin/api-keys"))
}

// ---- audit log ---------------------------------------------------------------------------

async fn get_audit(
    s: AdminSession,
    state: web::Data<AppState>,
    filter: web::Query<AuditFilter>,
) -> Page {
    let filter = filter.into_inner();
    let (page, error) = match filter.query() {
        Ok(query) => (
            Some(state.audit.query(&query).map_err(AppError::internal)?),
            None,
        ),
        Err(message) => (None, Some(message)),
    };
    let next_url = page.as_ref().and_then(|p| p.next.clone()).map(|next| {
        let mut f = filter.clone();
        f.after = Some(next);
        format!("/admin/audit?{}", filter_query(&f))
    });
    let first_url = format!(
        "/admin/audit?{}",
        filter_query(&AuditFilter {
            after: None,
            ..filter.clone()
        })
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = views::render(
        "admin/audit.html",
        context! {
            filter => Serde(&filter), error => error,
            entries => Serde(page.map(|p| p.entries).unwrap_or_default()), next_url => next_url,
            first_url => first_url, ..base(&s, "audit"),
        },
    )?;
    Ok(views::html(status, body))
}

/// The filter as a query string (empty fields left out).
fn filter_query(f: &AuditFilter) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("connection", &f.connection),
        ("identifier", &f.identifier),
        ("api_key_id", &f.api_key_id),
        ("since", &f.since),
        ("until", &f.until),
        ("after", &f.after),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(k, v);
        }
    }
    out.finish()
}
