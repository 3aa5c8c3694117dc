//! Cross-site request forgery defence for the admin UI's forms (SECURITY.md PX-10). Two
//! independent layers, both required for every state-changing request:
//!
//! 1. Fetch Metadata / Origin: a browser says where a request comes from. `Sec-Fetch-Site` must
//!    be `same-origin` when present, and `Origin` must be one of our own origins when present.
//!    `Origin: null` is what browsers send for our own form posts, because admin pages carry
//!    `Referrer-Policy: no-referrer` (Fetch standard, "serializing a request origin"); it is
//!    accepted only together with `Sec-Fetch-Site: same-origin`, never alone (sandboxed frames
//!    send it too). Non-browser clients send neither header and are judged by the token alone.
//! 2. The form token: each session has a random token that every form carries in a hidden
//!    field (checked in constant time by [`super::session::Session::csrf_matches`]); the login
//!    form, which has no session yet, uses a double-submit cookie instead.

use actix_web::http::header::HeaderMap;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfFailure {
    /// `Sec-Fetch-Site` was `cross-site`, `same-site` or `none`.
    FetchSite,
    /// `Origin` named another origin (or `null`).
    Origin,
    /// The form token was missing or wrong.
    Token,
}

impl CsrfFailure {
    /// What the 403 page says.
    pub fn message(self) -> &'static str {
        match self {
            Self::FetchSite | Self::Origin => {
                "This form was submitted from another site. Open the admin UI directly and try again."
            }
            Self::Token => {
                "This form is out of date or was not sent by the admin UI. Reload the page and try again."
            }
        }
    }
}

/// `scheme://host[:port]` of a URL such as the public URL (no path, lower-cased).
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin
        .is_tuple()
        .then(|| origin.ascii_serialization().to_ascii_lowercase())
}

/// Checks the browser's own statement of where the request comes from against `own`, the
/// origins this admin UI is served on.
pub fn check_origin(headers: &HeaderMap, own: &[String]) -> Result<(), CsrfFailure> {
    let same_origin = match headers.get("sec-fetch-site") {
        Some(site) if site.as_bytes() == b"same-origin" => true,
        Some(_) => return Err(CsrfFailure::FetchSite),
        None => false,
    };
    if let Some(origin) = headers.get(actix_web::http::header::ORIGIN) {
        let origin = origin
            .to_str()
            .map_err(|_| CsrfFailure::Origin)?
            .to_ascii_lowercase();
        let vouched_null = origin == "null" && same_origin;
        if !vouched_null && !own.contains(&origin) {
            return Err(CsrfFailure::Origin);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    type Case<'a> = (&'a [(&'a str, &'a str)], Result<(), CsrfFailure>);

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_same_origin_requests_pass() {
        let own = vec!["https://broker.example.com".to_owned()];
        let cases: &[Case] = &[
            (&[], Ok(())),
            (&[("sec-fetch-site", "same-origin")], Ok(())),
            (&[("origin", "https://broker.example.com")], Ok(())),
            (&[("origin", "HTTPS://Broker.Example.com")], Ok(())),
            (
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://broker.example.com"),
                ],
                Ok(()),
            ),
            (
                &[("sec-fetch-site", "cross-site")],
                Err(CsrfFailure::FetchSite),
            ),
            (
                &[("sec-fetch-site", "same-site")],
                Err(CsrfFailure::FetchSite),
            ),
            (&[("sec-fetch-site", "none")], Err(CsrfFailure::FetchSite)),
            (
                &[("origin", "https://evil.example")],
                Err(CsrfFailure::Origin),
            ),
            (&[("origin", "null")], Err(CsrfFailure::Origin)),
            // Our own form under `Referrer-Policy: no-referrer`.
            (
                &[("origin", "null"), ("sec-fetch-site", "same-origin")],
                Ok(()),
            ),
            (
                &[("origin", "null"), ("sec-fetch-site", "cross-site")],
                Err(CsrfFailure::FetchSite),
            ),
            (
                &[("origin", "https://broker.example.com.evil.example")],
                Err(CsrfFailure::Origin),
            ),
            (
                &[("origin", "http://broker.example.com")],
                Err(CsrfFailure::Origin),
            ),
            (
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://evil.example"),
                ],
                Err(CsrfFailure::Origin),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(check_origin(&headers(pairs), &own), *expected, "{pairs:?}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/base").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin_of("https://Broker.example.com").as_deref(),
            Some("https://broker.example.com")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
