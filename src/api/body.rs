//! Reading the request body under the size limit and a deadline. A declared `Content-Length` over the limit
//! is refused before a byte is read; a chunked body is refused as soon as it passes the limit. A body must
//! keep pace: by any moment it must have arrived at `server.body_min_bytes_per_sec` after a grace of
//! `server.body_timeout_secs`, or the request gets 408 and its connection closes — a client that trickles a
//! byte every few seconds cannot hold a connection (or the in-flight budget) for long.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;
use crate::config::ServerSettings;

/// Media types that cannot carry a submission. Anything else is accepted, because the upstream sends its
/// configured `Content-Type` (usually `application/json`) even when the body is encrypted text.
const REFUSED_TYPES: &[&str] = &["multipart/", "application/x-www-form-urlencoded"];

/// Refuses form and multipart bodies with 415.
pub fn check_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value
        .to_str()
        .unwrap_or("(unreadable)")
        .to_ascii_lowercase();
    if REFUSED_TYPES.iter().any(|t| text.starts_with(t)) {
        let essence = text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        return Err(ApiError::UnsupportedMediaType(essence));
    }
    Ok(())
}

/// Waits for room for this request's body in the in-flight budget (its declared length, or `max_body_bytes`
/// for a chunked body; never more than the whole budget). The permit is held until the answer is ready, so
/// bodies, their decrypted and parsed copies and queued rows together stay bounded. Waiting happens before
/// the body is read, so a busy receiver slows its clients through TCP instead of buffering.
pub async fn reserve_budget(
    req: &HttpRequest,
    budget: &Arc<Semaphore>,
    server: &ServerSettings,
) -> Result<OwnedSemaphorePermit, ApiError> {
    let wanted = declared_length(req)
        .unwrap_or(server.max_body_bytes)
        .clamp(1, server.inflight_body_bytes);
    let permits = u32::try_from(wanted).map_err(|_| ApiError::Unavailable)?;
    let wait = Duration::from_secs(server.inflight_wait_secs);
    match tokio::time::timeout(wait, budget.clone().acquire_many_owned(permits)).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_closed)) => Err(ApiError::Unavailable),
        Err(_elapsed) => {
            log::warn!(
                "submission refused: no room for its body within {wait:?} (server.inflight_body_bytes)"
            );
            Err(ApiError::Unavailable)
        }
    }
}

/// A declared `Content-Length` over `limit`: refused with 413 before waiting for room or reading.
pub fn declared_too_large(req: &HttpRequest, limit: usize) -> bool {
    declared_length(req).is_some_and(|n| n > limit)
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads the whole body, at most `limit` bytes, at the pace `server` asks for.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    server: &ServerSettings,
) -> Result<BytesMut, ApiError> {
    if declared_too_large(req, limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let declared = declared_length(req);
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(16 * 1024).min(limit));
    let start = tokio::time::Instant::now();
    loop {
        let due = start + allowed_time(buf.len(), server);
        let next = match tokio::time::timeout_at(due, payload.next()).await {
            Ok(next) => next,
            Err(_elapsed) => {
                log::info!(
                    "request body too slow: {} bytes in {:.1} s",
                    buf.len(),
                    start.elapsed().as_secs_f64()
                );
                return Err(ApiError::RequestTimeout);
            }
        };
        let Some(chunk) = next else {
            return Ok(buf);
        };
        let chunk = chunk.map_err(|_| ApiError::IncompleteBody)?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
}

/// How long a body may have taken once `received` bytes have arrived: the grace plus their time at the
/// slowest accepted rate.
fn allowed_time(received: usize, server: &ServerSettings) -> Duration {
    let rate = server.body_min_bytes_per_sec.max(1);
    Duration::from_secs(server.body_timeout_secs)
        + Duration::from_secs_f64(received as f64 / rate as f64)
}
