//! Vault behaviour over real data dirs: fail-closed opening, slot binding in the store, CAS,
//! scans, keyed hashes, seal counters, rotation and rekey.

use std::sync::Arc;

use super::test_support::hash_dir;
use super::*;
use crate::store::{MemoryStore, Store};

fn master(b: u8) -> MasterKey {
    MasterKey::from_bytes(&[b; 32]).unwrap()
}

fn token(conn: &str, id: &str, field: &str) -> Slot {
    Slot::new("oauth_token", conn, id, field).unwrap()
}

async fn fresh() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(&dir.path().join("data"), master(1))
        .await
        .unwrap();
    (dir, vault)
}

fn key_id_of(vault: &Vault, slot: &Slot) -> u32 {
    let blob = vault
        .store()
        .get(SEALED_TREE, &slot.store_key())
        .unwrap()
        .unwrap();
    u32::from_be_bytes(blob[1..5].try_into().unwrap())
}

#[tokio::test]
async fn a_value_put_is_durable_and_opens_after_reopen() {
    let (dir, vault) = fresh().await;
    let s = token("snow", "alice", "refresh_token");
    vault.put(&s, b"refresh-1").await.unwrap();
    drop(vault);
    let vault = Vault::open(&dir.path().join("data"), master(1))
        .await
        .unwrap();
    assert_eq!(vault.get(&s).unwrap().unwrap().expose(), b"refresh-1");
    assert!(vault
        .get(&token("snow", "bob", "refresh_token"))
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn swapped_raw_store_values_fail_with_an_integrity_error() {
    let vault = Vault::in_memory_for_tests().await;
    let (one, two) = (
        token("a", "1", "access_token"),
        token("a", "2", "access_token"),
    );
    vault.put(&one, b"token-1").await.unwrap();
    vault.put(&two, b"token-2").await.unwrap();
    let st = vault.store();
    let (b1, b2) = (
        st.get(SEALED_TREE, &one.store_key()).unwrap().unwrap(),
        st.get(SEALED_TREE, &two.store_key()).unwrap().unwrap(),
    );
    st.put(SEALED_TREE, &one.store_key(), &b2).unwrap();
    st.put(SEALED_TREE, &two.store_key(), &b1).unwrap();
    assert!(matches!(vault.get(&one), Err(VaultError::Integrity)));
    assert!(matches!(vault.get(&two), Err(VaultError::Integrity)));
}

#[tokio::test]
async fn a_blob_naming_an_unknown_key_id_is_an_error() {
    let vault = Vault::in_memory_for_tests().await;
    let s = token("a", "1", "access_token");
    vault.put(&s, b"x").await.unwrap();
    let mut blob = vault
        .store()
        .get(SEALED_TREE, &s.store_key())
        .unwrap()
        .unwrap();
    blob[1..5].copy_from_slice(&99u32.to_be_bytes());
    vault
        .store()
        .put(SEALED_TREE, &s.store_key(), &blob)
        .unwrap();
    assert!(matches!(vault.get(&s), Err(VaultError::UnknownKeyId(99))));
}

#[tokio::test]
async fn put_if_version_succeeds_once_and_reports_a_conflict_on_a_stale_version() {
    let vault = Vault::in_memory_for_tests().await;
    let s = token("a", "1", "refresh_token");
    assert!(vault.put_if_version(&s, None, b"r1").await.unwrap());
    assert!(!vault.put_if_version(&s, None, b"again").await.unwrap());
    let (v1, plain) = vault.get_versioned(&s).unwrap().unwrap();
    assert_eq!(plain.expose(), b"r1");
    assert!(vault.put_if_version(&s, Some(&v1), b"r2").await.unwrap());
    assert!(!vault
        .put_if_version(&s, Some(&v1), b"r2-loser")
        .await
        .unwrap());
    assert_eq!(vault.get(&s).unwrap().unwrap().expose(), b"r2");
}

#[tokio::test]
async fn delete_reports_whether_a_value_existed() {
    let vault = Vault::in_memory_for_tests().await;
    let s = token("a", "1", "access_token");
    vault.put(&s, b"x").await.unwrap();
    assert!(vault.delete(&s).await.unwrap());
    assert!(!vault.delete(&s).await.unwrap());
    assert!(vault.get(&s).unwrap().is_none());
}

#[tokio::test]
async fn scan_returns_the_slots_of_a_kind_and_connection_in_key_order() {
    let vault = Vault::in_memory_for_tests().await;
    for (c, i) in [("b", "2"), ("a", "1"), ("b", "1"), ("ab", "1")] {
        vault
            .put(&token(c, i, "access_token"), format!("{c}{i}").as_bytes())
            .await
            .unwrap();
    }
    let client = Slot::new("oauth_client", "a", "", "client_secret").unwrap();
    vault.put(&client, b"secret").await.unwrap();
    let in_b: Vec<_> = vault
        .scan("oauth_token", Some("b"))
        .map(|r| r.unwrap())
        .map(|(s, p)| (s.identifier().to_owned(), p.expose().to_vec()))
        .collect();
    assert_eq!(
        in_b,
        vec![("1".into(), b"b1".to_vec()), ("2".into(), b"b2".to_vec())]
    );
    assert_eq!(vault.scan("oauth_token", None).count(), 4);
    assert_eq!(vault.scan("oauth_client", None).count(), 1);
}

#[tokio::test]
async fn keyed_hash_is_domain_separated_and_stable_across_rotation_rekey_and_reopen() {
    let (dir, vault) = fresh().await;
    let h = vault.keyed_hash("api_key", b"ibk_abc");
    assert_ne!(h, vault.keyed_hash("audit", b"ibk_abc"));
    assert_ne!(vault.keyed_hash("a", b"bc"), vault.keyed_hash("ab", b"c"));
    vault.rotate_key(true).await.unwrap();
    vault.rekey(master(2)).await.unwrap();
    assert_eq!(vault.keyed_hash("api_key", b"ibk_abc"), h);
    drop(vault);
    let vault = Vault::open(&dir.path().join("data"), master(2))
        .await
        .unwrap();
    assert_eq!(vault.keyed_hash("api_key", b"ibk_abc"), h);
    let (_other_dir, other) = fresh().await;
    assert_ne!(
        other.keyed_hash("api_key", b"ibk_abc"),
        h,
        "secret must be per install"
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_and_no_file_in_the_data_dir_changes() {
    let (dir, vault) = fresh().await;
    vault
        .put(&token("a", "1", "access_token"), b"x")
        .await
        .unwrap();
    drop(vault);
    let data = dir.path().join("data");
    let before = hash_dir(&data);
    let err = Vault::open(&data, master(9)).await.unwrap_err();
    assert!(matches!(err, VaultError::WrongMasterKey { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("master key") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_eq!(hash_dir(&data), before, "the data dir changed");
    Vault::open(&data, master(1)).await.unwrap();
}

#[tokio::test]
async fn a_database_without_its_keyring_is_an_error_not_a_new_vault() {
    let (dir, vault) = fresh().await;
    vault
        .put(&token("a", "1", "access_token"), b"x")
        .await
        .unwrap();
    drop(vault);
    let data = dir.path().join("data");
    std::fs::remove_file(data.join(KEYRING_FILE)).unwrap();
    let before = hash_dir(&data);
    let err = Vault::open(&data, master(1)).await.unwrap_err();
    assert!(matches!(err, VaultError::MissingKeyring { .. }), "{err:?}");
    assert_eq!(hash_dir(&data), before);
}

#[tokio::test]
async fn a_keyring_from_another_install_is_refused() {
    let (dir_a, vault_a) = fresh().await;
    let (dir_b, vault_b) = fresh().await;
    drop((vault_a, vault_b));
    let (a, b) = (dir_a.path().join("data"), dir_b.path().join("data"));
    std::fs::copy(b.join(KEYRING_FILE), a.join(KEYRING_FILE)).unwrap();
    let err = Vault::open(&a, master(1)).await.unwrap_err();
    assert!(matches!(err, VaultError::KeyringMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn a_second_open_while_the_vault_is_running_reports_the_lock() {
    let (dir, _running) = fresh().await;
    let err = Vault::open(&dir.path().join("data"), master(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VaultError::Store(crate::store::StoreError::Locked { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_seal_counter_survives_ten_reopens_and_is_monotonic() {
    let (dir, mut vault) = fresh().await;
    let data = dir.path().join("data");
    let mut last = 0;
    for round in 0..10 {
        for i in 0..3 {
            vault
                .put(&token("a", &format!("{round}-{i}"), "access_token"), b"x")
                .await
                .unwrap();
        }
        let seals = vault.status().keys[0].seals;
        assert!(seals > last, "round {round}: {seals} <= {last}");
        last = seals;
        drop(vault);
        vault = Vault::open(&data, master(1)).await.unwrap();
        let resumed = vault.status().keys[0].seals;
        assert!(
            resumed >= last,
            "round {round}: resumed at {resumed} < {last}"
        );
    }
}

#[tokio::test]
async fn sealing_is_refused_at_the_hard_limit_until_rotate_key_activates_a_new_key() {
    let vault = Vault::in_memory_for_tests().await;
    let s = token("a", "1", "access_token");
    vault.write_ring().force_seal_count(SEAL_HARD_LIMIT - 1);
    vault.put(&s, b"last one").await.unwrap();
    let err = vault.put(&s, b"one too many").await.unwrap_err();
    assert!(
        matches!(err, VaultError::KeyExhausted { key_id: 1 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("icebroker vault rotate-key"));
    let report = vault.rotate_key(true).await.unwrap();
    assert_eq!((report.new_key_id, report.retired.clone()), (2, vec![1]));
    vault.put(&s, b"fresh").await.unwrap();
    assert_eq!(key_id_of(&vault, &s), 2);
    assert_eq!(vault.get(&s).unwrap().unwrap().expose(), b"fresh");
}

#[tokio::test]
async fn rotate_key_reseals_10_000_records_and_then_retires_the_old_key() {
    let (dir, vault) = fresh().await;
    let data = dir.path().join("data");
    // Seed through the sealing path with one flush at the end (10,000 flushes would dominate).
    for i in 0..10_000 {
        let s = token("conn", &format!("user-{i:05}"), "refresh_token");
        vault
            .seal_and(&s, format!("secret-{i}").as_bytes(), |st, k, b| {
                st.put(SEALED_TREE, k, b)?;
                Ok(true)
            })
            .unwrap();
    }
    vault.store().flush().await.unwrap();

    let report = vault.rotate_key(true).await.unwrap();

    assert_eq!((report.previous_key_id, report.new_key_id), (1, 2));
    assert_eq!((report.resealed, report.unreadable), (10_000, 0));
    assert_eq!(report.retired, vec![1]);
    assert_eq!(
        report.records_per_key.into_iter().collect::<Vec<_>>(),
        vec![(2, 10_000)]
    );
    let status = vault.status();
    assert_eq!(status.active_key_id, 2);
    assert_eq!(
        status.keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![2]
    );
    drop(vault);
    let vault = Vault::open(&data, master(1)).await.unwrap();
    let mut n = 0;
    for item in vault.scan("oauth_token", Some("conn")) {
        let (slot, plain) = item.unwrap();
        let i: usize = slot.identifier()["user-".len()..].parse().unwrap();
        assert_eq!(plain.expose(), format!("secret-{i}").as_bytes());
        n += 1;
    }
    assert_eq!(n, 10_000);
    let s = token("conn", "new-user", "access_token");
    vault.put(&s, b"new").await.unwrap();
    assert_eq!(key_id_of(&vault, &s), 2);
}

#[tokio::test]
async fn rotation_without_retiring_keeps_old_keys_readable() {
    let vault = Vault::in_memory_for_tests().await;
    let s = token("a", "1", "access_token");
    vault.put(&s, b"v").await.unwrap();
    let report = vault.rotate_key(false).await.unwrap();
    assert!(report.retired.is_empty());
    assert_eq!(vault.status().keys.len(), 2);
    assert_eq!(key_id_of(&vault, &s), 2);
    let again = vault.rotate_key(true).await.unwrap();
    assert_eq!((again.new_key_id, again.retired), (3, vec![1, 2]));
    assert_eq!(vault.get(&s).unwrap().unwrap().expose(), b"v");
}

#[tokio::test]
async fn rekey_makes_only_the_new_master_key_open_the_data_dir() {
    let (dir, vault) = fresh().await;
    let s = token("a", "1", "client_secret");
    vault.put(&s, b"cs").await.unwrap();
    vault.rekey(master(2)).await.unwrap();
    drop(vault);
    let data = dir.path().join("data");
    let err = Vault::open(&data, master(1)).await.unwrap_err();
    assert!(matches!(err, VaultError::WrongMasterKey { .. }));
    let vault = Vault::open(&data, master(2)).await.unwrap();
    assert_eq!(vault.get(&s).unwrap().unwrap().expose(), b"cs");
}

#[tokio::test]
async fn debug_and_status_of_vault_and_keyring_contain_no_key_material() {
    let vault = Vault::in_memory_for_tests().await;
    let ring = vault.read_ring();
    let dek = hex::encode(ring.keys[&1].key.raw());
    let hmac = hex::encode(ring.hmac_secret.as_ref());
    let text = format!(
        "{ring:?} {vault:?} {:?} {}",
        vault.status(),
        serde_json::to_string(&vault.status()).unwrap()
    );
    drop(ring);
    for needle in [&dek[..16], &hmac[..16], "66, 66", "0x42"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
}

#[tokio::test]
async fn with_keyring_binds_an_empty_store_and_refuses_foreign_sealed_records() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ring = Keyring::in_memory(&master(1)).unwrap();
    let v = Vault::with_keyring(Arc::clone(&store), ring).await.unwrap();
    v.put(&token("a", "1", "access_token"), b"x").await.unwrap();
    let other = Keyring::in_memory(&master(1)).unwrap();
    let err = Vault::with_keyring(Arc::clone(&store), other)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::KeyringMismatch { .. }));
    store.delete(META_TREE, b"install_id").unwrap();
    let other = Keyring::in_memory(&master(1)).unwrap();
    let err = Vault::with_keyring(store, other).await.unwrap_err();
    assert!(matches!(err, VaultError::KeyringMismatch { .. }));
}
