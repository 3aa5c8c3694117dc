//! Where requests go ([`Upstream`]) and how they authenticate ([`Credential`]).
//!
//! Invariants: an `Upstream` is an origin only — `https`, or plain `http` for loopback hosts
//! (tests, snowsim) — with no userinfo, path, query or fragment, so the client composes every URL
//! from it and fixed paths (PX-1). Which *hosts* are allowed for a connection (the
//! `*.snowflakecomputing.com` allow-list) is the connection config's decision, not this type's.
//! A credential's token is only exposed on the line that builds the header value, and that value
//! is marked sensitive so it never shows in `Debug` output.

use std::net::IpAddr;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

/// The validated base URL of one Snowflake account (or a local double).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream(Url);

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Not a URL at all.
    #[error("the Snowflake base URL does not parse")]
    Unparseable,
    /// `http` to a non-loopback host, or any other scheme.
    #[error("the Snowflake base URL must use https (http is allowed only for loopback hosts)")]
    Scheme,
    /// No host.
    #[error("the Snowflake base URL has no host")]
    NoHost,
    /// `user:pass@` in the URL.
    #[error("the Snowflake base URL must not contain credentials")]
    Userinfo,
    /// A path other than `/`, a query or a fragment.
    #[error("the Snowflake base URL must be an origin only (no path, query or fragment)")]
    NotAnOrigin,
}

impl Upstream {
    /// Parses and validates `text`, e.g. `https://xy12345.snowflakecomputing.com`.
    pub fn parse(text: &str) -> Result<Self, UpstreamError> {
        let url = Url::parse(text).map_err(|_| UpstreamError::Unparseable)?;
        Self::from_url(url)
    }

    /// Validates an already parsed URL.
    pub fn from_url(url: Url) -> Result<Self, UpstreamError> {
        let host = url.host().ok_or(UpstreamError::NoHost)?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            _ => return Err(UpstreamError::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UpstreamError::Userinfo);
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(UpstreamError::NotAnOrigin);
        }
        Ok(Self(url))
    }

    /// The base URL (always ends in `/`).
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// `base` + `path`, with no query. `path` is one of the client's fixed paths.
    pub(crate) fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        url.set_path(path);
        url
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// The bearer token for one request and the token type Snowflake must treat it as.
///
/// Callers hand in the *current* token per call (OAuth tokens are refreshed, JWTs re-signed).
#[derive(Clone)]
pub enum Credential {
    /// A Snowflake OAuth access token (`X-Snowflake-Authorization-Token-Type: OAUTH`).
    OAuth(SecretString),
    /// A key-pair JWT signed by icebroker (`…-Token-Type: KEYPAIR_JWT`).
    KeypairJwt(SecretString),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential::{}(<redacted>)", self.token_type())
    }
}

/// The scheme prefix of an `Authorization` value.
const BEARER: &[u8] = b"Bearer ";

/// The `Authorization` value `Bearer <token>`, marked sensitive (never printed by `Debug`). A
/// token that is empty or has anything but visible ASCII is refused. Token holders build it
/// once per token, so the proxy's calls only clone it.
pub fn bearer_header(token: &str) -> Result<HeaderValue, InvalidCredential> {
    if token.is_empty() || token.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(InvalidCredential);
    }
    // Built in a buffer that is wiped when the last copy of the header value is dropped: a
    // cached token's header lives as long as the token (SS-7).
    let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(BEARER.len() + token.len()));
    raw.extend_from_slice(BEARER);
    raw.extend_from_slice(token.as_bytes());
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(raw))
        .map_err(|_| InvalidCredential)?;
    value.set_sensitive(true);
    Ok(value)
}

/// A token that cannot be put in a header (control characters, CR/LF, non-ASCII).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the credential is not a valid header value")]
pub struct InvalidCredential;

impl Credential {
    /// The value of `X-Snowflake-Authorization-Token-Type` (always sent explicitly, A.2).
    pub fn token_type(&self) -> &'static str {
        match self {
            Self::OAuth(_) => "OAUTH",
            Self::KeypairJwt(_) => "KEYPAIR_JWT",
        }
    }

    fn secret(&self) -> &SecretString {
        match self {
            Self::OAuth(token) | Self::KeypairJwt(token) => token,
        }
    }

    /// `Bearer <token>`, validated as a header value and marked sensitive.
    pub(crate) fn authorization(&self) -> Result<HeaderValue, InvalidCredential> {
        bearer_header(self.secret().expose_secret())
    }

    /// Replaces any echo of this credential's token in `message` (Snowflake's 401 texts may
    /// quote a token tail) with `<redacted>`: the whole token, and any word of 8+ characters
    /// that is a piece of it.
    pub(crate) fn redact(&self, message: &str) -> String {
        let token = self.secret().expose_secret();
        if token.is_empty() {
            return message.to_owned();
        }
        let whole = message.replace(token, "<redacted>");
        whole
            .split(' ')
            .map(|word| {
                let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                if core.len() >= 8 && token.contains(core) {
                    word.replace(core, "<redacted>")
                } else {
                    word.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_header_is_the_token_marked_sensitive_and_refuses_unsafe_tokens() {
        let value = bearer_header("ver:1-hint:2-ETMsDgAAAY").unwrap();
        assert_eq!(value.as_bytes(), b"Bearer ver:1-hint:2-ETMsDgAAAY");
        assert!(value.is_sensitive());
        assert_eq!(format!("{value:?}"), "Sensitive");
        let copy = value.clone();
        drop(value);
        assert_eq!(
            copy.as_bytes(),
            b"Bearer ver:1-hint:2-ETMsDgAAAY",
            "copies share it"
        );
        for bad in ["", "a b", "a\r\nX: 1", "tök"] {
            assert_eq!(bearer_header(bad), Err(InvalidCredential), "{bad:?}");
        }
    }
}
