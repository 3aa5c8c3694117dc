//! The `/admin` web UI's machinery: the server-side session store ([`session`]), CSRF checks
//! ([`csrf`]), the `AdminSession` extractor and the UI's error pages ([`guard`]), the compiled
//! templates and view helpers ([`views`]) and the form types that turn into the same service
//! inputs the JSON API builds ([`forms`]). The handlers are in `crate::routes::admin`.
//!
//! Rules (SECURITY.md PX-10, STYLE.md §6): HTML comes only from auto-escaping templates in
//! `templates/admin/`; pages load nothing but `/admin/static/*` (strict CSP, no inline script
//! or style); a secret (client secret, private key, token, API key) is never rendered except a
//! new API key or authorization link, once, in the response that created it.

pub mod csrf;
pub mod forms;
pub mod guard;
pub mod models;
pub mod session;
pub mod views;

use actix_web::HttpRequest;

pub use guard::{AdminError, AdminSession};
pub use session::SessionStore;

/// The admin UI's process-wide state (one per broker, in `AppState::admin`).
pub struct AdminUi {
    sessions: SessionStore,
    public_url: String,
    public_origin: Option<String>,
    https: bool,
}

impl AdminUi {
    /// The UI for a broker reachable at `public_url`.
    pub fn new(public_url: &str) -> Self {
        Self {
            sessions: SessionStore::new(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            public_origin: csrf::origin_of(public_url),
            https: public_url.starts_with("https://"),
        }
    }

    /// The session store.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// The broker's public base URL (redirect URIs derive from it).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Whether cookies get `Secure`: the public URL is https or this request came over TLS.
    pub fn secure(&self, req: &HttpRequest) -> bool {
        self.https || req.connection_info().scheme() == "https"
    }

    /// The session cookie's name. `__Secure-` makes browsers refuse it without TLS; the
    /// `__Host-` prefix is impossible here because the cookie is scoped to `Path=/admin`.
    pub fn cookie_name(&self, req: &HttpRequest) -> &'static str {
        if self.secure(req) {
            "__Secure-ib_admin"
        } else {
            "ib_admin"
        }
    }

    /// The login form's double-submit cookie name.
    pub fn login_cookie_name(&self, req: &HttpRequest) -> &'static str {
        if self.secure(req) {
            "__Secure-ib_admin_login"
        } else {
            "ib_admin_login"
        }
    }

    /// Origins a form may be posted from: the public URL's and the one the request was sent to.
    pub fn own_origins(&self, req: &HttpRequest) -> Vec<String> {
        let info = req.connection_info();
        let mut own = vec![format!("{}://{}", info.scheme(), info.host()).to_ascii_lowercase()];
        own.extend(self.public_origin.clone());
        own
    }
}
