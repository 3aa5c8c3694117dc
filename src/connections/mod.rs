//! Connections: named routes to one Snowflake account each (DESIGN.md "Concepts"). This module
//! owns their rules; `routes::connections` is the HTTP face.

pub mod account;
pub mod host;
pub mod model;
pub mod probe;
pub mod service;
pub mod sql;

pub use model::{
    Connection, ConnectionKind, ConnectionStatus, Defaults, PublicKeyInfo, TestReport,
};
pub use service::{ConnectionService, NewKeypair};

use crate::keypair::{JwtError, KeyError};
use crate::store::StoreError;
use crate::vault::VaultError;

/// Failures of connection management.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Input rejected; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The private key given cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No such connection.
    #[error("no connection named {0:?}")]
    NotFound(String),
    /// The name is taken.
    #[error("a connection named {0:?} already exists")]
    Exists(String),
    /// Disabled by an admin.
    #[error("connection {0:?} is disabled; an admin can enable it again")]
    Disabled(String),
    /// A keypair operation on another kind of connection.
    #[error("this operation applies to keypair connections only")]
    NotKeypair,
    /// `rotate-key/complete` without a rotation in progress.
    #[error("no key rotation is in progress; start one with POST …/rotate-key")]
    NoRotation,
    /// A stored record is unreadable.
    #[error("corrupt connection record: {0}")]
    Corrupt(String),
    /// Vault failure.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failure.
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// Anything else internal.
    #[error("{0}")]
    Internal(String),
}
