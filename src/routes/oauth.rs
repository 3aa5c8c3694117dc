//! The OAuth flow over HTTP: `POST /v1/connections/{name}/authorization-links` (apps),
//! `GET /connect/{token}` and `GET /oauth/callback/{connection}` (browsers).
//!
//! Browser responses are HTML pages from `templates/` or redirects, always with
//! `Cache-Control: no-store`, `Pragma: no-cache`, `Referrer-Policy: no-referrer` and a CSP that
//! allows nothing but inline styles (OA-7). The query string (code, state) is never logged.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::connections::CreateConnectionRequest;
use crate::connections::Defaults;
use crate::error::{AppError, ErrorCode};
use crate::http::auth::ServiceCaller;
use crate::oauth::{CallbackOutcome, FlowFailure, LinkRequest, NewOAuth, OAuthError, OAuthService};
use crate::state::AppState;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

impl From<OAuthError> for AppError {
    fn from(err: OAuthError) -> Self {
        let code = match &err {
            OAuthError::Invalid(_) => ErrorCode::InvalidRequest,
            OAuthError::ConnectionNotFound(_) => ErrorCode::ConnectionNotFound,
            OAuthError::ConnectionDisabled(_) => ErrorCode::ConnectionDisabled,
            OAuthError::NotOAuth(_) => ErrorCode::WrongConnectionKind,
            OAuthError::Exists(_) => ErrorCode::ConnectionExists,
            OAuthError::AccountNotFound(_) => ErrorCode::AccountNotFound,
            OAuthError::AccountNotConnected(_) => ErrorCode::AccountNotConnected,
            OAuthError::ReauthorizationRequired(_) => ErrorCode::ReauthorizationRequired,
            OAuthError::ClientRejected => ErrorCode::SnowflakeAuthFailed,
            OAuthError::Upstream(_) => ErrorCode::UpstreamUnavailable,
            OAuthError::Vault(_) | OAuthError::Store(_) | OAuthError::Internal(_) => {
                return AppError::internal(err)
            }
        };
        AppError::new(code, err.to_string())
    }
}

/// The OAuth half of `POST /v1/connections` (`kind: "oauth"`).
pub fn new_oauth(body: CreateConnectionRequest) -> Result<NewOAuth, AppError> {
    let missing = |field: &str| {
        AppError::new(
            ErrorCode::InvalidRequest,
            format!("{field} is required for an OAuth connection (see SYSTEM$SHOW_OAUTH_CLIENT_SECRETS)"),
        )
    };
    if body.user.is_some()
        || body.private_key_pem.is_some()
        || body.private_key_passphrase.is_some()
    {
        return Err(AppError::new(
            ErrorCode::InvalidRequest,
            "user and private keys belong to keypair connections; OAuth users authorize through links",
        ));
    }
    Ok(NewOAuth {
        client_id: body.client_id.ok_or_else(|| missing("client_id"))?,
        client_secret: Zeroizing::new(
            body.client_secret
                .ok_or_else(|| missing("client_secret"))?
                .expose_secret()
                .to_owned(),
        ),
        name: body.name,
        account: body.account,
        host: body.host,
        defaults: Defaults {
            role: body.role,
            warehouse: body.warehouse,
            database: body.database,
            schema: body.schema,
        },
        scopes: body.scopes,
        allowed_return_urls: body.allowed_return_urls,
        authorize_url: body.authorize_url,
        token_url: body.token_url,
        ca_file: body.ca_file,
        single_use_refresh_tokens: body.single_use_refresh_tokens,
        integration: body.integration,
        refresh_token_validity_secs: body.refresh_token_validity_secs,
    })
}

/// Checks that `caller` may act on `connection`.
pub fn require_connection(caller: &ServiceCaller, connection: &str) -> Result<(), AppError> {
    if caller.0.allows_connection(connection) {
        Ok(())
    } else {
        Err(AppError::new(
            ErrorCode::Forbidden,
            format!("this API key is not allowed to use connection {connection:?}"),
        ))
    }
}

/// Body of `POST /v1/connections/{name}/authorization-links`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// The app's opaque id for its end user (1-256 bytes, no control characters).
    pub identifier: String,
    /// Where the browser goes afterwards; must equal one of the connection's
    /// `allowed_return_urls` exactly. `identifier` and `status` are appended.
    #[serde(default)]
    pub return_url: Option<String>,
    /// Link lifetime in seconds (default 600, at most 1800).
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// A new authorization link.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkResponse {
    /// `<public_url>/connect/sfb_link_…`: single use; give it only to that end user.
    pub link: String,
    /// Expiry (seconds since the epoch).
    pub expires_at: u64,
}

/// Creates a single-use authorization link for one end user.
#[utoipa::path(post, path = "/v1/connections/{name}/authorization-links", tag = "oauth",
    security(("api_key" = [])), params(("name" = String, Path)), request_body = CreateLinkRequest,
    responses((status = 201, body = LinkResponse),
              (status = 400, body = crate::routes::openapi::ErrorEnvelope),
              (status = 403, body = crate::routes::openapi::ErrorEnvelope),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_authorization_link(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<CreateLinkRequest>,
) -> Result<HttpResponse, AppError> {
    require_connection(&caller, &name)?;
    let body = body.into_inner();
    let request = LinkRequest {
        identifier: body.identifier,
        return_url: body.return_url,
        expires_in: body.expires_in,
    };
    let issued = state.oauth.issue_link(&caller.0, &name, request).await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(LinkResponse {
            link: issued.link,
            expires_at: issued.expires_at,
        }))
}

fn page(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("content-security-policy", CSP))
        .body(body)
}

fn failure_page(oauth: &OAuthService, failure: FlowFailure) -> HttpResponse {
    match failure {
        FlowFailure::LinkExpired => page(StatusCode::GONE, oauth.pages().link_expired()),
        FlowFailure::Page {
            status,
            title,
            message,
        } => page(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            oauth.pages().error(title, &message),
        ),
    }
}

fn flow_cookie(oauth: &OAuthService, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(oauth.cookie_name(), value)
        .path("/")
        .http_only(true)
        .secure(oauth.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age))
        .finish()
}

/// Opens an authorization link: sets the browser-binding cookie and redirects to Snowflake.
/// An unknown, used or expired link answers a 410 page.
#[utoipa::path(get, path = "/connect/{token}", tag = "oauth", params(("token" = String, Path)),
    responses((status = 302, description = "To Snowflake's /oauth/authorize"),
              (status = 400, description = "HTML page: the link must be opened without parameters"),
              (status = 410, description = "HTML page: the link is unknown, used or expired")))]
pub async fn get_connect(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let oauth = &state.oauth;
    // OA-9: nothing about the flow can be changed from the link's URL; refuse, do not consume.
    if !req.query_string().is_empty() {
        return failure_page(
            oauth,
            FlowFailure::Page {
                status: 400,
                title: "Invalid link",
                message: "Open the link exactly as the application gave it to you.".to_owned(),
            },
        );
    }
    match oauth.start(&token).await {
        Ok(started) => HttpResponse::Found()
            .insert_header(("location", started.authorize_url))
            .insert_header(("cache-control", "no-store"))
            .insert_header(("referrer-policy", "no-referrer"))
            .cookie(flow_cookie(
                oauth,
                started.cookie,
                crate::oauth::STATE_TTL as i64,
            ))
            .finish(),
        Err(failure) => failure_page(oauth, failure),
    }
}

/// Snowflake's redirect after login/consent. Checks the one-time state, the connection and the
/// browser before exchanging the code; then 303 to the app's return URL or a result page.
#[utoipa::path(get, path = "/oauth/callback/{connection}", tag = "oauth",
    params(("connection" = String, Path)),
    responses((status = 303, description = "To the allowed return_url with identifier and status"),
              (status = 200, description = "HTML page: connected or declined"),
              (status = 400, description = "HTML page: missing/unknown/used/expired state, other connection or browser"),
              (status = 502, description = "HTML page: Snowflake did not complete the exchange")))]
pub async fn get_oauth_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    connection: web::Path<String>,
) -> HttpResponse {
    let oauth = &state.oauth;
    let cookie = req.cookie(oauth.cookie_name());
    let outcome = oauth
        .callback(
            &connection,
            req.query_string(),
            cookie.as_ref().map(|c| c.value()),
        )
        .await;
    let mut response = match outcome {
        Ok(CallbackOutcome::Redirect(url)) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .insert_header(("cache-control", "no-store"))
            .insert_header(("pragma", "no-cache"))
            .insert_header(("referrer-policy", "no-referrer"))
            .finish(),
        Ok(CallbackOutcome::Connected {
            connection,
            snowflake_user,
        }) => page(
            StatusCode::OK,
            oauth
                .pages()
                .connected(&connection, snowflake_user.as_deref()),
        ),
        Ok(CallbackOutcome::Denied { connection }) => {
            page(StatusCode::OK, oauth.pages().denied(&connection))
        }
        Err(failure) => failure_page(oauth, failure),
    };
    // The flow is over whatever happened: the browser binding is single-use too.
    if cookie.is_some() {
        let _ = response.add_removal_cookie(&flow_cookie(oauth, String::new(), 0));
    }
    response
}
