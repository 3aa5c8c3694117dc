//! The store contract (ST-1): one generic suite, instantiated for every backend, so the
//! in-memory fake cannot drift from sled.

use std::sync::{Arc, Barrier};

use super::{MemoryStore, SledStore, Store, StoreError};

fn keys(s: &dyn Store, tree: &str, prefix: &[u8]) -> Vec<Vec<u8>> {
    s.scan_prefix(tree, prefix)
        .map(|r| r.unwrap().0)
        .collect::<Vec<_>>()
}

pub(super) fn get_of_a_missing_key_is_none(s: &dyn Store) {
    assert_eq!(s.get("t", b"nope").unwrap(), None);
}

pub(super) fn put_then_get_returns_the_value(s: &dyn Store) {
    s.put("t", b"k", b"v1").unwrap();
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"v1"[..]));
}

pub(super) fn put_overwrites_the_previous_value(s: &dyn Store) {
    s.put("t", b"k", b"v1").unwrap();
    s.put("t", b"k", b"v2").unwrap();
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(s.len("t").unwrap(), 1);
}

pub(super) fn empty_keys_and_values_are_stored(s: &dyn Store) {
    s.put("t", b"", b"").unwrap();
    assert_eq!(s.get("t", b"").unwrap(), Some(vec![]));
}

pub(super) fn delete_returns_the_old_value(s: &dyn Store) {
    s.put("t", b"k", b"old").unwrap();
    assert_eq!(s.delete("t", b"k").unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(s.get("t", b"k").unwrap(), None);
}

pub(super) fn delete_of_a_missing_key_returns_none(s: &dyn Store) {
    assert_eq!(s.delete("t", b"ghost").unwrap(), None);
}

pub(super) fn trees_are_isolated(s: &dyn Store) {
    s.put("a", b"k", b"in-a").unwrap();
    s.put("b", b"k", b"in-b").unwrap();
    assert_eq!(s.get("a", b"k").unwrap().as_deref(), Some(&b"in-a"[..]));
    assert_eq!(s.get("b", b"k").unwrap().as_deref(), Some(&b"in-b"[..]));
    s.delete("a", b"k").unwrap();
    assert_eq!(s.get("b", b"k").unwrap().as_deref(), Some(&b"in-b"[..]));
    assert_eq!(keys(s, "c", b""), Vec::<Vec<u8>>::new());
}

pub(super) fn scan_yields_keys_in_ascending_byte_order(s: &dyn Store) {
    for k in [&b"b"[..], b"a", b"\xff", b"ab", b"\x00", b"aa"] {
        s.put("t", k, k).unwrap();
    }
    let want: Vec<Vec<u8>> = [&b"\x00"[..], b"a", b"aa", b"ab", b"b", b"\xff"]
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys(s, "t", b""), want);
}

pub(super) fn scan_returns_only_keys_with_the_prefix(s: &dyn Store) {
    for k in [
        &b"user/1"[..],
        b"user/2",
        b"user",
        b"usex/1",
        b"use",
        b"user/1/x",
    ] {
        s.put("t", k, b"v").unwrap();
    }
    let got = keys(s, "t", b"user/");
    assert_eq!(
        got,
        vec![b"user/1".to_vec(), b"user/1/x".to_vec(), b"user/2".to_vec()]
    );
    assert_eq!(keys(s, "t", b"zzz"), Vec::<Vec<u8>>::new());
}

pub(super) fn scan_returns_values_with_their_keys(s: &dyn Store) {
    s.put("t", b"k1", b"v1").unwrap();
    s.put("t", b"k2", b"v2").unwrap();
    let got: Vec<_> = s.scan_prefix("t", b"k").map(|r| r.unwrap()).collect();
    assert_eq!(
        got,
        vec![
            (b"k1".to_vec(), b"v1".to_vec()),
            (b"k2".to_vec(), b"v2".to_vec())
        ]
    );
}

pub(super) fn len_counts_keys_per_tree(s: &dyn Store) {
    assert_eq!(s.len("t").unwrap(), 0);
    assert!(s.is_empty("t").unwrap());
    for i in 0u8..10 {
        s.put("t", &[i], b"v").unwrap();
    }
    s.put("other", b"x", b"v").unwrap();
    assert_eq!(s.len("t").unwrap(), 10);
    assert!(!s.is_empty("t").unwrap());
}

pub(super) fn cas_from_absent_creates_the_key(s: &dyn Store) {
    assert!(s.compare_and_swap("t", b"k", None, Some(b"v")).unwrap());
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

pub(super) fn cas_with_a_stale_expectation_fails_and_writes_nothing(s: &dyn Store) {
    s.put("t", b"k", b"current").unwrap();
    assert!(!s
        .compare_and_swap("t", b"k", Some(b"stale"), Some(b"new"))
        .unwrap());
    assert!(!s.compare_and_swap("t", b"k", None, Some(b"new")).unwrap());
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"current"[..]));
    assert!(!s
        .compare_and_swap("t", b"missing", Some(b"x"), Some(b"new"))
        .unwrap());
    assert_eq!(s.get("t", b"missing").unwrap(), None);
}

pub(super) fn cas_with_the_current_value_replaces_it(s: &dyn Store) {
    s.put("t", b"k", b"v1").unwrap();
    assert!(s
        .compare_and_swap("t", b"k", Some(b"v1"), Some(b"v2"))
        .unwrap());
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"v2"[..]));
}

pub(super) fn cas_to_none_deletes_the_key(s: &dyn Store) {
    s.put("t", b"k", b"v1").unwrap();
    assert!(s.compare_and_swap("t", b"k", Some(b"v1"), None).unwrap());
    assert_eq!(s.get("t", b"k").unwrap(), None);
}

pub(super) fn invalid_tree_names_are_rejected(s: &dyn Store) {
    assert!(matches!(s.get("", b"k"), Err(StoreError::InvalidTree)));
    let long = "x".repeat(65);
    assert!(matches!(
        s.put(&long, b"k", b"v"),
        Err(StoreError::InvalidTree)
    ));
    assert!(matches!(
        s.scan_prefix("", b"").next(),
        Some(Err(StoreError::InvalidTree))
    ));
}

pub(super) fn of_two_threads_racing_a_cas_exactly_one_wins_in_1000_trials(s: Arc<dyn Store>) {
    for trial in 0u32..1000 {
        let key = trial.to_be_bytes();
        let barrier = Arc::new(Barrier::new(2));
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0u8..2)
                .map(|who| {
                    let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                    scope.spawn(move || {
                        barrier.wait();
                        s.compare_and_swap("race", &key, None, Some(&[who]))
                            .unwrap()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1, "trial {trial}: {wins} winners");
    }
    assert_eq!(s.len("race").unwrap(), 1000);
}

pub(super) async fn flush_resolves_after_writes(s: &dyn Store) {
    s.put("t", b"k", b"v").unwrap();
    s.flush().await.unwrap();
    assert_eq!(s.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// Generates one `#[test]` per contract case for a backend. `$make` returns `(store, guard)`;
/// the guard (e.g. a temp dir) lives as long as the test.
macro_rules! contract_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            contract_suite!(@sync $make;
                get_of_a_missing_key_is_none, put_then_get_returns_the_value,
                put_overwrites_the_previous_value, empty_keys_and_values_are_stored,
                delete_returns_the_old_value, delete_of_a_missing_key_returns_none,
                trees_are_isolated, scan_yields_keys_in_ascending_byte_order,
                scan_returns_only_keys_with_the_prefix, scan_returns_values_with_their_keys,
                len_counts_keys_per_tree, cas_from_absent_creates_the_key,
                cas_with_a_stale_expectation_fails_and_writes_nothing,
                cas_with_the_current_value_replaces_it, cas_to_none_deletes_the_key,
                invalid_tree_names_are_rejected);

            #[test]
            fn of_two_threads_racing_a_cas_exactly_one_wins_in_1000_trials() {
                let (s, _guard) = $make;
                super::of_two_threads_racing_a_cas_exactly_one_wins_in_1000_trials(s);
            }

            #[tokio::test]
            async fn flush_resolves_after_writes() {
                let (s, _guard) = $make;
                super::flush_resolves_after_writes(&*s).await;
            }
        }
    };
    (@sync $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let (s, _guard) = $make;
                super::$case(&*s);
            }
        )*
    };
}

fn memory() -> (Arc<dyn Store>, ()) {
    (Arc::new(MemoryStore::new()), ())
}

fn sled() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    (Arc::new(store), dir)
}

contract_suite!(memory_store, memory());
contract_suite!(sled_store, sled());
