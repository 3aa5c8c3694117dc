//! Statements submitted to an account: their lifecycle (running → succeeded / failed /
//! cancelled / timed out), their finished results cut into partitions, and the per-account store
//! keyed by handle (owned by the submitting user) and by `(user, requestId)` for retries.
//!
//! A finished result keeps each partition's `data` array already serialised, so answering a
//! status or partition request never re-encodes rows.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::compat::CancelToken;
use super::engine::{Column, DmlStats, QueryResult, SqlError};
use super::generated::GeneratedRows;
use super::util::{lock, now_millis, statement_handle};

/// Where a statement is in its life.
#[derive(Debug, Clone)]
pub enum StmtState {
    /// Still executing.
    Running,
    /// Finished with a result.
    Succeeded(Arc<Finished>),
    /// Failed with a Snowflake error.
    Failed(SqlError),
    /// Cancelled through the cancel endpoint.
    Cancelled,
    /// Cancelled because it exceeded the request's `timeout` (seconds).
    TimedOut(u64),
}

/// A finished result, ready to serve.
#[derive(Debug)]
pub struct Finished {
    /// `rowType`.
    pub columns: Vec<Column>,
    /// Each partition's `data` array as JSON text.
    pub partitions: Vec<String>,
    /// Rows per partition.
    pub partition_rows: Vec<usize>,
    /// Total rows.
    pub num_rows: usize,
    /// DML counters.
    pub stats: Option<DmlStats>,
    /// Child handles of a multi-statement request.
    pub child_handles: Option<Vec<String>>,
    /// Rows computed per partition on demand instead of kept in `partitions` (large
    /// `GENERATOR` results, see [`super::generated`]).
    pub generated: Option<GeneratedRows>,
    /// Each partition's uncompressed size when `generated` (computed once at finish).
    pub generated_sizes: Vec<usize>,
}

impl Finished {
    /// Cuts a result into partitions of `partition_rows` rows; with `nullable = false` SQL NULL
    /// becomes the string `"null"` (PROTOCOL.md A.1).
    pub fn from_result(
        result: QueryResult,
        partition_rows: usize,
        nullable: bool,
        child_handles: Option<Vec<String>>,
    ) -> Self {
        let num_rows = result.rows.len();
        let size = partition_rows.max(1);
        let mut partitions = Vec::new();
        let mut counts = Vec::new();
        let chunks: Vec<&[Vec<Option<String>>]> = if result.rows.is_empty() {
            vec![&[]]
        } else {
            result.rows.chunks(size).collect()
        };
        for chunk in chunks {
            counts.push(chunk.len());
            partitions.push(encode_rows(chunk, nullable));
        }
        Self {
            columns: result.columns,
            partitions,
            partition_rows: counts,
            num_rows,
            stats: result.stats,
            child_handles,
            generated: None,
            generated_sizes: Vec::new(),
        }
    }

    /// A finished generator statement whose partitions are computed when fetched.
    pub fn generated(columns: Vec<Column>, rows: GeneratedRows) -> Self {
        let count = rows.partition_count();
        Self {
            columns,
            partitions: Vec::new(),
            partition_rows: (0..count).map(|p| rows.rows_in(p)).collect(),
            num_rows: usize::try_from(rows.rows()).unwrap_or(usize::MAX),
            stats: None,
            child_handles: None,
            generated_sizes: (0..count).map(|p| rows.partition_size(p)).collect(),
            generated: Some(rows),
        }
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        match &self.generated {
            Some(g) => g.partition_count(),
            None => self.partitions.len(),
        }
    }

    /// Partition `p`'s `data` array as JSON text (`[]` past the end).
    pub fn partition_data(&self, p: usize) -> std::borrow::Cow<'_, str> {
        match &self.generated {
            Some(g) => g.partition(p).unwrap_or_else(|| "[]".to_owned()).into(),
            None => self.partitions.get(p).map_or("[]", String::as_str).into(),
        }
    }

    /// Uncompressed byte size of partition `p`.
    pub fn partition_size(&self, p: usize) -> usize {
        match &self.generated {
            Some(_) => self.generated_sizes.get(p).copied().unwrap_or(2),
            None => self.partitions.get(p).map_or(2, String::len),
        }
    }
}

fn encode_rows(rows: &[Vec<Option<String>>], nullable: bool) -> String {
    let mut out = String::with_capacity(rows.len() * 16 + 2);
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, cell) in row.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            match cell {
                Some(s) => {
                    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()))
                }
                None if nullable => out.push_str("null"),
                None => out.push_str("\"null\""),
            }
        }
        out.push(']');
    }
    out.push(']');
    out
}

/// One submitted statement (or multi-statement batch).
#[derive(Debug)]
pub struct Statement {
    /// Snowflake-shaped handle.
    pub handle: String,
    /// User NAME that submitted it (only they can see it).
    pub owner: String,
    /// `requestId` of the submission (generated when absent).
    pub request_id: String,
    /// Epoch milliseconds.
    pub created_on: u64,
    /// `nullable` query parameter of the submission.
    pub nullable: bool,
    /// Cancels the engine's work.
    pub cancel: CancelToken,
    state: Mutex<StmtState>,
    done: watch::Sender<bool>,
}

impl Statement {
    /// A new running statement.
    pub fn new(account_slot: usize, owner: &str, request_id: &str, nullable: bool) -> Arc<Self> {
        let (done, _) = watch::channel(false);
        Arc::new(Self {
            handle: statement_handle(account_slot),
            owner: owner.to_owned(),
            request_id: request_id.to_owned(),
            created_on: now_millis(),
            nullable,
            cancel: CancelToken::new(),
            state: Mutex::new(StmtState::Running),
            done,
        })
    }

    /// A child of a multi-statement batch: same owner and request, and the batch's cancel token,
    /// so cancelling the batch stops the child that is running.
    pub fn new_child(parent: &Statement, account_slot: usize) -> Arc<Self> {
        let (done, _) = watch::channel(false);
        Arc::new(Self {
            handle: statement_handle(account_slot),
            owner: parent.owner.clone(),
            request_id: parent.request_id.clone(),
            created_on: now_millis(),
            nullable: parent.nullable,
            cancel: parent.cancel.clone(),
            state: Mutex::new(StmtState::Running),
            done,
        })
    }

    /// Current state.
    pub fn state(&self) -> StmtState {
        lock(&self.state).clone()
    }

    /// Moves a running statement to a final state; a statement already final stays as it is
    /// (a cancel or timeout wins over a result that arrives later). Returns whether it moved.
    pub fn finish(&self, state: StmtState) -> bool {
        let mut current = lock(&self.state);
        if !matches!(*current, StmtState::Running) {
            return false;
        }
        *current = state;
        drop(current);
        self.done.send_replace(true);
        true
    }

    /// Cancels a running statement with `state` (Cancelled or TimedOut).
    pub fn abort(&self, state: StmtState) -> bool {
        let moved = self.finish(state);
        if moved {
            self.cancel.cancel();
        }
        moved
    }

    /// Waits until the statement is final or `limit` passes; returns whether it is final.
    pub async fn wait(&self, limit: Duration) -> bool {
        let mut rx = self.done.subscribe();
        if *rx.borrow() {
            return true;
        }
        let finished = tokio::time::timeout(limit, rx.wait_for(|d| *d))
            .await
            .is_ok_and(|r| r.is_ok());
        finished
    }
}

#[derive(Default)]
struct StoreInner {
    by_handle: HashMap<String, Arc<Statement>>,
    order: VecDeque<String>,
    by_request: HashMap<(String, String), String>,
}

/// The statements of one account.
pub struct StatementStore {
    inner: Mutex<StoreInner>,
    capacity: usize,
}

impl StatementStore {
    /// A store that forgets the oldest statements beyond `capacity`.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(StoreInner::default()),
            capacity: capacity.max(16),
        }
    }

    /// Registers a statement; `remember_request` makes it the answer to a later retry of the same
    /// `(owner, requestId)`.
    pub fn insert(&self, stmt: &Arc<Statement>, remember_request: bool) {
        let mut inner = lock(&self.inner);
        inner
            .by_handle
            .insert(stmt.handle.clone(), Arc::clone(stmt));
        inner.order.push_back(stmt.handle.clone());
        if remember_request {
            inner.by_request.insert(
                (stmt.owner.clone(), stmt.request_id.clone()),
                stmt.handle.clone(),
            );
        }
        while inner.order.len() > self.capacity {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(s) = inner.by_handle.remove(&old) {
                let key = (s.owner.clone(), s.request_id.clone());
                if inner.by_request.get(&key) == Some(&old) {
                    inner.by_request.remove(&key);
                }
            }
        }
    }

    /// The statement with `handle`, if `user` owns it.
    pub fn get(&self, handle: &str, user: &str) -> Option<Arc<Statement>> {
        lock(&self.inner)
            .by_handle
            .get(handle)
            .filter(|s| s.owner == user)
            .cloned()
    }

    /// The statement last submitted by `user` under `request_id`.
    pub fn by_request(&self, user: &str, request_id: &str) -> Option<Arc<Statement>> {
        let inner = lock(&self.inner);
        let handle = inner
            .by_request
            .get(&(user.to_owned(), request_id.to_owned()))?;
        inner.by_handle.get(handle).cloned()
    }
}
