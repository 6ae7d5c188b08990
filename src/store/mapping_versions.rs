//! Every mapping file ever activated, kept by the SHA-256 of its bytes (`mapping_versions`), and the audit event
//! of each activation. A record names its mapping by hash, so its rules can be shown exactly as they were, and
//! the trail proves which set was active when.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::DbConnection;
use super::audit_log::{AuditDraft, AuditKey};
use super::schema::mapping_versions;
use crate::mapping::MappingSet;

/// One stored mapping file.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = mapping_versions)]
pub struct MappingVersion {
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The mapping's `name`.
    pub name: String,
    /// The file's name (not its directory).
    pub file_name: String,
    /// The file's text.
    pub content: String,
    /// When it was first activated.
    pub first_seen_at: NaiveDateTime,
}

/// A hash over the set: its files' names and hashes, sorted, so two activations of the same files agree.
pub fn set_hash(set: &MappingSet) -> String {
    let mut parts: Vec<String> = set
        .iter()
        .map(|m| format!("{}={}", m.name, m.sha256))
        .collect();
    parts.sort();
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

/// Stores the files of `set` not seen before and appends `mapping_set_activated` (each file's name, mapping
/// and SHA-256, the set's hash and what activated it), in one transaction. Returns the event's sequence number.
pub fn record_activation(
    conn: &mut DbConnection,
    key: &AuditKey,
    set: &MappingSet,
    trigger: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    super::audit_log::in_chain(conn, key, |c, cursor| {
        let mut files = Vec::new();
        for m in set.iter() {
            let known = mapping_versions::table
                .find(&m.sha256)
                .count()
                .get_result::<i64>(c)?
                > 0;
            let file_name = m
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !known {
                diesel::insert_into(mapping_versions::table)
                    .values(MappingVersion {
                        sha256: m.sha256.clone(),
                        name: m.name.clone(),
                        file_name: file_name.clone(),
                        content: m.source.clone(),
                        first_seen_at: super::audit_log::truncate_to_micros(now),
                    })
                    .execute(c)?;
            }
            files.push(
                json!({"file": file_name, "mapping": m.name, "sha256": m.sha256, "new": !known}),
            );
        }
        let draft = AuditDraft {
            kind: "mapping_set_activated".into(),
            actor: None,
            reference: None,
            requester_id: None,
            details: json!({"trigger": trigger, "set_sha256": set_hash(set), "files": files}),
        };
        cursor.append(c, &draft, now)
    })
}

/// A stored version by its hash (a full 64-digit hash, or a unique prefix of at least 8).
pub fn find(conn: &mut DbConnection, hash: &str) -> QueryResult<Vec<MappingVersion>> {
    let hash = hash.to_ascii_lowercase();
    if hash.len() < 8 || hash.len() > 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Vec::new());
    }
    if hash.len() == 64 {
        return mapping_versions::table
            .find(&hash)
            .select(MappingVersion::as_select())
            .load(conn);
    }
    mapping_versions::table
        .filter(mapping_versions::sha256.like(format!("{hash}%")))
        .order(mapping_versions::sha256)
        .limit(2)
        .select(MappingVersion::as_select())
        .load(conn)
}

/// Every stored version, newest first (without their text).
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, String, NaiveDateTime)>> {
    mapping_versions::table
        .order(mapping_versions::first_seen_at.desc())
        .select((
            mapping_versions::sha256,
            mapping_versions::name,
            mapping_versions::file_name,
            mapping_versions::first_seen_at,
        ))
        .load(conn)
}
