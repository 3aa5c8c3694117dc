//! Who may see an admin page: the [`AdminSession`] extractor, and [`AdminError`], which turns
//! every refusal into an HTML answer (a redirect to the login page, or an error page) instead of
//! the JSON error contract of the API.

use std::future::{ready, Ready};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{Method, StatusCode};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use super::csrf::{check_origin, CsrfFailure};
use super::session::Session;
use super::views;
use crate::api_keys::{ApiKeyRecord, Scope};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// A browser with a live admin session (and, for unsafe methods, a same-origin request).
#[derive(Debug)]
pub struct AdminSession {
    /// The admin key the session was opened with (still valid: checked on every request).
    pub key: ApiKeyRecord,
    /// The session.
    pub session: Session,
    id: String,
}

impl AdminSession {
    /// Refuses the form unless `presented` is this session's CSRF token.
    pub fn verify_csrf(&self, presented: &str) -> Result<(), AdminError> {
        if self.session.csrf_matches(presented) {
            Ok(())
        } else {
            Err(AdminError::Csrf(CsrfFailure::Token))
        }
    }

    /// The session id (only the logout handler needs it, to end the session).
    pub fn id(&self) -> &str {
        &self.id
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

fn extract(req: &HttpRequest) -> Result<AdminSession, AdminError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AdminError::from(AppError::internal(anyhow::anyhow!("AppState missing"))))?;
    let ui = &state.admin;
    // Cross-site form posts are refused before anything else, logged in or not.
    if !is_safe(req.method()) {
        check_origin(req.headers(), &ui.own_origins(req)).map_err(AdminError::Csrf)?;
    }
    let id = req
        .cookie(ui.cookie_name(req))
        .map(|c| c.value().to_owned())
        .ok_or(AdminError::Login)?;
    let session = ui
        .sessions()
        .touch(&id, state.clock.now())
        .ok_or(AdminError::Login)?;
    let key = state
        .api_keys
        .list()
        .into_iter()
        .find(|k| k.id == session.key_id && k.scope == Scope::Admin);
    match key {
        Some(key) => Ok(AdminSession { key, session, id }),
        None => {
            // The key was revoked: the sessions it opened end with it.
            ui.sessions().remove_for_key(&session.key_id);
            Err(AdminError::Login)
        }
    }
}

impl FromRequest for AdminSession {
    type Error = AdminError;
    type Future = Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(req))
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure over https, no
/// Max-Age (a browser-session cookie; the server's idle timeout is what ends it).
pub fn session_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

/// Why an admin request gets no page.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No (live) session: go to the login page.
    #[error("login required")]
    Login,
    /// A CSRF check failed (403).
    #[error("csrf: {0:?}")]
    Csrf(CsrfFailure),
    /// No such page or object (404).
    #[error("{0}")]
    NotFound(String),
    /// A service refused; the page shows the message (internal causes are logged only).
    #[error("{0}")]
    App(AppError),
    /// A page could not be rendered.
    #[error("render: {0}")]
    Render(String),
}

impl From<AppError> for AdminError {
    fn from(err: AppError) -> Self {
        if err.code() == ErrorCode::Internal {
            // AppError logs its cause (once) when turned into a response; the admin page is
            // rendered instead, so let it log here.
            let _ = err.error_response();
        }
        Self::App(err)
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Login => StatusCode::SEE_OTHER,
            Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::App(e) => e.code().status(),
            Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message) = match self {
            Self::Login => {
                return HttpResponse::SeeOther()
                    .insert_header(("location", "/admin/login"))
                    .finish()
            }
            Self::Csrf(f) => ("Request refused", f.message().to_owned()),
            Self::NotFound(m) => ("Not found", m.clone()),
            Self::App(e) => ("Something went wrong", e.message().to_owned()),
            Self::Render(e) => {
                tracing::error!(error = %e, "admin page rendering failed");
                (
                    "Something went wrong",
                    "The page could not be rendered.".to_owned(),
                )
            }
        };
        views::error_page(status, title, &message)
    }
}
