//! Assembles one payload from a drawn person and the expected outcome: the document block (identity data
//! per source and locale, status, checks), the scores, and the images, then serialises it.

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use super::generate::{Expected, map};
use super::images::ImageSet;
use super::model::*;
use super::names::{Country, Name};

/// The person and document drawn for one payload.
pub(super) struct Person {
    pub country: &'static Country,
    pub given: Name,
    pub surname: Name,
    pub sex: &'static str,
    pub birth: String,
    pub expiry: String,
    pub number: String,
}

/// What the NFC chip step did (docs/ditto-protocol.md §3.5; the success text is not documented, so the
/// shipped mapping relies on the `R` source, and so does this generator).
const NFC_READ: &str = "NFC SCAN COMPLETED";
const NFC_BYPASSED: &str = "NFC SCAN BYPASSED";
const NFC_UNSUPPORTED: &str = "NFC SCAN UNSUPPORTED BY DEVICE";

/// Serialises the payload; `ids` is (user_id, app_id, requester_id).
pub(super) fn build_document(
    p: &Person,
    expected: Expected,
    rng: &mut ChaCha8Rng,
    images: Option<&ImageSet>,
    ids: (&str, &str, &str),
) -> Result<Vec<u8>, serde_json::Error> {
    let c = p.country;
    let nfc_failed = expected == Expected::PendingReview("nfc_not_verified");
    let chip_read = c.chip && !nfc_failed;
    // A driving licence has a barcode instead of an MRZ.
    let machine = if c.class_code == "DL" { "B" } else { "M" };
    let mut sources = vec![machine, "V"];
    if chip_read {
        sources.push("R");
    }
    let fields: [(&str, String, String); 9] = [
        ("Document number", p.number.clone(), p.number.clone()),
        ("Given name", p.given.latin.into(), p.given.mrz.into()),
        ("Surname", p.surname.latin.into(), p.surname.mrz.into()),
        ("Date of birth", p.birth.clone(), p.birth.clone()),
        ("Date of expiry", p.expiry.clone(), p.expiry.clone()),
        ("Sex", p.sex.into(), p.sex.into()),
        ("Nationality", c.code.into(), c.code.into()),
        ("Issuing state code", c.code.into(), c.code.into()),
        (
            "Document class code",
            c.class_code.into(),
            c.class_code.into(),
        ),
    ];
    let invalid = expected == Expected::PendingReview("document_invalid");
    let expired = expected == Expected::PendingReview("document_expired");
    let details: Vec<FieldDetail> = fields
        .iter()
        .map(|(name, visual, machine_value)| {
            let mut per_source = map([(machine, machine_value.clone()), ("V", visual.clone())]);
            if chip_read {
                per_source.insert("R", machine_value.clone());
            }
            let status = match *name {
                "Date of expiry" if expired => "ERROR",
                "Document number" if invalid => "ERROR",
                _ => "OK",
            };
            FieldDetail {
                field_name: name,
                field_details: FieldDetails {
                    field_value: visual.clone(),
                    field_status: status,
                    field_source_and_values: per_source,
                },
            }
        })
        .collect();
    let mut locales = map([("0", "Latin")]);
    let mut details_by_locale = map([("0", details)]);
    if let Some((code, locale_name)) = c.locale {
        locales.insert(code, locale_name);
        let native = |field_name: &'static str, n: Name| FieldDetail {
            field_name,
            field_details: FieldDetails {
                field_value: n.native.unwrap_or(n.latin).into(),
                field_status: "OK",
                field_source_and_values: map([("V", n.native.unwrap_or(n.latin).to_owned())]),
            },
        };
        details_by_locale.insert(
            code,
            vec![native("Given name", p.given), native("Surname", p.surname)],
        );
    }

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if expired {
        errors.push("Expired Document");
    }
    if invalid {
        errors.push("Document number check digit is invalid");
    }
    let nfc_status = match (c.chip, chip_read) {
        (false, _) => None,
        (true, true) => Some(NFC_READ),
        (true, false) if rng.gen_bool(0.5) => {
            warnings.push("NFC scan cancelled by the user.");
            Some(NFC_BYPASSED)
        }
        (true, false) => Some(NFC_UNSUPPORTED),
    };
    let source_word = if machine == "B" { "BARCODE" } else { "MRZ" };
    let check = |category, name, element, failed: bool, what: &str| Check {
        check_category: category,
        check_name: name,
        check_detail: vec![CheckDetail {
            element,
            source: source_word,
            status: if failed { "ERROR" } else { "OK" },
            detail: format!(
                "{what} {} for {element} with source type {source_word}.",
                if failed { "failed" } else { "passed" }
            ),
        }],
        check_status: if failed { "ERROR" } else { "OK" },
    };
    let checks = vec![
        check(
            "Data Validation",
            "Mandatory Data",
            "Document number",
            false,
            "Presence check",
        ),
        check(
            "Data Compliance",
            "Date of Expiry Validation",
            "Date of expiry",
            expired,
            "Validity",
        ),
        check(
            "Data Validation",
            "Data Consistency",
            "Document number",
            invalid,
            "Check digit",
        ),
    ];

    let face = match expected {
        Expected::Rejected("face_mismatch") => rng.gen_range(0.0001..1.55f64),
        _ => rng.gen_range(1.7..6.0),
    };
    let liveness = match expected {
        Expected::Rejected("liveness_failed") => rng.gen_range(3..=45),
        _ if rng.gen_bool(0.7) => 100,
        _ => rng.gen_range(60..=99),
    };
    let document_images = images.map_or_else(DocumentImages::default, |i| DocumentImages {
        front_page: Some(&i.front),
        back_page: Some(&i.back),
        portrait_image: Some(&i.portrait),
        portrait_image_source: Some(if chip_read { "R" } else { "V" }),
    });
    let payload = Payload {
        request_info: RequestInfo {
            user_id: ids.0,
            app_id: ids.1,
            requester_id: ids.2,
        },
        kyc_info: KycInfo {
            liveness_check: LivenessCheck {
                video: Video {
                    autocapture_result: Autocapture {
                        selfie_image: images.map_or("", |i| i.selfie.as_str()),
                    },
                    liveness_result: Score { score: liveness },
                },
            },
            face_matcher_result: FaceMatch {
                score: (face * 10_000.0).round() / 10_000.0,
                score_percent: 0,
            },
            document: Document {
                version: "3.0",
                document_info: DocumentInfo {
                    document_type: [c.document_type],
                    document_names: [c.document_name],
                    field_sources: sources,
                    field_locales: locales,
                    field_list: fields.iter().map(|f| f.0).collect(),
                    document_images,
                },
                document_status: DocumentStatus {
                    error_list: errors,
                    warning_list: warnings,
                    is_nfc_document: c.chip,
                    nfc_scan_status: nfc_status,
                    checks_performed: checks,
                    overall_document_status: if invalid || expired { "ERROR" } else { "OK" },
                },
                identity_data: fields.iter().map(|f| (f.0, f.1.clone())).collect(),
                identity_data_details: details_by_locale,
            },
        },
    };
    serde_json::to_vec(&payload)
}
