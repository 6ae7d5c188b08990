//! The request id: taken from an incoming `X-Request-Id` (1 to 64 of `A-Z a-z 0-9 . _ : -`, so it cannot smuggle
//! anything into a log line) or the trace id of a W3C `traceparent`, otherwise made here. Every response carries it
//! as `X-Request-Id`, every error body as `request_id`, and the request's log line names it, so a caller's
//! report and our logs meet.

use actix_web::http::header::HeaderMap;

tokio::task_local! {
    /// The id of the request being served on this task.
    static REQUEST_ID: String;
}

/// The response header.
pub const HEADER: &str = "x-request-id";

/// The id for a request with these headers.
pub fn from_headers(headers: &HeaderMap) -> String {
    let given = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid(v));
    if let Some(id) = given {
        return id.to_string();
    }
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

fn valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), unless it is all zeros.
fn trace_id(value: &str) -> Option<String> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0'))
    .then(|| trace.to_string())
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id, inside a request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_plain_id_is_kept_and_anything_else_replaced() {
        assert_eq!(
            from_headers(&headers(&[(HEADER, "abc-123.x:y_z")])),
            "abc-123.x:y_z"
        );
        for bad in ["has space", "semi;colon", &"x".repeat(65), "\"quoted\""] {
            let id = from_headers(&headers(&[(HEADER, bad)]));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32);
        }
    }

    #[test]
    fn a_traceparent_gives_its_trace_id() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            from_headers(&headers(&[("traceparent", tp)])),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let zeros = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        assert_ne!(
            from_headers(&headers(&[("traceparent", zeros)])),
            "0".repeat(32)
        );
        assert_ne!(from_headers(&headers(&[("traceparent", "junk")])), "junk");
    }
}
