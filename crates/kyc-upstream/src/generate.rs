//! Deterministic Ditto v3 payloads (docs/ditto-protocol.md §3): payload `i` of seed `s` is always the same bytes,
//! so a retry can be regenerated instead of kept, and a failing run can be replayed.
//!
//! Each payload draws a country and document from [`super::names`], a person (non-ASCII names, a second
//! script for some documents), dates, document number, and scores. A share (`reject_share`) is made to
//! fail one rule of the shipped `mappings/ditto-v3.toml`: face match below 1.6 or liveness below 50
//! (rejected), document status not OK, an expired document, or an NFC document without a chip read
//! (review). The rest passes every rule. Valid documents expire in 2036–2045 and expired ones in
//! 2012–2022, so the expected decision does not depend on the day the generator runs (until 2036).

use std::collections::BTreeMap;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::images::{ImageError, ImagePool, ImageSize};
use super::names::{COUNTRIES, Country, Name};
use super::payload_doc::{Person, build_document};

/// How a generator is set up (`generate` and `load` flags).
#[derive(Debug, Clone, Copy)]
pub struct GeneratorSettings {
    /// Everything is derived from it.
    pub seed: u64,
    /// Image size class.
    pub images: ImageSize,
    /// Share (0.0–1.0) of payloads that must be rejected or sent to review.
    pub reject_share: f64,
    /// Distinct image sets drawn from (encoded once).
    pub image_variants: usize,
}

impl Default for GeneratorSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            images: ImageSize::Small,
            reject_share: 0.2,
            image_variants: 8,
        }
    }
}

/// The decision the shipped mapping should reach, and the rule reason it should record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "reason", rename_all = "snake_case")]
pub enum Expected {
    /// Every rule passes.
    Approved,
    /// A review rule matches (result still true).
    PendingReview(&'static str),
    /// A reject rule matches (result false).
    Rejected(&'static str),
}

impl Expected {
    /// The `result` the confirmation should carry.
    pub fn result(self) -> bool {
        !matches!(self, Self::Rejected(_))
    }

    /// The stored decision text (`approved`, `pending_review`, `rejected`).
    pub fn decision(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::PendingReview(_) => "pending_review",
            Self::Rejected(_) => "rejected",
        }
    }
}

/// The failure variants, each breaking one rule of the shipped mapping.
const FAILURES: [Expected; 5] = [
    Expected::Rejected("face_mismatch"),
    Expected::Rejected("liveness_failed"),
    Expected::PendingReview("document_invalid"),
    Expected::PendingReview("document_expired"),
    Expected::PendingReview("nfc_not_verified"),
];

/// One generated payload.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Position in the seed's sequence.
    pub index: u64,
    /// `request_info.requester_id` (a UUID).
    pub requester_id: String,
    /// `request_info.user_id`.
    pub user_id: String,
    /// What the shipped mapping should decide.
    pub expected: Expected,
    /// The JSON body (compact, UTF-8).
    pub body: Vec<u8>,
}

/// Generating failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `reject_share` outside 0–1.
    #[error("reject share must be between 0 and 1, got {0}")]
    RejectShare(f64),
    /// Image encoding failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Serialising the payload failed.
    #[error("payload serialisation failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Makes payloads; cheap to share between workers (`&self` only).
#[derive(Debug)]
pub struct Generator {
    settings: GeneratorSettings,
    images: Option<ImagePool>,
    app_ids: Vec<String>,
}

impl Generator {
    /// Checks the settings and encodes the image pool.
    pub fn new(settings: GeneratorSettings) -> Result<Self, GenerateError> {
        if !(0.0..=1.0).contains(&settings.reject_share) {
            return Err(GenerateError::RejectShare(settings.reject_share));
        }
        let images = ImagePool::generate(settings.seed, settings.images, settings.image_variants)?;
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        rng.set_stream(u64::MAX);
        // A handful of apps, as one IDV deployment serves a few mobile apps.
        let app_ids = (0..3).map(|_| uuid_from(&mut rng)).collect();
        Ok(Self {
            settings,
            images,
            app_ids,
        })
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.settings.seed
    }

    /// Payload number `index` of this seed.
    pub fn payload(&self, index: u64) -> Result<Generated, GenerateError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.settings.seed);
        rng.set_stream(index);
        let expected = if rng.gen_bool(self.settings.reject_share) {
            FAILURES[rng.gen_range(0..FAILURES.len())]
        } else {
            Expected::Approved
        };
        // An NFC failure needs a chip document; any other case may use any country.
        let eligible: Vec<&Country> = COUNTRIES
            .iter()
            .filter(|c| c.chip || expected != Expected::PendingReview("nfc_not_verified"))
            .collect();
        let country = eligible[rng.gen_range(0..eligible.len())];
        let given = pick(country.given, &mut rng);
        let surname = pick(country.surnames, &mut rng);
        let requester_id = uuid_from(&mut rng);
        let app_id = self.app_ids[rng.gen_range(0..self.app_ids.len())].clone();
        let user_id = if rng.gen_bool(0.2) {
            format!(
                "{}{}",
                country.phone_prefix,
                rng.gen_range(200_000_000..999_999_999u32)
            )
        } else {
            let local: String = given.latin.to_lowercase().split_whitespace().collect();
            format!("{local}.{}@example.com", rng.gen_range(100_000..999_999u32))
        };
        let person = Person {
            country,
            given,
            surname,
            sex: if rng.gen_bool(0.5) { "F" } else { "M" },
            birth: date(&mut rng, 1950..=2006),
            expiry: match expected {
                Expected::PendingReview("document_expired") => date(&mut rng, 2012..=2022),
                _ => date(&mut rng, 2036..=2045),
            },
            number: document_number(&mut rng),
        };
        let images = self.images.as_ref().and_then(|p| p.pick(index));
        let body = build_document(
            &person,
            expected,
            &mut rng,
            images,
            (&user_id, &app_id, &requester_id),
        )?;
        Ok(Generated {
            index,
            requester_id,
            user_id,
            expected,
            body,
        })
    }
}

fn pick(names: &'static [Name], rng: &mut ChaCha8Rng) -> Name {
    names[rng.gen_range(0..names.len())]
}

/// A random (version 4) UUID from the seeded stream.
fn uuid_from(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.r#gen();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn date(rng: &mut ChaCha8Rng, years: std::ops::RangeInclusive<u16>) -> String {
    let y = rng.gen_range(years);
    format!(
        "{y:04}-{:02}-{:02}",
        rng.gen_range(1..=12u8),
        rng.gen_range(1..=28u8)
    )
}

/// Two letters and seven digits, like most European passport numbers.
fn document_number(rng: &mut ChaCha8Rng) -> String {
    let letter = |rng: &mut ChaCha8Rng| char::from(rng.gen_range(b'A'..=b'Z'));
    format!(
        "{}{}{:07}",
        letter(rng),
        letter(rng),
        rng.gen_range(0..10_000_000u32)
    )
}

/// Helper for [`super::payload_doc`]: an ordered map from borrowed keys.
pub(super) fn map<'a, V>(entries: impl IntoIterator<Item = (&'a str, V)>) -> BTreeMap<&'a str, V> {
    entries.into_iter().collect()
}

#[cfg(test)]
mod tests;
