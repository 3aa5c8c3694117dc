//! A tiny upstream that records what reaches it: stands in for Snowflake where a test must see
//! the exact headers the broker sends, or must answer with something snowsim never would.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Requests seen: (path with query, headers as lower-case name → value).
pub type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// How the stub answers `/api/v2/statements…`.
#[derive(Clone)]
pub enum Behaviour {
    /// A minimal SQL API result set.
    Ok,
    /// `302 Location: <url>`.
    Redirect(String),
    /// This status with this exact body.
    Fixed(u16, &'static str),
}

/// Starts the stub on 127.0.0.1:0; returns its base URL and the record of requests.
pub fn start(behaviour: Behaviour) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = seen.clone();
    let server = HttpServer::new(move || {
        let record = record.clone();
        let behaviour = behaviour.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let record = record.clone();
            let behaviour = behaviour.clone();
            async move {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                record.lock().unwrap().push((req.uri().to_string(), headers));
                match behaviour {
                    Behaviour::Ok => HttpResponse::Ok()
                        .insert_header(("set-cookie", "upstream=1"))
                        .insert_header(("x-upstream-private", "1"))
                        .json(serde_json::json!({
                            "code": "090001", "statementHandle": "01b03285-0001-dea1-003d-b087000ca9be",
                            "message": "Statement executed successfully.", "data": [["1"]],
                        })),
                    Behaviour::Redirect(location) => HttpResponse::Found()
                        .insert_header(("location", location))
                        .finish(),
                    Behaviour::Fixed(status, body) => HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(status).unwrap(),
                    )
                    .content_type("application/json")
                    .body(body),
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen)
}

/// Starts a raw upstream on 127.0.0.1:0 that answers every request with exactly `answer` (a
/// whole HTTP/1.1 response as bytes, possibly broken) and then closes the connection: for
/// answers no HTTP server would send, such as a body shorter than its `Content-Length`.
pub fn start_raw(answer: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request (head and a small body) arrives in one read on loopback.
                let mut request = [0u8; 16 * 1024];
                let _ = tcp.read(&mut request).await;
                let _ = tcp.write_all(answer).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}
