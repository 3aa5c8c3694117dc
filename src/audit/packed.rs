//! The audit log's record format: a version byte, then the entries one after another in
//! postcard's compact binary encoding. Handles, request ids and statement hashes are kept as
//! their 16 or 32 bytes rather than as text. A record is about a third of the JSON array it
//! replaces, and the writer's cost is mostly the record's bytes (copied into sled's log), so the
//! audit log costs a third of what it did per call (BENCHMARKS.md). Records written as JSON
//! before this format still read back.

use serde::{Deserialize, Serialize};

use super::AuditEntry;

/// First byte of a packed record. JSON records start with `[` or `{`, never with this.
pub(super) const VERSION: u8 = 1;

/// One entry as stored: the same fields as [`AuditEntry`], borrowed, without field names.
#[derive(Serialize, Deserialize)]
struct Packed<'a> {
    at_ms: u64,
    api_key_id: &'a str,
    connection: &'a str,
    #[serde(borrow)]
    identifier: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    #[serde(borrow)]
    statement_sha256: Option<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    statement_handle: Option<Text<'a>>,
    upstream_status: Option<u16>,
    #[serde(borrow)]
    error_code: Option<&'a str>,
    duration_ms: u64,
    retries: u32,
}

/// A text field in the fewest bytes that give it back exactly: a lowercase hyphenated UUID as
/// its 16 bytes, 64 lowercase hex digits as their 32 bytes, anything else as it is.
#[derive(Serialize, Deserialize)]
enum Text<'a> {
    Uuid([u8; 16]),
    Sha256([u8; 32]),
    Plain(&'a str),
}

impl<'a> Text<'a> {
    fn pack(text: &'a str) -> Self {
        match text.len() {
            36 => match uuid::Uuid::try_parse(text) {
                Ok(id)
                    if id.hyphenated().encode_lower(&mut [0; 36]).as_bytes() == text.as_bytes() =>
                {
                    Text::Uuid(id.into_bytes())
                }
                _ => Text::Plain(text),
            },
            64 if text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                let mut bytes = [0; 32];
                match hex::decode_to_slice(text, &mut bytes) {
                    Ok(()) => Text::Sha256(bytes),
                    Err(_) => Text::Plain(text),
                }
            }
            _ => Text::Plain(text),
        }
    }

    fn unpack(self) -> String {
        match self {
            Text::Uuid(bytes) => uuid::Uuid::from_bytes(bytes).hyphenated().to_string(),
            Text::Sha256(bytes) => hex::encode(bytes),
            Text::Plain(text) => text.to_owned(),
        }
    }
}

/// Appends `entry` to a record being filled. On error `buf` is as it was.
pub(super) fn push(entry: &AuditEntry, buf: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let packed = Packed {
        at_ms: entry.at_ms,
        api_key_id: &entry.api_key_id,
        connection: &entry.connection,
        identifier: entry.identifier.as_deref(),
        method: &entry.method,
        path: &entry.path,
        statement_sha256: entry.statement_sha256.as_deref().map(Text::pack),
        request_id: entry.request_id.as_deref().map(Text::pack),
        statement_handle: entry.statement_handle.as_deref().map(Text::pack),
        upstream_status: entry.upstream_status,
        error_code: entry.error_code.as_deref(),
        duration_ms: entry.duration_ms,
        retries: entry.retries,
    };
    let before = buf.len();
    postcard::to_extend(&packed, Append(buf))
        .map(drop)
        .inspect_err(|_| buf.truncate(before))
}

/// The entries of a packed record (after its [`VERSION`] byte); `None` if it does not decode.
pub(super) fn entries(mut record: &[u8]) -> Option<Vec<AuditEntry>> {
    let mut entries = Vec::new();
    while !record.is_empty() {
        let (packed, rest) = postcard::take_from_bytes::<Packed<'_>>(record).ok()?;
        entries.push(AuditEntry {
            at_ms: packed.at_ms,
            api_key_id: packed.api_key_id.to_owned(),
            connection: packed.connection.to_owned(),
            identifier: packed.identifier.map(str::to_owned),
            method: packed.method.to_owned(),
            path: packed.path.to_owned(),
            statement_sha256: packed.statement_sha256.map(Text::unpack),
            request_id: packed.request_id.map(Text::unpack),
            statement_handle: packed.statement_handle.map(Text::unpack),
            upstream_status: packed.upstream_status,
            error_code: packed.error_code.map(str::to_owned),
            duration_ms: packed.duration_ms,
            retries: packed.retries,
        });
        record = rest;
    }
    Some(entries)
}

/// Lets postcard append to a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Append<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0.extend(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> AuditEntry {
        AuditEntry {
            at_ms: 1_764_720_000_123,
            api_key_id: "0193a5e4-7c1e-7b9a-9f00-3c2d1e0f4a5b".to_owned(),
            connection: "analytics".to_owned(),
            identifier: Some("jsmith@example.com".to_owned()),
            method: "POST".to_owned(),
            path: "/api/v2/statements".to_owned(),
            statement_sha256: Some(hex::encode([0xab; 32])),
            request_id: Some("5d9e8f7a-1b2c-4d3e-8f4a-5b6c7d8e9f01".to_owned()),
            statement_handle: Some("01b2c3d4-0000-4a5b-8c6d-7e8f9a0b1c2d".to_owned()),
            upstream_status: Some(200),
            error_code: None,
            duration_ms: 12,
            retries: 1,
        }
    }

    fn record_of(entries: &[AuditEntry]) -> Vec<u8> {
        let mut buf = Vec::new();
        for entry in entries {
            push(entry, &mut buf).unwrap();
        }
        buf
    }

    #[test]
    fn entries_read_back_exactly_whatever_their_text_looks_like() {
        let mut odd = call();
        // Not the canonical forms: kept as text, given back unchanged.
        odd.request_id = Some("5D9E8F7A-1B2C-4D3E-8F4A-5B6C7D8E9F01".to_owned());
        odd.statement_handle = Some("not-a-handle".to_owned());
        odd.statement_sha256 = Some("AB".repeat(32));
        odd.identifier = None;
        odd.upstream_status = None;
        odd.error_code = Some("upstream_unavailable".to_owned());
        let mut bare = call();
        bare.statement_sha256 = None;
        bare.request_id = None;
        bare.statement_handle = None;
        let written = vec![call(), odd, bare];
        assert_eq!(entries(&record_of(&written)), Some(written));
    }

    #[test]
    fn a_call_takes_less_than_half_its_json() {
        let packed = record_of(&[call()]).len();
        let json = serde_json::to_vec(&call()).unwrap().len();
        assert!(packed * 2 < json, "packed {packed} bytes, JSON {json}");
    }

    #[test]
    fn a_truncated_record_is_refused_not_misread() {
        let record = record_of(&[call(), call()]);
        assert_eq!(entries(&record[..record.len() - 3]), None);
    }
}
