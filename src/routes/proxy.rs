//! The SQL API proxy routes. Keypair connections: `/v1/connections/{name}/api/v2/statements…`;
//! OAuth connections: `/v1/connections/{name}/accounts/{identifier}/api/v2/statements…`. Only
//! the three SQL API path shapes exist; anything else is 404 before any upstream contact
//! (SECURITY.md PX-2). Every call is written to the audit log.

use std::time::Instant;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt as _, StreamExt};

use crate::audit::AuditEntry;
use crate::connections::{Connection, ConnectionKind};
use crate::error::{AppError, ErrorCode};
use crate::http::auth::ServiceCaller;
use crate::metrics::UpstreamOutcome;
use crate::oauth::AccessToken;
use crate::proxy::owners::Keep;
use crate::proxy::route::{self, ProxyPath};
use crate::proxy::{
    buffer_back, parse_query, prepare_body, send, Answer, Forward, ForwardError, Operation,
    ProxyClient, UpstreamAuth, UpstreamResponse,
};
use crate::routes::connections::map_error;
use crate::routes::proxy_errors::{jwt_rejected, oauth_error, upstream_error};
use crate::snowflake::StatementHandle;
use crate::state::AppState;

/// Whose credentials a call uses.
enum Principal<'a> {
    /// The keypair connection's service identity; `tag` is the caller's optional
    /// `X-Icebroker-Identifier`, recorded in the audit log only.
    Service { tag: Option<String> },
    /// An end user of an OAuth connection.
    User { identifier: &'a str },
}

/// Everything about one proxied call.
struct Call<'a> {
    name: &'a str,
    principal: Principal<'a>,
    operation: Operation,
    handle: Option<&'a str>,
    body: Option<Bytes>,
    /// The caller's raw query string (validated against the allow-list later).
    query: std::borrow::Cow<'a, str>,
    /// Whether the caller accepts gzip (partitions pass through compressed).
    accept_gzip: bool,
}

/// Whether `req` is for one of the six proxy paths (the route guard: it runs for every request
/// under `/v1/connections` and allocates nothing).
pub fn is_proxy_path(req: &actix_web::guard::GuardContext<'_>) -> bool {
    route::shape(req.head().uri.path()).is_some()
}

/// Serves the six proxy paths, recognised by [`crate::proxy::route`] rather than by the router's
/// regex resources (this is the traffic; see BENCHMARKS.md). Each path has one method (405
/// otherwise); the caller is authenticated after that, as on every other route.
pub async fn dispatch(
    state: web::Data<AppState>,
    client: web::Data<ProxyClient>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let Some(path) = ProxyPath::parse(req.path()) else {
        return Err(AppError::new(
            ErrorCode::RouteNotFound,
            "no such route: a path segment is not valid percent-encoded UTF-8",
        ));
    };
    if req.method().as_str() != path.shape.operation.method() {
        return Err(AppError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not supported on this route", req.method()),
        ));
    }
    let proxied = Proxied {
        caller: ServiceCaller::extract(&req).await?,
        state: &state,
        client: &client,
        req: &req,
        payload,
        path: &path,
    };
    match (path.shape.end_user, path.shape.operation) {
        (false, Operation::Submit) => post_statements(proxied).await,
        (false, Operation::Status) => get_statement(proxied).await,
        (false, Operation::Cancel) => post_cancel(proxied).await,
        (true, Operation::Submit) => post_user_statements(proxied).await,
        (true, Operation::Status) => get_user_statement(proxied).await,
        (true, Operation::Cancel) => post_user_cancel(proxied).await,
    }
}

/// One request to a proxy path, authenticated, as [`dispatch`] hands it on.
struct Proxied<'a> {
    caller: ServiceCaller,
    state: &'a AppState,
    client: &'a ProxyClient,
    req: &'a HttpRequest,
    payload: web::Payload,
    path: &'a ProxyPath<'a>,
}

impl Proxied<'_> {
    /// Forwards the call as `principal`, with the request body when the operation is a submit.
    async fn forward(self, principal: Principal<'_>) -> Result<HttpResponse, AppError> {
        let operation = self.path.shape.operation;
        let body = match operation {
            Operation::Submit => {
                Some(read_capped(self.payload, self.req, self.state.proxy_max_body).await?)
            }
            Operation::Status | Operation::Cancel => None,
        };
        let call = Call {
            name: &self.path.connection,
            principal,
            operation,
            handle: self.path.handle.as_deref(),
            body,
            query: self.req.query_string().into(),
            accept_gzip: accepts_gzip(self.req),
        };
        forward(self.state, self.client, &self.caller, call).await
    }

    /// A keypair call, tagged with the caller's `X-Icebroker-Identifier` if it sent one.
    async fn forward_as_service(self) -> Result<HttpResponse, AppError> {
        let tag = identifier_tag(self.req)?;
        self.forward(Principal::Service { tag }).await
    }

    /// An OAuth call as the end user the path names.
    async fn forward_as_user(self) -> Result<HttpResponse, AppError> {
        let path = self.path;
        let identifier = path.identifier.as_deref().unwrap_or_default();
        self.forward(Principal::User { identifier }).await
    }
}

/// Submits a statement through a keypair connection.
#[utoipa::path(post, path = "/v1/connections/{name}/api/v2/statements", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path)),
    request_body(content = serde_json::Value, description = "Snowflake SQL API statement body"),
    responses((status = 200, description = "Snowflake's ResultSet, streamed unchanged"),
              (status = 202, description = "Still running; poll the status URL through the proxy"),
              (status = 422, description = "Snowflake's error body, unchanged"),
              (status = 502, body = crate::routes::openapi::ErrorEnvelope),
              (status = 504, body = crate::routes::openapi::ErrorEnvelope)))]
async fn post_statements(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_service().await
}

/// Statement status or a result partition through a keypair connection.
#[utoipa::path(get, path = "/v1/connections/{name}/api/v2/statements/{handle}", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's ResultSet or partition, streamed unchanged")))]
async fn get_statement(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_service().await
}

/// Cancels a statement through a keypair connection.
#[utoipa::path(post, path = "/v1/connections/{name}/api/v2/statements/{handle}/cancel", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's CancelStatus, unchanged")))]
async fn post_cancel(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_service().await
}

/// Submits a statement as an end user of an OAuth connection.
#[utoipa::path(post, path = "/v1/connections/{name}/accounts/{identifier}/api/v2/statements", tag = "proxy",
    security(("api_key" = [])), params(("name" = String, Path), ("identifier" = String, Path)),
    request_body(content = serde_json::Value, description = "Snowflake SQL API statement body"),
    responses((status = 200, description = "Snowflake's ResultSet, streamed unchanged"),
              (status = 401, body = crate::routes::openapi::ErrorEnvelope, description = "reauthorization_required"),
              (status = 409, body = crate::routes::openapi::ErrorEnvelope, description = "account_not_connected")))]
async fn post_user_statements(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_user().await
}

/// Statement status or a partition as an end user of an OAuth connection.
#[utoipa::path(get, path = "/v1/connections/{name}/accounts/{identifier}/api/v2/statements/{handle}", tag = "proxy",
    security(("api_key" = [])),
    params(("name" = String, Path), ("identifier" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's ResultSet or partition, streamed unchanged")))]
async fn get_user_statement(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_user().await
}

/// Cancels a statement as an end user of an OAuth connection.
#[utoipa::path(post, path = "/v1/connections/{name}/accounts/{identifier}/api/v2/statements/{handle}/cancel", tag = "proxy",
    security(("api_key" = [])),
    params(("name" = String, Path), ("identifier" = String, Path), ("handle" = String, Path)),
    responses((status = 200, description = "Snowflake's CancelStatus, unchanged")))]
async fn post_user_cancel(proxied: Proxied<'_>) -> Result<HttpResponse, AppError> {
    proxied.forward_as_user().await
}

async fn forward(
    state: &AppState,
    client: &ProxyClient,
    caller: &ServiceCaller,
    call: Call<'_>,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let mut entry = AuditEntry {
        at_ms: now_ms(),
        api_key_id: caller.0.id.clone(),
        connection: call.name.to_owned(),
        identifier: match &call.principal {
            Principal::Service { tag } => tag.clone(),
            Principal::User { identifier } => Some((*identifier).to_owned()),
        },
        method: call.operation.method().to_owned(),
        path: path_shape(call.operation).to_owned(),
        statement_sha256: None,
        request_id: None,
        statement_handle: call.handle.map(str::to_owned),
        upstream_status: None,
        error_code: None,
        duration_ms: 0,
        retries: 0,
    };
    let outcome = forward_inner(state, client, caller, call, &mut entry).await;
    entry.duration_ms = started.elapsed().as_millis() as u64;
    if let Err(err) = &outcome {
        entry.error_code = Some(err.code().as_str().to_owned());
    }
    state.audit.record(entry);
    outcome
}

async fn forward_inner(
    state: &AppState,
    client: &ProxyClient,
    caller: &ServiceCaller,
    call: Call<'_>,
    entry: &mut AuditEntry,
) -> Result<HttpResponse, AppError> {
    let connection = authorize(state, caller, call.name)?;
    match (&call.principal, connection.kind) {
        (Principal::Service { .. }, ConnectionKind::Keypair)
        | (Principal::User { .. }, ConnectionKind::Oauth) => {}
        (Principal::Service { .. }, ConnectionKind::Oauth) => {
            return Err(AppError::new(
                ErrorCode::WrongConnectionKind,
                format!(
                    "{0} is an OAuth connection: use /v1/connections/{0}/accounts/{{identifier}}/api/v2/…",
                    call.name
                ),
            ))
        }
        (Principal::User { .. }, ConnectionKind::Keypair) => {
            return Err(AppError::new(
                ErrorCode::WrongConnectionKind,
                format!(
                    "{0} is a keypair connection: use /v1/connections/{0}/api/v2/… (send \
                     X-Icebroker-Identifier to record an end user in the audit log)",
                    call.name
                ),
            ))
        }
    }
    let identifier = match &call.principal {
        Principal::Service { tag } => tag.as_deref(),
        Principal::User { identifier } => Some(*identifier),
    };
    // The connection's concurrency slot, if capped: held until Snowflake's answer has been
    // passed on whole (a streamed body releases it when it ends or the caller goes away).
    let admission = crate::http::limits::admit(state, caller, call.name, identifier)?;
    let handle = match call.handle {
        Some(h) => Some(StatementHandle::parse(h).map_err(|_| not_found())?),
        None => None,
    };
    let end_user = match &call.principal {
        Principal::User { identifier } => Some(*identifier),
        Principal::Service { .. } => None,
    };
    let owners = &state.statement_owners;
    let owner = owners.owner(&caller.0.id, call.name, end_user);
    if let Some(h) = &handle {
        owners.claim(h.as_str(), &owner)?;
    }
    let query = parse_query(&call.query, call.operation)
        .map_err(|e| AppError::new(ErrorCode::InvalidRequest, e.0))?;
    entry.request_id = query.request_id.as_ref().map(ToString::to_string);
    let body = match call.body {
        Some(raw) => {
            let prepared = prepare_body(raw, &connection.defaults)
                .map_err(|e| AppError::new(ErrorCode::InvalidRequest, e.0))?;
            entry.statement_sha256 = Some(prepared.statement_sha256);
            Some(prepared.bytes)
        }
        None => None,
    };
    let fwd = Forward {
        base_url: &connection.base_url,
        operation: call.operation,
        handle: handle.as_ref(),
        query: &query,
        body,
        accept_gzip: call.accept_gzip,
    };
    let answer = match call.principal {
        Principal::Service { .. } => {
            let jwt = state
                .connections
                .jwt(&connection)
                .await
                .map_err(map_error)?;
            let auth = UpstreamAuth::new(&jwt.authorization, "KEYPAIR_JWT");
            let answer = send_recorded(state, client, &fwd, &auth, false, entry).await?;
            if answer.response.status() == reqwest::StatusCode::UNAUTHORIZED {
                return Err(jwt_rejected(client, &connection, answer.response).await);
            }
            answer
        }
        Principal::User { identifier } => {
            user_call(state, client, &connection, identifier, &fwd, entry).await?
        }
    };
    if call.operation != Operation::Submit {
        return pass_back(client, answer.response, admission).await;
    }
    // A submit's handle is remembered with its owner: from the `Link` header of a result, or
    // from the (small) body of a 202 (still running), 408 (timed out) or 422 (failed).
    let status = answer.response.status().as_u16();
    if matches!(status, 202 | 408 | 422) {
        let (response, body) = buffer_back(client, answer.response, STATUS_BODY_LIMIT)
            .await
            .ok_or_else(|| unreadable(status))?;
        entry.statement_handle = handle_from_body(&body);
        if let Some(h) = &entry.statement_handle {
            // Only a running statement has anything left to fetch.
            owners.remember(h, owner, Keep::when_coming_back(status == 202));
        }
        return Ok(response);
    }
    if let Some(link) = ResultLink::parse(&answer.response) {
        // More partitions to fetch: the caller will come back, perhaps after a restart.
        let keep = Keep::when_coming_back(link.more_partitions);
        owners.remember(link.handle, owner, keep);
        entry.statement_handle = Some(link.handle.to_owned());
    }
    pass_back(client, answer.response, admission).await
}

/// Snowflake's answer passed back unchanged ([`crate::proxy::pass_back`]); a small body that
/// could not be read is `upstream_unavailable`.
fn pass_back<H: 'static>(
    client: &ProxyClient,
    response: UpstreamResponse,
    held: H,
) -> impl std::future::Future<Output = Result<HttpResponse, AppError>> + 'static {
    let status = response.status().as_u16();
    crate::proxy::pass_back(client, response, held)
        .map(move |answer| answer.ok_or_else(|| unreadable(status)))
}

/// Snowflake's answer with `status` arrived but its body could not be read.
fn unreadable(status: u16) -> AppError {
    AppError::new(
        ErrorCode::UpstreamUnavailable,
        format!("Snowflake's {status} answer could not be read"),
    )
}

/// The most of a 202, 408 or 422 body read to learn its statement handle (Snowflake's are a few
/// hundred bytes).
const STATUS_BODY_LIMIT: usize = 64 * 1024;

/// The `statementHandle` of a 202, 408 or 422 body (`QueryStatus`, `QueryFailureStatus`).
fn handle_from_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Accepted {
        #[serde(rename = "statementHandle")]
        statement_handle: String,
    }
    let accepted: Accepted = serde_json::from_slice(body).ok()?;
    StatementHandle::parse(&accepted.statement_handle)
        .ok()
        .map(|h| h.as_str().to_owned())
}

/// An end user's call: their access token, and after an upstream 401 one forced refresh and one
/// resubmission with the same requestId (`retry=true`).
async fn user_call(
    state: &AppState,
    client: &ProxyClient,
    connection: &Connection,
    identifier: &str,
    fwd: &Forward<'_>,
    entry: &mut AuditEntry,
) -> Result<Answer, AppError> {
    let tokens = state.oauth.tokens();
    let token = tokens
        .access_token(connection, identifier)
        .await
        .map_err(oauth_error)?;
    let answer = send_recorded(state, client, fwd, &oauth_bearer(&token)?, false, entry).await?;
    if answer.response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(answer);
    }
    drop(answer);
    // Boxed: a refresh's future is large and this path is rare, so the common call's future
    // (allocated and moved per request) does not carry its space.
    Box::pin(refresh_and_resubmit(
        state, client, connection, identifier, &token, fwd, entry,
    ))
    .await
}

/// After an upstream 401 with `stale`: one forced refresh, then one resubmission with the same
/// requestId (`retry=true`); a second 401 is `snowflake_auth_failed`.
async fn refresh_and_resubmit(
    state: &AppState,
    client: &ProxyClient,
    connection: &Connection,
    identifier: &str,
    stale: &AccessToken,
    fwd: &Forward<'_>,
    entry: &mut AuditEntry,
) -> Result<Answer, AppError> {
    tracing::info!(connection = %connection.name, "upstream 401: refreshing the access token once");
    let fresh = state
        .oauth
        .tokens()
        .force_refresh(connection, identifier, stale)
        .await
        .map_err(oauth_error)?;
    let auth = oauth_bearer(&fresh)?;
    let answer = send_recorded(state, client, fwd, &auth, true, entry).await?;
    if answer.response.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(AppError::new(
            ErrorCode::SnowflakeAuthFailed,
            "Snowflake rejected the end user's freshly refreshed access token; the user may need \
             to authorize again (create a new authorization link)",
        ));
    }
    Ok(answer)
}

async fn send_recorded(
    state: &AppState,
    client: &ProxyClient,
    fwd: &Forward<'_>,
    auth: &UpstreamAuth,
    first_is_retry: bool,
    entry: &mut AuditEntry,
) -> Result<Answer, AppError> {
    let started = Instant::now();
    let sent = send(client, fwd, auth, first_is_retry).await;
    state.metrics.upstream(
        &entry.connection,
        upstream_outcome(&sent),
        started.elapsed(),
    );
    match sent {
        Ok(answer) => {
            entry.retries += answer.attempts.saturating_sub(1);
            entry.upstream_status = Some(answer.response.status().as_u16());
            Ok(answer)
        }
        Err(err) => {
            match &err {
                ForwardError::ServerError { status, attempts } => {
                    entry.upstream_status = Some(*status);
                    entry.retries += attempts.saturating_sub(1);
                }
                ForwardError::Redirect { status } => entry.upstream_status = Some(*status),
                ForwardError::Unreachable { attempts } => {
                    entry.retries += attempts.saturating_sub(1)
                }
                ForwardError::Timeout => {}
            }
            Err(upstream_error(err))
        }
    }
}

fn upstream_outcome(sent: &Result<Answer, ForwardError>) -> UpstreamOutcome {
    match sent {
        Ok(answer) => UpstreamOutcome::Status(answer.response.status().as_u16()),
        Err(ForwardError::ServerError { status, .. } | ForwardError::Redirect { status }) => {
            UpstreamOutcome::Status(*status)
        }
        Err(ForwardError::Unreachable { .. }) => UpstreamOutcome::Unreachable,
        Err(ForwardError::Timeout) => UpstreamOutcome::Timeout,
    }
}

/// An end user's access token as the upstream credential.
fn oauth_bearer(token: &AccessToken) -> Result<UpstreamAuth, AppError> {
    token
        .authorization()
        .map(|value| UpstreamAuth::new(value, "OAUTH"))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("token is not a valid header value")))
}

/// The connection, if the caller's key may use it and it exists and is enabled.
fn authorize(
    state: &AppState,
    caller: &ServiceCaller,
    name: &str,
) -> Result<std::sync::Arc<Connection>, AppError> {
    crate::proxy::access::usable_connection(state, &caller.0, name)
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"))
}

/// The optional `X-Icebroker-Identifier` of a keypair call (audit only), validated.
fn identifier_tag(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get("x-icebroker-identifier") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(v) if !v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control) => {
            Ok(Some(v.to_owned()))
        }
        _ => Err(AppError::new(
            ErrorCode::InvalidRequest,
            "X-Icebroker-Identifier must be 1-256 printable characters",
        )),
    }
}

fn path_shape(operation: Operation) -> &'static str {
    match operation {
        Operation::Submit => "/api/v2/statements",
        Operation::Status => "/api/v2/statements/{handle}",
        Operation::Cancel => "/api/v2/statements/{handle}/cancel",
    }
}

/// What a result's `Link` header says: the statement handle, and whether more partitions follow
/// (`</api/v2/statements/<handle>?…>; rel="first",…; rel="next",…`).
struct ResultLink<'a> {
    handle: &'a str,
    more_partitions: bool,
}

impl<'a> ResultLink<'a> {
    fn parse(response: &'a UpstreamResponse) -> Option<Self> {
        Self::from_header(response.headers().get(hyper::header::LINK)?.as_bytes())
    }

    fn from_header(link: &'a [u8]) -> Option<Self> {
        const PATH: &[u8] = b"/api/v2/statements/";
        // Snowflake's first target is the path itself; anything else is searched for.
        let at = match link.strip_prefix(b"<") {
            Some(rest) if rest.starts_with(PATH) => 1,
            _ => link.windows(PATH.len()).position(|w| w == PATH)?,
        } + PATH.len();
        let handle = link
            .get(at..at + 36)
            .and_then(|h| std::str::from_utf8(h).ok());
        let handle = handle.filter(|h| StatementHandle::is_shaped(h))?;
        // `rel="next"` (or unquoted `rel=next`) as a parameter of any of the targets.
        let more_partitions = link.split(|b| *b == b';').skip(1).any(|param| {
            let param = param.trim_ascii_start();
            param.starts_with(b"rel=\"next\"")
                || param
                    .strip_prefix(b"rel=next")
                    .is_some_and(|rest| matches!(rest.first(), None | Some(b',' | b' ')))
        });
        Some(Self {
            handle,
            more_partitions,
        })
    }
}

fn not_found() -> AppError {
    AppError::new(
        ErrorCode::RouteNotFound,
        "no such route; statement handles look like 01b03285-0001-dea1-003d-b087000ca9be",
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Reads a request body up to `cap` bytes; more is 413 without reading further.
async fn read_capped(
    mut payload: web::Payload,
    req: &HttpRequest,
    cap: usize,
) -> Result<Bytes, AppError> {
    let too_large = || {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the statement body is larger than the {cap}-byte limit"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut first: Option<Bytes> = None;
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| crate::http::body_timeout::read_error(&e))?;
        let held = first.as_ref().map_or(0, Bytes::len) + body.len();
        if held + chunk.len() > cap {
            return Err(too_large());
        }
        // A body that arrives in one chunk (the usual small statement) is kept without a copy.
        match first.take() {
            None if body.is_empty() => first = Some(chunk),
            earlier => {
                if body.is_empty() {
                    body.reserve(declared.unwrap_or(2 * held).min(cap));
                }
                if let Some(earlier) = earlier {
                    body.extend_from_slice(&earlier);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| body.freeze()))
}

/// Body of `POST /v1/actions/request`: one SQL API call described as data, for SDK-style callers.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAction {
    /// The connection to use.
    pub connection_name: String,
    /// The end user (OAuth connections; on keypair connections it is recorded in the audit log).
    #[serde(default)]
    pub identifier: Option<String>,
    /// `GET` or `POST`.
    pub method: String,
    /// `/api/v2/statements`, `/api/v2/statements/{handle}` or `/api/v2/statements/{handle}/cancel`.
    pub path: String,
    /// Query parameters (`requestId`, `async`, `nullable`, `retry`, `partition`).
    #[serde(default)]
    pub query_params: std::collections::BTreeMap<String, serde_json::Value>,
    /// The statement body for a submit.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// Runs one SQL API call through a connection; the answer is Snowflake's, as through the
/// path-style routes.
#[utoipa::path(post, path = "/v1/actions/request", tag = "proxy", security(("api_key" = [])),
    request_body = RequestAction,
    responses((status = 200, description = "Snowflake's answer, streamed unchanged"),
              (status = 400, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn post_action_request(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    client: web::Data<ProxyClient>,
    req: HttpRequest,
    action: web::Json<RequestAction>,
) -> Result<HttpResponse, AppError> {
    let action = action.into_inner();
    let invalid = |m: &str| AppError::new(ErrorCode::InvalidRequest, m.to_owned());
    let segments: Vec<&str> = action.path.split('/').collect();
    let (operation, handle) =
        match (
            action.method.to_ascii_uppercase().as_str(),
            segments.as_slice(),
        ) {
            ("POST", ["", "api", "v2", "statements"]) => (Operation::Submit, None),
            ("GET", ["", "api", "v2", "statements", h]) => (Operation::Status, Some(*h)),
            ("POST", ["", "api", "v2", "statements", h, "cancel"]) => (Operation::Cancel, Some(*h)),
            _ => return Err(invalid(
                "method and path must be POST /api/v2/statements, GET /api/v2/statements/{handle} \
                 or POST /api/v2/statements/{handle}/cancel",
            )),
        };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &action.query_params {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => value.to_string(),
            _ => {
                return Err(invalid(
                    "query_params values must be strings, numbers or booleans",
                ))
            }
        };
        query.append_pair(key, &value);
    }
    let body = match (operation, action.body) {
        (Operation::Submit, Some(body)) => Some(Bytes::from(
            serde_json::to_vec(&body).map_err(AppError::internal)?,
        )),
        (Operation::Submit, None) => return Err(invalid("a submit needs a body")),
        (_, Some(_)) => return Err(invalid("only a submit takes a body")),
        (_, None) => None,
    };
    if body
        .as_ref()
        .is_some_and(|b| b.len() > state.proxy_max_body)
    {
        return Err(AppError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the statement body is larger than the {}-byte limit",
                state.proxy_max_body
            ),
        ));
    }
    let is_oauth = state
        .connections
        .get(&action.connection_name)
        .is_ok_and(|c| c.kind == ConnectionKind::Oauth);
    let principal = match (&action.identifier, is_oauth) {
        (Some(identifier), true) => Principal::User { identifier },
        (None, true) => return Err(invalid("identifier is required for an OAuth connection")),
        (tag, false) => Principal::Service { tag: tag.clone() },
    };
    let call = Call {
        name: &action.connection_name,
        principal,
        operation,
        handle,
        body,
        query: query.finish().into(),
        accept_gzip: accepts_gzip(&req),
    };
    forward(&state, &client, &caller, call).await
}

#[cfg(test)]
mod tests {
    use super::ResultLink;

    const H: &str = "01b03285-0001-dea1-003d-b087000ca9be";

    #[test]
    fn a_result_link_names_its_handle_and_whether_partitions_follow() {
        let link = |rels: &[(&str, u32)]| {
            rels.iter()
                .map(|(rel, p)| {
                    format!("</api/v2/statements/{H}?requestId=x&partition={p}>; rel={rel}")
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        for (header, more) in [
            (link(&[("\"first\"", 0), ("\"last\"", 0)]), false),
            (
                link(&[("\"first\"", 0), ("\"next\"", 1), ("\"last\"", 3)]),
                true,
            ),
            (link(&[("first", 0), ("next", 1), ("last", 3)]), true),
            (link(&[("first", 0), ("nextish", 1)]), false),
            (link(&[("\"prev\"", 0), ("\"last\"", 1)]), false),
        ] {
            let parsed = ResultLink::from_header(header.as_bytes()).expect(&header);
            assert_eq!(parsed.handle, H);
            assert_eq!(parsed.more_partitions, more, "{header}");
        }
        for bad in [
            "",
            "</api/v2/statements/not-a-handle>; rel=\"first\"",
            "</api/v2/statements/01b03285-0001-dea1-003d-b087000ca9>; rel=\"first\"",
            "</elsewhere>; rel=\"next\"",
        ] {
            assert!(ResultLink::from_header(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}

#[cfg(test)]
mod future_size {
    /// The size of the future an `async fn` of four arguments returns.
    fn of<A, B, C, D, Fut, F: Fn(A, B, C, D) -> Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// Every proxied call's future is allocated by actix-web and moved through each `.await`
    /// layer: rare paths (token refresh, the resubmission after a 401) are boxed so that it
    /// stays small. It was 3,632 bytes before they were (BENCHMARKS.md, 2026-12-03).
    #[test]
    fn a_proxied_calls_future_stays_under_three_kibibytes() {
        let size = of(super::dispatch);
        assert!(
            size <= 3 * 1024,
            "the proxy's future grew to {size} bytes: box the new rare path's future"
        );
    }
}
