//! API keys: how callers authenticate to the broker (`Authorization: Bearer ibk_…`).
//!
//! Only a keyed hash (HMAC-SHA256 under the vault's per-install secret) and a display prefix are
//! stored; the key itself is shown once. All records are loaded into memory at start so that
//! authentication is a hash-map lookup on the request path; every write goes to the store with
//! a durable flush first, and revocation removes the key from memory before it returns, so it
//! takes effect at once (SECURITY.md PX-8).

pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::store::StoreError;
use crate::vault::Vault;
pub use token::PlaintextApiKey;

const TREE_KEYS: &str = "api_keys";
const TREE_BY_HASH: &str = "api_key_hashes";
const TREE_META: &str = "meta";
const BOOTSTRAPPED: &[u8] = b"admin_key_bootstrapped";
const HASH_PURPOSE: &str = "api-key";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Manage connections and API keys.
    Admin,
    /// Issue links, proxy SQL, run tools and endpoints.
    Service,
}

/// A stored key's metadata (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyRecord {
    /// Stable id (`key_…`), used to revoke.
    pub id: String,
    /// Human label.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// What the key may do.
    pub scope: Scope,
    /// Connections the key is limited to; empty means all.
    pub connections: Vec<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Connection used when a request names none (the MCP endpoint's
    /// `X-Icebroker-Connection` header), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_connection: Option<String>,
    /// End-user identifier used when a request names none (`X-Icebroker-Identifier`), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_identifier: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    hash: [u8; 32],
}

/// Optional per-key defaults for requests that do not name a connection or identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyDefaults {
    /// Default connection (a slug; must be one of the key's connections when it is limited).
    pub connection: Option<String>,
    /// Default end-user identifier (1-256 bytes, no control characters).
    pub identifier: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredRecord {
    id: String,
    name: String,
    prefix: String,
    scope: Scope,
    connections: Vec<String>,
    created_at: u64,
    hash: String,
    // Absent in records written before per-key defaults existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_identifier: Option<String>,
}

impl ApiKeyRecord {
    /// Whether this key may act on `connection`.
    pub fn allows_connection(&self, connection: &str) -> bool {
        self.connections.is_empty() || self.connections.iter().any(|c| c == connection)
    }
}

/// Failures of key management.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// Input rejected; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No key with that id.
    #[error("no API key with id {0}")]
    NotFound(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A stored record is unreadable.
    #[error("corrupt API key record: {0}")]
    Corrupt(String),
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(#[from] getrandom::Error),
}

/// Why a presented key was not accepted (all map to 401 without saying which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Not `ibk_…` or the checksum is wrong (rejected without a lookup).
    Malformed,
    /// Well-formed but unknown or revoked.
    Unknown,
}

/// The key registry.
pub struct ApiKeyService {
    vault: Vault,
    by_hash: RwLock<HashMap<[u8; 32], Arc<ApiKeyRecord>>>,
}

impl ApiKeyService {
    /// Loads every stored key into memory.
    pub fn load(vault: Vault) -> Result<Self, ApiKeyError> {
        let mut by_hash = HashMap::new();
        for item in vault.store().scan_prefix(TREE_KEYS, b"") {
            let (_, value) = item?;
            let record = decode(&value)?;
            by_hash.insert(record.hash, Arc::new(record));
        }
        Ok(Self {
            vault,
            by_hash: RwLock::new(by_hash),
        })
    }

    /// Creates a key; returns its record and the key text (to show once).
    pub async fn create(
        &self,
        name: &str,
        scope: Scope,
        connections: Vec<String>,
    ) -> Result<(ApiKeyRecord, PlaintextApiKey), ApiKeyError> {
        self.create_with_defaults(name, scope, connections, KeyDefaults::default())
            .await
    }

    /// [`ApiKeyService::create`] with a default connection and/or identifier.
    pub async fn create_with_defaults(
        &self,
        name: &str,
        scope: Scope,
        connections: Vec<String>,
        defaults: KeyDefaults,
    ) -> Result<(ApiKeyRecord, PlaintextApiKey), ApiKeyError> {
        let key = PlaintextApiKey::generate()?;
        let record = self
            .insert(name, scope, connections, defaults, key.expose())
            .await?;
        Ok((record, key))
    }

    /// Installs a caller-chosen key text (the `ICEBROKER_ADMIN_KEY` bootstrap).
    async fn insert(
        &self,
        name: &str,
        scope: Scope,
        connections: Vec<String>,
        defaults: KeyDefaults,
        key: &str,
    ) -> Result<ApiKeyRecord, ApiKeyError> {
        validate_name(name)?;
        for connection in &connections {
            validate_connection_name(connection)?;
        }
        validate_defaults(&defaults, &connections)?;
        let mut id_bytes = [0u8; 8];
        getrandom::fill(&mut id_bytes)?;
        let record = ApiKeyRecord {
            id: format!("key_{}", hex::encode(id_bytes)),
            name: name.to_owned(),
            prefix: token::display_prefix(key),
            scope,
            connections,
            created_at: now_secs(),
            default_connection: defaults.connection,
            default_identifier: defaults.identifier,
            hash: self.hash(key),
        };
        let store = self.vault.store();
        store.put(TREE_KEYS, record.id.as_bytes(), &encode(&record)?)?;
        store.put(TREE_BY_HASH, &record.hash, record.id.as_bytes())?;
        store.flush().await?;
        self.write_cache()
            .insert(record.hash, Arc::new(record.clone()));
        tracing::info!(key_id = %record.id, scope = ?record.scope, "api key created");
        Ok(record)
    }

    /// All keys, oldest first.
    pub fn list(&self) -> Vec<ApiKeyRecord> {
        let mut all: Vec<ApiKeyRecord> = self
            .read_cache()
            .values()
            .map(|r| ApiKeyRecord::clone(r))
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    /// Revokes a key: it stops authenticating before this returns.
    pub async fn revoke(&self, id: &str) -> Result<ApiKeyRecord, ApiKeyError> {
        let store = self.vault.store();
        let value = store
            .get(TREE_KEYS, id.as_bytes())?
            .ok_or_else(|| ApiKeyError::NotFound(id.to_owned()))?;
        let record = decode(&value)?;
        self.write_cache().remove(&record.hash);
        store.delete(TREE_BY_HASH, &record.hash)?;
        store.delete(TREE_KEYS, id.as_bytes())?;
        store.flush().await?;
        tracing::info!(key_id = %record.id, "api key revoked");
        Ok(record)
    }

    /// Checks a presented key. Malformed keys never reach the lookup.
    pub fn authenticate(&self, presented: &str) -> Result<Arc<ApiKeyRecord>, AuthFailure> {
        token::validate(presented).map_err(|_| AuthFailure::Malformed)?;
        let hash = self.hash(presented);
        let cache = self.read_cache();
        match cache.get(&hash) {
            // The map lookup already matched the hash; the constant-time compare keeps the
            // final equality check free of early exits (defence in depth).
            Some(record) if bool::from(record.hash.ct_eq(&hash)) => Ok(Arc::clone(record)),
            _ => Err(AuthFailure::Unknown),
        }
    }

    /// On the very first start, installs one admin key: the configured one, or a generated one
    /// that is returned so the caller can print it exactly once. Later starts return `None`.
    pub async fn bootstrap(
        &self,
        configured: Option<&str>,
    ) -> Result<Option<Bootstrap>, ApiKeyError> {
        let store = self.vault.store();
        if store.get(TREE_META, BOOTSTRAPPED)?.is_some() {
            return Ok(None);
        }
        let outcome = match configured {
            Some(key) => {
                token::validate(key).map_err(|e| {
                    ApiKeyError::Invalid(format!(
                        "ICEBROKER_ADMIN_KEY: {e}; create a well-formed key with `icebroker api-key generate`"
                    ))
                })?;
                let hash = self.hash(key);
                if !self.read_cache().contains_key(&hash) {
                    self.insert(
                        "bootstrap admin",
                        Scope::Admin,
                        Vec::new(),
                        KeyDefaults::default(),
                        key,
                    )
                    .await?;
                }
                Bootstrap::Configured
            }
            None if !self.read_cache().is_empty() => Bootstrap::Configured,
            None => {
                let (_, key) = self
                    .create("bootstrap admin", Scope::Admin, Vec::new())
                    .await?;
                Bootstrap::Generated(key)
            }
        };
        store.put(TREE_META, BOOTSTRAPPED, &now_secs().to_be_bytes())?;
        store.flush().await?;
        Ok(Some(outcome))
    }

    fn hash(&self, key: &str) -> [u8; 32] {
        self.vault.keyed_hash(HASH_PURPOSE, key.as_bytes())
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 32], Arc<ApiKeyRecord>>> {
        self.by_hash
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 32], Arc<ApiKeyRecord>>> {
        self.by_hash
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the first start did about the admin key.
#[derive(Debug)]
pub enum Bootstrap {
    /// A key was generated; print it once.
    Generated(PlaintextApiKey),
    /// The configured `ICEBROKER_ADMIN_KEY` is installed (or keys already existed).
    Configured,
}

fn validate_name(name: &str) -> Result<(), ApiKeyError> {
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ApiKeyError::Invalid(
            "name must be 1-100 printable characters".into(),
        ));
    }
    Ok(())
}

fn validate_defaults(defaults: &KeyDefaults, connections: &[String]) -> Result<(), ApiKeyError> {
    if let Some(connection) = &defaults.connection {
        validate_connection_name(connection)?;
        if !connections.is_empty() && !connections.contains(connection) {
            return Err(ApiKeyError::Invalid(format!(
                "default_connection {connection:?} is not one of the key's connections"
            )));
        }
    }
    if let Some(identifier) = &defaults.identifier {
        // The same rule as identifiers in links and account routes (SS-3).
        if identifier.is_empty()
            || identifier.len() > crate::vault::MAX_COMPONENT_LEN
            || identifier.chars().any(char::is_control)
        {
            return Err(ApiKeyError::Invalid(
                "default_identifier must be 1-256 bytes of UTF-8 without control characters"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// Connection names are slugs: lower-case letters, digits and `-`/`_`, 1-63 characters,
/// starting with a letter or digit.
pub fn validate_connection_name(name: &str) -> Result<(), ApiKeyError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ApiKeyError::Invalid(format!(
            "connection name {name:?} is not a slug (a-z, 0-9, '-', '_', at most 63 characters)"
        )))
    }
}

fn encode(record: &ApiKeyRecord) -> Result<Vec<u8>, ApiKeyError> {
    let stored = StoredRecord {
        id: record.id.clone(),
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        scope: record.scope,
        connections: record.connections.clone(),
        created_at: record.created_at,
        hash: hex::encode(record.hash),
        default_connection: record.default_connection.clone(),
        default_identifier: record.default_identifier.clone(),
    };
    serde_json::to_vec(&stored).map_err(|e| ApiKeyError::Corrupt(e.to_string()))
}

fn decode(bytes: &[u8]) -> Result<ApiKeyRecord, ApiKeyError> {
    let stored: StoredRecord =
        serde_json::from_slice(bytes).map_err(|e| ApiKeyError::Corrupt(e.to_string()))?;
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&stored.hash, &mut hash)
        .map_err(|e| ApiKeyError::Corrupt(e.to_string()))?;
    Ok(ApiKeyRecord {
        id: stored.id,
        name: stored.name,
        prefix: stored.prefix,
        scope: stored.scope,
        connections: stored.connections,
        created_at: stored.created_at,
        default_connection: stored.default_connection,
        default_identifier: stored.default_identifier,
        hash,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
