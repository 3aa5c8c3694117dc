//! Typed client of the Snowflake SQL API v2 (PROTOCOL.md §A), used by connection tests, tools,
//! named endpoints and the demo.
//!
//! ```text
//! let client = SqlApiClient::new(SqlApiConfig::new(Upstream::parse(base)?))?;
//! let result = client.execute(&credential, &StatementRequest::new("select 1"),
//!                             &SubmitOptions::default(), Instant::now() + wait).await?;
//! let all = client.fetch_all_rows(&credential, result).await?;
//! ```
//!
//! Guarantees (SECURITY.md TR-9, TR-10, TR-11, PX-1, PX-3, PX-4, PX-5):
//! - a submit always carries a `requestId`; every retry reuses it and adds `retry=true`;
//! - only transient failures are retried (transport, 429, 500/502/503/504), with full jitter;
//! - redirects are never followed; headers are built from scratch from validated values;
//! - bodies are capped on the wire and after gunzip;
//! - errors keep Snowflake's `code`/`sqlState`/`message`/`statementHandle` and never a token;
//! - logs carry method, path pattern, handle, attempt and status only.
//!
//! A 401 with [`SnowflakeError::is_auth_expired`] is the caller's cue to get a fresh token and
//! retry once; the client does not know where tokens come from.

mod body;
mod cells;
mod client;
mod error;
mod handle;
mod retry;
mod transport;
mod types;
mod upstream;

#[cfg(test)]
mod stub;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_logs;

pub use client::{SqlApiClient, SqlApiConfig, SubmitOptions, Submitted};
pub use error::SnowflakeError;
pub use handle::{InvalidHandle, RequestId, StatementHandle};
pub use retry::{PollPolicy, RetryPolicy};
pub use transport::{TOKEN_TYPE_HEADER, USER_AGENT_VALUE};
pub use types::{
    Binding, CancelStatus, ColumnType, PartitionInfo, ResultSet, ResultSetMetaData, Row,
    StatementRequest, Stats,
};
pub use upstream::{bearer_header, Credential, InvalidCredential, Upstream, UpstreamError};
