//! The reference pass-through proxy of the proxy benchmark: hyper alone, no routing, no checks,
//! no logging. It forwards method, path+query, headers and body to one upstream, sets the fixed
//! bearer token and its token type, and streams the answer back; the client keeps a keep-alive
//! pool. It is "the best a proxy can do on this machine" against which icebroker is measured.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Incoming>;
type Reply = Response<http_body_util::Either<Incoming, http_body_util::Empty<hyper::body::Bytes>>>;

/// Serves on `listener` until the runtime stops, forwarding to `upstream` (`127.0.0.1:port`)
/// with `Authorization: Bearer <token>` and `X-Snowflake-Authorization-Token-Type: <token_type>`.
pub async fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    token: &str,
    token_type: &'static str,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector);
    let Ok(auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return;
    };
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        let (client, upstream, auth) = (client.clone(), upstream.clone(), auth.clone());
        let service = hyper::service::service_fn(move |req| {
            forward(
                client.clone(),
                upstream.clone(),
                auth.clone(),
                token_type,
                req,
            )
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service),
        );
    }
}

async fn forward(
    client: Upstream,
    upstream: String,
    auth: HeaderValue,
    token_type: &'static str,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{upstream}{path}").parse::<Uri>() else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    parts.uri = uri;
    parts.headers.remove(hyper::header::HOST);
    parts.headers.insert(AUTHORIZATION, auth);
    parts.headers.insert(
        "x-snowflake-authorization-token-type",
        HeaderValue::from_static(token_type),
    );
    match client.request(Request::from_parts(parts, body)).await {
        Ok(res) => Ok(res.map(http_body_util::Either::Left)),
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

fn status(code: StatusCode) -> Reply {
    let mut res = Response::new(http_body_util::Either::Right(http_body_util::Empty::new()));
    *res.status_mut() = code;
    res
}
