//! Authorization links (OA-9) and the one-time flow state behind them (OA-1, OA-2).
//!
//! Invariants:
//! - a link token is `sfb_link_` + 32 CSPRNG bytes; only `keyed_hash(token)` is stored (tree
//!   `oauth_links`), bound to the API key, connection and identifier that asked for it; taking it
//!   is one atomic remove, so it works once; it lives at most 30 minutes;
//! - a flow state is 32 CSPRNG bytes; its record (connection, identifier, PKCE verifier, hash of
//!   the browser-binding cookie, return URL) is **sealed** in the vault under the state's keyed
//!   hash, and taken with an atomic compare-and-swap delete, so it is used once whatever the
//!   callback's outcome; it lives 10 minutes.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::secrets::{random_token, LINK_PREFIX};
use super::OAuthError;
use crate::vault::{Slot, Vault, SEALED_TREE};

const LINK_TREE: &str = "oauth_links";
const STATE_KIND: &str = "oauth_state";
/// Default link lifetime (seconds).
pub const LINK_TTL_DEFAULT: u64 = 600;
/// Longest link lifetime (seconds).
pub const LINK_TTL_MAX: u64 = 1800;
/// Flow-state and browser-cookie lifetime (seconds).
pub const STATE_TTL: u64 = 600;

/// A stored link (not secret: the token itself is not in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinkRecord {
    pub connection: String,
    pub identifier: String,
    pub api_key_id: String,
    #[serde(default)]
    pub return_url: Option<String>,
    pub created_at: u64,
    pub expires_at: u64,
}

/// A stored flow state (sealed: it holds the PKCE verifier).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StateRecord {
    pub connection: String,
    pub identifier: String,
    pub api_key_id: String,
    pub verifier: String,
    pub browser_hash: String,
    #[serde(default)]
    pub return_url: Option<String>,
    pub created_at: u64,
}

impl Drop for StateRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.verifier);
    }
}

/// Storage of links and flow states.
#[derive(Clone)]
pub(crate) struct FlowStore {
    vault: Vault,
}

impl FlowStore {
    pub fn new(vault: Vault) -> Self {
        Self { vault }
    }

    fn link_key(&self, token: &str) -> [u8; 32] {
        self.vault.keyed_hash("oauth-link", token.as_bytes())
    }

    /// Keyed hash of a browser-binding cookie value, hex.
    pub fn browser_hash(&self, cookie: &str) -> String {
        hex::encode(self.vault.keyed_hash("oauth-browser", cookie.as_bytes()))
    }

    fn state_slot(&self, state: &str) -> Result<Slot, OAuthError> {
        let hash = hex::encode(self.vault.keyed_hash("oauth-state", state.as_bytes()));
        Ok(Slot::new(STATE_KIND, "", &hash, "flow")?)
    }

    /// Stores a new link; returns its token (shown once, inside the link URL).
    pub async fn put_link(&self, record: &LinkRecord) -> Result<String, OAuthError> {
        let token = format!("{LINK_PREFIX}{}", random_token().map_err(random)?);
        let bytes = serde_json::to_vec(record).map_err(|e| OAuthError::Internal(e.to_string()))?;
        let store = self.vault.store();
        store.put(LINK_TREE, &self.link_key(&token), &bytes)?;
        store.flush().await?;
        Ok(token)
    }

    /// Takes (removes) the link of `token`, if it exists. Expiry is the caller's check.
    pub async fn take_link(&self, token: &str) -> Result<Option<LinkRecord>, OAuthError> {
        if !token.starts_with(LINK_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let store = self.vault.store();
        let Some(bytes) = store.delete(LINK_TREE, &self.link_key(token))? else {
            return Ok(None);
        };
        store.flush().await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| OAuthError::Internal("corrupt link record".into()))
    }

    /// Seals a new flow state; returns the `state` value to send to Snowflake.
    pub async fn put_state(&self, record: &StateRecord) -> Result<String, OAuthError> {
        let state = random_token().map_err(random)?;
        let bytes = Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| OAuthError::Internal(e.to_string()))?,
        );
        self.vault.put(&self.state_slot(&state)?, &bytes).await?;
        Ok(state)
    }

    /// Takes the flow state of `state` (atomic: of two concurrent callbacks one gets it).
    pub async fn take_state(&self, state: &str) -> Result<Option<StateRecord>, OAuthError> {
        if state.is_empty() || state.len() > 128 {
            return Ok(None);
        }
        let slot = self.state_slot(state)?;
        let Some((version, plain)) = self.vault.get_versioned(&slot)? else {
            return Ok(None);
        };
        let store = self.vault.store();
        if !store.compare_and_swap(SEALED_TREE, &slot.store_key(), Some(&version.0), None)? {
            return Ok(None);
        }
        store.flush().await?;
        serde_json::from_slice(plain.expose())
            .map(Some)
            .map_err(|_| OAuthError::Internal("corrupt flow state".into()))
    }
}

/// What one [`FlowStore::sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Links past their expiry that were never opened.
    pub links: usize,
    /// Flow states older than [`STATE_TTL`] whose callback never came.
    pub states: usize,
}

impl FlowStore {
    /// Removes links and flow states that can no longer be used (expired at `now`): links
    /// nobody opened and flows nobody finished would otherwise stay in the store for ever.
    /// Each removal is a compare-and-swap on the value read, so one being taken at the same
    /// moment is never removed under its taker.
    pub async fn sweep(&self, now: u64) -> Result<Swept, OAuthError> {
        let store = self.vault.store();
        let mut swept = Swept::default();
        for item in store.scan_prefix(LINK_TREE, b"") {
            let (key, bytes) = item?;
            let expired = serde_json::from_slice::<LinkRecord>(&bytes)
                .map_or(true, |link| link.expires_at <= now);
            if expired && store.compare_and_swap(LINK_TREE, &key, Some(&bytes), None)? {
                swept.links += 1;
            }
        }
        let mut stale = Vec::new();
        for item in self.vault.scan(STATE_KIND, None) {
            let (slot, plain) = item?;
            let expired = serde_json::from_slice::<StateRecord>(plain.expose())
                .map_or(true, |state| state.created_at + STATE_TTL <= now);
            if expired {
                stale.push(slot);
            }
        }
        for slot in stale {
            let Some((version, _)) = self.vault.get_versioned(&slot)? else {
                continue;
            };
            if store.compare_and_swap(SEALED_TREE, &slot.store_key(), Some(&version.0), None)? {
                swept.states += 1;
            }
        }
        if swept != Swept::default() {
            store.flush().await?;
        }
        Ok(swept)
    }
}

fn random(e: getrandom::Error) -> OAuthError {
    OAuthError::Internal(format!("random source: {e}"))
}
