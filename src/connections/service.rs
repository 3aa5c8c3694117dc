//! The connection registry: create, read, change and delete connections, and keep keypair
//! connections' private keys sealed in the vault. All connections are cached in memory (there
//! are few, and the request path reads them on every call); writes go to the store with a
//! durable flush before the cache changes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use super::model::{
    Connection, ConnectionKind, ConnectionStatus, Defaults, KeypairState, PublicKeyInfo, TestReport,
};
use super::{account, host, sql, ConnectionError};
use crate::api_keys::validate_connection_name;
use crate::clock::Clock;
use crate::keypair::{Identity, JwtCache, JwtError, KeyMaterial, SignedJwt};
use crate::vault::{Slot, Vault};

const TREE: &str = "connections";
const KEY_KIND: &str = "keypair";
const ACTIVE_FIELD: &str = "rsa_private_key";
const NEXT_FIELD: &str = "rsa_private_key_next";

/// Input for a new keypair connection.
#[derive(Debug, Default)]
pub struct NewKeypair {
    /// Slug.
    pub name: String,
    /// Account as the admin pasted it.
    pub account: String,
    /// Optional host or URL override.
    pub host: Option<String>,
    /// LOGIN_NAME.
    pub user: String,
    /// Session defaults.
    pub defaults: Defaults,
    /// PEM to import instead of generating.
    pub private_key_pem: Option<Zeroizing<String>>,
    /// Passphrase of an encrypted PKCS#8 PEM.
    pub private_key_passphrase: Option<Zeroizing<String>>,
}

/// The registry.
pub struct ConnectionService {
    vault: Vault,
    jwt: JwtCache,
    clock: Arc<dyn Clock>,
    allow_loopback: bool,
    cache: RwLock<BTreeMap<String, Arc<Connection>>>,
}

impl ConnectionService {
    /// Loads every connection into memory.
    pub fn load(
        vault: Vault,
        clock: Arc<dyn Clock>,
        allow_loopback: bool,
    ) -> Result<Self, ConnectionError> {
        let mut cache = BTreeMap::new();
        for item in vault.store().scan_prefix(TREE, b"") {
            let (_, value) = item?;
            let connection: Connection = serde_json::from_slice(&value)
                .map_err(|e| ConnectionError::Corrupt(e.to_string()))?;
            cache.insert(connection.name.clone(), Arc::new(connection));
        }
        Ok(Self {
            jwt: JwtCache::new(clock.clone()),
            vault,
            clock,
            allow_loopback,
            cache: RwLock::new(cache),
        })
    }

    /// All connections, by name.
    pub fn list(&self) -> Vec<Arc<Connection>> {
        self.read().values().cloned().collect()
    }

    /// One connection.
    pub fn get(&self, name: &str) -> Result<Arc<Connection>, ConnectionError> {
        self.read()
            .get(name)
            .cloned()
            .ok_or_else(|| ConnectionError::NotFound(name.to_owned()))
    }

    /// A connection that may be used now (exists and is not disabled).
    pub fn usable(&self, name: &str) -> Result<Arc<Connection>, ConnectionError> {
        let connection = self.get(name)?;
        if connection.is_disabled() {
            return Err(ConnectionError::Disabled(name.to_owned()));
        }
        Ok(connection)
    }

    /// JWT signatures made since start (for metrics and tests).
    pub fn signatures(&self) -> u64 {
        self.jwt.signatures()
    }

    /// Creates a keypair connection: imports or generates the key, seals it, stores the record.
    pub async fn create_keypair(
        &self,
        input: NewKeypair,
    ) -> Result<Arc<Connection>, ConnectionError> {
        validate_connection_name(&input.name)
            .map_err(|e| ConnectionError::Invalid(e.to_string()))?;
        let account =
            account::parse(&input.account).map_err(|e| ConnectionError::Invalid(e.to_string()))?;
        let base_url = match &input.host {
            Some(h) => host::base_url(h, self.allow_loopback),
            None => host::base_url(&account.host, false),
        }
        .map_err(|e| ConnectionError::Invalid(e.to_string()))?;
        validate_user(&input.user)?;
        validate_defaults(&input.defaults)?;
        if self.read().contains_key(&input.name) {
            return Err(ConnectionError::Exists(input.name));
        }
        let pem = input.private_key_pem;
        let passphrase = input.private_key_passphrase;
        let material = tokio::task::spawn_blocking(move || match pem {
            Some(pem) => KeyMaterial::from_pem(&pem, passphrase.as_deref().map(|p| p.as_str())),
            None => KeyMaterial::generate(),
        })
        .await
        .map_err(|e| ConnectionError::Internal(e.to_string()))??;
        let now = self.clock.now();
        let connection = Connection {
            name: input.name.clone(),
            kind: ConnectionKind::Keypair,
            account: input.account.trim().to_owned(),
            account_claim: account.claim,
            base_url,
            defaults: input.defaults,
            status: ConnectionStatus::PendingEnrollment,
            keypair: Some(KeypairState {
                user: input.user.trim().to_owned(),
                active: PublicKeyInfo {
                    public_key: material.public_key_b64.clone(),
                    fingerprint: material.fingerprint.clone(),
                    slot: 1,
                },
                next: None,
            }),
            oauth: None,
            last_test: None,
            status_before_disable: None,
            created_at: now,
            updated_at: now,
        };
        self.vault
            .put(
                &key_slot(&connection.name, ACTIVE_FIELD)?,
                material.pkcs8_der(),
            )
            .await?;
        self.save(connection).await
    }

    /// Changes session defaults (fields given replace; empty strings clear).
    pub async fn patch_defaults(
        &self,
        name: &str,
        patch: Defaults,
    ) -> Result<Arc<Connection>, ConnectionError> {
        validate_defaults(&patch)?;
        let mut connection = Connection::clone(&*self.get(name)?);
        let merge = |field: &mut Option<String>, value: Option<String>| {
            if let Some(value) = value {
                *field = if value.is_empty() { None } else { Some(value) };
            }
        };
        merge(&mut connection.defaults.role, patch.role);
        merge(&mut connection.defaults.warehouse, patch.warehouse);
        merge(&mut connection.defaults.database, patch.database);
        merge(&mut connection.defaults.schema, patch.schema);
        self.save(connection).await
    }

    /// Stores a new connection built elsewhere (OAuth connections are built by `crate::oauth`,
    /// which seals their client secret first). Name and defaults are validated here too.
    pub async fn insert(&self, connection: Connection) -> Result<Arc<Connection>, ConnectionError> {
        validate_connection_name(&connection.name)
            .map_err(|e| ConnectionError::Invalid(e.to_string()))?;
        validate_defaults(&connection.defaults)?;
        if self.read().contains_key(&connection.name) {
            return Err(ConnectionError::Exists(connection.name));
        }
        self.save(connection).await
    }

    /// Disables or re-enables a connection.
    pub async fn set_disabled(
        &self,
        name: &str,
        disabled: bool,
    ) -> Result<Arc<Connection>, ConnectionError> {
        let mut connection = Connection::clone(&*self.get(name)?);
        match (disabled, connection.is_disabled()) {
            (true, false) => {
                connection.status_before_disable = Some(connection.status);
                connection.status = ConnectionStatus::Disabled;
            }
            (false, true) => {
                connection.status = connection
                    .status_before_disable
                    .take()
                    .unwrap_or(ConnectionStatus::PendingEnrollment);
            }
            _ => return Ok(Arc::new(connection)),
        }
        self.save(connection).await
    }

    /// Records a test outcome and moves the status accordingly.
    pub async fn record_test(
        &self,
        name: &str,
        report: TestReport,
    ) -> Result<Arc<Connection>, ConnectionError> {
        let mut connection = Connection::clone(&*self.get(name)?);
        if !connection.is_disabled() {
            connection.status = if report.ok {
                ConnectionStatus::Connected
            } else {
                ConnectionStatus::Error
            };
        }
        connection.last_test = Some(report);
        self.save(connection).await
    }

    /// Deletes a connection and destroys its sealed keys.
    pub async fn delete(&self, name: &str) -> Result<Arc<Connection>, ConnectionError> {
        let connection = self.get(name)?;
        for field in [ACTIVE_FIELD, NEXT_FIELD] {
            self.vault.delete(&key_slot(name, field)?).await?;
        }
        self.vault.store().delete(TREE, name.as_bytes())?;
        self.vault.store().flush().await?;
        self.write().remove(name);
        self.jwt.invalidate(name);
        tracing::info!(connection = %name, "connection deleted");
        Ok(connection)
    }

    /// Starts a key rotation: a new key for the free slot; signing stays on the old key.
    pub async fn start_rotation(&self, name: &str) -> Result<Arc<Connection>, ConnectionError> {
        let mut connection = Connection::clone(&*self.get(name)?);
        let keypair = connection
            .keypair
            .as_mut()
            .ok_or(ConnectionError::NotKeypair)?;
        let material = tokio::task::spawn_blocking(KeyMaterial::generate)
            .await
            .map_err(|e| ConnectionError::Internal(e.to_string()))??;
        keypair.next = Some(PublicKeyInfo {
            public_key: material.public_key_b64.clone(),
            fingerprint: material.fingerprint.clone(),
            slot: if keypair.active.slot == 1 { 2 } else { 1 },
        });
        self.vault
            .put(&key_slot(name, NEXT_FIELD)?, material.pkcs8_der())
            .await?;
        self.save(connection).await
    }

    /// Finishes a rotation: the new key signs from now on and the old one is destroyed.
    /// Callers test the new key first (see [`Self::next_key_jwt`]).
    pub async fn finish_rotation(
        &self,
        name: &str,
    ) -> Result<(Arc<Connection>, PublicKeyInfo), ConnectionError> {
        let mut connection = Connection::clone(&*self.get(name)?);
        let keypair = connection
            .keypair
            .as_mut()
            .ok_or(ConnectionError::NotKeypair)?;
        let next = keypair.next.take().ok_or(ConnectionError::NoRotation)?;
        let retired = std::mem::replace(&mut keypair.active, next);
        let next_slot = key_slot(name, NEXT_FIELD)?;
        let sealed_next = self
            .vault
            .get(&next_slot)?
            .ok_or(ConnectionError::NoRotation)?;
        self.vault
            .put(&key_slot(name, ACTIVE_FIELD)?, sealed_next.expose())
            .await?;
        self.vault.delete(&next_slot).await?;
        let saved = self.save(connection).await?;
        self.jwt.invalidate(name);
        Ok((saved, retired))
    }

    /// A JWT for the connection's active key (cached, single-flight).
    pub async fn jwt(&self, connection: &Connection) -> Result<SignedJwt, ConnectionError> {
        let keypair = connection
            .keypair
            .as_ref()
            .ok_or(ConnectionError::NotKeypair)?;
        let vault = &self.vault;
        // Everything below runs only on a cache miss (once per ~54 minutes per connection).
        Ok(self
            .jwt
            .token(&connection.name, || {
                let slot = key_slot(&connection.name, ACTIVE_FIELD)
                    .map_err(|e| JwtError::Load(e.to_string()))?;
                let sealed = vault
                    .get(&slot)
                    .map_err(|e| JwtError::Load(e.to_string()))?
                    .ok_or_else(|| {
                        JwtError::Load("the connection's private key is missing".into())
                    })?;
                let material =
                    KeyMaterial::from_pkcs8_der(Zeroizing::new(sealed.expose().to_vec()))
                        .map_err(|e| JwtError::Load(e.to_string()))?;
                // The fingerprint comes from the key that signs, never from a connection record
                // read earlier: during a rotation the two can differ for a moment, and a JWT whose
                // `iss` names the other key would be rejected and then cached for its lifetime.
                let identity = Identity {
                    account: connection.account_claim.clone(),
                    login_name: keypair.user.clone(),
                    fingerprint: material.fingerprint.clone(),
                };
                Ok((identity, material))
            })
            .await?)
    }

    /// A one-off JWT for the key of a rotation in progress (not cached), to test it.
    pub async fn next_key_jwt(
        &self,
        connection: &Connection,
    ) -> Result<SignedJwt, ConnectionError> {
        let keypair = connection
            .keypair
            .as_ref()
            .ok_or(ConnectionError::NotKeypair)?;
        let next = keypair.next.as_ref().ok_or(ConnectionError::NoRotation)?;
        let sealed = self
            .vault
            .get(&key_slot(&connection.name, NEXT_FIELD)?)?
            .ok_or(ConnectionError::NoRotation)?;
        let material = KeyMaterial::from_pkcs8_der(Zeroizing::new(sealed.expose().to_vec()))?;
        let identity = Identity {
            account: connection.account_claim.clone(),
            login_name: keypair.user.clone(),
            fingerprint: next.fingerprint.clone(),
        };
        let once = JwtCache::new(self.clock.clone());
        Ok(once.token("rotation", || Ok((identity, material))).await?)
    }

    /// The statements an admin runs to enrol the active (or next) key.
    pub fn enrollment_sql(connection: &Connection, key: &PublicKeyInfo) -> (String, String) {
        let user = connection
            .keypair
            .as_ref()
            .map(|k| k.user.to_uppercase())
            .unwrap_or_default();
        (
            sql::set_public_key(&user, key.slot, &key.public_key),
            sql::desc_user(&user),
        )
    }

    async fn save(&self, mut connection: Connection) -> Result<Arc<Connection>, ConnectionError> {
        connection.updated_at = self.clock.now();
        let bytes = serde_json::to_vec(&connection)
            .map_err(|e| ConnectionError::Internal(e.to_string()))?;
        self.vault
            .store()
            .put(TREE, connection.name.as_bytes(), &bytes)?;
        self.vault.store().flush().await?;
        let connection = Arc::new(connection);
        self.write()
            .insert(connection.name.clone(), connection.clone());
        Ok(connection)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Connection>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Connection>>> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn key_slot(connection: &str, field: &str) -> Result<Slot, ConnectionError> {
    Ok(Slot::new(KEY_KIND, connection, "", field)?)
}

fn validate_user(user: &str) -> Result<(), ConnectionError> {
    let user = user.trim();
    if user.is_empty() || user.len() > 255 || user.chars().any(char::is_control) {
        return Err(ConnectionError::Invalid(
            "user must be the Snowflake user's LOGIN_NAME (1-255 printable characters)".into(),
        ));
    }
    Ok(())
}

fn validate_defaults(defaults: &Defaults) -> Result<(), ConnectionError> {
    for (field, value) in [
        ("role", &defaults.role),
        ("warehouse", &defaults.warehouse),
        ("database", &defaults.database),
        ("schema", &defaults.schema),
    ] {
        if let Some(value) = value {
            if value.len() > 255 || value.chars().any(char::is_control) {
                return Err(ConnectionError::Invalid(format!(
                    "{field} must be a Snowflake identifier of at most 255 printable characters"
                )));
            }
        }
    }
    if let Some(role) = &defaults.role {
        let upper = role.to_ascii_uppercase();
        if [
            "ACCOUNTADMIN",
            "SECURITYADMIN",
            "ORGADMIN",
            "GLOBALORGADMIN",
        ]
        .contains(&upper.as_str())
        {
            return Err(ConnectionError::Invalid(format!(
                "role {role} is a privileged role; give the connection a least-privilege role"
            )));
        }
    }
    Ok(())
}
