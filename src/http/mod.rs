//! HTTP plumbing shared by every route: request ids, the request-logging middleware, security
//! headers and the extractor error handlers that keep malformed input inside the error contract.

pub mod auth;
pub mod body_timeout;
pub mod extractors;
pub mod limits;
pub mod middleware;
pub mod percent;
pub mod request_id;
