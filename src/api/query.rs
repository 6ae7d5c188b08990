//! Query strings of the `/v1` routes, each read into a typed struct, strictly: unknown and repeated names are
//! refused (`400 invalid_query`), so a mistyped filter never silently widens what an auditor reads. The parts
//! ([`FilterParams`], [`Paging`], [`Purpose`], [`FormatParam`]) also describe the parameters in the OpenAPI
//! document, so the document and the parser cannot drift apart.

use actix_web::{HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::records::export::{CsvCells, Format};
use crate::records::{AuditFilterParams, FilterParams, QueryError};

/// One part on its own (e.g. only `purpose`), with every other name refused. The parts themselves accept
/// unknown names so that several can be flattened into one query struct, which then refuses them (serde
/// checks `deny_unknown_fields` only on the outermost struct of a flattened set).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Only<T> {
    /// The part.
    #[serde(flatten)]
    pub part: T,
}

/// Reads the request's query string into `T`; repeated names are refused, unknown ones as `T` says.
pub fn parse<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    match web::Query::<T>::from_query(req.query_string()) {
        Ok(query) => Ok(query.into_inner()),
        Err(actix_web::error::QueryPayloadError::Deserialize(e)) => Err(ApiError::InvalidQuery(
            format!("the query string was refused: {e}"),
        )),
        Err(_) => Err(ApiError::InvalidQuery(
            "the query string is malformed".into(),
        )),
    }
}

/// Paging of the submission list: where to continue and how much to return.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// `next_cursor` of the previous page. A traversal sees the records stored when its first page was read:
    /// none twice, none skipped, however many arrive meanwhile.
    #[param(pattern = r"^[0-9]{1,18}\.[0-9]{1,18}\.KYC-[0-9a-f]{32}$")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

impl Paging {
    /// The page size, checked: default 100, 1 to 500.
    pub fn limit(&self) -> Result<i64, QueryError> {
        crate::records::parse_limit(self.limit.as_deref())
    }
}

/// Paging of the audit trail.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPaging {
    /// `next_cursor` of the previous page (events come in chain order, so none is ever skipped).
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

impl AuditPaging {
    /// The page size, checked: default 100, 1 to 500.
    pub fn limit(&self) -> Result<i64, QueryError> {
        crate::records::parse_limit(self.limit.as_deref())
    }
}

/// Why personal data is read; stored in the audit event. Required when `audit.require_purpose = true` and the
/// read includes personal data or images.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Purpose {
    /// Free text, at most 200 characters without control characters (e.g. a case number).
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub purpose: Option<String>,
}

/// The export format.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `csv` (header row, 16 columns, canonical fields as one JSON column) or `jsonl` (one record per line).
    #[param(required = true, value_type = Format, inline)]
    pub format: Option<String>,
    /// CSV only: `true` writes every cell as stored. By default a cell that starts with `=`, `+`, `-`, `@`,
    /// a tab or a carriage return gets a leading `'`, so a spreadsheet does not run it as a formula.
    #[param(value_type = Option<bool>)]
    pub raw: Option<String>,
}

impl FormatParam {
    /// The format, which is required.
    pub fn format(&self) -> Result<Format, ApiError> {
        Ok(self
            .format
            .as_deref()
            .ok_or_else(|| ApiError::InvalidQuery("`format` is required: csv or jsonl".into()))?
            .parse()?)
    }

    /// How CSV cells are written.
    pub fn cells(&self) -> Result<CsvCells, ApiError> {
        Ok(if flag("raw", self.raw.as_deref())? {
            CsvCells::Raw
        } else {
            CsvCells::Neutralized
        })
    }
}

/// A boolean query parameter: `true` or `false` (absent: false), nothing else.
pub fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "`{name}` must be true or false"
        ))),
    }
}

/// `GET /v1/submissions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionList {
    /// The filters.
    #[serde(flatten)]
    pub filters: FilterParams,
    /// Paging.
    #[serde(flatten)]
    pub paging: Paging,
    /// Why, when personal data is read.
    #[serde(flatten)]
    pub purpose: Purpose,
}

/// `GET /v1/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// `csv` or `jsonl`.
    #[serde(flatten)]
    pub format: FormatParam,
    /// The filters.
    #[serde(flatten)]
    pub filters: FilterParams,
    /// Why, when personal data is read.
    #[serde(flatten)]
    pub purpose: Purpose,
}

/// `GET /v1/audit/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvents {
    /// The filters.
    #[serde(flatten)]
    pub filters: AuditFilterParams,
    /// Paging.
    #[serde(flatten)]
    pub paging: AuditPaging,
}

/// A route that takes no query parameters at all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> HttpRequest {
        actix_web::test::TestRequest::with_uri(uri).to_http_request()
    }

    fn list(q: &str) -> Result<SubmissionList, ApiError> {
        parse(&request(&format!("/v1/submissions?{q}")))
    }

    #[test]
    fn unknown_and_repeated_names_are_refused_by_name() {
        let ok = list("status=approved&limit=5&cursor=x&purpose=p").expect("known names");
        assert_eq!(ok.filters.status.as_deref(), Some("approved"));
        assert_eq!(ok.paging.limit().ok(), Some(5));
        assert_eq!(ok.purpose.purpose.as_deref(), Some("p"));
        for (q, named) in [
            ("stauts=approved", "stauts"),
            ("limit=1&limit=2", "limit"),
            ("since=a&since=b", "since"),
        ] {
            match list(q) {
                Err(ApiError::InvalidQuery(m)) => assert!(m.contains(named), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    #[test]
    fn each_route_takes_only_its_own_names() {
        assert!(parse::<Export>(&request("/v1/export?format=csv&limit=3")).is_err());
        assert!(list("format=csv").is_err());
        assert!(parse::<Nothing>(&request("/v1/audit/verify?x=1")).is_err());
        assert!(parse::<Nothing>(&request("/v1/audit/verify")).is_ok());
        assert!(parse::<Only<Purpose>>(&request("/v1/submissions/K?purpose=a&status=x")).is_err());
        assert!(parse::<Only<Purpose>>(&request("/v1/submissions/K?purpose=a")).is_ok());
    }
}
