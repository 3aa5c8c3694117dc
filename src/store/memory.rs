//! In-memory [`Store`]: the fake used by unit tests and ephemeral setups.
//!
//! One mutex guards every tree, which makes compare-and-swap trivially atomic. Scans take a
//! snapshot of the matching range, so iterating never holds the lock (a caller may write while
//! it scans, as rotation does). Nothing survives the process; `flush` is a no-op.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{check_tree, BoxFuture, ScanIter, Store, StoreError};

type Trees = HashMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A [`Store`] that keeps everything in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    trees: Mutex<Trees>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Trees> {
        // A panic while holding the lock cannot leave a tree half-written (every mutation is a
        // single map operation), so a poisoned lock is still consistent.
        self.trees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        check_tree(tree)?;
        Ok(self.lock().get(tree).and_then(|t| t.get(key).cloned()))
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        check_tree(tree)?;
        self.lock()
            .entry(tree.to_owned())
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        check_tree(tree)?;
        Ok(self.lock().get_mut(tree).and_then(|t| t.remove(key)))
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        check_tree(tree)?;
        let mut trees = self.lock();
        let t = trees.entry(tree.to_owned()).or_default();
        if t.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match new {
            Some(v) => {
                t.insert(key.to_vec(), v.to_vec());
            }
            None => {
                t.remove(key);
            }
        }
        Ok(true)
    }

    fn scan_prefix<'a>(&'a self, tree: &str, prefix: &[u8]) -> ScanIter<'a> {
        if let Err(e) = check_tree(tree) {
            return Box::new(std::iter::once(Err(e)));
        }
        let snapshot: Vec<(Vec<u8>, Vec<u8>)> = self
            .lock()
            .get(tree)
            .map(|t| {
                t.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Box::new(snapshot.into_iter().map(Ok))
    }

    fn len(&self, tree: &str) -> Result<usize, StoreError> {
        check_tree(tree)?;
        Ok(self.lock().get(tree).map_or(0, BTreeMap::len))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}
