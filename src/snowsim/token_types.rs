//! Types of the OAuth token endpoint shared by the token store and the handlers: grants, the
//! token response with exactly PROTOCOL.md B.3's fields, errors, lifetimes and PKCE helpers.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::util::b64url;

/// Who a grant belongs to and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Index of the account in the sim.
    pub account: usize,
    /// User NAME.
    pub user: String,
    /// Integration name.
    pub integration: String,
    /// The consented role (the session role of every access token of this grant).
    pub role: String,
    /// Whether `refresh_token` was requested and granted.
    pub offline: bool,
}

impl Grant {
    /// The granted scope string as Snowflake returns it, e.g. `refresh_token session:role:ANALYST`.
    pub fn scope(&self) -> String {
        if self.offline {
            format!("refresh_token session:role:{}", self.role)
        } else {
            format!("session:role:{}", self.role)
        }
    }
}

/// The token endpoint's answer, with exactly the fields PROTOCOL.md B.3 lists.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub struct TokenResponse {
    /// `ver:1-hint:…`
    pub access_token: String,
    /// `ver:2-hint:…`, only on code exchange (when issued) and on single-use rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// User name, only on code exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Granted scope, only on code exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Seconds until the refresh token expires, when one is returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
    /// Always false for this flow.
    #[serde(rename = "idpInitiated")]
    pub idp_initiated: bool,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

/// A token-endpoint failure, rendered as Snowflake's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Bad or missing client authentication.
    InvalidClient,
    /// Bad/expired/revoked code or refresh token, redirect or PKCE mismatch.
    InvalidGrant(&'static str),
    /// Malformed request.
    InvalidRequest(&'static str),
    /// A grant type other than `authorization_code` / `refresh_token`.
    UnsupportedGrantType,
    /// A refresh asked for a scope the grant does not hold.
    InvalidScope,
}

/// Result of validating an access token.
#[derive(Debug, Clone)]
pub enum AccessCheck {
    /// Valid: the grant it carries.
    Valid(Arc<Grant>),
    /// Unknown, revoked, for another account or expired.
    Invalid,
}

/// Settings the token store needs from the sim configuration.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access-token lifetime (seconds).
    pub access_secs: u64,
    /// Override of every integration's refresh-token validity (control API), if set.
    pub refresh_override_secs: Option<u64>,
    /// Authorization-code lifetime (seconds).
    pub code_secs: u64,
}

/// BASE64URL(SHA256(ASCII(verifier))) — RFC 7636 §4.2.
pub fn s256_challenge(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43..=128 characters of `[A-Za-z0-9-._~]`.
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Parameters of an `authorization_code` exchange (already client-authenticated).
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    /// Account the request was sent to.
    pub account: usize,
    /// Integration the client authenticated as.
    pub integration: &'a str,
    /// Whether the integration issues refresh tokens.
    pub issue_refresh: bool,
    /// Integration requires single-use refresh tokens.
    pub single_use_required: bool,
    /// Integration refresh-token validity.
    pub refresh_validity: u64,
    /// `code`.
    pub code: &'a str,
    /// `redirect_uri` (required).
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`.
    pub code_verifier: Option<&'a str>,
    /// `enable_single_use_refresh_tokens=true` was sent.
    pub enable_single_use: bool,
}
