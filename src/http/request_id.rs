//! Request ids: one per request, echoed in `x-request-id`, quoted in every error body and log
//! line. Held in a task-local so error bodies built deep in a handler can include it.

use std::cell::RefCell;

tokio::task_local! {
    static REQUEST_ID: RefCell<String>;
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(RefCell::new(id), fut).await
}

/// The current request's id, when called inside a request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.borrow().clone()).ok()
}

/// A fresh id: 128 random bits as 32 lowercase hex digits.
pub fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Accepts a caller-supplied id only when it is short and plainly safe to echo and log
/// (no header or log injection); otherwise a fresh one is used.
pub fn accept_or_generate(supplied: Option<&str>) -> String {
    match supplied {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_owned()
        }
        _ => generate(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_supplied_ids_are_replaced() {
        assert_eq!(accept_or_generate(Some("abc-123_X")), "abc-123_X");
        for bad in ["", "a b", "x\r\nSet-Cookie: y", &"a".repeat(65), "ü"] {
            let id = accept_or_generate(Some(bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32);
        }
    }

    #[tokio::test]
    async fn current_is_visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let seen = scope("rid-1".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("rid-1"));
    }
}
