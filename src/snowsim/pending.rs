//! Browser authorizations in progress between `GET /oauth/authorize` and the redirect back to the
//! client. Each step (login, consent) is bound to a one-time random form token; a token is
//! consumed when its form is posted and the next step gets a fresh one, so a replayed or forged
//! form post fails with Snowflake's "Invalid consent request" (390302).

use std::collections::HashMap;
use std::sync::Mutex;

use super::util::{b64url, lock, now_secs, random_bytes};

/// How long a login or consent page stays usable (seconds).
pub const PENDING_TTL_SECS: u64 = 900;
/// Wrong passwords allowed before the authorization is abandoned.
pub const MAX_LOGIN_ATTEMPTS: u32 = 5;

/// The validated `/oauth/authorize` request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// Account index.
    pub account: usize,
    /// Integration name.
    pub integration: String,
    /// `redirect_uri` exactly as sent.
    pub redirect_uri: String,
    /// `state`, when sent.
    pub state: Option<String>,
    /// Role from `session:role:` / `session:role-encoded:`, when sent.
    pub role: Option<String>,
    /// `refresh_token` scope requested.
    pub offline: bool,
    /// PKCE S256 challenge, when sent.
    pub code_challenge: Option<String>,
}

/// Which form the browser is on.
#[derive(Debug, Clone)]
pub enum Step {
    /// Login form shown; `attempts` wrong passwords so far.
    Login {
        /// Failed attempts.
        attempts: u32,
    },
    /// Consent page shown to an authenticated user for a role.
    Consent {
        /// User NAME.
        user: String,
        /// Role to grant.
        role: String,
    },
}

/// One authorization in progress.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The request.
    pub request: AuthorizeRequest,
    /// Current step.
    pub step: Step,
    expires_at: u64,
}

/// Pending authorizations by form token.
#[derive(Debug, Default)]
pub struct PendingStore {
    inner: Mutex<HashMap<String, Pending>>,
}

impl PendingStore {
    /// Stores a step and returns its new one-time form token.
    pub fn put(&self, request: AuthorizeRequest, step: Step) -> String {
        let token = b64url(&random_bytes(32));
        let now = now_secs();
        let mut inner = lock(&self.inner);
        inner.retain(|_, p| p.expires_at > now);
        inner.insert(
            token.clone(),
            Pending {
                request,
                step,
                expires_at: now + PENDING_TTL_SECS,
            },
        );
        token
    }

    /// Consumes a form token.
    pub fn take(&self, token: &str) -> Option<Pending> {
        let pending = lock(&self.inner).remove(token)?;
        (pending.expires_at > now_secs()).then_some(pending)
    }
}
