//! TokenManager against a stub token endpoint and a store that can be made to fail:
//! TR-5 (a refreshed token that cannot be stored → re-authorization, no hot loop) and TR-6
//! (`invalid_grant` after someone else rotated → use theirs; genuine revocation → expired), and
//! the crash safety of [`super::refresh`]: in-flight markers, interrupted refreshes, lost answers,
//! callers that go away.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};

use super::accounts::{AccountRecord, AccountStatus, AccountStore};
use super::client::TokenClient;
use super::refresh::Marker;
use super::settings::OAuthSettings;
use super::{OAuthError, TokenManager};
use crate::clock::{Clock, ManualClock};
use crate::connections::{Connection, ConnectionKind, ConnectionStatus, Defaults};
use crate::store::{BoxFuture, MemoryStore, ScanIter, Store, StoreError};
use crate::vault::{Keyring, MasterKey, Vault};

/// A memory store whose writes fail while `failing` is set (only compare-and-swaps, i.e. account
/// record writes, while `failing_cas` is).
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    failing: AtomicBool,
    failing_cas: AtomicBool,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Backend {
                op: "put",
                detail: "disk full (injected)".into(),
            });
        }
        Ok(())
    }
}

impl Store for FlakyStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }
    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(tree, key, value)
    }
    fn delete(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.delete(tree, key)
    }
    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        if self.failing_cas.load(Ordering::SeqCst) {
            return Err(StoreError::Backend {
                op: "compare_and_swap",
                detail: "disk full (injected)".into(),
            });
        }
        self.inner.compare_and_swap(tree, key, expected, new)
    }
    fn scan_prefix<'a>(&'a self, tree: &str, prefix: &[u8]) -> ScanIter<'a> {
        self.inner.scan_prefix(tree, prefix)
    }
    fn len(&self, tree: &str) -> Result<usize, StoreError> {
        self.inner.len(tree)
    }
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.flush()
    }
}

/// What the stub token endpoint answers.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Fresh,
    InvalidGrant,
    /// Another writer rotates the stored record first, then the endpoint says `invalid_grant`.
    RaceThenInvalidGrant,
    /// 502: the answer is lost, the request may have been processed.
    BadGateway,
    /// `Fresh`, after 300 ms.
    Slow,
}

struct Harness {
    manager: TokenManager,
    accounts: AccountStore,
    store: Arc<FlakyStore>,
    clock: Arc<ManualClock>,
    connection: Connection,
    calls: Arc<AtomicU64>,
    /// The account's in-flight marker as the token endpoint saw it, per request.
    markers_seen: Arc<Mutex<Vec<Option<Marker>>>>,
}

async fn harness(answer: Answer) -> Harness {
    harness_with(answer, true).await
}

async fn harness_with(answer: Answer, single_use: bool) -> Harness {
    let store = Arc::new(FlakyStore::default());
    let master = MasterKey::from_bytes(&[7; 32]).unwrap();
    let vault = Vault::with_keyring(store.clone(), Keyring::in_memory(&master).unwrap())
        .await
        .unwrap();
    let accounts = AccountStore::new(vault);
    let calls = Arc::new(AtomicU64::new(0));
    let markers_seen = Arc::new(Mutex::new(Vec::new()));
    let (c, a, m) = (calls.clone(), accounts.clone(), markers_seen.clone());
    let server = HttpServer::new(move || {
        let (c, a, m) = (c.clone(), a.clone(), m.clone());
        App::new().route(
            "/oauth/token-request",
            web::post().to(move || {
                let (c, a, m) = (c.clone(), a.clone(), m.clone());
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    m.lock().unwrap().push(a.marker("c", "u").unwrap());
                    if answer == Answer::Slow {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    if answer == Answer::RaceThenInvalidGrant {
                        let (v, mut r) = a.read("c", "u").unwrap().unwrap();
                        r.access_token = Some("at-from-the-other-writer".into());
                        r.access_expires_at = Some(u64::MAX / 2);
                        r.generation += 1;
                        assert!(a.write_if("c", "u", Some(&v), &r).await.unwrap());
                    }
                    match answer {
                        Answer::Fresh | Answer::Slow => {
                            HttpResponse::Ok().json(serde_json::json!({
                                "access_token": "at-new", "refresh_token": "rt-new",
                                "token_type": "Bearer", "expires_in": 600
                            }))
                        }
                        Answer::BadGateway => HttpResponse::BadGateway().finish(),
                        _ => HttpResponse::BadRequest()
                            .json(serde_json::json!({"error": "invalid_grant"})),
                    }
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    let clock = Arc::new(ManualClock::new(1_000_000));
    let settings = OAuthSettings {
        client_id: "id".into(),
        integration: "I".into(),
        scopes: vec!["refresh_token".into()],
        allowed_return_urls: vec![],
        authorize_url: format!("http://127.0.0.1:{port}/oauth/authorize"),
        token_url: format!("http://127.0.0.1:{port}/oauth/token-request"),
        redirect_uri: "http://127.0.0.1:1/oauth/callback/c".into(),
        single_use_refresh_tokens: single_use,
        refresh_token_validity_secs: 86_400,
        ca_pem: None,
    };
    let connection = Connection {
        name: "c".into(),
        kind: ConnectionKind::Oauth,
        account: "x".into(),
        account_claim: "X".into(),
        base_url: format!("http://127.0.0.1:{port}"),
        defaults: Defaults::default(),
        status: ConnectionStatus::Connected,
        keypair: None,
        oauth: Some(settings),
        last_test: None,
        status_before_disable: None,
        created_at: 0,
        updated_at: 0,
    };
    accounts.put_client_secret("c", "secret+/=").await.unwrap();
    let mut record = AccountRecord::pending(clock.now(), None);
    record.status = AccountStatus::Active;
    record.access_token = Some("at-old".into());
    record.refresh_token = Some("rt-old".into());
    record.access_expires_at = Some(clock.now() + 600);
    record.access_lifetime = Some(600);
    record.generation = 1;
    record.rotating = single_use;
    assert!(accounts.write_if("c", "u", None, &record).await.unwrap());
    let client = Arc::new(TokenClient::new().unwrap());
    let manager = TokenManager::new(accounts.clone(), client, clock.clone());
    Harness {
        manager,
        accounts,
        store,
        clock,
        connection,
        calls,
        markers_seen,
    }
}

fn status(h: &Harness) -> AccountStatus {
    h.accounts.read("c", "u").unwrap().unwrap().1.status
}

#[tokio::test]
async fn a_refreshed_token_that_cannot_be_stored_asks_for_reauthorization_without_a_hot_loop() {
    let h = harness(Answer::Fresh).await;
    h.clock.advance(601);
    h.store.failing_cas.store(true, Ordering::SeqCst);
    let err = h
        .manager
        .access_token(&h.connection, "u")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::ReauthorizationRequired(_)),
        "{err}"
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    // The store recovers, but the refresh token used is dead: no further grant with it, and the
    // marker stays for the next start to expire the account.
    h.store.failing_cas.store(false, Ordering::SeqCst);
    for _ in 0..5 {
        assert!(h.manager.access_token(&h.connection, "u").await.is_err());
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    assert!(h.accounts.marker("c", "u").unwrap().is_some());
}

#[tokio::test]
async fn a_store_that_cannot_record_the_marker_spends_nothing() {
    let h = harness(Answer::Fresh).await;
    h.clock.advance(601);
    h.store.failing.store(true, Ordering::SeqCst);
    assert!(h.manager.access_token(&h.connection, "u").await.is_err());
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        0,
        "no token request without a marker"
    );
    h.store.failing.store(false, Ordering::SeqCst);
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-new");
}

#[tokio::test]
async fn the_marker_is_stored_before_the_token_request_and_removed_after_it() {
    let h = harness(Answer::Fresh).await;
    h.clock.advance(601);
    h.manager.access_token(&h.connection, "u").await.unwrap();
    let seen = h.markers_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let marker = seen[0].expect("the marker exists while the request is in flight");
    assert_eq!(marker.generation, 1, "it names the generation being spent");
    assert_eq!(h.accounts.marker("c", "u").unwrap(), None);
    let stored = h.accounts.read("c", "u").unwrap().unwrap().1;
    assert_eq!(stored.refresh_token.as_deref(), Some("rt-new"));
    assert_eq!(stored.generation, 2);
}

#[tokio::test]
async fn an_interrupted_refresh_of_a_single_use_token_expires_the_account_without_a_request() {
    let h = harness(Answer::Fresh).await;
    // What a process killed between the token request and storing its answer leaves behind.
    let marker = Marker {
        generation: 1,
        started_at: h.clock.now(),
    };
    h.accounts.put_marker("c", "u", &marker).await.unwrap();
    h.clock.advance(601);
    let err = h
        .manager
        .access_token(&h.connection, "u")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::ReauthorizationRequired(_)),
        "{err}"
    );
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        0,
        "the maybe-dead token is never presented"
    );
    let record = h.accounts.read("c", "u").unwrap().unwrap().1;
    assert_eq!(record.status, AccountStatus::Expired);
    assert!(record.refresh_token.is_none());
    assert!(record
        .last_error
        .as_deref()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(h.accounts.marker("c", "u").unwrap(), None);
}

#[tokio::test]
async fn an_interrupted_refresh_of_a_reusable_token_only_drops_the_marker() {
    let h = harness_with(Answer::Fresh, false).await;
    let marker = Marker {
        generation: 1,
        started_at: h.clock.now(),
    };
    h.accounts.put_marker("c", "u", &marker).await.unwrap();
    h.clock.advance(601);
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-new");
    assert_eq!(status(&h), AccountStatus::Active);
    assert_eq!(h.accounts.marker("c", "u").unwrap(), None);
}

#[tokio::test]
async fn a_marker_older_than_the_record_is_obsolete() {
    let h = harness(Answer::Fresh).await;
    let marker = Marker {
        generation: 0,
        started_at: h.clock.now(),
    };
    h.accounts.put_marker("c", "u", &marker).await.unwrap();
    h.clock.advance(601);
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-new");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lost_answer_to_a_single_use_refresh_expires_the_account_after_one_request() {
    let h = harness(Answer::BadGateway).await;
    h.clock.advance(601);
    let err = h
        .manager
        .access_token(&h.connection, "u")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::ReauthorizationRequired(_)),
        "{err}"
    );
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        1,
        "a spent token is not retried"
    );
    assert_eq!(status(&h), AccountStatus::Expired);
    assert_eq!(h.accounts.marker("c", "u").unwrap(), None);
}

#[tokio::test]
async fn a_lost_answer_to_a_reusable_refresh_keeps_the_account() {
    let h = harness_with(Answer::BadGateway, false).await;
    h.clock.advance(601);
    let err = h
        .manager
        .access_token(&h.connection, "u")
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Upstream(_)), "{err}");
    assert!(
        h.calls.load(Ordering::SeqCst) > 1,
        "a reusable token is retried"
    );
    assert_eq!(status(&h), AccountStatus::Active);
    assert_eq!(
        h.markers_seen.lock().unwrap()[0],
        None,
        "no marker for reusable tokens"
    );
}

#[tokio::test]
async fn a_refresh_is_stored_even_when_its_caller_goes_away() {
    let h = harness(Answer::Slow).await;
    h.clock.advance(601);
    // The caller gives up (a client disconnect drops the handler's future) mid-request.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        h.manager.access_token(&h.connection, "u"),
    )
    .await;
    assert!(gave_up.is_err());
    // The refresh still runs to a stored outcome, and holds the lock until then.
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-new");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    let stored = h.accounts.read("c", "u").unwrap().unwrap().1;
    assert_eq!(stored.refresh_token.as_deref(), Some("rt-new"));
    assert_eq!(h.accounts.marker("c", "u").unwrap(), None);
}

#[tokio::test]
async fn invalid_grant_after_another_writer_rotated_uses_the_newer_token() {
    let h = harness(Answer::RaceThenInvalidGrant).await;
    h.clock.advance(601);
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-from-the-other-writer");
    assert_eq!(status(&h), AccountStatus::Active);
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn genuine_invalid_grant_expires_the_account_after_exactly_one_call() {
    let h = harness(Answer::InvalidGrant).await;
    h.clock.advance(601);
    let err = h
        .manager
        .access_token(&h.connection, "u")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::ReauthorizationRequired(_)),
        "{err}"
    );
    assert_eq!(status(&h), AccountStatus::Expired);
    let record = h.accounts.read("c", "u").unwrap().unwrap().1;
    assert!(record.refresh_token.is_none() && record.access_token.is_none());
    assert!(h.manager.access_token(&h.connection, "u").await.is_err());
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_successful_refresh_is_stored_before_the_token_is_returned() {
    let h = harness(Answer::Fresh).await;
    assert_eq!(
        h.manager
            .access_token(&h.connection, "u")
            .await
            .unwrap()
            .expose(),
        "at-old"
    );
    h.clock.advance(480);
    let token = h.manager.access_token(&h.connection, "u").await.unwrap();
    assert_eq!(token.expose(), "at-new");
    let stored = h.accounts.read("c", "u").unwrap().unwrap().1;
    assert_eq!(stored.refresh_token.as_deref(), Some("rt-new"));
    assert_eq!(stored.generation, token.generation());
    assert_eq!(h.manager.refreshes(), 1);
}
