//! The SQL API proxy: forwards `/api/v2/statements` calls to a connection's Snowflake account
//! on behalf of a service (keypair) or an end user (OAuth), streaming answers back.

pub mod access;
pub mod forward;
pub mod owners;
pub mod request;
pub mod route;

pub use forward::{
    buffer_back, pass_back, read_small_body, send, Answer, Forward, ForwardError, ProxyClient,
    UpstreamAuth, UpstreamResponse,
};
pub use request::{
    parse_query, prepare_body, Operation, PreparedBody, RequestError, UpstreamQuery,
};
