//! The sealed vault: every secret at rest (OAuth client secrets, access/refresh tokens, RSA
//! private keys) is sealed here before it reaches the [`crate::store::Store`] (SECURITY.md §2).
//!
//! # Key hierarchy
//! master key (KEK, 32 bytes, from the operator) → seals the **keyring** file
//! `<data_dir>/keyring.v1` → which holds the data keys (DEKs, `u32` ids, one active), the per-install
//! HMAC secret behind [`Vault::keyed_hash`], and per-DEK seal counters. Each value is sealed with
//! the active DEK in the [`envelope`] format `version | key_id | nonce | ciphertext+tag`, with AAD
//! binding it to its [`Slot`], and stored in tree [`SEALED_TREE`] under the slot's canonical key.
//!
//! # Startup order (fail closed, SS-6)
//! Opening a sled 0.34 database rewrites files in its directory even when nothing is inserted
//! (test `opening_sled_modifies_files_in_its_directory`). The master key is therefore verified
//! against the keyring file **before** sled is opened:
//!
//! 1. `let ring = Keyring::load_or_create(data_dir, &master)?;` — reads only; a wrong key is
//!    [`VaultError::WrongMasterKey`] and nothing on disk changed. A brand-new dir (no keyring, no
//!    `db/`) gets a new keyring; `db/` without a keyring is [`VaultError::MissingKeyring`].
//! 2. `let store = SledStore::open(&data_dir.join(DB_DIR))?;` — [`StoreError::Locked`] if a
//!    running icebroker holds it.
//! 3. `let vault = Vault::with_keyring(Arc::new(store), ring).await?;` — checks the database
//!    belongs to this keyring (install id in tree [`META_TREE`]).
//!
//! [`Vault::open`] does exactly these three steps. Only the process that holds the sled lock
//! writes the keyring afterwards (seal reservations, rotation, rekey).
//!
//! # Durability
//! [`Vault::put`], [`Vault::put_if_version`] and [`Vault::delete`] return only after the store's
//! durable flush. Rotation flushes re-sealed records before it retires a key.
//!
//! [`StoreError::Locked`]: crate::store::StoreError::Locked

#![warn(missing_docs)]

pub mod envelope;
mod keyfile;
mod keyring;
mod rotate;
mod secret;
mod service;
mod slot;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
pub(crate) mod test_support;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod tests;

pub use self::keyfile::{DB_DIR, KEYRING_FILE};
pub use self::keyring::{Keyring, SEAL_HARD_LIMIT, SEAL_RESERVATION, SEAL_WARN_LIMIT};
pub use self::rotate::RotationReport;
pub use self::secret::{MasterKey, SecretBytes, MASTER_KEY_LEN};
pub use self::service::{KeyStatus, Vault, VaultStatus, Version, META_TREE, SEALED_TREE};
pub use self::slot::{Slot, MAX_COMPONENT_LEN};

use crate::store::StoreError;

/// Errors of the vault. Messages never contain secrets or plaintexts.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master key does not open the keyring.
    #[error(
        "the master key does not open the vault keyring at {path} (wrong key, or a damaged \
         keyring file); start with the master key this data dir was created with \
         (ICEBROKER_MASTER_KEY or ICEBROKER_MASTER_KEY_FILE); nothing was changed on disk"
    )]
    WrongMasterKey {
        /// Keyring file.
        path: String,
    },
    /// The master key is malformed (length, encoding).
    #[error("invalid master key: {reason}; it must be 32 random bytes, base64-encoded")]
    InvalidMasterKey {
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// A database exists but its keyring does not.
    #[error(
        "the vault keyring {path} is missing but a database exists at {db}; restore the keyring \
         from backup (without it the sealed data cannot be opened); refusing to create a new one"
    )]
    MissingKeyring {
        /// Expected keyring file.
        path: String,
        /// The existing database directory.
        db: String,
    },
    /// The keyring file is structurally damaged.
    #[error("the vault keyring {path} is corrupt ({reason}); restore it from backup")]
    KeyringCorrupt {
        /// Keyring file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Creating a keyring raced with another process that created one first.
    #[error("a vault keyring already exists at {path}; another icebroker created it concurrently")]
    KeyringExists {
        /// Keyring file.
        path: String,
    },
    /// The database was sealed under a different keyring.
    #[error(
        "the database does not belong to this vault keyring ({reason}); check the data dir and \
         restore the matching keyring.v1"
    )]
    KeyringMismatch {
        /// What did not match.
        reason: &'static str,
    },
    /// A slot component failed validation.
    #[error("invalid vault slot: {reason}")]
    InvalidSlot {
        /// What is wrong.
        reason: String,
    },
    /// A sealed value is structurally invalid (too short, unknown version).
    #[error("sealed value is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// Authentication failed: tampered, moved or swapped ciphertext. Never serve such a value.
    #[error("sealed value failed its integrity check")]
    Integrity,
    /// The envelope names a data key that is not in the keyring.
    #[error("sealed value names data key {0}, which is not in the keyring")]
    UnknownKeyId(u32),
    /// The active data key reached its seal limit (SS-4).
    #[error(
        "data key {key_id} reached its seal limit ({SEAL_HARD_LIMIT}); run \
         `icebroker vault rotate-key` to activate a new key"
    )]
    KeyExhausted {
        /// The exhausted key.
        key_id: u32,
    },
    /// The OS random number generator failed (or another crypto setup error).
    #[error("cryptographic setup failed: {0}")]
    Random(String),
    /// A file-system operation on the keyring failed.
    #[error("could not {op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
