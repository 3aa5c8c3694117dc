//! Reading response bodies with hard caps (SECURITY.md PX-5).
//!
//! reqwest is built without its gzip feature, so `Content-Encoding: gzip` bodies (partitions ≥ 1,
//! PROTOCOL.md A.5) arrive compressed and are inflated here. Both the bytes on the wire and the
//! inflated bytes are capped, so a huge body or a gzip bomb fails with
//! [`SnowflakeError::TooLarge`] after reading at most `cap + 1` bytes — never by exhausting memory.

use std::io::Read;

use reqwest::header::CONTENT_ENCODING;
use reqwest::Response;

use super::error::SnowflakeError;

/// Reads the whole body of `response` (at most `raw_cap` bytes on the wire, `inflated_cap`
/// after gunzip). Transport failures mid-body surface as the reqwest error for the caller to
/// classify (they are retryable like any other transport failure).
pub(crate) async fn read_capped(
    mut response: Response,
    raw_cap: u64,
    inflated_cap: u64,
) -> Result<Result<Vec<u8>, SnowflakeError>, reqwest::Error> {
    let gzip = response
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("gzip"));
    if response.content_length().is_some_and(|len| len > raw_cap) {
        return Ok(Err(SnowflakeError::TooLarge { limit: raw_cap }));
    }
    let mut raw = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (raw.len() + chunk.len()) as u64 > raw_cap {
            return Ok(Err(SnowflakeError::TooLarge { limit: raw_cap }));
        }
        raw.extend_from_slice(&chunk);
    }
    if !gzip {
        return Ok(Ok(raw));
    }
    // Inflating is CPU work of up to `inflated_cap` bytes: keep it off the async workers.
    let inflated = tokio::task::spawn_blocking(move || gunzip_capped(&raw, inflated_cap))
        .await
        .unwrap_or_else(|_| Err(SnowflakeError::Protocol("gzip decoder task failed".into())));
    Ok(inflated)
}

/// Inflates a (possibly multi-member) gzip stream, refusing more than `cap` output bytes.
pub(crate) fn gunzip_capped(compressed: &[u8], cap: u64) -> Result<Vec<u8>, SnowflakeError> {
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    let mut out = Vec::new();
    decoder
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| SnowflakeError::Protocol("partition body is not valid gzip".into()))?;
    if out.len() as u64 > cap {
        return Err(SnowflakeError::TooLarge { limit: cap });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gunzip_round_trips_within_the_cap() {
        let body = br#"{"data":[["1"]]}"#;
        assert_eq!(gunzip_capped(&gzip(body), 1024).unwrap(), body);
    }

    #[test]
    fn gunzip_refuses_output_beyond_the_cap() {
        let bomb = gzip(&vec![b'0'; 10 * 1024 * 1024]);
        assert!(
            bomb.len() < 64 * 1024,
            "a bomb should be small: {}",
            bomb.len()
        );
        let err = gunzip_capped(&bomb, 1024 * 1024).unwrap_err();
        assert!(matches!(err, SnowflakeError::TooLarge { limit } if limit == 1024 * 1024));
    }

    #[test]
    fn gunzip_rejects_garbage() {
        let err = gunzip_capped(b"not gzip at all", 1024).unwrap_err();
        assert!(matches!(err, SnowflakeError::Protocol(_)));
    }
}
