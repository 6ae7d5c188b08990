//! Load-time checks of the paths in a mapping file: which roots each section may use, and that
//! `fields.X`, `decision.X` and `submission.X` name something that exists.

use std::collections::BTreeSet;

use super::ast::{Path, Root, Segment};

/// The file section an expression sits in; it decides which roots are available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    When,
    Fields,
    Rules,
    Response,
}

impl Section {
    fn allows(self, root: Root) -> bool {
        match self {
            // Selection runs before anything else exists and must not depend on the clock.
            Section::When => root == Root::Payload,
            Section::Fields => matches!(root, Root::Payload | Root::Now | Root::Today),
            Section::Rules => {
                matches!(root, Root::Payload | Root::Fields | Root::Now | Root::Today)
            }
            Section::Response => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::When => "the mapping's `when`",
            Section::Fields => "[fields] and [images]",
            Section::Rules => "[[rules]]",
            Section::Response => "[response]",
        }
    }
}

/// What is wrong with a path in `section`, as (offset in the string, message), if anything.
pub(crate) fn path_problem(
    fields: &BTreeSet<String>,
    path: &Path,
    section: Section,
) -> Option<(usize, String)> {
    let root = path.root;
    if !section.allows(root) {
        return Some((
            path.pos,
            format!("`{}` is not available in {}", root.word(), section.name()),
        ));
    }
    let first = match path.segments.first() {
        Some(Segment::Key(k)) => Some(k.as_str()),
        Some(_) => None,
        None => return None,
    };
    let problem = match (root, first) {
        (Root::Payload, _) => None,
        (Root::Now | Root::Today, _) => Some(format!("`{}` has no parts", root.word())),
        (Root::Fields, Some(k)) if !fields.contains(k) => {
            let known: Vec<&str> = fields.iter().map(String::as_str).collect();
            Some(format!(
                "unknown canonical field `{k}`; this mapping defines: {}",
                known.join(", ")
            ))
        }
        (Root::Submission, Some("reference" | "received_at")) => None,
        (Root::Submission, _) => {
            Some("expected `submission.reference` or `submission.received_at`".to_owned())
        }
        (Root::Decision, Some("result" | "status" | "reasons")) => None,
        (Root::Decision, _) => {
            Some("expected `decision.result`, `decision.status` or `decision.reasons`".to_owned())
        }
        (Root::Fields, _) => None,
    };
    problem.map(|m| (path.pos, m))
}
