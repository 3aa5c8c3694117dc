//! [`Store`] on sled 0.34.7, the last stable sled line (sled 1.0 alpha is banned, ST-4).
//!
//! sled acknowledges writes before they reach disk and flushes in the background every 500 ms, so
//! durability comes only from [`Store::flush`] (`flush_async`), which callers await before they
//! acknowledge a credential write. sled holds an exclusive `flock` on its `db` file: a second
//! process (or a second open in this process) gets [`StoreError::Locked`].
//!
//! Opening a sled database writes to its directory even when nothing is inserted (see the test
//! `opening_sled_modifies_files_in_its_directory`); that is why the vault verifies the master key
//! against its keyring file *before* a `SledStore` is opened (SS-6).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{check_tree, BoxFuture, ScanIter, Store, StoreError};

/// How long [`SledStore::open`] waits for a held database lock to be released.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);

/// A [`Store`] backed by a sled 0.34 database in one directory.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SledStore {
    /// Opens (creating if needed) the sled database in `dir`.
    ///
    /// Fails with [`StoreError::Locked`] when another process holds the database, and with
    /// [`StoreError::Corrupt`] when sled reports corruption; it never recreates a database.
    ///
    /// A lock held by this very process is released only once sled's background I/O threads
    /// finish after the previous handle is dropped, so a restart within one process (tests,
    /// `rekey` then reopen) may briefly see the old lock: `open` retries a lock conflict for up
    /// to [`LOCK_WAIT`] before reporting it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match Self::try_open(dir) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn try_open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|e| map_open_error(dir, e))?;
        Ok(Self {
            db,
            path: dir.to_path_buf(),
        })
    }

    /// Directory of this database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tree(&self, tree: &str) -> Result<sled::Tree, StoreError> {
        check_tree(tree)?;
        self.db
            .open_tree(tree)
            .map_err(|e| self.err("open_tree", e))
    }

    fn err(&self, op: &'static str, e: sled::Error) -> StoreError {
        match e {
            sled::Error::Corruption { .. } => StoreError::Corrupt {
                path: self.path.display().to_string(),
                detail: e.to_string(),
            },
            other => StoreError::Backend {
                op,
                detail: other.to_string(),
            },
        }
    }
}

fn map_open_error(dir: &Path, e: sled::Error) -> StoreError {
    let path = dir.display().to_string();
    match e {
        // sled reports a held flock only through this message (config.rs `try_lock`).
        sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked { path }
        }
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        other => StoreError::Backend {
            op: "open",
            detail: format!("{path}: {other}"),
        },
    }
}

impl Store for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.tree(tree)?;
        let v = t.get(key).map_err(|e| self.err("get", e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let t = self.tree(tree)?;
        t.insert(key, value).map_err(|e| self.err("put", e))?;
        Ok(())
    }

    fn delete(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.tree(tree)?;
        let old = t.remove(key).map_err(|e| self.err("delete", e))?;
        Ok(old.map(|v| v.to_vec()))
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let t = self.tree(tree)?;
        let outcome = t
            .compare_and_swap(key, expected, new)
            .map_err(|e| self.err("compare_and_swap", e))?;
        Ok(outcome.is_ok())
    }

    fn scan_prefix<'a>(&'a self, tree: &str, prefix: &[u8]) -> ScanIter<'a> {
        let t = match self.tree(tree) {
            Ok(t) => t,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        Box::new(t.scan_prefix(prefix).map(move |item| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(|e| self.err("scan", e))
        }))
    }

    fn len(&self, tree: &str) -> Result<usize, StoreError> {
        Ok(self.tree(tree)?.len())
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.db
                .flush_async()
                .await
                .map(|_| ())
                .map_err(|e| self.err("flush", e))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_directory_is_reported_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("locked by another process"));
    }

    #[test]
    fn opening_sled_modifies_files_in_its_directory() {
        // Evidence for the vault's startup order: an open + drop of an existing, idle sled
        // database changes its files, so the master key must be verified before sled is opened.
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.put("t", b"k", b"v").unwrap();
            s.db.flush().unwrap();
        }
        let before = crate::vault::test_support::hash_dir(dir.path());
        drop(SledStore::open(dir.path()).unwrap());
        let after = crate::vault::test_support::hash_dir(dir.path());
        let changed: Vec<_> = after
            .iter()
            .filter(|(path, hash)| before.get(*path) != Some(*hash))
            .map(|(path, _)| path.display().to_string())
            .collect();
        eprintln!("files changed by an idle sled open+drop: {changed:?}");
        assert!(
            !changed.is_empty(),
            "sled 0.34 open+drop left the directory unchanged"
        );
    }
}
