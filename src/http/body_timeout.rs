//! The request-body deadline (slow-body guard, SECURITY.md PX-6). actix bounds the time to read
//! a request *head* (`client_request_timeout`) but not the body: a client that sends its headers
//! and then one byte a minute would hold a worker's request forever. The request middleware
//! wraps every body in [`Deadline`]; once the deadline passes, the next read fails with a
//! `TimedOut` I/O error, which the extractors and the proxy turn into 408 `request_timeout`, and
//! the middleware closes the connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;

use crate::error::{AppError, ErrorCode};

const MESSAGE: &str = "the request body did not arrive in time (server.body_read_timeout_secs)";

pin_project_lite::pin_project! {
    /// A request body that fails once `sleep` fires.
    pub struct Deadline {
        inner: Payload,
        #[pin]
        sleep: tokio::time::Sleep,
    }
}

impl Deadline {
    /// Wraps `inner`; reads after `deadline` fail.
    pub fn new(inner: Payload, deadline: tokio::time::Instant) -> Self {
        Self {
            inner,
            sleep: tokio::time::sleep_until(deadline),
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if let Poll::Ready(item) = Pin::new(this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                MESSAGE,
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a body read failed because of the deadline.
pub fn is_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

/// The error for a failed body read: 408 `request_timeout` for the deadline, otherwise
/// `invalid_request`.
pub fn read_error(err: &PayloadError) -> AppError {
    if is_timeout(err) {
        AppError::new(ErrorCode::RequestTimeout, MESSAGE)
    } else {
        AppError::new(
            ErrorCode::InvalidRequest,
            format!("could not read the body: {err}"),
        )
    }
}
