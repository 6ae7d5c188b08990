//! Payload mappings: the admin-edited files in `mappings/` that turn a submitted payload into
//! canonical fields, images, a decision and the confirmation response (docs/mappings.md).
//!
//! Reads the directory named by the `mappings.dir` setting (the caller passes it in). The
//! language is documented for admins in `docs/mappings.md`; its grammar is in `parser.rs`.
//! Module map: `lexer`/`parser`/`ast` (the language), `path`/`filters`/`dates`/`eval`
//! (evaluation), `file`/`compile` (TOML files with positions), `set` (the loaded set),
//! `apply` (one payload through one mapping), `registry` (the active set, swapped on reload by
//! polling or SIGHUP). The CLI, storage and HTTP live elsewhere and only use the items re-exported
//! here.

mod apply;
mod ast;
mod check;
mod compile;
mod dates;
pub mod dry_run;
mod eval;
mod file;
mod filters;
mod lexer;
mod parser;
mod path;
pub mod registry;
mod set;
mod spec;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use apply::{ImageRef, Mapped, ResponseContext, RuleTrace};
pub use parser::MAX_DEPTH;
pub use set::{MappingSet, is_mapping_file};

/// One compiled mapping file.
#[derive(Debug)]
pub struct Mapping {
    /// The mapping's `name` (unique within a set); stored with every record.
    pub name: String,
    /// The mapping's `description` (empty when the file has none).
    pub description: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// Hex SHA-256 of the file's bytes; stored with every record so a record names the exact
    /// rules that produced it.
    pub sha256: String,
    /// The file's text, kept so each activated version can be stored (`mapping_versions`).
    pub source: String,
    pub(crate) spec: spec::Spec,
}

impl Mapping {
    /// Compiles one mapping file from its bytes (`file` is used in error positions only).
    pub fn from_bytes(file: &Path, bytes: &[u8]) -> Result<Mapping, MappingLoadErrors> {
        compile::compile(file, bytes).map_err(|errors| MappingLoadErrors { errors })
    }

    /// The canonical field names, in file order.
    pub fn field_names(&self) -> Vec<&str> {
        self.spec.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// The image kinds, in file order.
    pub fn image_kinds(&self) -> Vec<&str> {
        self.spec.images.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The reason each rule gives when it matches, in rule order.
    pub fn rule_reasons(&self) -> Vec<&super::decision::Reason> {
        self.spec.rules.iter().map(|(_, r)| r).collect()
    }

    /// The `when` of the first rule giving `reason`, as written in the file.
    pub fn rule_text(&self, reason: &str) -> Option<&str> {
        self.spec
            .rules
            .iter()
            .zip(&self.spec.rule_texts)
            .find(|((_, r), _)| r.code == reason)
            .map(|(_, text)| text.as_str())
    }
}

/// A submission that could not be mapped (answered 422 `mapping_failed`). Messages name
/// mappings, fields and paths, never submitted values other than the document version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No mapping's `when` holds for the payload.
    #[error("{}", no_match_message(.version.as_deref(), .tried))]
    NoMatch {
        /// `kyc_info.document.version`, when the payload has one (sanitised, at most 32 chars).
        version: Option<String>,
        /// The mappings tried, in order.
        tried: Vec<String>,
    },
    /// A `required` canonical field came out empty.
    #[error("mapping `{mapping}`: required field `{field}` is empty (from `{from}`)")]
    RequiredFieldMissing {
        /// The mapping applied.
        mapping: String,
        /// The canonical field.
        field: String,
        /// The macro it is read from, as written in the file.
        from: String,
    },
}

impl MappingError {
    /// The stable API error code for every mapping failure.
    pub fn code(&self) -> &'static str {
        "mapping_failed"
    }
}

fn no_match_message(version: Option<&str>, tried: &[String]) -> String {
    let tried = tried.join(", ");
    match version {
        Some(v) => format!("no mapping handles document version {v} (tried: {tried})"),
        None => format!("no mapping matches this submission (tried: {tried})"),
    }
}

/// One problem in a mapping file, at a position when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or the directory, for directory-level problems).
    pub file: PathBuf,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column in characters, when the problem has a position.
    pub column: Option<usize>,
    /// What was expected or what is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    /// `path:line:col: message`, or `path: message` without a position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every problem found while loading a mapping set; the set is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingLoadErrors {
    /// The problems, in file order.
    pub errors: Vec<LoadError>,
}

impl fmt::Display for MappingLoadErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingLoadErrors {}
