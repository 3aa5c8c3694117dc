//! How Snowflake's answer becomes the caller's response, on either front end: actix-web's
//! [`HttpResponse`] on the main listener, a hyper response ([`DataReply`]) on the data-plane
//! listener ([`crate::dataplane`]). The proxy's core is generic over [`Reply`], so both fronts
//! share every rule about what is passed back (status, the allow-listed headers, the body
//! unchanged) and neither pays for the other's types.

use std::pin::Pin;

use actix_web::body::SizedStream;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderMap, HeaderName};

use super::forward::UpstreamResponse;

/// Response headers passed back to the caller: an allow-list, so no cookies and no hop-by-hop
/// headers ever come through.
const PASSED_HEADERS: [HeaderName; 5] = [
    hyper::header::CONTENT_TYPE,
    hyper::header::CONTENT_ENCODING,
    hyper::header::LINK,
    hyper::header::RETRY_AFTER,
    hyper::header::VARY,
];

/// A front end's response type, built from an upstream answer.
pub trait Reply: Sized + 'static {
    /// The status and passed headers, waiting for a body.
    type Head: 'static;
    /// The upstream status and the passed headers of `upstream`.
    fn head(upstream: &UpstreamResponse) -> Self::Head;
    /// `head` with its whole body in hand.
    fn whole(head: Self::Head, body: Bytes) -> Self;
    /// `head` with a streamed body of `length` bytes, when known.
    fn streamed<S>(head: Self::Head, length: Option<u64>, body: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static;
}

/// The passed headers of `upstream`, each with its name.
fn passed(upstream: &UpstreamResponse) -> impl Iterator<Item = (&HeaderName, &[u8])> {
    PASSED_HEADERS.iter().flat_map(|name| {
        upstream
            .headers()
            .get_all(name)
            .iter()
            .map(move |value| (name, value.as_bytes()))
    })
}

impl Reply for HttpResponse {
    type Head = actix_web::HttpResponseBuilder;

    fn head(upstream: &UpstreamResponse) -> Self::Head {
        use actix_web::http::header::{HeaderName, HeaderValue};
        use actix_web::http::StatusCode;
        let status =
            StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut builder = HttpResponse::build(status);
        for (name, value) in passed(upstream) {
            // The two `http` crate versions share no types: names and values are copied over.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                builder.append_header((name, value));
            }
        }
        builder
    }

    fn whole(mut head: Self::Head, body: Bytes) -> Self {
        head.body(body)
    }

    fn streamed<S>(mut head: Self::Head, length: Option<u64>, body: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        match length {
            Some(len) => head.body(SizedStream::new(len, body)),
            None => head.streaming(body),
        }
    }
}

/// The body of a data-plane response: in hand, or streamed from Snowflake (boxed: only answers
/// above 16 KiB stream, and their cost is the bytes, not the box).
pub type DataBody = http_body_util::Either<Full<Bytes>, UnsyncBoxBody<Bytes, std::io::Error>>;

/// A response of the data-plane listener.
pub type DataReply = hyper::Response<DataBody>;

/// The head of a [`DataReply`] being built.
pub struct DataHead {
    status: hyper::StatusCode,
    headers: HeaderMap,
}

impl Reply for DataReply {
    type Head = DataHead;

    fn head(upstream: &UpstreamResponse) -> Self::Head {
        let mut headers = HeaderMap::with_capacity(PASSED_HEADERS.len() + 3);
        for name in &PASSED_HEADERS {
            for value in upstream.headers().get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        DataHead {
            status: upstream.status(),
            headers,
        }
    }

    fn whole(head: Self::Head, body: Bytes) -> Self {
        with_head(head, http_body_util::Either::Left(Full::new(body)))
    }

    fn streamed<S>(head: Self::Head, length: Option<u64>, body: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let frames = StreamBody::new(futures_util::StreamExt::map(body, |chunk| {
            chunk.map(Frame::data)
        }));
        let body = match length {
            Some(len) => KnownLength { len, inner: frames }.boxed_unsync(),
            None => frames.boxed_unsync(),
        };
        with_head(head, http_body_util::Either::Right(body))
    }
}

fn with_head(head: DataHead, body: DataBody) -> DataReply {
    let mut response = hyper::Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    response
}

pin_project_lite::pin_project! {
    /// A body of a known length: hyper then sends `Content-Length` instead of chunking, as
    /// Snowflake did (and as actix's `SizedStream` does on the main listener).
    struct KnownLength<B> {
        len: u64,
        #[pin]
        inner: B,
    }
}

impl<B: hyper::body::Body> hyper::body::Body for KnownLength<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.len)
    }
}
