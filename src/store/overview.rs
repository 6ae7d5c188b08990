//! Aggregates for the console's overview: counts only, never a record. Each is one grouped query, so the
//! cost is one index range scan however many records the period holds, and the rows returned are few (days
//! × decisions, distinct reason lists, distinct refusal codes).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::DbConnection;
use super::schema::{audit_events, console_proposals, submissions};

/// Submissions received on one UTC day with one automatic decision.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    #[diesel(sql_type = Text)]
    pub day: String,
    /// The automatic decision (`approved`, `rejected`, `pending_review`).
    #[diesel(sql_type = Text)]
    pub decision: String,
    /// How many.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Received since `since`, per UTC day and automatic decision, oldest day first.
pub fn per_day(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<Vec<DayCount>> {
    // The day of a timestamp is spelled differently by each backend; the rest of the query is the same.
    const GROUPED: &str = "AS day, decision, COUNT(*) AS n FROM submissions WHERE received_at >= ";
    const TAIL: &str = " GROUP BY 1, 2 ORDER BY 1, 2";
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "SELECT substr(received_at, 1, 10) {GROUPED}?{TAIL}"
        ))
        .bind::<Timestamp, _>(since)
        .load(c),
        DbConnection::Postgresql(c) => diesel::sql_query(format!(
            "SELECT to_char(received_at, 'YYYY-MM-DD') {GROUPED}$1{TAIL}"
        ))
        .bind::<Timestamp, _>(since)
        .load(c),
    }
}

/// Distinct reason lists (JSON arrays as stored) received since `since`, with their counts.
pub fn reason_lists(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    submissions::table
        .filter(submissions::received_at.ge(since))
        .group_by(submissions::reasons)
        .select((submissions::reasons, diesel::dsl::count_star()))
        .load(conn)
}

/// Refused submissions since `since`: distinct refusal details (`{"code":…,"status":…}`) with counts.
pub fn refusals(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<Vec<(String, i64)>> {
    audit_events::table
        .filter(audit_events::kind.eq("submission_refused"))
        .filter(audit_events::occurred_at.ge(since))
        .group_by(audit_events::details)
        .select((audit_events::details, diesel::dsl::count_star()))
        .load(conn)
}

/// Decisions proposed under four eyes and waiting for a second reviewer.
pub fn awaiting_confirmation(conn: &mut DbConnection) -> QueryResult<i64> {
    console_proposals::table.count().get_result(conn)
}
