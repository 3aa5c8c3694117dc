//! The audit log of proxied calls: who called what, through which connection, with what upstream
//! outcome. Entries are sealed in the vault (they name identifiers and statement fingerprints),
//! never hold statement text or tokens, and are written by a background task so the request path
//! only pays for a channel send. The writer seals whatever has queued up as records of a few KiB
//! (entries packed by [`packed`]): one nonce, one AES-GCM pass and one store insert per record
//! instead of per call, which was a fifth of the broker's CPU under load (BENCHMARKS.md).
//! Queried at `GET /v1/audit` with per-entry cursors; old records are removed after the
//! retention.

mod packed;

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
/// Most entries the writer takes off the queue at once.
const BATCH: usize = 512;
/// Plaintext size at which a sealed record is closed. sled writes a page over 128 KiB (a quarter
/// of its 512 KiB segment) to a blob file of its own on every rewrite, and a leaf page holds up
/// to 16 records, so records stay under 8 KiB: 512-entry records (~150 KiB) made every batch a
/// few blob files and most of the writer's CPU (BENCHMARKS.md).
const RECORD_BYTES: usize = 6 * 1024;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long the writer lets entries gather after the first one before sealing them as a batch.
const COALESCE: Duration = Duration::from_millis(50);

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
        for item in self.vault.scan(KIND, Some("")) {
            let (slot, plain) = item?;
            let record = slot.identifier();
            // Whole records before the cursor's record are skipped without decoding.
            if query
                .after
                .as_deref()
                .is_some_and(|after| after.get(..record.len()).is_some_and(|r| r > record))
            {
                continue;
            }
            let Some(stored) = record_entries(plain.expose()) else {
                continue;
            };
            for (index, entry) in stored.into_iter().enumerate() {
                let here = cursor(record, index);
                if query
                    .after
                    .as_deref()
                    .is_some_and(|after| here.as_str() <= after)
                {
                    continue;
                }
                if !matches(&entry, query) {
                    continue;
                }
                if entries.len() == limit {
                    return Ok(AuditPage {
                        entries,
                        next: Some(last_cursor),
                    });
                }
                last_cursor = here;
                entries.push(entry);
            }
        }
        Ok(AuditPage {
            entries,
            next: None,
        })
    }
}

/// Slot of one sealed batch: the identifier component is the batch's newest entry time
/// (zero-padded) and a sequence number, so the vault's key order is time order and a batch is
/// past the retention exactly when its key is.
fn slot_for(newest_ms: u64, seq: u64) -> Result<Slot, crate::vault::VaultError> {
    Slot::new(KIND, "", &format!("{newest_ms:020}-{seq:012}"), FIELD)
}

/// The entries of a stored record: packed, or JSON as written before the packed format.
fn record_entries(record: &[u8]) -> Option<Vec<AuditEntry>> {
    match record.split_first() {
        Some((&packed::VERSION, rest)) => packed::entries(rest),
        _ => serde_json::from_slice::<Stored>(record)
            .ok()
            .map(Stored::into_entries),
    }
}

/// A JSON record: a batch of entries (a lone object is an entry written before batching).
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Batch(Vec<AuditEntry>),
    One(Box<AuditEntry>),
}

impl Stored {
    fn into_entries(self) -> Vec<AuditEntry> {
        match self {
            Stored::Batch(entries) => entries,
            Stored::One(entry) => vec![*entry],
        }
    }
}

/// The paging cursor of entry `index` in the record `record`: `<record>.<index>` with a
/// zero-padded index, so cursors compare in log order as plain strings.
fn cursor(record: &str, index: usize) -> String {
    format!("{record}.{index:06}")
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
    let mut buf = Vec::with_capacity(RECORD_BYTES + 1024);
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
                if batch.len() < BATCH {
                    // Let the next entries queue up without a wake-up each: at low concurrency
                    // every call would otherwise be a batch (and a seal and an insert) of its own.
                    tokio::time::sleep(COALESCE).await;
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(entry) => batch.push(entry),
                            Err(_) => break,
                        }
                    }
                }
                write_batch(&vault, &mut batch, &mut seq, &mut buf);
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
                write_batch(&vault, &mut batch, &mut seq, &mut buf);
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

/// Seals the queued entries as packed records of about [`RECORD_BYTES`] each; `batch`
/// is left empty and `buf` (the reused serialisation buffer) holds nothing of value afterwards.
fn write_batch(vault: &Vault, batch: &mut Vec<AuditEntry>, seq: &mut u64, buf: &mut Vec<u8>) {
    let mut record = RecordWriter {
        buf,
        entries: 0,
        newest_ms: 0,
    };
    record.reset();
    for entry in batch.drain(..) {
        record.push(&entry);
        if record.buf.len() >= RECORD_BYTES {
            record.seal(vault, seq);
        }
    }
    if record.entries > 0 {
        record.seal(vault, seq);
    }
}

/// One record being filled: the version byte and the packed entries so far, in `buf`.
struct RecordWriter<'a> {
    buf: &'a mut Vec<u8>,
    entries: usize,
    newest_ms: u64,
}

impl RecordWriter<'_> {
    fn reset(&mut self) {
        self.buf.clear();
        self.buf.push(packed::VERSION);
        self.entries = 0;
        self.newest_ms = 0;
    }

    fn push(&mut self, entry: &AuditEntry) {
        if let Err(e) = packed::push(entry, self.buf) {
            tracing::error!(error = %e, "audit entry not serialised");
            return;
        }
        self.entries += 1;
        self.newest_ms = self.newest_ms.max(entry.at_ms);
    }

    fn seal(&mut self, vault: &Vault, seq: &mut u64) {
        *seq += 1;
        let written = slot_for(self.newest_ms, *seq)
            .map_err(|e| e.to_string())
            .and_then(|slot| {
                vault
                    .put_batched(&slot, self.buf)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::error!(error = %e, entries = self.entries, "audit entries not written");
        }
        self.reset();
    }
}

/// Deletes records whose newest entry is older than the retention (run at start, then hourly).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, connection: &str) -> AuditEntry {
        AuditEntry {
            at_ms,
            api_key_id: "k".to_owned(),
            connection: connection.to_owned(),
            identifier: None,
            method: "POST".to_owned(),
            path: "/api/v2/statements".to_owned(),
            statement_sha256: None,
            request_id: None,
            statement_handle: None,
            upstream_status: Some(200),
            error_code: None,
            duration_ms: 1,
            retries: 0,
        }
    }

    fn log_with(vault: &Vault) -> AuditLog {
        let (tx, _rx) = mpsc::channel(1);
        let (drains, _drain_rx) = mpsc::channel(1);
        AuditLog {
            vault: vault.clone(),
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            drains,
        }
    }

    #[tokio::test]
    async fn pages_walk_every_entry_once_across_batches_and_old_single_records() {
        let vault = Vault::in_memory_for_tests().await;
        // A record from before batching: one entry as a lone object.
        let old = slot_for(1, 0).unwrap();
        vault
            .put_batched(&old, &serde_json::to_vec(&entry(1, "a")).unwrap())
            .unwrap();
        let (mut seq, mut buf) = (0, Vec::new());
        let mut batch: Vec<AuditEntry> = (2..5).map(|t| entry(t, "a")).collect();
        write_batch(&vault, &mut batch, &mut seq, &mut buf);
        assert!(batch.is_empty());
        let mut batch: Vec<AuditEntry> = (5..9)
            .map(|t| entry(t, if t == 6 { "b" } else { "a" }))
            .collect();
        write_batch(&vault, &mut batch, &mut seq, &mut buf);
        let log = log_with(&vault);

        let mut seen = Vec::new();
        let mut after = None;
        for _ in 0..10 {
            let page = log
                .query(&AuditQuery {
                    connection: Some("a".to_owned()),
                    after: after.clone(),
                    limit: Some(2),
                    ..AuditQuery::default()
                })
                .unwrap();
            seen.extend(page.entries.iter().map(|e| e.at_ms));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5, 7, 8]);
        let all = log.query(&AuditQuery::default()).unwrap();
        assert_eq!(all.entries.len(), 8);
        assert!(all.next.is_none());
    }

    #[tokio::test]
    async fn records_written_as_json_arrays_still_read_back() {
        let vault = Vault::in_memory_for_tests().await;
        let old: Vec<AuditEntry> = (1..4).map(|t| entry(t, "a")).collect();
        vault
            .put_batched(&slot_for(3, 0).unwrap(), &serde_json::to_vec(&old).unwrap())
            .unwrap();
        let (mut seq, mut buf) = (0, Vec::new());
        let mut batch = vec![entry(4, "a")];
        write_batch(&vault, &mut batch, &mut seq, &mut buf);
        let all = log_with(&vault).query(&AuditQuery::default()).unwrap();
        let mut expected = old;
        expected.push(entry(4, "a"));
        assert_eq!(all.entries, expected);
    }

    #[tokio::test]
    async fn a_large_batch_is_sealed_as_small_records_read_back_in_order() {
        let vault = Vault::in_memory_for_tests().await;
        let (mut seq, mut buf) = (0, Vec::new());
        let mut batch: Vec<AuditEntry> = (0..500).map(|t| entry(t, "a")).collect();
        write_batch(&vault, &mut batch, &mut seq, &mut buf);
        let records: Vec<usize> = vault
            .scan(KIND, Some(""))
            .map(|item| item.unwrap().1.expose().len())
            .collect();
        assert!(records.len() > 2, "{} records", records.len());
        assert!(
            records.iter().all(|len| *len < RECORD_BYTES + 1024),
            "{records:?}"
        );
        let log = log_with(&vault);
        let all = log
            .query(&AuditQuery {
                limit: Some(1000),
                ..AuditQuery::default()
            })
            .unwrap();
        let times: Vec<u64> = all.entries.iter().map(|e| e.at_ms).collect();
        assert_eq!(times, (0..500).collect::<Vec<_>>());
    }
}
