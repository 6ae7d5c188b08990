//! The write path of the running service (submissions, reviews, audit events of reads and refusals): writer
//! threads (one by default) take jobs from a bounded queue and commit whatever has gathered as one
//! transaction (group commit) with multi-row INSERTs, then answer each job. A job is acknowledged only after
//! its transaction committed. When a batch fails for a reason other than the database being unavailable, its
//! jobs are retried one by one so one bad row cannot fail innocent neighbours. The operator commands
//! (erasure, retention, key rotation) write in transactions of their own under the same chain lock. Reads
//! `database.writers`, `batch_max_rows`, `batch_max_bytes`, `batch_max_wait_us`, `queue_depth`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::Utc;
use diesel::Connection;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::audit_log::{AuditDraft, ChainCursor};
use super::images::ImageRow;
use super::quarantine::{self, Admission, QuarantineRow};
use super::review::{self, ReviewOutcome, ReviewRequest};
use super::submissions::{self, Existing, IdempotencyKey, SubmissionRow};
use super::{DbConnection, Pool, StoreError};
use crate::submission::{NewSubmission, Reference};

/// What happened to a submission handed to the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Newly stored; answer with `response_body`.
    Stored {
        /// Its reference.
        reference: Reference,
        /// The confirmation to send.
        response_body: String,
    },
    /// The same requester id and payload were stored before; answer as then.
    Replayed {
        /// The original reference.
        reference: Reference,
        /// The original confirmation.
        response_body: String,
    },
    /// The requester id was used before for a different payload.
    Conflict {
        /// The reference of the earlier submission.
        reference: Reference,
        /// The refused submission's requester id and user id (for its quarantine entry; copied only on a
        /// conflict).
        requester_id: String,
        /// See `requester_id`.
        user_id: String,
    },
}

/// Batch limits, thread count, and the audit key new events are MAC'd with.
#[derive(Debug, Clone)]
pub struct WriterLimits {
    /// Writer threads.
    pub threads: usize,
    /// Most jobs per commit.
    pub batch_max_rows: usize,
    /// Most payload bytes per commit.
    pub batch_max_bytes: usize,
    /// Longest wait for announced submissions ([`Writer::arrival`]) to join a batch.
    pub batch_max_wait: std::time::Duration,
    /// Jobs queued before `submit` refuses with `Unavailable`.
    pub queue_depth: usize,
    /// `quarantine.max_bytes`.
    pub quarantine_max_bytes: u64,
    /// `events.enabled`: write a decision event with every stored submission and review.
    pub events: bool,
    /// MACs the audit events the writer appends.
    pub audit_key: super::audit_log::AuditKey,
}

/// A submission that comes out of the quarantine: its entry is marked in the same transaction.
#[derive(Debug, Clone)]
pub struct ReplayTag {
    /// The quarantine entry.
    pub quarantine_id: String,
    /// Who asked for the replay.
    pub actor: String,
}

enum Job {
    Submission {
        row: Box<SubmissionRow>,
        images: Vec<ImageRow>,
        actor_details: serde_json::Value,
        replay: Option<ReplayTag>,
        reply: oneshot::Sender<Result<SubmitOutcome, StoreError>>,
    },
    Quarantine {
        row: Box<QuarantineRow>,
        refusal: AuditDraft,
        reply: oneshot::Sender<Result<Admission, StoreError>>,
    },
    Audit {
        draft: AuditDraft,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Review {
        request: Box<ReviewRequest>,
        reply: oneshot::Sender<Result<ReviewOutcome, StoreError>>,
    },
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Submission { row, images, .. } => {
                usize::try_from(row.payload_bytes).unwrap_or(0)
                    + images.iter().map(|i| i.ciphertext.len()).sum::<usize>()
            }
            Job::Quarantine { row, .. } => usize::try_from(row.body_bytes).unwrap_or(0),
            Job::Audit { .. } | Job::Review { .. } => 256,
        }
    }
}

enum Done {
    Submission(SubmitOutcome),
    Quarantine(Admission),
    Audit,
    Review(ReviewOutcome),
}

/// Handle to the writer threads; cheap to clone. Dropping every handle lets the threads drain and exit.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    arriving: Arc<AtomicUsize>,
    committed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// A submission on its way to the writer (being read or prepared); see [`Writer::arrival`].
pub struct Arrival(Arc<AtomicUsize>);

impl Drop for Arrival {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Writer {
    /// Starts the writer threads.
    pub fn start(pool: Pool, limits: WriterLimits) -> (Writer, Vec<JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(limits.queue_depth.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let arriving = Arc::new(AtomicUsize::new(0));
        let committed = Arc::new(tokio::sync::watch::Sender::new(0u64));
        let handles = (0..limits.threads.max(1))
            .filter_map(|i| {
                let (pool, rx, arriving, committed, limits) = (
                    pool.clone(),
                    rx.clone(),
                    arriving.clone(),
                    committed.clone(),
                    limits.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("kyc-writer-{i}"))
                    .spawn(move || writer_loop(&pool, &rx, &arriving, &committed, limits))
                    .map_err(|e| log::error!("cannot start writer thread: {e}"))
                    .ok()
            })
            .collect();
        (
            Writer {
                tx,
                arriving,
                committed,
            },
            handles,
        )
    }

    /// Changes whenever a batch that could hold decision events committed: the change feed's long polls and
    /// the webhook dispatchers wait on it instead of polling the database.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// Announces a submission that will reach [`Writer::submit`] soon (drop the guard just before calling
    /// it, or when the submission is refused). A batch waits up to `batch_max_wait` for announced
    /// submissions, so concurrent arrivals share one commit instead of each paying for a sync.
    pub fn arrival(&self) -> Arrival {
        self.arriving.fetch_add(1, Ordering::Relaxed);
        Arrival(self.arriving.clone())
    }

    /// Stores a submission (or finds it was stored before). `details` goes into its audit event. The rows
    /// and the content hash are made here, on the caller's thread, so the writer thread only writes.
    pub async fn submit(
        &self,
        submission: NewSubmission,
        details: serde_json::Value,
    ) -> Result<SubmitOutcome, StoreError> {
        self.submit_tagged(submission, details, None).await
    }

    /// Stores a submission replayed from the quarantine and marks its entry in the same commit: replayed when
    /// it is stored (or was stored before with the same payload), still quarantined with the new error on a
    /// conflict. Each outcome is an audit event naming both the entry and the record.
    pub async fn replay(
        &self,
        submission: NewSubmission,
        details: serde_json::Value,
        tag: ReplayTag,
    ) -> Result<SubmitOutcome, StoreError> {
        self.submit_tagged(submission, details, Some(tag)).await
    }

    async fn submit_tagged(
        &self,
        submission: NewSubmission,
        details: serde_json::Value,
        replay: Option<ReplayTag>,
    ) -> Result<SubmitOutcome, StoreError> {
        let (row, images) = SubmissionRow::from_new(&submission);
        drop(submission);
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            // The record's history starts here: verification compares the row with the last hash recorded.
            map.insert("content_hash".into(), json!(row.content_hash));
        }
        let (reply, rx) = oneshot::channel();
        self.enqueue(Job::Submission {
            row: Box::new(row),
            images,
            actor_details: details,
            replay,
            reply,
        })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Keeps a refused submission in the quarantine with the audit event of its refusal (which gets the
    /// entry's id, or `null` when it was too large to keep), in one commit.
    pub async fn quarantine(
        &self,
        row: QuarantineRow,
        mut refusal: AuditDraft,
    ) -> Result<Admission, StoreError> {
        if let Some(details) = refusal.details.as_object_mut() {
            details.insert("quarantine_id".into(), json!(row.id));
        }
        let (reply, rx) = oneshot::channel();
        self.enqueue(Job::Quarantine {
            row: Box::new(row),
            refusal,
            reply,
        })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Appends an audit event on its own (e.g. for a refused request) and waits for the commit.
    pub async fn audit(&self, draft: AuditDraft) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.enqueue(Job::Audit { draft, reply })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Records a reviewer's decision (see `store::review::apply`) and waits for the commit.
    pub async fn review(&self, request: ReviewRequest) -> Result<ReviewOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.enqueue(Job::Review {
            request: Box::new(request),
            reply,
        })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    // A full queue means the database is not keeping up: refuse now (503) rather than grow without bound.
    fn enqueue(&self, job: Job) -> Result<(), StoreError> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Unavailable("write queue full".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                StoreError::Unavailable("writer stopped".into())
            }
        })
    }
}

fn writer_loop(
    pool: &Pool,
    rx: &Mutex<mpsc::Receiver<Job>>,
    arriving: &AtomicUsize,
    committed: &tokio::sync::watch::Sender<u64>,
    limits: WriterLimits,
) {
    loop {
        let batch = {
            let Ok(mut rx) = rx.lock() else { return };
            let Some(first) = rx.blocking_recv() else {
                return;
            };
            gather(&mut rx, first, arriving, &limits)
        };
        let signals = batch
            .iter()
            .any(|j| matches!(j, Job::Submission { .. } | Job::Review { .. }));
        commit_and_answer(pool, batch, &limits);
        if signals && limits.events {
            committed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// The batch that starts with `first`: whatever is queued, then, while submissions are announced and the
/// batch has room, whatever arrives within `batch_max_wait`. With nothing announced it never waits, so a
/// lone submission is committed at once.
fn gather(
    rx: &mut mpsc::Receiver<Job>,
    first: Job,
    arriving: &AtomicUsize,
    limits: &WriterLimits,
) -> Vec<Job> {
    let deadline = std::time::Instant::now() + limits.batch_max_wait;
    let mut bytes = first.weight();
    let mut batch = vec![first];
    while batch.len() < limits.batch_max_rows && bytes < limits.batch_max_bytes {
        match rx.try_recv() {
            Ok(job) => {
                bytes += job.weight();
                batch.push(job);
            }
            Err(mpsc::error::TryRecvError::Empty)
                if arriving.load(Ordering::Relaxed) > 0 && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            Err(_) => break,
        }
    }
    batch
}

fn commit_and_answer(pool: &Pool, batch: Vec<Job>, limits: &WriterLimits) {
    match run_batch(pool, &batch, limits) {
        Ok(done) => answer(batch, done.into_iter().map(Ok).collect()),
        Err(StoreError::Unavailable(msg)) => {
            log::warn!(
                "database unavailable, {} job(s) refused: {msg}",
                batch.len()
            );
            let n = batch.len();
            answer(
                batch,
                (0..n)
                    .map(|_| Err(StoreError::Unavailable(msg.clone())))
                    .collect(),
            );
        }
        Err(err) if batch.len() > 1 => {
            log::warn!(
                "batch of {} failed ({err}); retrying each alone",
                batch.len()
            );
            for job in batch {
                let result = run_batch(pool, std::slice::from_ref(&job), limits)
                    .map(|mut done| done.remove(0));
                answer(vec![job], vec![result]);
            }
        }
        Err(err) => answer(batch, vec![Err(err)]),
    }
}

fn answer(batch: Vec<Job>, results: Vec<Result<Done, StoreError>>) {
    for (job, result) in batch.into_iter().zip(results) {
        // A closed receiver means the client went away; the write stands, nothing to tell.
        match job {
            Job::Submission { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Submission(outcome) => Ok(outcome),
                    _ => Err(StoreError::Unavailable("internal mix-up".into())),
                }));
            }
            Job::Review { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Review(outcome) => Ok(outcome),
                    _ => Err(StoreError::Unavailable("internal mix-up".into())),
                }));
            }
            Job::Quarantine { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Quarantine(admission) => Ok(admission),
                    _ => Err(StoreError::Unavailable("internal mix-up".into())),
                }));
            }
            Job::Audit { reply, .. } => {
                let _ = reply.send(result.map(|_| ()));
            }
        }
    }
}

fn run_batch(pool: &Pool, batch: &[Job], limits: &WriterLimits) -> Result<Vec<Done>, StoreError> {
    let mut conn = pool.get()?;
    let now = Utc::now().naive_utc();
    let result = conn.transaction::<_, diesel::result::Error, _>(|c| {
        let mut cursor = ChainCursor::lock(c, &limits.audit_key)?;
        let keys: Vec<IdempotencyKey> = batch
            .iter()
            .filter_map(|j| match j {
                Job::Submission { row, .. } => Some(IdempotencyKey::of(row)),
                Job::Audit { .. } | Job::Review { .. } | Job::Quarantine { .. } => None,
            })
            .collect();
        let mut known = submissions::find_existing(c, &keys)?;
        let mut pending = Pending::default();
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            done.push(match job {
                Job::Audit { draft, .. } => {
                    pending.events.push(cursor.next_event(draft, now));
                    Done::Audit
                }
                Job::Review { request, .. } => {
                    // A review reads the rows it changes: everything before it must be in the database.
                    pending.flush(c)?;
                    Done::Review(review::apply(c, &mut cursor, request, now, limits.events)?)
                }
                Job::Quarantine { row, refusal, .. } => {
                    pending.flush(c)?;
                    let admission =
                        quarantine::admit(c, &mut cursor, row, limits.quarantine_max_bytes, now)?;
                    let mut refusal = refusal.clone();
                    if admission == Admission::TooLarge
                        && let Some(details) = refusal.details.as_object_mut()
                    {
                        details.insert("quarantine_id".into(), serde_json::Value::Null);
                        details.insert("quarantine".into(), json!("too large to keep"));
                    }
                    cursor.append(c, &refusal, now)?;
                    Done::Quarantine(admission)
                }
                Job::Submission {
                    row,
                    images,
                    actor_details,
                    replay,
                    ..
                } => {
                    let outcome = plan_one(
                        &mut cursor,
                        &mut known,
                        &mut pending,
                        Planned {
                            row,
                            images,
                            details: actor_details,
                            replay: replay.as_ref(),
                            events: limits.events,
                        },
                        now,
                    );
                    if let Some(tag) = replay {
                        // The entry is marked after the row it points to is written.
                        pending.flush(c)?;
                        settle_replay(c, &mut cursor, tag, row, &outcome, now)?;
                    }
                    Done::Submission(outcome)
                }
            });
        }
        pending.flush(c)?;
        cursor.save(c)?;
        Ok(done)
    });
    result.map_err(StoreError::from)
}

/// Rows a batch decided to write, inserted many per statement: per-row round trips, not the commit, were
/// what limited PostgreSQL.
#[derive(Default)]
struct Pending<'a> {
    submissions: Vec<&'a SubmissionRow>,
    images: Vec<&'a ImageRow>,
    events: Vec<super::audit_log::AuditEvent>,
    decisions: Vec<super::events::EventRow>,
}

impl Pending<'_> {
    fn flush(&mut self, c: &mut DbConnection) -> diesel::QueryResult<()> {
        submissions::insert(c, &self.submissions)?;
        super::images::insert(c, &self.images)?;
        super::audit_log::insert_events(c, &self.events)?;
        super::events::insert(c, &self.decisions)?;
        self.submissions.clear();
        self.images.clear();
        self.events.clear();
        self.decisions.clear();
        Ok(())
    }
}

/// One submission job's parts, for [`plan_one`].
struct Planned<'a> {
    row: &'a SubmissionRow,
    images: &'a [ImageRow],
    details: &'a serde_json::Value,
    replay: Option<&'a ReplayTag>,
    events: bool,
}

/// Marks a replayed quarantine entry by what happened to its submission, with an audit event naming both.
fn settle_replay(
    c: &mut DbConnection,
    cursor: &mut ChainCursor,
    tag: &ReplayTag,
    row: &SubmissionRow,
    outcome: &SubmitOutcome,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    let (kind, reference, details) = match outcome {
        SubmitOutcome::Stored { reference, .. } => {
            quarantine::mark_replayed(c, &tag.quarantine_id, reference.as_str(), now)?;
            ("quarantine_replayed", reference, json!({}))
        }
        SubmitOutcome::Replayed { reference, .. } => {
            quarantine::mark_replayed(c, &tag.quarantine_id, reference.as_str(), now)?;
            (
                "quarantine_replayed",
                reference,
                json!({"already_stored": true}),
            )
        }
        SubmitOutcome::Conflict { reference, .. } => {
            quarantine::record_failure(
                c,
                &tag.quarantine_id,
                "duplicate_conflict",
                "the requester id was already used for a different payload",
                409,
                now,
            )?;
            (
                "quarantine_replay_failed",
                reference,
                json!({"code": "duplicate_conflict", "status": 409}),
            )
        }
    };
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("quarantine_id".into(), json!(tag.quarantine_id));
    }
    let draft = AuditDraft {
        kind: kind.into(),
        actor: Some(tag.actor.clone()),
        reference: Some(reference.clone()),
        requester_id: Some(row.requester_id.clone()),
        details,
    };
    cursor.append(c, &draft, now)?;
    Ok(())
}

/// Decides a submission's outcome against what is stored and what this batch stored before it, and queues its
/// rows and audit event.
fn plan_one<'a>(
    cursor: &mut ChainCursor,
    known: &mut HashMap<IdempotencyKey, Existing>,
    pending: &mut Pending<'a>,
    job: Planned<'a>,
    now: chrono::NaiveDateTime,
) -> SubmitOutcome {
    let Planned {
        row,
        images,
        details,
        replay,
        events,
    } = job;
    let draft = |kind: &str, reference: &Reference, details: serde_json::Value| AuditDraft {
        kind: kind.into(),
        actor: row.client_id.clone(),
        reference: Some(reference.clone()),
        requester_id: Some(row.requester_id.clone()),
        details,
    };
    let key = IdempotencyKey::of(row);
    if let Some(existing) = known.get(&key) {
        let reference = existing.reference.clone();
        return if existing.payload_digest == row.payload_digest {
            let event =
                cursor.next_event(&draft("submission_replayed", &reference, json!({})), now);
            pending.events.push(event);
            SubmitOutcome::Replayed {
                reference,
                response_body: existing.response_body.clone(),
            }
        } else {
            let facts =
                json!({"stored_digest": existing.payload_digest, "new_digest": row.payload_digest});
            let event = cursor.next_event(&draft("duplicate_conflict", &reference, facts), now);
            pending.events.push(event);
            SubmitOutcome::Conflict {
                reference,
                requester_id: row.requester_id.clone(),
                user_id: row.user_id.clone(),
            }
        };
    }
    pending.submissions.push(row);
    pending.images.extend(images);
    let event = cursor.next_event(
        &draft("submission_stored", &row.reference, details.clone()),
        now,
    );
    pending.events.push(event);
    if events {
        let (kind, quarantine_id) = match replay {
            Some(tag) => ("submission.replayed", Some(tag.quarantine_id.as_str())),
            None => ("submission.decided", None),
        };
        pending.decisions.push(super::events::submission_event(
            cursor,
            kind,
            row,
            None,
            quarantine_id,
            now,
        ));
    }
    known.insert(
        key,
        Existing {
            reference: row.reference.clone(),
            payload_digest: row.payload_digest.clone(),
            response_body: row.response_body.clone(),
        },
    );
    SubmitOutcome::Stored {
        reference: row.reference.clone(),
        response_body: row.response_body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn audit_job() -> Job {
        let (reply, _rx) = oneshot::channel();
        Job::Audit {
            draft: AuditDraft {
                kind: "test".into(),
                actor: None,
                reference: None,
                requester_id: None,
                details: json!({}),
            },
            reply,
        }
    }

    fn limits(wait: Duration) -> WriterLimits {
        WriterLimits {
            threads: 1,
            batch_max_rows: 8,
            batch_max_bytes: 1 << 20,
            batch_max_wait: wait,
            queue_depth: 16,
            quarantine_max_bytes: 1 << 20,
            events: true,
            audit_key: crate::store::audit_log::AuditKey::new([1; 32], [2; 32]),
        }
    }

    #[test]
    fn without_announced_submissions_a_batch_takes_what_is_queued_and_does_not_wait() {
        let (tx, mut rx) = mpsc::channel(16);
        for _ in 0..3 {
            assert!(tx.try_send(audit_job()).is_ok());
        }
        let arriving = AtomicUsize::new(0);
        // A wait of an hour would hang the test if it were taken.
        let batch = gather(
            &mut rx,
            audit_job(),
            &arriving,
            &limits(Duration::from_secs(3600)),
        );
        assert_eq!(batch.len(), 4);
    }

    #[test]
    fn an_announced_submission_joins_the_batch_and_the_row_limit_still_holds() {
        let (tx, mut rx) = mpsc::channel(16);
        let arriving = AtomicUsize::new(1);
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            for _ in 0..10 {
                assert!(tx.try_send(audit_job()).is_ok());
            }
        });
        let batch = gather(
            &mut rx,
            audit_job(),
            &arriving,
            &limits(Duration::from_secs(3600)),
        );
        late.join().expect("sender");
        assert_eq!(batch.len(), 8, "batch_max_rows caps the batch");
        assert_eq!(
            rx.try_recv().map(|_| ()).ok(),
            Some(()),
            "the rest stays queued"
        );
    }
}
