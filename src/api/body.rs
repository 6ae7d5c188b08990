//! Reading the request body under the size limit. A declared `Content-Length` over the limit is refused before
//! a byte is read; a chunked body is refused as soon as it passes the limit.

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;

use crate::error::ApiError;

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

/// Reads the whole body, at most `limit` bytes.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(16 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::IncompleteBody)?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
