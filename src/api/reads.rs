//! Plumbing shared by the auditor routes: database work off the async workers, the `purpose` rule
//! (`audit.require_purpose`), and the audit event every read of personal data or images appends *before* the
//! data is sent — if the event cannot be stored, nothing is disclosed (503).

use actix_web::web;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::store::DbConnection;
use crate::store::audit_log::AuditDraft;
use crate::submission::Reference;

/// Checks `purpose` against `audit.require_purpose`.
pub fn purpose(state: &AppState, given: Option<&str>) -> Result<Option<String>, ApiError> {
    state
        .settings
        .audit
        .check_purpose(given)
        .map_err(|e| ApiError::PurposeRequired(e.to_string()))
}

/// Runs `work` with a pooled connection on the blocking thread pool.
pub async fn with_db<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || work(&mut *pool.get()?)).await?
}

/// Appends the audit event of a read of personal data or images and waits for its commit. `details` must
/// name things (fields, kinds, references, the purpose), never personal values.
pub async fn audit_read(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    reference: Option<Reference>,
    details: Value,
) -> Result<(), ApiError> {
    state
        .writer
        .audit(AuditDraft {
            kind: kind.into(),
            actor: Some(principal.client_id.clone()),
            reference,
            requester_id: None,
            details,
        })
        .await
        .map_err(|e| {
            log::warn!("read of personal data refused: its audit event was not stored ({e})");
            e.into()
        })
}

/// A response body produced a chunk at a time on the blocking pool: `step` advances `state` with a pooled
/// connection and gives the next chunk, or `None` at the end. A failure ends the body early (the client sees a
/// truncated transfer) and is logged as `what` aborted.
pub fn stream_chunks<S, C, F>(
    pool: crate::store::Pool,
    state: S,
    step: F,
    what: &'static str,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>>
where
    S: Send + 'static,
    C: Into<web::Bytes> + Send + 'static,
    F: Fn(&mut S, &mut DbConnection) -> Result<Option<C>, String> + Clone + Send + 'static,
{
    futures_util::stream::unfold(Some(state), move |state| {
        let (pool, step) = (pool.clone(), step.clone());
        async move {
            let mut state = state?;
            let next = web::block(move || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                let chunk = step(&mut state, &mut conn)?;
                Ok::<_, String>((state, chunk))
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match next {
                Ok((state, Some(chunk))) => Some((Ok(chunk.into()), Some(state))),
                Ok((_, None)) => None,
                Err(e) => {
                    log::error!("{what} aborted: {e}");
                    Some((Err(std::io::Error::other(format!("{what} aborted"))), None))
                }
            }
        }
    })
}
