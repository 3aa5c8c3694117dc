//! Request ids: one per request, echoed in `x-request-id`, quoted in every error body and log
//! line. Held in a task-local so error bodies built deep in a handler can include it.

use actix_web::http::header::HeaderValue;

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: HeaderValue, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id, when called inside a request.
pub fn current() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_str().map(str::to_owned).ok())
        .ok()
        .flatten()
}

/// A fresh id: 128 random bits as 32 lowercase hex digits.
pub fn generate() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .encode_lower(&mut [0; 32])
        .to_owned()
}

/// The request's id as the header value echoed in `x-request-id`: the caller's own (shared, not
/// copied) when it is short and plainly safe to echo and log (no header or log injection),
/// otherwise a fresh one.
pub fn accept_or_generate(supplied: Option<&HeaderValue>) -> HeaderValue {
    match supplied {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .as_bytes()
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.clone()
        }
        _ => HeaderValue::from_maybe_shared(bytes::Bytes::from(generate()))
            .unwrap_or_else(|_| unreachable!("32 hex digits are a valid header value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_supplied_ids_are_replaced() {
        let good = HeaderValue::from_static("abc-123_X");
        assert_eq!(accept_or_generate(Some(&good)), good);
        let bad: Vec<HeaderValue> = ["", "a b", "x;Set-Cookie: y", &"a".repeat(65)]
            .into_iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .chain([HeaderValue::from_bytes("ü".as_bytes()).unwrap()])
            .collect();
        for bad in &bad {
            let id = accept_or_generate(Some(bad));
            assert_ne!(&id, bad);
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
        assert_eq!(accept_or_generate(None).len(), 32);
    }

    #[tokio::test]
    async fn current_is_visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let seen = scope(HeaderValue::from_static("rid-1"), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("rid-1"));
    }
}
