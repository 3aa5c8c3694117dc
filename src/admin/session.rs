//! The server-side session store of the admin UI (SECURITY.md PX-10).
//!
//! Invariants: a session id is 32 CSPRNG bytes handed to the browser once, in the cookie; the
//! store only keeps its SHA-256, so a memory dump or a log of the map cannot be replayed as a
//! cookie. Every login makes a new id (the old one, if any, is destroyed first: no fixation).
//! A session ends after [`IDLE_TIMEOUT_SECS`] without a request, after [`MAX_LIFETIME_SECS`]
//! in any case, at logout, and when the admin API key it was opened with is revoked (checked by
//! the extractor on every request). Each session has its own CSRF token for its forms.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A session ends after this long without a request (30 minutes).
pub const IDLE_TIMEOUT_SECS: u64 = 30 * 60;
/// A session ends this long after login whatever happens (12 hours).
pub const MAX_LIFETIME_SECS: u64 = 12 * 3600;
/// Sessions kept at most; beyond it the least recently used one is dropped.
const MAX_SESSIONS: usize = 1024;

/// What the server remembers about one logged-in browser.
#[derive(Clone)]
pub struct Session {
    /// Id of the admin API key used to log in.
    pub key_id: String,
    /// The per-session token every form must echo back.
    pub csrf_token: String,
    /// Login time (seconds since the epoch).
    pub created_at: u64,
    /// Last request (seconds since the epoch).
    pub last_seen: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("key_id", &self.key_id)
            .field("csrf_token", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

impl Session {
    /// Whether `presented` is this session's CSRF token (constant-time compare).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        tokens_equal(&self.csrf_token, presented)
    }

    fn expired(&self, now: u64) -> bool {
        now.saturating_sub(self.last_seen) >= IDLE_TIMEOUT_SECS
            || now.saturating_sub(self.created_at) >= MAX_LIFETIME_SECS
    }
}

/// Constant-time equality of two tokens (length differences return early, which reveals only
/// the length of a fixed-size token).
pub fn tokens_equal(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// 32 CSPRNG bytes, base64url without padding (43 characters).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Sessions by SHA-256 of their id.
#[derive(Default)]
pub struct SessionStore {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

impl SessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock cannot leave a half-written session behind: every
        // write is a single insert or remove.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session for `key_id`; returns the new session id (for the cookie only) and the
    /// session. `replaces`, the id the browser presented before logging in, is destroyed.
    pub fn create(
        &self,
        key_id: &str,
        now: u64,
        replaces: Option<&str>,
    ) -> Result<(String, Session), getrandom::Error> {
        let id = random_token()?;
        let session = Session {
            key_id: key_id.to_owned(),
            csrf_token: random_token()?,
            created_at: now,
            last_seen: now,
        };
        let mut sessions = self.lock();
        if let Some(old) = replaces {
            sessions.remove(&hash(old));
        }
        sessions.retain(|_, s| !s.expired(now));
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| *k)
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(hash(&id), session.clone());
        Ok((id, session))
    }

    /// The live session for `id`, touched (its idle timer restarts). An expired session is
    /// removed and `None` returned.
    pub fn touch(&self, id: &str, now: u64) -> Option<Session> {
        let key = hash(id);
        let mut sessions = self.lock();
        let session = sessions.get_mut(&key)?;
        if session.expired(now) {
            sessions.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session `id` (logout).
    pub fn remove(&self, id: &str) {
        self.lock().remove(&hash(id));
    }

    /// Ends every session opened with `key_id` (the key was revoked).
    pub fn remove_for_key(&self, key_id: &str) {
        self.lock().retain(|_, s| s.key_id != key_id);
    }

    /// Live sessions (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there is no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_at_their_maximum_age() {
        let store = SessionStore::new();
        let (id, _) = store.create("key_1", 1000, None).unwrap();
        assert!(store.touch(&id, 1000 + IDLE_TIMEOUT_SECS - 1).is_some());
        // The touch above restarted the idle timer.
        assert!(store.touch(&id, 1000 + 2 * IDLE_TIMEOUT_SECS - 2).is_some());
        assert!(store.touch(&id, 1000 + 3 * IDLE_TIMEOUT_SECS).is_none());
        assert!(store.is_empty(), "expired session removed");

        let (id, _) = store.create("key_1", 0, None).unwrap();
        let mut now = 0;
        while now + IDLE_TIMEOUT_SECS / 2 < MAX_LIFETIME_SECS {
            now += IDLE_TIMEOUT_SECS / 2;
            assert!(store.touch(&id, now).is_some());
        }
        assert!(store.touch(&id, MAX_LIFETIME_SECS).is_none());
    }

    #[test]
    fn login_replaces_the_presented_session_and_ids_are_stored_hashed() {
        let store = SessionStore::new();
        let (first, s1) = store.create("key_1", 0, None).unwrap();
        let (second, s2) = store.create("key_1", 1, Some(&first)).unwrap();
        assert_ne!(first, second);
        assert_ne!(s1.csrf_token, s2.csrf_token);
        assert!(store.touch(&first, 2).is_none());
        assert!(store.touch(&second, 2).is_some());
        assert_eq!(first.len(), 43);
        let map = store.lock();
        assert!(map.keys().all(|k| k != second.as_bytes()));
        assert!(!format!("{:?}", map.values().next().unwrap()).contains(&s2.csrf_token));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let store = SessionStore::new();
        let (_, s) = store.create("k", 0, None).unwrap();
        assert!(s.csrf_matches(&s.csrf_token.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&s.csrf_token[1..]));
        assert!(!tokens_equal("", ""));
    }
}
