//! The OAuth token store: authorization codes, access tokens and refresh tokens, with Snowflake's
//! rules (PROTOCOL.md B.3/B.4, SECURITY.md §1 for what a strict server checks).
//!
//! Invariants:
//! - a code is redeemable once, within `code_ttl`, by the client it was issued to, with the exact
//!   `redirect_uri` of the authorize request and (when a challenge was sent) the PKCE verifier;
//!   redeeming it twice revokes every token the first redemption issued;
//! - a verifier sent for a code that had no challenge is rejected (RFC 9700 §4.8.2, PKCE downgrade);
//! - reusable refresh tokens live until their validity ends; single-use ones die when used and a
//!   second use of a dead one revokes all of that user's tokens for that integration (Snowflake's
//!   theft detection);
//! - no token is ever accepted for an account other than the one that issued it.

use std::collections::HashMap;
use std::sync::Arc;

use super::delegations::Consents;
pub use super::token_types::{
    is_valid_verifier, s256_challenge, AccessCheck, CodeExchange, Grant, Lifetimes, TokenError,
    TokenResponse,
};
use super::util::{b64, b64url, now_secs, random_bytes, random_digits};

/// A pending authorization code.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    /// What the code grants.
    pub grant: Arc<Grant>,
    /// `redirect_uri` exactly as sent to `/oauth/authorize`.
    pub redirect_uri: String,
    /// PKCE S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
    /// Expiry (epoch seconds).
    pub expires_at: u64,
    used: bool,
    issued: Vec<String>,
}

#[derive(Debug, Clone)]
struct AccessRecord {
    grant: Arc<Grant>,
    expires_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Active,
    /// Single-use token already exchanged; presenting it again is theft evidence.
    Used,
}

#[derive(Debug, Clone)]
struct RefreshRecord {
    grant: Arc<Grant>,
    expires_at: u64,
    single_use: bool,
    state: RefreshState,
}

/// All OAuth state of the sim.
#[derive(Debug)]
pub struct TokenStore {
    codes: HashMap<String, CodeRecord>,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    /// Current lifetimes (changed by the control API).
    pub lifetimes: Lifetimes,
    /// Consents given through the browser flow or `ADD DELEGATED AUTHORIZATION`.
    pub consents: Consents,
}

fn access_token_string() -> String {
    format!(
        "ver:1-hint:{}-{}",
        random_digits(10),
        b64(&random_bytes(96))
    )
}

fn refresh_token_string() -> String {
    format!(
        "ver:2-hint:{}-{}",
        random_digits(11),
        b64(&random_bytes(128))
    )
}

impl TokenStore {
    /// An empty store.
    pub fn new(lifetimes: Lifetimes) -> Self {
        Self {
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            lifetimes,
            consents: Consents::default(),
        }
    }

    /// Issues an authorization code for a consented grant.
    pub fn issue_code(
        &mut self,
        grant: Grant,
        redirect_uri: String,
        code_challenge: Option<String>,
    ) -> String {
        let now = now_secs();
        self.codes.retain(|_, c| c.expires_at + 3600 > now);
        let code = b64url(&random_bytes(32));
        self.codes.insert(
            code.clone(),
            CodeRecord {
                grant: Arc::new(grant),
                redirect_uri,
                code_challenge,
                expires_at: now + self.lifetimes.code_secs,
                used: false,
                issued: Vec::new(),
            },
        );
        code
    }

    fn mint_access(&mut self, grant: &Arc<Grant>) -> String {
        let token = access_token_string();
        let expires_at = now_secs() + self.lifetimes.access_secs;
        self.access.insert(
            token.clone(),
            AccessRecord {
                grant: Arc::clone(grant),
                expires_at,
            },
        );
        token
    }

    fn mint_refresh(&mut self, grant: &Arc<Grant>, validity: u64, single_use: bool) -> String {
        let token = refresh_token_string();
        let validity = self.lifetimes.refresh_override_secs.unwrap_or(validity);
        self.refresh.insert(
            token.clone(),
            RefreshRecord {
                grant: Arc::clone(grant),
                expires_at: now_secs() + validity,
                single_use,
                state: RefreshState::Active,
            },
        );
        token
    }

    /// Issues an access token directly (control API: benchmarks and broker tests that do not
    /// exercise the browser flow).
    pub fn mint_access_for(&mut self, grant: Grant) -> String {
        self.mint_access(&Arc::new(grant))
    }

    /// `grant_type=authorization_code`.
    pub fn exchange_code(&mut self, req: CodeExchange<'_>) -> Result<TokenResponse, TokenError> {
        let now = now_secs();
        let Some(record) = self.codes.get_mut(req.code) else {
            return Err(TokenError::InvalidGrant("Invalid authorization code."));
        };
        if record.grant.account != req.account || record.grant.integration != req.integration {
            return Err(TokenError::InvalidGrant("Invalid authorization code."));
        }
        if record.used {
            // Replay of a redeemed code: revoke what the first redemption issued (RFC 6749 §4.1.2).
            let issued = std::mem::take(&mut record.issued);
            for token in issued {
                self.access.remove(&token);
                self.refresh.remove(&token);
            }
            return Err(TokenError::InvalidGrant(
                "Authorization code has already been used.",
            ));
        }
        if record.expires_at <= now {
            return Err(TokenError::InvalidGrant("Authorization code has expired."));
        }
        let Some(redirect_uri) = req.redirect_uri else {
            return Err(TokenError::InvalidRequest("Missing redirect_uri."));
        };
        if redirect_uri != record.redirect_uri {
            return Err(TokenError::InvalidGrant(
                "redirect_uri does not match the authorization request.",
            ));
        }
        match (&record.code_challenge, req.code_verifier) {
            (Some(_), None) => return Err(TokenError::InvalidGrant("Missing code_verifier.")),
            (None, Some(_)) => {
                return Err(TokenError::InvalidGrant(
                    "code_verifier sent but no code_challenge was in the authorization request.",
                ))
            }
            (Some(challenge), Some(verifier)) => {
                if !is_valid_verifier(verifier)
                    || !super::util::secret_eq(&s256_challenge(verifier), challenge)
                {
                    return Err(TokenError::InvalidGrant("Invalid code_verifier."));
                }
            }
            (None, None) => {}
        }
        record.used = true;
        let grant = Arc::clone(&record.grant);
        let access = self.mint_access(&grant);
        let mut issued = vec![access.clone()];
        let refresh = if req.issue_refresh && grant.offline {
            let single_use = req.single_use_required || req.enable_single_use;
            let rt = self.mint_refresh(&grant, req.refresh_validity, single_use);
            issued.push(rt.clone());
            Some(rt)
        } else {
            None
        };
        if let Some(record) = self.codes.get_mut(req.code) {
            record.issued = issued;
        }
        let refresh_expires_in = refresh.as_ref().map(|rt| {
            self.refresh
                .get(rt)
                .map_or(0, |r| r.expires_at.saturating_sub(now))
        });
        Ok(TokenResponse {
            access_token: access,
            refresh_token: refresh,
            token_type: "Bearer",
            username: Some(grant.user.clone()),
            scope: Some(grant.scope()),
            refresh_token_expires_in: refresh_expires_in,
            idp_initiated: false,
            expires_in: self.lifetimes.access_secs,
        })
    }

    /// `grant_type=refresh_token`.
    pub fn refresh(
        &mut self,
        account: usize,
        integration: &str,
        refresh_validity: u64,
        token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let now = now_secs();
        let Some(record) = self.refresh.get(token).cloned() else {
            return Err(TokenError::InvalidGrant("Invalid refresh token."));
        };
        if record.grant.account != account || record.grant.integration != integration {
            return Err(TokenError::InvalidGrant("Invalid refresh token."));
        }
        if record.state == RefreshState::Used {
            // Theft detection (Snowflake single-use refresh tokens): all of the user's tokens for
            // this integration die, including the one the legitimate holder just received.
            let grant = record.grant;
            self.revoke_user(account, &grant.user, Some(integration));
            return Err(TokenError::InvalidGrant(
                "Refresh token has already been used; all tokens were revoked.",
            ));
        }
        if record.expires_at <= now {
            return Err(TokenError::InvalidGrant("Refresh token has expired."));
        }
        if let Some(scope) = scope {
            let wanted_ok = scope.split(' ').filter(|s| !s.is_empty()).all(|s| {
                s == "refresh_token"
                    || s.strip_prefix("session:role:") == Some(record.grant.role.as_str())
            });
            if !wanted_ok {
                return Err(TokenError::InvalidScope);
            }
        }
        let access = self.mint_access(&record.grant);
        let mut refresh = None;
        if record.single_use {
            if let Some(old) = self.refresh.get_mut(token) {
                old.state = RefreshState::Used;
            }
            refresh = Some(self.mint_refresh(&record.grant, refresh_validity, true));
        }
        let refresh_expires_in = refresh.as_ref().map(|rt| {
            self.refresh
                .get(rt)
                .map_or(0, |r| r.expires_at.saturating_sub(now))
        });
        Ok(TokenResponse {
            access_token: access,
            refresh_token: refresh,
            token_type: "Bearer",
            username: None,
            scope: None,
            refresh_token_expires_in: refresh_expires_in,
            idp_initiated: false,
            expires_in: self.lifetimes.access_secs,
        })
    }

    /// Whether `token` would be accepted by a refresh now: known, not yet used, not expired.
    pub fn refresh_usable(&self, token: &str) -> bool {
        self.refresh
            .get(token)
            .is_some_and(|r| r.state == RefreshState::Active && r.expires_at > now_secs())
    }

    /// The user NAME a refresh token belongs to, if the token is known.
    pub fn refresh_owner(&self, token: &str) -> Option<String> {
        self.refresh.get(token).map(|r| r.grant.user.clone())
    }

    /// Validates an access token presented to `account`.
    pub fn check_access(&self, account: usize, token: &str) -> AccessCheck {
        match self.access.get(token) {
            Some(r) if r.grant.account == account && r.expires_at > now_secs() => {
                AccessCheck::Valid(Arc::clone(&r.grant))
            }
            _ => AccessCheck::Invalid,
        }
    }

    /// Revokes every access and refresh token of `user` (optionally only for one integration).
    /// Returns how many tokens died.
    pub fn revoke_user(&mut self, account: usize, user: &str, integration: Option<&str>) -> usize {
        self.revoke_where(|g| {
            g.account == account && g.user == user && integration.is_none_or(|i| g.integration == i)
        })
    }

    /// Revokes every code, access and refresh token whose grant `hit` selects; returns how many
    /// access and refresh tokens died.
    pub fn revoke_where(&mut self, hit: impl Fn(&Grant) -> bool) -> usize {
        let before = self.access.len() + self.refresh.len();
        self.codes.retain(|_, c| !hit(&c.grant));
        self.access.retain(|_, r| !hit(&r.grant));
        self.refresh.retain(|_, r| !hit(&r.grant));
        before - self.access.len() - self.refresh.len()
    }

    /// Revokes only the refresh tokens of `user` (control API).
    pub fn revoke_refresh(&mut self, account: usize, user: &str) -> usize {
        let before = self.refresh.len();
        self.refresh
            .retain(|_, r| !(r.grant.account == account && r.grant.user == user));
        before - self.refresh.len()
    }

    /// Makes every access token expired now (control API).
    pub fn expire_all_access(&mut self) -> usize {
        let n = self.access.len();
        for r in self.access.values_mut() {
            r.expires_at = 0;
        }
        n
    }

    /// Makes every authorization code expired now (control API).
    pub fn expire_all_codes(&mut self) {
        for c in self.codes.values_mut() {
            c.expires_at = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_have_snowflake_prefixes() {
        assert!(access_token_string().starts_with("ver:1-hint:"));
        assert!(refresh_token_string().starts_with("ver:2-hint:"));
    }
}
