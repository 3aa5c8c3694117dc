//! DNS-rebinding protection (MCP transport spec, "Security Warning"): a request whose `Origin`
//! header is present and not one of the broker's own origins is refused with 403. Requests
//! without `Origin` (non-browser clients: agents, SDKs, curl) pass; they still need an API key.
//!
//! A rebinding page runs at the attacker's origin (`http://evil.example:8080`) even when its
//! host name resolves to the broker, so comparing `Origin` with `Host` would not help: the
//! allow-list is the broker's configured public URL.

use url::Url;

/// The origins a browser may call `/mcp` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Allows the origin of `public_url` (the broker's externally visible base URL).
    pub fn for_public_url(public_url: &str) -> Self {
        Self {
            allowed: Url::parse(public_url)
                .ok()
                .and_then(|u| serialize(&u))
                .into_iter()
                .collect(),
        }
    }

    /// Checks an `Origin` header value; `Err` says why it was refused.
    pub fn check(&self, origin: Option<&str>) -> Result<(), String> {
        let Some(origin) = origin else {
            return Ok(());
        };
        let normalized = Url::parse(origin.trim()).ok().and_then(|u| serialize(&u));
        match normalized {
            Some(o) if self.allowed.contains(&o) => Ok(()),
            _ => Err(format!(
                "Origin {origin:?} is not allowed to call the MCP endpoint (DNS-rebinding \
                 protection); browsers may call it only from the broker's own origin"
            )),
        }
    }
}

/// `scheme://host[:port]` with the default port left out; `None` for opaque origins.
fn serialize(url: &Url) -> Option<String> {
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_brokers_own_origin_passes_when_an_origin_is_sent() {
        let policy = OriginPolicy::for_public_url("https://broker.example.com/");
        assert_eq!(policy.check(None), Ok(()));
        for ok in [
            "https://broker.example.com",
            "https://broker.example.com:443",
            "https://BROKER.example.com",
        ] {
            assert_eq!(policy.check(Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "http://broker.example.com",
            "https://broker.example.com:8443",
            "https://evil.example",
            "https://broker.example.com.evil.example",
            "null",
            "",
            "file://",
        ] {
            assert!(policy.check(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loopback_public_url_keeps_its_port() {
        let policy = OriginPolicy::for_public_url("http://127.0.0.1:8080");
        assert_eq!(policy.check(Some("http://127.0.0.1:8080")), Ok(()));
        assert!(policy.check(Some("http://127.0.0.1:9999")).is_err());
        assert!(policy.check(Some("http://localhost:8080")).is_err());
    }
}
