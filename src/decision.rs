//! The decision on a submission: the outcome of a mapping's `[[rules]]`.
//!
//! Rules only ever say "reject" or "send to review"; everything that no rule objects to is approved
//! (issue 5, DESIGN.md §5). Every matching rule's reason is kept, in rule order, so an auditor sees
//! all the grounds and not only the first. This module is pure logic: the rules themselves are
//! evaluated by `mapping`, which hands the matching reasons to [`Decision::from_matches`].

use serde::{Deserialize, Serialize};

/// The status stored with a submission and reported to auditors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No rule objected.
    Approved,
    /// At least one `reject` rule matched.
    Rejected,
    /// No `reject` rule matched, but at least one `review` rule did; a reviewer resolves it.
    PendingReview,
}

impl Status {
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
        match text {
            "approved" => Some(Status::Approved),
            "rejected" => Some(Status::Rejected),
            "pending_review" => Some(Status::PendingReview),
            _ => None,
        }
    }

    /// The upstream's `result` flag: true for approved and for pending review, because the
    /// protocol asks for `true` when the data was "accepted for deferred processing"
    /// (ditto-protocol.md §0.5, §7.1).
    pub fn result(self) -> bool {
        !matches!(self, Status::Rejected)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
        assert_eq!(
            serde_json::to_value(RuleDecision::Review).ok(),
            Some(serde_json::json!("review"))
        );
    }
}
