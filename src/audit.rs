//! The audit log of proxied calls: who called what, through which connection, with what upstream
//! outcome. Entries are sealed in the vault (they name identifiers and statement fingerprints),
//! never hold statement text or tokens, and are written by a background task in batches so the
//! request path only pays for a channel send. Queried at `GET /v1/audit`; old entries are
//! removed after the configured retention.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use crate::clock::Clock;
use crate::vault::{Slot, Vault};

const KIND: &str = "audit";
const FIELD: &str = "entry";
const QUEUE: usize = 65_536;
const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One proxied call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Milliseconds since the epoch when the call arrived.
    pub at_ms: u64,
    /// The API key's id.
    pub api_key_id: String,
    /// Connection name.
    pub connection: String,
    /// End-user identifier (OAuth) or the caller's `X-Icebroker-Identifier` (keypair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path shape, e.g. `/api/v2/statements/{handle}`.
    pub path: String,
    /// SHA-256 (hex) of the statement text, never the text itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_sha256: Option<String>,
    /// The `requestId` sent upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The statement handle, when known from the path or the `Link` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_handle: Option<String>,
    /// Upstream HTTP status (absent when Snowflake was not reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    /// The broker's error code when it answered itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Milliseconds until the upstream answer's headers.
    pub duration_ms: u64,
    /// Retries made (attempts − 1).
    pub retries: u32,
}

/// Filters and paging for [`AuditLog::query`].
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this connection.
    pub connection: Option<String>,
    /// Only this identifier.
    pub identifier: Option<String>,
    /// Only this API key id.
    pub api_key_id: Option<String>,
    /// Only entries at or after this time (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Only entries before this time (ms since the epoch).
    pub until_ms: Option<u64>,
    /// Continue after this cursor (from a previous page's `next`).
    pub after: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A page of entries, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Cursor for the next page, when there may be more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The audit log.
pub struct AuditLog {
    vault: Vault,
    tx: mpsc::Sender<AuditEntry>,
    dropped: Arc<AtomicU64>,
    drains: mpsc::Sender<oneshot::Sender<()>>,
}

impl AuditLog {
    /// Starts the background writer (inside a Tokio runtime) and the retention sweeper.
    pub fn start(vault: Vault, clock: Arc<dyn Clock>, retention_days: u64) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (drains, drain_rx) = mpsc::channel(4);
        let dropped = Arc::new(AtomicU64::new(0));
        // One task owns the writes and the retention sweep; it ends (dropping its vault handle,
        // so the data dir can be reopened) when the log is dropped and the queue drains.
        tokio::spawn(run_writer(
            vault.clone(),
            rx,
            drain_rx,
            clock,
            retention_days,
        ));
        Self {
            vault,
            tx,
            dropped,
            drains,
        }
    }

    /// Writes every entry queued so far and makes it durable (graceful shutdown: called after
    /// the server stopped, so no request is left to record one). Returns when it is on disk,
    /// or at once if the writer is gone.
    pub async fn drain(&self) {
        let (ack, done) = oneshot::channel();
        if self.drains.send(ack).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Queues an entry; never blocks the request. A full queue drops the entry and counts it.
    pub fn record(&self, entry: AuditEntry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("audit queue full; an entry was dropped");
        }
    }

    /// Entries dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Entries matching `query`, oldest first.
    pub fn query(&self, query: &AuditQuery) -> Result<AuditPage, crate::vault::VaultError> {
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let mut entries = Vec::with_capacity(limit.min(128));
        let mut last_cursor = String::new();
        let mut next = None;
        for item in self.vault.scan(KIND, Some("")) {
            let (slot, plain) = item?;
            let cursor = slot.identifier();
            if query.after.as_deref().is_some_and(|after| cursor <= after) {
                continue;
            }
            let Ok(entry) = serde_json::from_slice::<AuditEntry>(plain.expose()) else {
                continue;
            };
            if !matches(&entry, query) {
                continue;
            }
            if entries.len() == limit {
                next = Some(last_cursor);
                break;
            }
            last_cursor = cursor.to_owned();
            entries.push(entry);
        }
        Ok(AuditPage { entries, next })
    }
}

/// Slot of one entry: the identifier component is a zero-padded time + sequence cursor, so the
/// vault's key order is time order.
fn slot_for(at_ms: u64, seq: u64) -> Result<Slot, crate::vault::VaultError> {
    Slot::new(KIND, "", &format!("{at_ms:020}-{seq:012}"), FIELD)
}

async fn run_writer(
    vault: Vault,
    mut rx: mpsc::Receiver<AuditEntry>,
    mut drains: mpsc::Receiver<oneshot::Sender<()>>,
    clock: Arc<dyn Clock>,
    retention_days: u64,
) {
    let mut seq: u64 = 0;
    let mut batch = Vec::with_capacity(BATCH);
    let mut sweep_tick = tokio::time::interval(Duration::from_secs(3600));
    // Audit entries are not credentials: they are made durable once a second rather than per
    // batch (a flush per request cost ~100 µs of CPU at concurrency 1; BENCHMARKS.md).
    let mut flush_tick = tokio::time::interval(FLUSH_EVERY);
    let mut dirty = false;
    loop {
        tokio::select! {
            received = rx.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                write_batch(&vault, &mut batch, &mut seq);
                dirty = true;
            }
            _ = flush_tick.tick(), if dirty => {
                flush(&vault).await;
                dirty = false;
            }
            _ = sweep_tick.tick() => sweep(&vault, clock.as_ref(), retention_days).await,
            Some(ack) = drains.recv() => {
                // Entries are queued synchronously by `record`, so all of them are here now.
                while let Ok(entry) = rx.try_recv() {
                    batch.push(entry);
                }
                write_batch(&vault, &mut batch, &mut seq);
                flush(&vault).await;
                dirty = false;
                let _ = ack.send(());
            }
        }
    }
    if dirty {
        flush(&vault).await;
    }
}

async fn flush(vault: &Vault) {
    if let Err(e) = vault.store().flush().await {
        tracing::error!(error = %e, "audit flush failed");
    }
}

fn write_batch(vault: &Vault, batch: &mut Vec<AuditEntry>, seq: &mut u64) {
    for entry in batch.drain(..) {
        *seq += 1;
        let written = serde_json::to_vec(&entry)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let slot = slot_for(entry.at_ms, *seq).map_err(|e| e.to_string())?;
                vault.put_batched(&slot, &bytes).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::error!(error = %e, "audit entry not written");
        }
    }
}

/// Deletes entries older than the retention (run at start and then hourly).
async fn sweep(vault: &Vault, clock: &dyn Clock, retention_days: u64) {
    let cutoff_ms = clock.now().saturating_sub(retention_days * 86_400) * 1000;
    let cutoff = format!("{cutoff_ms:020}");
    let old: Vec<Slot> = vault
        .scan(KIND, Some(""))
        .filter_map(Result::ok)
        .map(|(slot, _)| slot)
        .take_while(|slot| slot.identifier() < cutoff.as_str())
        .collect();
    let removed = old
        .iter()
        .filter(|slot| vault.delete_batched(slot).is_ok())
        .count();
    if removed > 0 {
        let _ = vault.store().flush().await;
        tracing::info!(removed, "audit entries past retention removed");
    }
}

fn matches(entry: &AuditEntry, q: &AuditQuery) -> bool {
    q.connection.as_ref().is_none_or(|c| *c == entry.connection)
        && q.identifier
            .as_ref()
            .is_none_or(|i| Some(i) == entry.identifier.as_ref())
        && q.api_key_id.as_ref().is_none_or(|k| *k == entry.api_key_id)
        && q.since_ms.is_none_or(|s| entry.at_ms >= s)
        && q.until_ms.is_none_or(|u| entry.at_ms < u)
}
