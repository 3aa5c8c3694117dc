//! Where the browser goes after the flow (SECURITY.md OA-8: no open redirect).
//!
//! The admin lists `allowed_return_urls` on the connection; each entry must be an absolute
//! `https` URL (plain `http` only for loopback hosts) without userinfo or fragment, written in
//! its canonical form (what the WHATWG URL parser serialises it to), so that "the same URL"
//! has exactly one spelling. A `return_url` in a link request is then accepted only if it is
//! **byte-identical** to one entry: no prefix, suffix, case, port, path or decoding games can
//! pass, because nothing is normalised before the comparison (oauth2-proxy CVE-2020-5233,
//! CVE-2021-21291, GHSA-j7px-6hwj-hpjg).

use url::Url;

/// Most entries an allow-list may hold.
pub const MAX_ENTRIES: usize = 20;
/// Longest accepted return URL.
pub const MAX_LEN: usize = 2048;

/// Validates one allow-list entry; the error says how to write it.
pub fn validate_entry(entry: &str) -> Result<(), String> {
    if entry.len() > MAX_LEN || entry.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "allowed return URL {entry:?} is longer than {MAX_LEN} bytes or contains whitespace"
        ));
    }
    let url = Url::parse(entry)
        .map_err(|_| format!("allowed return URL {entry:?} is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if super::settings::is_loopback(&url) => {}
        _ => {
            return Err(format!(
                "allowed return URL {entry:?} must use https (http only for loopback hosts)"
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "allowed return URL {entry:?} must not contain user info"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "allowed return URL {entry:?} must not contain a fragment"
        ));
    }
    if url.as_str() != entry {
        return Err(format!(
            "allowed return URL {entry:?} is not in canonical form; write it as {:?}",
            url.as_str()
        ));
    }
    Ok(())
}

/// Validates a whole allow-list (entries, count, duplicates).
pub fn validate_list(entries: &[String]) -> Result<(), String> {
    if entries.len() > MAX_ENTRIES {
        return Err(format!(
            "at most {MAX_ENTRIES} allowed_return_urls are supported"
        ));
    }
    for (i, entry) in entries.iter().enumerate() {
        validate_entry(entry)?;
        if entries[..i].contains(entry) {
            return Err(format!("allowed return URL {entry:?} is listed twice"));
        }
    }
    Ok(())
}

/// Whether `candidate` is exactly one of `allowed` (byte equality, nothing normalised).
pub fn is_allowed(allowed: &[String], candidate: &str) -> bool {
    allowed.iter().any(|a| a.as_bytes() == candidate.as_bytes())
}

/// `return_url` with `identifier` and `status` appended to its query (never a code or state).
pub fn with_result(return_url: &str, identifier: &str, status: &str) -> Option<String> {
    let mut url = Url::parse(return_url).ok()?;
    url.query_pairs_mut()
        .append_pair("identifier", identifier)
        .append_pair("status", status);
    Some(url.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = "https://app.example.com/oauth/done";
    const LOCAL: &str = "http://127.0.0.1:3000/cb";

    fn allowed() -> Vec<String> {
        vec![GOOD.to_owned(), LOCAL.to_owned()]
    }

    /// Scheme tricks, protocol-relative and backslash forms, userinfo, encoded dots and slashes,
    /// other ports, suffix/prefix matches, case changes and whitespace (tab, CR, LF, VT) — the
    /// oauth2-proxy validator table's families, aimed at our allow-list.
    const HOSTILE: &[&str] = &[
        "//evil.com",
        "///evil.com",
        "////evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "/\r/evil.com",
        "/\n/evil.com",
        "/\u{b}/evil.com",
        "https:evil.com",
        "https:/evil.com",
        "https:\\\\evil.com",
        "http://app.example.com/oauth/done",
        "javascript:alert(1)",
        "javascript://app.example.com/oauth/done%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://app.example.com/oauth/done",
        "HTTPS://app.example.com/oauth/done",
        "https://APP.example.com/oauth/done",
        "https://app.example.com/OAUTH/done",
        "https://app.example.com/oauth/done/",
        "https://app.example.com/oauth/don",
        "https://app.example.com/oauth/done2",
        "https://app.example.com/oauth/done?next=//evil.com",
        "https://app.example.com/oauth/done#//evil.com",
        "https://app.example.com/oauth/done/../../evil",
        "https://app.example.com/oauth/%2e%2e/evil",
        "https://app.example.com/oauth/done/%2e%2e%2f%2e%2e%2fevil",
        "https://app.example.com/oauth/%2E%2E/done",
        "https://app.example.com/./oauth/done",
        "https://app.example.com//oauth/done",
        "https://app.example.com/oauth//done",
        "https://app.example.com\\oauth\\done",
        "https://app.example.com/oauth\\done",
        "https://app.example.com:443/oauth/done",
        "https://app.example.com:8443/oauth/done",
        "https://app.example.com:/oauth/done",
        "https://app.example.com./oauth/done",
        "https://app.example.com.evil.com/oauth/done",
        "https://evil.com/app.example.com/oauth/done",
        "https://evilapp.example.com/oauth/done",
        "https://app.example.com.evil/oauth/done",
        "https://sub.app.example.com/oauth/done",
        "https://evil.com?https://app.example.com/oauth/done",
        "https://evil.com#https://app.example.com/oauth/done",
        "https://app.example.com@evil.com/oauth/done",
        "https://user:pass@app.example.com/oauth/done",
        "https://app.example.com%40evil.com/oauth/done",
        "https://evil.com%2f%2fapp.example.com/oauth/done",
        "https://app.example.com%2eevil.com/oauth/done",
        "https://app%2eexample%2ecom/oauth/done",
        "https%3A%2F%2Fapp.example.com%2Foauth%2Fdone",
        "https://app.example.com/oauth/done%00",
        "https://app.example.com/oauth/done%0d%0aLocation:%20https://evil.com",
        "https://app.example.com/oauth/done\r\nLocation: https://evil.com",
        "https://app.example.com/oauth/done\t",
        " https://app.example.com/oauth/done",
        "https://app.example.com/oauth/done ",
        "https://app.example.com/oauth/done\n",
        "\thttps://app.example.com/oauth/done",
        "https:/\\app.example.com/oauth/done",
        "https://app.example.com\u{3002}evil.com/oauth/done",
        "https://аpp.example.com/oauth/done",
        "https://xn--pp-8kc.example.com/oauth/done",
        "https://[::1]/oauth/done",
        "https://127.0.0.1/oauth/done",
        "http://127.0.0.1:3001/cb",
        "http://127.0.0.1/cb",
        "http://localhost:3000/cb",
        "http://127.0.0.1:3000/cb/",
        "http://127.0.0.1:3000/CB",
        "http://127.0.0.1:3000/cb?x=1",
        "http://0x7f.0.0.1:3000/cb",
        "http://2130706433:3000/cb",
        "http://127.1:3000/cb",
        "https://127.0.0.1:3000/cb",
        "",
        "/",
        "/oauth/done",
        "oauth/done",
        "evil.com",
        "app.example.com/oauth/done",
    ];

    #[test]
    fn every_hostile_return_url_is_rejected() {
        assert!(HOSTILE.len() >= 60, "{} cases", HOSTILE.len());
        let list = allowed();
        for case in HOSTILE {
            assert!(!is_allowed(&list, case), "{case:?} must be rejected");
            // Also after one round of percent-decoding, as oauth2-proxy's corpus test does.
            let decoded: String = url::form_urlencoded::parse(format!("x={case}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            if decoded != GOOD && decoded != LOCAL {
                assert!(!is_allowed(&list, &decoded), "{decoded:?} (decoded)");
            }
        }
    }

    #[test]
    fn exact_entries_are_accepted() {
        assert!(is_allowed(&allowed(), GOOD));
        assert!(is_allowed(&allowed(), LOCAL));
    }

    #[test]
    fn allow_list_entries_must_be_canonical_https_or_loopback_http() {
        for ok in [
            GOOD,
            LOCAL,
            "https://app.example.com/",
            "https://a.example/cb?tenant=1",
        ] {
            validate_entry(ok).unwrap();
        }
        for bad in [
            "https://app.example.com",
            "http://app.example.com/cb",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "https://user@app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://app.example.com/a/../cb",
            "https://app.example.com/c b",
            "//app.example.com/cb",
            "/cb",
            "javascript:alert(1)",
        ] {
            assert!(validate_entry(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_list(&[GOOD.to_owned(), GOOD.to_owned()]).is_err());
    }

    #[test]
    fn result_parameters_are_appended_encoded() {
        let url = with_result("https://a.example/cb?tenant=1", "a&b=c", "connected").unwrap();
        assert_eq!(
            url,
            "https://a.example/cb?tenant=1&identifier=a%26b%3Dc&status=connected"
        );
    }
}
