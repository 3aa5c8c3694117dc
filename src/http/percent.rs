//! Strict percent-decoding: every `%` must start a two-digit hex escape and the result must be
//! UTF-8, otherwise the input is refused. Used for path segments and encoded scope roles, where a
//! lenient decoder would let malformed input through as a different value.

/// `s` with its `%XX` escapes decoded, or `None` for a malformed escape or non-UTF-8 result.
/// Borrows when there is nothing to decode.
pub fn decode(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('%') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_escapes_and_refuses_malformed_ones() {
        assert_eq!(decode("plain").as_deref(), Some("plain"));
        assert_eq!(decode("a%2Fb%40c").as_deref(), Some("a/b@c"));
        assert_eq!(decode("%e2%9c%93").as_deref(), Some("✓"));
        assert_eq!(decode("100%").as_deref(), None);
        assert_eq!(decode("%4").as_deref(), None);
        assert_eq!(decode("%zz").as_deref(), None);
        assert_eq!(decode("%+1").as_deref(), None);
        assert_eq!(
            decode("%c0%ae").as_deref(),
            None,
            "overlong UTF-8 is not UTF-8"
        );
    }
}
