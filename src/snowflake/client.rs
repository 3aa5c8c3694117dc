//! [`SqlApiClient`]: one method per SQL API v2 endpoint (submit, status, partition, cancel) plus
//! the compositions every caller needs (`wait`, `execute`, `fetch_all_rows`).
//!
//! Invariants: the reqwest client never follows redirects (PX-1), ignores proxy environment
//! variables, has a connect timeout and a total timeout above Snowflake's 45 s synchronous
//! window (TR-11); every URL is the validated [`Upstream`] plus a fixed path, a validated
//! [`StatementHandle`] and typed query values.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::error::SnowflakeError;
use super::handle::{RequestId, StatementHandle};
use super::retry::{PollPolicy, RetryPolicy};
use super::transport::{Call, Reply};
use super::types::{CancelStatus, PartitionBody, ResultSet, Row, StatementRequest, StatusBody};
use super::upstream::{Credential, Upstream};

const STATEMENTS: &str = "/api/v2/statements";

/// Settings of one [`SqlApiClient`]; [`SqlApiConfig::new`] gives the SECURITY.md defaults.
#[derive(Debug, Clone)]
pub struct SqlApiConfig {
    /// The account's base URL.
    pub upstream: Upstream,
    /// TCP/TLS connect timeout (default 5 s, PX-6).
    pub connect_timeout: Duration,
    /// Whole-request timeout including the body (default 75 s: above the 45 s sync window,
    /// TR-11/PX-6).
    pub request_timeout: Duration,
    /// Retries of transient failures (TR-9).
    pub retry: RetryPolicy,
    /// Polling of running statements.
    pub poll: PollPolicy,
    /// Largest response body on the wire (default 64 MiB, PX-5).
    pub max_response_bytes: u64,
    /// Largest body after gunzip (default 256 MiB, PX-5).
    pub max_decompressed_bytes: u64,
}

impl SqlApiConfig {
    /// Defaults for `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self {
            upstream,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(75),
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            max_response_bytes: 64 * 1024 * 1024,
            max_decompressed_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Options of one submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The logical request's id; generated (v4) when `None`. Reuse it only to resubmit the
    /// *same* logical request (TR-10).
    pub request_id: Option<RequestId>,
    /// `async=true`: answer 202 at once instead of waiting up to 45 s.
    pub asynchronous: bool,
    /// `false` sends `nullable=false` (SQL NULL as the string `"null"`); default `true`.
    pub nullable: bool,
    /// `retry=true` from the first attempt on: the caller is resubmitting an earlier
    /// `request_id` (Snowflake does not execute it again if it already succeeded, TR-10).
    pub retry: bool,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        Self {
            request_id: None,
            asynchronous: false,
            nullable: true,
            retry: false,
        }
    }
}

/// The answer to a submit or status call.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// 200: finished; partition 0 and all metadata.
    Done(Box<ResultSet>),
    /// 202: still running (or submitted with `async=true`).
    Running {
        /// Poll or cancel with this.
        handle: StatementHandle,
        /// Snowflake's relative `statementStatusUrl`, for information only: the client always
        /// polls its own upstream with the handle.
        status_url: Option<String>,
    },
}

/// Typed client of the Snowflake SQL API v2 for one account. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqlApiClient {
    http: reqwest::Client,
    config: Arc<SqlApiConfig>,
}

impl SqlApiClient {
    /// Builds the HTTP client (no redirects, no env proxies, timeouts from `config`).
    pub fn new(config: SqlApiConfig) -> Result<Self, SnowflakeError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|_| SnowflakeError::Invalid("HTTP client could not be built"))?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// The same settings and connection pool, pointed at another account.
    pub fn with_upstream(&self, upstream: Upstream) -> Self {
        let mut config = (*self.config).clone();
        config.upstream = upstream;
        Self {
            http: self.http.clone(),
            config: Arc::new(config),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SqlApiConfig {
        &self.config
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST /api/v2/statements?requestId=…[&async=true][&nullable=false]` (retries add
    /// `retry=true` and keep the `requestId`).
    pub async fn submit(
        &self,
        credential: &Credential,
        request: &StatementRequest,
        options: &SubmitOptions,
    ) -> Result<Submitted, SnowflakeError> {
        let body = serde_json::to_vec(request)
            .map_err(|_| SnowflakeError::Invalid("statement request does not serialise"))?;
        let request_id = options.request_id.unwrap_or_else(RequestId::new_v4);
        let mut query = vec![("requestId", request_id.to_string())];
        if options.asynchronous {
            query.push(("async", "true".to_owned()));
        }
        if !options.nullable {
            query.push(("nullable", "false".to_owned()));
        }
        if options.retry {
            query.push(("retry", "true".to_owned()));
        }
        let call = Call {
            method: Method::POST,
            path: STATEMENTS.to_owned(),
            pattern: STATEMENTS,
            handle: None,
            query,
            body: Some(body),
            submit: true,
        };
        let reply = self.send(credential, call).await?;
        submitted(reply)
    }

    /// `GET /api/v2/statements/{handle}`: 200 → done, 202 → still running.
    pub async fn status(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
    ) -> Result<Submitted, SnowflakeError> {
        self.status_for(credential, handle, None).await
    }

    /// [`status`](Self::status) with the caller's `requestId` in the query.
    pub async fn status_for(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
        request_id: Option<RequestId>,
    ) -> Result<Submitted, SnowflakeError> {
        let query = request_id
            .map(|id| vec![("requestId", id.to_string())])
            .unwrap_or_default();
        let reply = self.send(credential, get_call(handle, query)).await?;
        submitted(reply)
    }

    /// Polls `handle` (growing interval, [`PollPolicy`]) until it finishes, fails, or
    /// `deadline` passes ([`SnowflakeError::StillRunning`]; the statement is *not* cancelled).
    pub async fn wait(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
        deadline: Instant,
    ) -> Result<ResultSet, SnowflakeError> {
        let mut interval = self.config.poll.initial;
        loop {
            tokio::time::sleep_until((Instant::now() + interval).min(deadline)).await;
            if let Submitted::Done(result) = self.status(credential, handle).await? {
                return Ok(*result);
            }
            if Instant::now() >= deadline {
                return Err(SnowflakeError::StillRunning {
                    statement_handle: handle.clone(),
                });
            }
            interval = self.config.poll.next(interval);
        }
    }

    /// [`submit`](Self::submit) then [`wait`](Self::wait) for a 202; returns partition 0.
    pub async fn execute(
        &self,
        credential: &Credential,
        request: &StatementRequest,
        options: &SubmitOptions,
        deadline: Instant,
    ) -> Result<ResultSet, SnowflakeError> {
        match self.submit(credential, request, options).await? {
            Submitted::Done(result) => Ok(*result),
            Submitted::Running { handle, .. } => self.wait(credential, &handle, deadline).await,
        }
    }

    /// `GET /api/v2/statements/{handle}?partition=n`: the rows of partition `n`, gunzipped
    /// (capped) when `Content-Encoding: gzip`.
    pub async fn partition(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
        n: usize,
    ) -> Result<Vec<Row>, SnowflakeError> {
        let call = get_call(handle, vec![("partition", n.to_string())]);
        let reply = self.send(credential, call).await?;
        if reply.status != StatusCode::OK {
            return Err(SnowflakeError::Protocol(format!(
                "partition {n} answered {} instead of 200",
                reply.status.as_u16()
            )));
        }
        let body: PartitionBody = serde_json::from_slice(&reply.body)
            .map_err(|_| SnowflakeError::Protocol(format!("partition {n} body does not parse")))?;
        Ok(body.data)
    }

    /// Appends partitions 1.. (per `partitionInfo`) to `result.data`, checking each partition's
    /// row count against the metadata. Holds every row in memory: for large results, stream
    /// [`partition`](Self::partition) instead.
    pub async fn fetch_all_rows(
        &self,
        credential: &Credential,
        mut result: ResultSet,
    ) -> Result<ResultSet, SnowflakeError> {
        let expected: Vec<u64> = result.partitions().iter().map(|p| p.row_count).collect();
        for (n, &row_count) in expected.iter().enumerate().skip(1) {
            let rows = self
                .partition(credential, &result.statement_handle, n)
                .await?;
            if rows.len() as u64 != row_count {
                return Err(SnowflakeError::Protocol(format!(
                    "partition {n} has {} rows, metadata says {row_count}",
                    rows.len()
                )));
            }
            result.data.extend(rows);
        }
        Ok(result)
    }

    /// `POST /api/v2/statements/{handle}/cancel`.
    pub async fn cancel(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
    ) -> Result<CancelStatus, SnowflakeError> {
        self.cancel_for(credential, handle, None).await
    }

    /// [`cancel`](Self::cancel) with the caller's `requestId` in the query.
    pub async fn cancel_for(
        &self,
        credential: &Credential,
        handle: &StatementHandle,
        request_id: Option<RequestId>,
    ) -> Result<CancelStatus, SnowflakeError> {
        let call = Call {
            method: Method::POST,
            path: format!("{STATEMENTS}/{handle}/cancel"),
            pattern: "/api/v2/statements/{handle}/cancel",
            handle: Some(handle.as_str()),
            query: request_id
                .map(|id| vec![("requestId", id.to_string())])
                .unwrap_or_default(),
            body: None,
            submit: false,
        };
        let reply = self.send(credential, call).await?;
        serde_json::from_slice(&reply.body)
            .map_err(|_| SnowflakeError::Protocol("cancel body does not parse".into()))
    }
}

fn get_call<'a>(handle: &'a StatementHandle, query: Vec<(&'static str, String)>) -> Call<'a> {
    Call {
        method: Method::GET,
        path: format!("{STATEMENTS}/{handle}"),
        pattern: "/api/v2/statements/{handle}",
        handle: Some(handle.as_str()),
        query,
        body: None,
        submit: false,
    }
}

/// Turns a 200/202 into [`Submitted`].
fn submitted(reply: Reply) -> Result<Submitted, SnowflakeError> {
    if reply.status == StatusCode::OK {
        let result: ResultSet = serde_json::from_slice(&reply.body).map_err(|error| {
            // serde's message names the field and position, never the value.
            SnowflakeError::Protocol(format!("result set does not parse: {error}"))
        })?;
        return Ok(Submitted::Done(Box::new(result)));
    }
    let status: StatusBody = serde_json::from_slice(&reply.body)
        .map_err(|_| SnowflakeError::Protocol("202 body does not parse".into()))?;
    let handle = status
        .statement_handle
        .as_deref()
        .and_then(|handle| handle.parse().ok())
        .ok_or_else(|| SnowflakeError::Protocol("202 without a valid statementHandle".into()))?;
    Ok(Submitted::Running {
        handle,
        status_url: status.statement_status_url,
    })
}
