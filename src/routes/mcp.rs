//! `/mcp`: the MCP Streamable HTTP transport (spec revisions 2025-03-26 … 2025-11-25). POST
//! carries one JSON-RPC message per request and gets one `application/json` answer (this
//! server never streams, so it never answers with SSE). GET (server-to-client stream) and
//! DELETE (session end) answer 405: the server is stateless and sends nothing unasked.
//!
//! Order of checks: `Origin` (403, DNS rebinding) → API key (401) → media types (415/406) →
//! `MCP-Protocol-Version` (400) → the message itself ([`crate::mcp::server`]).

use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use rmcp::model::{ErrorData, ProtocolVersion};
use serde_json::Value;

use crate::error::{error_response, ErrorCode};
use crate::http::auth::ServiceCaller;
use crate::mcp::catalog::CatalogHost;
use crate::mcp::origin::OriginPolicy;
use crate::mcp::server::{self, Context, Reply, Target};
use crate::mcp::version;
use crate::state::AppState;

/// Header naming the connection tool calls run on (else the API key's default).
pub const CONNECTION_HEADER: &str = "x-icebroker-connection";
/// Header naming the end user of an OAuth connection (else the API key's default).
pub const IDENTIFIER_HEADER: &str = "x-icebroker-identifier";
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// MCP over Streamable HTTP: one JSON-RPC message per POST.
#[utoipa::path(post, path = "/mcp", tag = "mcp", security(("api_key" = [])),
    params(
        ("X-Icebroker-Connection" = Option<String>, Header,
            description = "Connection tool calls run on; default: the API key's default_connection"),
        ("X-Icebroker-Identifier" = Option<String>, Header,
            description = "End user of an OAuth connection; default: the key's default_identifier"),
        ("MCP-Protocol-Version" = Option<String>, Header,
            description = "Negotiated revision: 2025-11-25, 2025-06-18 or 2025-03-26 (assumed when absent)")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "One JSON-RPC 2.0 message: initialize, ping, tools/list, tools/call, a notification (a batch only under 2025-03-26)"),
    responses(
        (status = 200, description = "The JSON-RPC response; tool failures are results with isError and the icebroker code"),
        (status = 202, description = "A notification or response was accepted"),
        (status = 400, description = "Parse error, invalid request, batch or unsupported MCP-Protocol-Version (JSON-RPC error, no id)"),
        (status = 401, body = crate::routes::openapi::ErrorEnvelope),
        (status = 403, description = "Origin not allowed (JSON-RPC error, no id)"),
        (status = 406, description = "Accept excludes application/json"),
        (status = 415, description = "Content-Type is not application/json")))]
pub async fn post_mcp(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = check_origin(&req, &state) {
        return refused;
    }
    let caller = match ServiceCaller::extract(&req).await {
        Ok(ServiceCaller(caller)) => caller,
        Err(e) => return unauthorized(&e),
    };
    let headers = req.headers();
    if let Some(refused) = check_media_types(headers) {
        return refused;
    }
    let version = match version::from_header(text(headers, PROTOCOL_VERSION_HEADER).as_deref()) {
        Ok(version) => version,
        // `initialize` negotiates in its body; the header belongs to later requests.
        Err(_) if is_initialize(&body) => version::WITHOUT_HEADER,
        Err(asked) => return reply(Reply::bad_request(unsupported_version(&asked))),
    };
    let target = Target {
        connection: text(headers, CONNECTION_HEADER).or_else(|| caller.default_connection.clone()),
        identifier: text(headers, IDENTIFIER_HEADER).or_else(|| caller.default_identifier.clone()),
    };
    let host = CatalogHost { state: &state };
    let ctx = Context {
        host: &host,
        caller: &caller,
        target,
        version,
    };
    reply(server::handle_body(&ctx, &body).await)
}

/// GET would open a server-to-client SSE stream; this server sends nothing unasked: 405
/// (not in the OpenAPI document, which lists only served operations).
pub async fn get_mcp(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    check_origin(&req, &state).unwrap_or_else(|| {
        not_allowed("this MCP server offers no server-to-client stream; POST messages instead")
    })
}

/// DELETE would end a session; this server has none: 405.
pub async fn delete_mcp(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    check_origin(&req, &state).unwrap_or_else(|| {
        not_allowed("this MCP server is stateless (no Mcp-Session-Id): there is no session to end")
    })
}

fn check_origin(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let origin = req.headers().get(header::ORIGIN).map(|v| {
        v.to_str()
            .map(str::to_owned)
            .unwrap_or_else(|_| "<not ASCII>".to_owned())
    });
    let policy = OriginPolicy::for_public_url(state.oauth.public_url());
    let message = policy.check(origin.as_deref()).err()?;
    tracing::warn!("mcp request refused: Origin not allowed");
    let error = ErrorData::invalid_request(message, Some(serde_json::json!({"code": "forbidden"})));
    Some(json_rpc_status(403, error))
}

fn unauthorized(error: &crate::error::AppError) -> HttpResponse {
    let mut response = error.error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

fn check_media_types(headers: &HeaderMap) -> Option<HttpResponse> {
    let content_type = text(headers, "content-type").unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        let error =
            ErrorData::invalid_request("send the body as Content-Type: application/json", None);
        return Some(json_rpc_status(415, error));
    }
    // Every Accept header counts (a client may send several); none at all means anything.
    let mut ranges = headers
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .peekable();
    let accepts_json = ranges.peek().is_none()
        || ranges.any(|range| {
            ["application/json", "application/*", "*/*"]
                .iter()
                .any(|ok| range.eq_ignore_ascii_case(ok))
        });
    if !accepts_json {
        let error = ErrorData::invalid_request(
            "this server answers with application/json; list it in Accept \
             (MCP clients send `application/json, text/event-stream`)",
            None,
        );
        return Some(json_rpc_status(406, error));
    }
    None
}

/// Whether the body is an `initialize` request (parsed again only on this error path).
fn is_initialize(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"))
}

fn unsupported_version(asked: &str) -> ErrorData {
    let supported: Vec<ProtocolVersion> = version::SUPPORTED
        .iter()
        .filter_map(|v| serde_json::from_value(Value::String((*v).to_owned())).ok())
        .collect();
    let requested = serde_json::from_value(Value::String(asked.to_owned())).unwrap_or_default();
    let mut error = ErrorData::unsupported_protocol_version(requested, &supported);
    error.message =
        format!("unsupported MCP-Protocol-Version {asked:?}; this server speaks {supported:?}")
            .into();
    error
}

/// A header as UTF-8 text, trimmed; `None` when absent, empty or not UTF-8.
fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let value = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn json_rpc_status(status: u16, error: ErrorData) -> HttpResponse {
    reply(Reply {
        status,
        body: Some(crate::mcp::jsonrpc::error(None, error)),
    })
}

fn reply(reply: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    match reply.body {
        Some(body) => builder.json(body),
        None => builder.finish(),
    }
}

fn not_allowed(message: &str) -> HttpResponse {
    let mut response = error_response(ErrorCode::MethodNotAllowed, message);
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    response
}
