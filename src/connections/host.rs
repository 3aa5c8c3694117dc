//! Where a connection's requests go (SECURITY.md PX-1): only `https://<…>.snowflakecomputing.com`
//! (or `.cn`, PrivateLink included), decided by the admin at configuration time. Loopback
//! `http://127.0.0.1:<port>` is accepted only when `[upstream] allow_loopback` is on (snowsim,
//! tests and the demo).

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host {input:?} is not allowed: {reason}")]
pub struct HostError {
    /// What was given.
    pub input: String,
    /// Why not.
    pub reason: &'static str,
}

/// Validates an admin-supplied host or URL and returns the base URL to use (no trailing slash).
pub fn base_url(input: &str, allow_loopback: bool) -> Result<String, HostError> {
    let fail = |reason| HostError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim().to_ascii_lowercase();
    if let Some(rest) = text.strip_prefix("http://") {
        if !allow_loopback {
            return Err(fail("plain http is refused; use the https Snowflake host"));
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| fail("a loopback URL needs an explicit port"))?;
        let port_ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok();
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") || !port_ok {
            return Err(fail(
                "only http://127.0.0.1:<port> style loopback URLs are allowed",
            ));
        }
        return Ok(format!("http://{host}:{port}"));
    }
    let host = text.strip_prefix("https://").unwrap_or(&text);
    let host = host.strip_suffix('/').unwrap_or(host);
    let domain_ok = [".snowflakecomputing.com", ".snowflakecomputing.cn"]
        .iter()
        .any(|suffix| {
            host.strip_suffix(suffix)
                .is_some_and(|head| !head.is_empty())
        });
    if !domain_ok {
        return Err(fail("it must be a *.snowflakecomputing.com (or .cn) host"));
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.as_bytes()[0].is_ascii_alphanumeric()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if !labels_ok {
        return Err(fail(
            "only letters, digits, '-' and '_' between dots; no port, path or user",
        ));
    }
    Ok(format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflake_hosts_are_accepted_in_host_or_url_form() {
        for (input, url) in [
            (
                "xy12345.snowflakecomputing.com",
                "https://xy12345.snowflakecomputing.com",
            ),
            (
                "https://XY12345.us-east-2.aws.snowflakecomputing.com/",
                "https://xy12345.us-east-2.aws.snowflakecomputing.com",
            ),
            (
                "myorg-acct.privatelink.snowflakecomputing.com",
                "https://myorg-acct.privatelink.snowflakecomputing.com",
            ),
            (
                "xy.snowflakecomputing.cn",
                "https://xy.snowflakecomputing.cn",
            ),
        ] {
            assert_eq!(base_url(input, false).unwrap(), url);
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "evil.com",
            "x.snowflakecomputing.com.evil.com",
            "169.254.169.254",
            "localhost",
            "[::1]",
            "http://x.snowflakecomputing.com",
            "x.snowflakecomputing.com:8443",
            "user@x.snowflakecomputing.com",
            "x.snowflakecomputing.com.",
            "xn--snwflake-x.snowflakecomputing.com/../",
            ".snowflakecomputing.com",
            "http://127.0.0.1:8080",
        ] {
            assert!(base_url(bad, false).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn loopback_only_when_allowed_and_only_loopback() {
        assert_eq!(
            base_url("http://127.0.0.1:4000", true).unwrap(),
            "http://127.0.0.1:4000"
        );
        for bad in [
            "http://10.0.0.1:80",
            "http://127.0.0.1",
            "http://evil.com:80",
            "http://127.0.0.1:99999",
        ] {
            assert!(base_url(bad, true).is_err(), "{bad:?}");
        }
    }
}
