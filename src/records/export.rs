//! Export of a filtered set of records as CSV or JSON Lines, one database page at a time, so memory stays
//! constant however many rows match: [`Exporter::next_chunk`] reads the next keyset page of a traversal
//! pinned to one mark (see `store::listing`) and renders it to bytes. The HTTP handler wraps it in a stream;
//! the CLI writes the chunks to a file.

use std::str::FromStr;

use crate::protect::Protection;
use crate::store::DbConnection;
use crate::store::listing::{self, Position, SubmissionFilter};

use super::view::{RecordsError, SubmissionSummary, summarize};

/// Rows read per database query.
pub const PAGE_ROWS: i64 = 500;

/// The CSV columns, in order. Canonical fields vary by mapping, so they travel as one JSON object column;
/// reason codes are joined with `;`.
pub const CSV_COLUMNS: [&str; 16] = [
    "reference",
    "received_at",
    "requester_id",
    "user_id",
    "app_id",
    "client_id",
    "document_version",
    "document_status",
    "mapping_name",
    "mapping_hash",
    "decision",
    "status",
    "reasons",
    "fields",
    "masked",
    "erased_at",
];

/// Output format.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV with a header row ([`CSV_COLUMNS`]).
    Csv,
    /// One JSON object per line (the list item shape).
    Jsonl,
}

impl Format {
    /// The `Content-Type` of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/jsonl",
        }
    }

    /// File name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

impl FromStr for Format {
    type Err = super::QueryError;

    fn from_str(s: &str) -> Result<Format, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(super::QueryError("`format` must be csv or jsonl".into())),
        }
    }
}

/// How CSV cells are written. A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read
/// as a formula by spreadsheet programs (CSV injection); neutralized cells get a leading `'`, as OWASP
/// recommends, so an upstream-controlled value such as a user id cannot run in an auditor's spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvCells {
    /// Formula-like cells get a leading `'` (the default).
    #[default]
    Neutralized,
    /// Every cell exactly as stored, for programs that read CSV as data.
    Raw,
}

/// One export in progress.
#[derive(Debug, Clone)]
pub struct Exporter {
    filter: SubmissionFilter,
    mark: i64,
    after: Option<Position>,
    format: Format,
    cells: CsvCells,
    unmask: bool,
    header_done: bool,
    finished: bool,
    rows: u64,
}

impl Exporter {
    /// Starts an export of the rows stored at or before `mark` that match `filter`.
    pub fn new(filter: SubmissionFilter, mark: i64, format: Format, unmask: bool) -> Exporter {
        Exporter {
            filter,
            mark,
            after: None,
            format,
            cells: CsvCells::default(),
            unmask,
            header_done: false,
            finished: false,
            rows: 0,
        }
    }

    /// Writes CSV cells as `cells` says (neutralized unless asked otherwise).
    pub fn with_cells(mut self, cells: CsvCells) -> Exporter {
        self.cells = cells;
        self
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next chunk (the CSV header comes with the first), or `None` when done.
    pub fn next_chunk(
        &mut self,
        conn: &mut DbConnection,
        protection: &Protection,
    ) -> Result<Option<Vec<u8>>, RecordsError> {
        if self.finished {
            return Ok(None);
        }
        let page = listing::page(
            conn,
            &self.filter,
            self.mark,
            self.after.as_ref(),
            PAGE_ROWS,
        )?;
        if (page.len() as i64) < PAGE_ROWS {
            self.finished = true;
        }
        self.after = page.last().map(Position::of).or(self.after.take());
        let mut out = Vec::with_capacity(page.len() * 1024);
        if !self.header_done && self.format == Format::Csv {
            out.extend_from_slice(&csv_header()?);
        }
        self.header_done = true;
        for row in &page {
            let summary = summarize(row, protection, self.unmask)?;
            match self.format {
                Format::Csv => out.extend_from_slice(&csv_record(&summary, self.cells)?),
                Format::Jsonl => {
                    serde_json::to_writer(&mut out, &summary)
                        .map_err(|_| RecordsError::Malformed(row.reference.to_string()))?;
                    out.push(b'\n');
                }
            }
        }
        self.rows += page.len() as u64;
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(out))
    }
}

/// The CSV header row ([`CSV_COLUMNS`]), CRLF-terminated.
pub fn csv_header() -> Result<Vec<u8>, RecordsError> {
    csv_row(CSV_COLUMNS.iter().map(|c| c.to_string()))
}

/// One record as a CSV row, CRLF-terminated.
pub fn csv_record(summary: &SubmissionSummary, cells: CsvCells) -> Result<Vec<u8>, RecordsError> {
    let values = csv_values(summary);
    match cells {
        CsvCells::Raw => csv_row(values),
        CsvCells::Neutralized => csv_row(values.into_iter().map(neutralize)),
    }
}

/// A cell a spreadsheet would take for a formula, with a leading `'` that makes it text.
fn neutralize(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn csv_values(s: &SubmissionSummary) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        s.reference.to_string(),
        s.received_at.clone(),
        s.requester_id.clone(),
        s.user_id.clone(),
        opt(&s.app_id),
        opt(&s.client_id),
        opt(&s.document_version),
        opt(&s.document_status),
        s.mapping_name.clone(),
        s.mapping_hash.clone(),
        s.decision.to_string(),
        s.status.to_string(),
        s.reasons.join(";"),
        serde_json::Value::Object(s.fields.clone()).to_string(),
        s.masked.to_string(),
        opt(&s.erased_at),
    ]
}

fn csv_row(values: impl IntoIterator<Item = String>) -> Result<Vec<u8>, RecordsError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let malformed = |_| RecordsError::Malformed("csv".into());
    writer.write_record(values).map_err(malformed)?;
    writer
        .into_inner()
        .map_err(|_| RecordsError::Malformed("csv".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_neutralized_unless_raw() {
        for cell in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(cell.to_string()), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["KYC-1", "a=b", "{\"f\":1}", ""] {
            assert_eq!(neutralize(cell.to_string()), cell);
        }
    }
}
