//! TokenManager against a stub token endpoint and a store that can be made to fail:
//! TR-5 (a refreshed token that cannot be stored → re-authorization, no hot loop) and TR-6
//! (`invalid_grant` after someone else rotated → use theirs; genuine revocation → expired).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

use super::accounts::{AccountRecord, AccountStatus, AccountStore};
use super::client::TokenClient;
use super::settings::OAuthSettings;
use super::{OAuthError, TokenManager};
use crate::clock::{Clock, ManualClock};
use crate::connections::{Connection, ConnectionKind, ConnectionStatus, Defaults};
use crate::store::{BoxFuture, MemoryStore, ScanIter, Store, StoreError};
use crate::vault::{Keyring, MasterKey, Vault};

/// A memory store whose writes fail while `failing` is set.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    failing: AtomicBool,
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
}

struct Harness {
    manager: TokenManager,
    accounts: AccountStore,
    store: Arc<FlakyStore>,
    clock: Arc<ManualClock>,
    connection: Connection,
    calls: Arc<AtomicU64>,
}

async fn harness(answer: Answer) -> Harness {
    let store = Arc::new(FlakyStore::default());
    let master = MasterKey::from_bytes(&[7; 32]).unwrap();
    let vault = Vault::with_keyring(store.clone(), Keyring::in_memory(&master).unwrap())
        .await
        .unwrap();
    let accounts = AccountStore::new(vault);
    let calls = Arc::new(AtomicU64::new(0));
    let (c, a) = (calls.clone(), accounts.clone());
    let server = HttpServer::new(move || {
        let (c, a) = (c.clone(), a.clone());
        App::new().route(
            "/oauth/token-request",
            web::post().to(move || {
                let (c, a) = (c.clone(), a.clone());
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    if answer == Answer::RaceThenInvalidGrant {
                        let (v, mut r) = a.read("c", "u").unwrap().unwrap();
                        r.access_token = Some("at-from-the-other-writer".into());
                        r.access_expires_at = Some(u64::MAX / 2);
                        r.generation += 1;
                        assert!(a.write_if("c", "u", Some(&v), &r).await.unwrap());
                    }
                    match answer {
                        Answer::Fresh => HttpResponse::Ok().json(serde_json::json!({
                            "access_token": "at-new", "refresh_token": "rt-new",
                            "token_type": "Bearer", "expires_in": 600
                        })),
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
        single_use_refresh_tokens: true,
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
    }
}

fn status(h: &Harness) -> AccountStatus {
    h.accounts.read("c", "u").unwrap().unwrap().1.status
}

#[tokio::test]
async fn a_refreshed_token_that_cannot_be_stored_asks_for_reauthorization_without_a_hot_loop() {
    let h = harness(Answer::Fresh).await;
    h.clock.advance(601);
    h.store.failing.store(true, Ordering::SeqCst);
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
    // The store recovers, but the refresh token used is dead: no further grant with it.
    h.store.failing.store(false, Ordering::SeqCst);
    for _ in 0..5 {
        assert!(h.manager.access_token(&h.connection, "u").await.is_err());
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
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
