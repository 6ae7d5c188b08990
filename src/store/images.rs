//! Repository functions for `submission_images` (sealed image blobs).

use diesel::prelude::*;
use kyc_crypto::at_rest::SealedBlob;

use super::{DbConnection, submission_images};
use crate::submission::{Reference, SealedImage};

/// One sealed image as stored.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = submission_images, treat_none_as_default_value = false)]
pub struct ImageRow {
    /// The submission it belongs to.
    pub reference: Reference,
    /// Image kind from the mapping (`selfie`, `front`, …).
    pub kind: String,
    /// `image/jpeg` or `image/png` (checked by magic bytes).
    pub content_type: String,
    /// Size of the decoded image.
    pub byte_len: i64,
    /// Key that sealed it.
    pub key_id: String,
    /// AES-GCM nonce.
    pub nonce: Vec<u8>,
    /// AES-GCM ciphertext and tag; associated data binds it to `reference` and `kind`.
    pub ciphertext: Vec<u8>,
}

impl ImageRow {
    /// The row of one sealed image of `reference`.
    pub fn from_sealed(reference: &Reference, image: &SealedImage) -> ImageRow {
        ImageRow {
            reference: reference.clone(),
            kind: image.kind.clone(),
            content_type: image.content_type.clone(),
            byte_len: i64::try_from(image.byte_len).unwrap_or(i64::MAX),
            key_id: image.blob.key_id.clone(),
            nonce: image.blob.nonce.clone(),
            ciphertext: image.blob.ciphertext.clone(),
        }
    }

    /// The sealed image this row holds.
    pub fn into_sealed(self) -> SealedImage {
        SealedImage {
            kind: self.kind,
            content_type: self.content_type,
            byte_len: usize::try_from(self.byte_len).unwrap_or(0),
            blob: SealedBlob {
                key_id: self.key_id,
                nonce: self.nonce,
                ciphertext: self.ciphertext,
            },
        }
    }
}

/// Inserts images (inside the submission's transaction), a few per statement: each row is up to megabytes and
/// the driver copies a statement's parameters once more.
pub fn insert(conn: &mut DbConnection, rows: &[&ImageRow]) -> QueryResult<()> {
    for chunk in rows.chunks(8) {
        super::insert_many!(conn, submission_images::table, chunk.to_vec())?;
    }
    Ok(())
}

/// One image by submission and kind.
pub fn find(
    conn: &mut DbConnection,
    reference: &Reference,
    kind: &str,
) -> QueryResult<Option<SealedImage>> {
    let row = submission_images::table
        .find((reference, kind))
        .select(ImageRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(ImageRow::into_sealed))
}

/// Kinds, content types and sizes stored for a submission.
pub fn kinds(
    conn: &mut DbConnection,
    reference: &Reference,
) -> QueryResult<Vec<(String, String, i64)>> {
    submission_images::table
        .filter(submission_images::reference.eq(reference))
        .order(submission_images::kind)
        .select((
            submission_images::kind,
            submission_images::content_type,
            submission_images::byte_len,
        ))
        .load(conn)
}
