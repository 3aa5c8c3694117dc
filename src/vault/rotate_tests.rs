//! Rotation under concurrent traffic, and the thread-safety the HTTP layer relies on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;
use crate::vault::{MasterKey, Slot, SEALED_TREE};

fn slot(i: usize) -> Slot {
    Slot::new("oauth_token", "conn", &format!("user-{i}"), "access_token").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_writers_run_loses_no_write_and_retires_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(
        &dir.path().join("data"),
        MasterKey::from_bytes(&[3; 32]).unwrap(),
    )
    .await
    .unwrap();
    for i in 0..2_000 {
        vault
            .seal_and(&slot(i), b"v0", |s, k, b| {
                s.put(SEALED_TREE, k, b)?;
                Ok(true)
            })
            .unwrap();
    }
    vault.store().flush().await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (vault, stop) = (vault.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                // Writer `w` owns slots w, w+2, w+4, … among the first 200 and bumps a version.
                let mut last = vec![0usize; 200];
                let mut round = 1;
                while !stop.load(Ordering::Acquire) {
                    for i in (w..200).step_by(2) {
                        vault
                            .put(&slot(i), format!("v{round}").as_bytes())
                            .await
                            .unwrap();
                        last[i] = round;
                    }
                    round += 1;
                    tokio::task::yield_now().await;
                }
                last
            })
        })
        .collect();

    let report = vault.rotate_key(true).await.unwrap();
    stop.store(true, Ordering::Release);
    let mut last = vec![0usize; 200];
    for (w, h) in writers.into_iter().enumerate() {
        let mine = h.await.unwrap();
        for i in (w..200).step_by(2) {
            last[i] = mine[i];
        }
    }

    assert_eq!(report.retired, vec![1], "{report:?}");
    assert_eq!(report.resealed + report.raced, 2_000, "{report:?}");
    for (i, round) in last.iter().enumerate() {
        let got = vault.get(&slot(i)).unwrap().unwrap();
        assert_eq!(got.expose(), format!("v{round}").as_bytes(), "slot {i}");
    }
    for i in 200..2_000 {
        assert_eq!(vault.get(&slot(i)).unwrap().unwrap().expose(), b"v0");
    }
}

#[tokio::test]
async fn the_vault_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let vault = Vault::in_memory_for_tests().await;
    send_sync(&vault);
    let s = slot(0);
    send(&vault.put(&s, b"x"));
    send(&vault.put_if_version(&s, None, b"x"));
    send(&vault.delete(&s));
    send(&vault.rotate_key(true));
    send(&vault.rekey(MasterKey::from_bytes(&[1; 32]).unwrap()));
}
