//! The sealed keyring file `<data_dir>/keyring.v1` and its crash-safe writes.
//!
//! Format: `MAGIC (18) | nonce (12) | AES-256-GCM(kek, keyring plaintext, aad = MAGIC) | tag`.
//! The KEK is HMAC-SHA256(master key, "icebroker/v1 keyring-kek"), so the raw master key never
//! encrypts anything itself.
//!
//! Invariants:
//! - reading never writes: a wrong master key is detected here, before the sled database is
//!   opened, and leaves the data dir byte-for-byte unchanged (SS-6);
//! - every write is temp file (mode 0600) → `fsync` → rename/link → `fsync` of the directory,
//!   so a crash leaves either the old or the new keyring, never a torn one;
//! - creation uses `link`, which fails if a keyring already exists, so two racing first starts
//!   can never replace a keyring that another key opened.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::secret::{random_bytes, MasterKey};
use super::VaultError;

/// File name of the sealed keyring inside the data dir.
pub const KEYRING_FILE: &str = "keyring.v1";
/// Sub-directory of the data dir that holds the sled database.
pub const DB_DIR: &str = "db";

const MAGIC: &[u8; 18] = b"icebroker-keyring1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Derives the keyring KEK from the master key (domain-separated, so the master key could later
/// protect other things without key reuse).
pub(crate) fn derive_kek(master: &MasterKey) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master.expose())
        .map_err(|_| VaultError::Random("HMAC key setup failed".to_owned()))?;
    mac.update(b"icebroker/v1 keyring-kek");
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

fn cipher(kek: &[u8; 32]) -> Result<Aes256Gcm, VaultError> {
    Aes256Gcm::new_from_slice(kek).map_err(|_| VaultError::Random("bad KEK length".to_owned()))
}

/// Seals the keyring plaintext under `kek`.
pub(crate) fn seal_keyring(kek: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher(kek)?
        .encrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(nonce),
            MAGIC,
            out[start..].as_mut().into(),
        )
        .map_err(|_| VaultError::Random("keyring encryption failed".to_owned()))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed keyring. A bad header is [`VaultError::KeyringCorrupt`]; a failed tag is
/// [`VaultError::WrongMasterKey`] (AES-GCM cannot tell a wrong key from a damaged file, and a
/// wrong key is by far the likelier cause).
pub(crate) fn open_keyring(
    path: &Path,
    kek: &[u8; 32],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let corrupt = |reason: &str| VaultError::KeyringCorrupt {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let rest = sealed
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("not an icebroker keyring (bad magic)"))?;
    let (nonce, rest) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or_else(|| corrupt("truncated"))?;
    let (ct, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or_else(|| corrupt("truncated"))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher(kek)?
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(*nonce),
            MAGIC,
            buf.as_mut_slice().into(),
            &Tag::from(*tag),
        )
        .map_err(|_| VaultError::WrongMasterKey {
            path: path.display().to_string(),
        })?;
    Ok(buf)
}

/// Reads the keyring file; `Ok(None)` if it does not exist. Never writes.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, VaultError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path, e)),
    }
}

/// Whether `data_dir` already holds a database (so a missing keyring is an error, not a reason
/// to create one, ST-5).
pub(crate) fn has_database(data_dir: &Path) -> Result<bool, VaultError> {
    let db = data_dir.join(DB_DIR);
    match fs::read_dir(&db) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("inspect", &db, e)),
    }
}

/// Creates the data dir (mode 0700) if missing.
pub(crate) fn ensure_data_dir(data_dir: &Path) -> Result<(), VaultError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(data_dir)
        .map_err(|e| io_err("create", data_dir, e))
}

/// Atomically writes `bytes` to `path`. With `create_only`, fails with
/// [`VaultError::KeyringExists`] if `path` already exists (uses `link`, which never replaces).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], create_only: bool) -> Result<(), VaultError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path)?;
    let result = write_then_publish(&tmp, path, bytes, create_only);
    // Best effort: the temp file is gone after a rename; after a link or a failure remove it.
    let _ = fs::remove_file(&tmp);
    result?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory of", path, e))
}

fn write_then_publish(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    create_only: bool,
) -> Result<(), VaultError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(tmp).map_err(|e| io_err("create", tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err("write", tmp, e))?;
    f.sync_all().map_err(|e| io_err("fsync", tmp, e))?;
    drop(f);
    if create_only {
        fs::hard_link(tmp, path).map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                VaultError::KeyringExists {
                    path: path.display().to_string(),
                }
            } else {
                io_err("link", path, e)
            }
        })
    } else {
        fs::rename(tmp, path).map_err(|e| io_err("rename", path, e))
    }
}

fn temp_path(path: &Path) -> Result<PathBuf, VaultError> {
    let mut suffix = [0u8; 8];
    random_bytes(&mut suffix)?;
    let name = format!(".{KEYRING_FILE}.{}.tmp", hex::encode(suffix));
    Ok(path.with_file_name(name))
}

fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> VaultError {
    VaultError::Io {
        op,
        path: path.display().to_string(),
        source: e,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn a_sealed_keyring_opens_with_its_kek_only() {
        let kek = derive_kek(&MasterKey::from_bytes(&[1; 32]).unwrap()).unwrap();
        let other = derive_kek(&MasterKey::from_bytes(&[2; 32]).unwrap()).unwrap();
        let sealed = seal_keyring(&kek, b"ring").unwrap();
        let p = Path::new("k");
        assert_eq!(open_keyring(p, &kek, &sealed).unwrap().as_slice(), b"ring");
        assert!(matches!(
            open_keyring(p, &other, &sealed),
            Err(VaultError::WrongMasterKey { .. })
        ));
        for len in 0..MAGIC.len() + NONCE_LEN + TAG_LEN {
            assert!(open_keyring(p, &kek, &sealed[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn create_only_never_replaces_an_existing_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        write_atomic(&path, b"first", true).unwrap();
        let err = write_atomic(&path, b"second", true).unwrap_err();
        assert!(matches!(err, VaultError::KeyringExists { .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_atomic(&path, b"third", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"third");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(KEYRING_FILE)],
            "temp files left behind"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_keyring_file_is_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        write_atomic(&path, b"x", true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
