//! The generator's own picture of a Ditto v3 payload (docs/ditto-protocol.md §3), as borrowed serde structs so a
//! 1.2 MB payload is written straight from the shared image strings without copying them, in the field
//! order of the vendor sample. The receiver's types are deliberately not used: the simulator must send
//! what the upstream sends, not what the receiver happens to parse.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole body.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub request_info: RequestInfo<'a>,
    pub kyc_info: KycInfo<'a>,
}

#[derive(Debug, Serialize)]
pub struct RequestInfo<'a> {
    pub user_id: &'a str,
    pub app_id: &'a str,
    pub requester_id: &'a str,
}

#[derive(Debug, Serialize)]
pub struct KycInfo<'a> {
    pub liveness_check: LivenessCheck<'a>,
    pub face_matcher_result: FaceMatch,
    pub document: Document<'a>,
}

#[derive(Debug, Serialize)]
pub struct LivenessCheck<'a> {
    pub video: Video<'a>,
}

#[derive(Debug, Serialize)]
pub struct Video<'a> {
    pub autocapture_result: Autocapture<'a>,
    pub liveness_result: Score,
}

#[derive(Debug, Serialize)]
pub struct Autocapture<'a> {
    pub selfie_image: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Score {
    pub score: u32,
}

#[derive(Debug, Serialize)]
pub struct FaceMatch {
    pub score: f64,
    /// Always 0 in the vendor samples, even for a match (§3.4).
    pub score_percent: u32,
}

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub version: &'a str,
    pub document_info: DocumentInfo<'a>,
    pub document_status: DocumentStatus<'a>,
    pub identity_data: BTreeMap<&'a str, String>,
    pub identity_data_details: BTreeMap<&'a str, Vec<FieldDetail<'a>>>,
}

#[derive(Debug, Serialize)]
pub struct DocumentInfo<'a> {
    pub document_type: [&'a str; 1],
    pub document_names: [&'a str; 1],
    pub field_sources: Vec<&'a str>,
    pub field_locales: BTreeMap<&'a str, &'a str>,
    pub field_list: Vec<&'a str>,
    pub document_images: DocumentImages<'a>,
}

/// Every key optional, as in the vendor sample; `--images none` sends `{}`.
#[derive(Debug, Default, Serialize)]
pub struct DocumentImages<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_page: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_page: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portrait_image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portrait_image_source: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct DocumentStatus<'a> {
    pub error_list: Vec<&'a str>,
    pub warning_list: Vec<&'a str>,
    pub is_nfc_document: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nfc_scan_status: Option<&'a str>,
    pub checks_performed: Vec<Check<'a>>,
    pub overall_document_status: &'a str,
}

/// One entry of `checks_performed` (§3.5, check object).
#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub check_category: &'a str,
    pub check_name: &'a str,
    pub check_detail: Vec<CheckDetail<'a>>,
    pub check_status: &'a str,
}

#[derive(Debug, Serialize)]
pub struct CheckDetail<'a> {
    pub element: &'a str,
    pub source: &'a str,
    pub status: &'a str,
    pub detail: String,
}

/// One entry of `identity_data_details[locale]`.
#[derive(Debug, Serialize)]
pub struct FieldDetail<'a> {
    pub field_name: &'a str,
    pub field_details: FieldDetails<'a>,
}

#[derive(Debug, Serialize)]
pub struct FieldDetails<'a> {
    pub field_value: String,
    pub field_status: &'a str,
    pub field_source_and_values: BTreeMap<&'a str, String>,
}
