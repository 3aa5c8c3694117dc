//! Small helpers shared by snowsim's HTTP modules: clock, randomness, locking, escaping and the
//! shape of Snowflake identifiers (statement handles, tokens).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the sim's state stays
/// usable; a panic in one handler must not take every later request down with it).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (Snowflake's `createdOn`).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `n` bytes from the operating system's CSPRNG. Falls back to a time-and-counter mix only if the
/// OS source fails, which keeps the double alive (tokens are test values, never real secrets).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        static FALLBACK: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
        for (i, b) in buf.iter_mut().enumerate() {
            let x = FALLBACK.fetch_add(0x9e37_79b9, Ordering::Relaxed) ^ now_millis() ^ i as u64;
            *b = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        }
    }
    buf
}

/// A random unsigned integer with `digits` decimal digits (Snowflake's token `hint:` part).
pub fn random_digits(digits: u32) -> u64 {
    let bytes = random_bytes(8);
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes);
    let low = 10u64.pow(digits.saturating_sub(1));
    low + u64::from_le_bytes(raw) % (low * 9)
}

/// Standard base64 with padding (Snowflake's tokens and secrets use this alphabet, `+/=`).
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (form tokens, authorization codes).
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

static HANDLE_SEQ: AtomicU64 = AtomicU64::new(1);

/// A statement handle shaped like Snowflake's (`01b03285-0001-dea1-003d-b087000ca9be`): UUID
/// syntax, but not a random v4 UUID. The first group grows with time, the second names the
/// account's deployment slot, the last group carries a sequence number so handles are unique.
pub fn statement_handle(account_slot: usize) -> String {
    let seq = HANDLE_SEQ.fetch_add(1, Ordering::Relaxed);
    let r = random_bytes(4);
    let minutes = now_secs() / 60;
    format!(
        "01{:06x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}-{:012x}",
        minutes & 0xff_ffff,
        account_slot & 0xffff,
        r[0],
        r[1],
        r[2],
        r[3],
        seq & 0xffff_ffff_ffff
    )
}

/// Whether `s` has the 8-4-4-4-12 hex shape of a UUID (statement handles and request ids).
pub fn is_uuid_shaped(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8usize, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Constant-time comparison of two secrets (lengths may leak, contents do not).
pub fn secret_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_handles_are_uuid_shaped_and_unique() {
        let a = statement_handle(1);
        let b = statement_handle(1);
        assert!(is_uuid_shaped(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_uuid_shaped("01b03285-0001-dea1-003d-b087000ca9b"));
    }

    #[test]
    fn random_digits_have_the_requested_width() {
        for _ in 0..100 {
            assert_eq!(random_digits(10).to_string().len(), 10);
        }
    }
}
