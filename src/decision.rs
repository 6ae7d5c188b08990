//! The decision on a submission: the outcome of a mapping's `[[rules]]`.
//!
//! Rules only ever say "reject" or "send to review"; everything that no rule objects to is approved
//! (docs/mappings.md). Every matching rule's reason is kept, in rule order, so an auditor sees
//! all the grounds and not only the first. This module is pure logic: the rules themselves are
//! evaluated by `mapping`, which hands the matching reasons to [`Decision::from_matches`].

use serde::{Deserialize, Serialize};

/// The status stored with a submission and reported to auditors. Stored as its text form
/// ([`Status::as_str`]) in a `Text` column on both backends (see `store::sql_text`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[serde(rename_all = "snake_case")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Status {
    /// No rule objected.
    Approved,
    /// At least one `reject` rule matched.
    Rejected,
    /// No `reject` rule matched, but at least one `review` rule did; a reviewer resolves it.
    PendingReview,
}

impl Status {
    /// Every status, in the order people read them.
    pub const ALL: [Status; 3] = [Status::Approved, Status::Rejected, Status::PendingReview];

    /// The stable text form (`approved`, `rejected`, `pending_review`) used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::PendingReview => "pending_review",
        }
    }

    /// Parses the text form written by [`Status::as_str`].
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The upstream's `result` flag: true for approved and for pending review, because the
    /// protocol asks for `true` when the data was "accepted for deferred processing"
    /// (docs/ditto-protocol.md §0.5, §7.1).
    pub fn result(self) -> bool {
        !matches!(self, Status::Rejected)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Status {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl std::str::FromStr for Status {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Status, UnknownName> {
        Status::parse(text).ok_or_else(|| UnknownName::new(text, Status::ALL.map(Status::as_str)))
    }
}

/// A reviewer's decision on a `pending_review` case: the status the case moves to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[serde(rename_all = "snake_case")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum ReviewDecision {
    /// The reviewer approves the case.
    Approved,
    /// The reviewer rejects the case.
    Rejected,
}

impl ReviewDecision {
    /// Every decision a reviewer may take.
    pub const ALL: [ReviewDecision; 2] = [ReviewDecision::Approved, ReviewDecision::Rejected];

    /// The status the case takes.
    pub fn status(self) -> Status {
        match self {
            ReviewDecision::Approved => Status::Approved,
            ReviewDecision::Rejected => Status::Rejected,
        }
    }

    /// The stable text form, the same as the status it leads to.
    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    /// Parses the text form written by [`ReviewDecision::as_str`].
    pub fn parse(text: &str) -> Option<ReviewDecision> {
        ReviewDecision::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

impl std::fmt::Display for ReviewDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReviewDecision {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<ReviewDecision, UnknownName> {
        ReviewDecision::parse(text)
            .ok_or_else(|| UnknownName::new(text, ReviewDecision::ALL.map(ReviewDecision::as_str)))
    }
}

/// A text that names no value of an enumeration; says which names are known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not one of {known}")]
pub struct UnknownName {
    /// The text given (shortened).
    pub given: String,
    /// The known names, comma-separated.
    pub known: String,
}

impl UnknownName {
    fn new<const N: usize>(given: &str, known: [&str; N]) -> UnknownName {
        UnknownName {
            given: given.chars().take(40).collect(),
            known: known.join(", "),
        }
    }
}

/// What a single rule asks for when its condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDecision {
    /// The submission is rejected.
    Reject,
    /// The submission goes to manual review (unless another rule rejects it).
    Review,
}

impl RuleDecision {
    /// The text form used in mapping files (`reject`, `review`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleDecision::Reject => "reject",
            RuleDecision::Review => "review",
        }
    }
}

/// One matched rule: its reason code and what it asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reason {
    /// The rule's reason code, e.g. `face_mismatch`.
    pub code: String,
    /// Whether the rule rejects or sends to review.
    pub decision: RuleDecision,
}

impl Reason {
    /// Builds a reason from a code and a rule decision.
    pub fn new(code: impl Into<String>, decision: RuleDecision) -> Reason {
        Reason {
            code: code.into(),
            decision,
        }
    }
}

/// The decision on one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The resulting status.
    pub status: Status,
    /// Every matching rule's reason, in rule order.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// Decides from the reasons of all matching rules (in rule order): any reject → rejected;
    /// else any review → pending review; else approved. All reasons are kept.
    pub fn from_matches(reasons: Vec<Reason>) -> Decision {
        let status = if reasons.iter().any(|r| r.decision == RuleDecision::Reject) {
            Status::Rejected
        } else if reasons.iter().any(|r| r.decision == RuleDecision::Review) {
            Status::PendingReview
        } else {
            Status::Approved
        };
        Decision { status, reasons }
    }

    /// The upstream's `result` flag (see [`Status::result`]).
    pub fn result(&self) -> bool {
        self.status.result()
    }

    /// The reason codes, in rule order.
    pub fn reason_codes(&self) -> Vec<&str> {
        self.reasons.iter().map(|r| r.code.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_listed_once() {
        // A new variant must be added to `ALL`: this match stops compiling until it is handled here too.
        for s in Status::ALL {
            match s {
                Status::Approved | Status::Rejected | Status::PendingReview => {}
            }
        }
        let mut names: Vec<_> = Status::ALL.map(Status::as_str).to_vec();
        names.dedup();
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn no_matching_rule_is_approved() {
        let d = Decision::from_matches(vec![]);
        assert_eq!(d.status, Status::Approved);
        assert!(d.result());
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn any_reject_wins_over_review_and_keeps_all_reasons_in_order() {
        let d = Decision::from_matches(vec![
            Reason::new("document_expired", RuleDecision::Review),
            Reason::new("face_mismatch", RuleDecision::Reject),
            Reason::new("nfc_not_verified", RuleDecision::Review),
        ]);
        assert_eq!(d.status, Status::Rejected);
        assert!(!d.result());
        assert_eq!(
            d.reason_codes(),
            ["document_expired", "face_mismatch", "nfc_not_verified"]
        );
    }

    #[test]
    fn review_only_is_pending_review_and_result_true() {
        let d = Decision::from_matches(vec![Reason::new("nfc_not_verified", RuleDecision::Review)]);
        assert_eq!(d.status, Status::PendingReview);
        assert!(
            d.result(),
            "pending review is accepted for deferred processing"
        );
    }

    #[test]
    fn status_text_round_trips_and_serializes_snake_case() {
        for s in [Status::Approved, Status::Rejected, Status::PendingReview] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::String(s.as_str().to_owned()))
            );
        }
        assert_eq!(Status::parse("APPROVED"), None);
        for d in ReviewDecision::ALL {
            assert_eq!(d.as_str().parse::<ReviewDecision>(), Ok(d));
            assert_eq!(d.status().as_str(), d.as_str());
        }
        assert!("pending_review".parse::<ReviewDecision>().is_err());
        assert_eq!(
            serde_json::to_value(RuleDecision::Review).ok(),
            Some(serde_json::json!("review"))
        );
    }
}
