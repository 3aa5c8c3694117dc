//! The framework floor of the proxy benchmark: the same hop as `bare_proxy.rs` (forward method,
//! path+query, headers and body; add the fixed bearer token; stream the answer back; keep-alive
//! pool), served by actix-web instead of hyper's server. No routing, checks or logging: what
//! icebroker costs above this is the broker's own work, and what this costs above the bare proxy
//! is the framework's.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// The fixed part of every forwarded request.
#[derive(Clone)]
struct Hop {
    upstream: String,
    auth: HeaderValue,
    token_type: &'static str,
}

/// Starts the server on `listener` with two workers (one hyper client each, as the broker has).
pub fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    token: &str,
    token_type: &'static str,
) -> std::io::Result<actix_web::dev::Server> {
    let auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let hop = Hop {
        upstream,
        auth,
        token_type,
    };
    Ok(HttpServer::new(move || {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Upstream = Client::builder(TokioExecutor::new()).build(connector);
        App::new()
            .app_data(web::Data::new(client))
            .app_data(web::Data::new(hop.clone()))
            .default_service(web::to(forward))
    })
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run())
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    client: web::Data<Upstream>,
    hop: web::Data<Hop>,
) -> HttpResponse {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = hyper::Request::new(Full::new(body));
    *upstream.method_mut() = match req.method().as_str() {
        "GET" => hyper::Method::GET,
        _ => hyper::Method::POST,
    };
    let Ok(uri) = format!("http://{}{path}", hop.upstream).parse() else {
        return HttpResponse::BadRequest().finish();
    };
    *upstream.uri_mut() = uri;
    let headers = upstream.headers_mut();
    for (name, value) in req.headers() {
        if name == actix_web::http::header::HOST {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    headers.insert(hyper::header::AUTHORIZATION, hop.auth.clone());
    headers.insert(
        "x-snowflake-authorization-token-type",
        HeaderValue::from_static(hop.token_type),
    );
    let Ok(res) = client.request(upstream).await else {
        return HttpResponse::BadGateway().finish();
    };
    let mut reply = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(res.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
    );
    for (name, value) in res.headers() {
        // actix frames the body itself.
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            reply.append_header((name.as_str(), value.as_bytes()));
        }
    }
    let body = res.into_body();
    let length = hyper::body::Body::size_hint(&body).exact();
    let frames = body
        .into_data_stream()
        .map(|frame| frame.map_err(|e| actix_web::error::ErrorBadGateway(e.to_string())));
    match length {
        Some(len) => reply.body(actix_web::body::SizedStream::new(len, frames)),
        None => reply.streaming(frames),
    }
}
