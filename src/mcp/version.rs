//! Protocol-version negotiation. This server speaks the handshake-era revisions of MCP
//! (`initialize` + Streamable HTTP): 2025-11-25 (the newest with an `initialize` handshake),
//! 2025-06-18 and 2025-03-26. Later revisions (2026-07-28, no handshake) are refused with
//! 400, which clients such as the Python SDK's `auto` mode answer by falling back to
//! `initialize`.

/// Supported revisions, newest first.
pub const SUPPORTED: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// What `initialize` answers when the client asks for a revision this server does not speak.
pub const LATEST: &str = SUPPORTED[0];

/// The revision to assume when a request carries no `MCP-Protocol-Version` header (the
/// transport spec's backwards-compatibility rule).
pub const WITHOUT_HEADER: &str = "2025-03-26";

/// The revision `initialize` agrees to: the client's if supported, else [`LATEST`].
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST)
}

/// The revision a request runs under, from its `MCP-Protocol-Version` header; `Err` carries
/// the unsupported value (answered with 400).
pub fn from_header(header: Option<&str>) -> Result<&'static str, String> {
    match header {
        None => Ok(WITHOUT_HEADER),
        Some(value) => SUPPORTED
            .iter()
            .find(|v| **v == value.trim())
            .copied()
            .ok_or_else(|| value.to_owned()),
    }
}

/// Whether a body may be a JSON-RPC batch: 2025-03-26 requires servers to accept batches;
/// 2025-06-18 removed them.
pub fn allows_batches(version: &str) -> bool {
    version == "2025-03-26"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_a_supported_version_and_otherwise_offers_the_latest() {
        for v in SUPPORTED {
            assert_eq!(negotiate(v), v);
        }
        for other in ["2024-11-05", "2026-07-28", "", "garbage"] {
            assert_eq!(negotiate(other), LATEST, "{other}");
        }
    }

    #[test]
    fn the_header_selects_the_version_and_unknown_values_are_refused() {
        assert_eq!(from_header(None), Ok("2025-03-26"));
        assert_eq!(from_header(Some("2025-06-18")), Ok("2025-06-18"));
        assert_eq!(
            from_header(Some("2026-07-28")),
            Err("2026-07-28".to_owned())
        );
        assert_eq!(
            from_header(Some("not-a-version")),
            Err("not-a-version".to_owned())
        );
        assert!(allows_batches(WITHOUT_HEADER));
        assert!(!allows_batches("2025-06-18"));
        assert!(!allows_batches(LATEST));
    }
}
