//! Signed heads: the audit chain's head `{seq, hash, time, instance}` signed with an Ed25519 key that never enters
//! the database, and kept outside it — appended to `audit.heads_file` (JSON Lines), posted to `audit.heads_url`,
//! fetched by auditors from `GET /v1/audit/head`. Because every event hash covers the one before, a head that
//! still matches the chain proves every earlier event unchanged; a chain rewritten before a head, cut short, or
//! restored from an older backup contradicts the first head it no longer contains.
//!
//! Signed bytes: `kyc-receiver-audit-head/v1\n{seq}\n{hash}\n{time}\n{instance}` (UTF-8, `time` as RFC 3339 UTC
//! with microseconds), see docs/audit-format.md.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use openssl::pkey::{Id, PKey, Private, Public};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Problem;
use crate::store::DbConnection;
use crate::store::audit_log;
use crate::store::retention::latest_checkpoint;

/// One signed head, as stored in the heads file and answered by `GET /v1/audit/head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// Sequence number of the last event.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was signed (RFC 3339, microseconds).
    pub time: String,
    /// Which instance signed it.
    pub instance: String,
    /// The first 16 hex digits of the SHA-256 of the raw public key.
    pub key_id: String,
    /// Ed25519 over the signed bytes, base64.
    pub signature: String,
}

/// The bytes a head's signature covers.
pub fn signed_bytes(seq: i64, hash: &str, time: &str, instance: &str) -> Vec<u8> {
    format!("kyc-receiver-audit-head/v1\n{seq}\n{hash}\n{time}\n{instance}").into_bytes()
}

/// The key id of an Ed25519 public key.
pub fn key_id(raw_public: &[u8]) -> String {
    hex::encode(Sha256::digest(raw_public))[..16].to_string()
}

/// Signs heads with the instance's key.
pub struct HeadSigner {
    key: PKey<Private>,
    key_id: String,
    instance: String,
}

impl std::fmt::Debug for HeadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadSigner")
            .field("key_id", &self.key_id)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl HeadSigner {
    /// Loads the Ed25519 key (PEM) at `path`, creating it (mode 0600) when missing and `generate` is set.
    pub fn load(path: &Path, generate: bool, instance: &str) -> Result<HeadSigner, String> {
        let key = crate::tls::ed25519_key(path, generate, "audit.head_key_file")?;
        let raw = key.raw_public_key().map_err(|e| e.to_string())?;
        Ok(HeadSigner {
            key_id: key_id(&raw),
            key,
            instance: instance.to_string(),
        })
    }

    /// Signs `{seq, hash}` now.
    pub fn sign(&self, seq: i64, hash: &str, now: DateTime<Utc>) -> Result<SignedHead, String> {
        let time = audit_log::format_timestamp(now.naive_utc());
        let bytes = signed_bytes(seq, hash, &time, &self.instance);
        let mut signer =
            openssl::sign::Signer::new_without_digest(&self.key).map_err(|e| e.to_string())?;
        let signature = signer
            .sign_oneshot_to_vec(&bytes)
            .map_err(|e| e.to_string())?;
        Ok(SignedHead {
            seq,
            hash: hash.to_string(),
            time,
            instance: self.instance.clone(),
            key_id: self.key_id.clone(),
            signature: STANDARD.encode(signature),
        })
    }

    /// The public key, for verifiers.
    pub fn public_key(&self) -> Result<PKey<Public>, String> {
        let raw = self.key.raw_public_key().map_err(|e| e.to_string())?;
        PKey::public_key_from_raw_bytes(&raw, Id::ED25519).map_err(|e| e.to_string())
    }

    /// The public key as PEM (SubjectPublicKeyInfo), to hand to auditors.
    pub fn public_key_pem(&self) -> Result<String, String> {
        let pem = self
            .public_key()?
            .public_key_to_pem()
            .map_err(|e| e.to_string())?;
        String::from_utf8(pem).map_err(|e| e.to_string())
    }
}

/// Whether `head` carries a valid signature by `public`.
pub fn signature_ok(head: &SignedHead, public: &PKey<Public>) -> bool {
    let Ok(signature) = STANDARD.decode(&head.signature) else {
        return false;
    };
    let bytes = signed_bytes(head.seq, &head.hash, &head.time, &head.instance);
    openssl::sign::Verifier::new_without_digest(public)
        .and_then(|mut v| v.verify_oneshot(&signature, &bytes))
        .unwrap_or(false)
}

/// Appends one head to the file (created if missing) and syncs it to disk.
pub fn append(path: &Path, head: &SignedHead) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_string(head).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// Reads a heads file; every line must be a signed head, and its signature must verify with `public`. An error
/// names the file and line.
pub fn read(path: &Path, public: &PKey<Public>) -> Result<Vec<SignedHead>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut heads = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let head: SignedHead = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a signed head: {e}", path.display(), n + 1))?;
        if !signature_ok(&head, public) {
            return Err(format!(
                "{}:{}: the signature does not verify with the audit head key (key id {})",
                path.display(),
                n + 1,
                head.key_id
            ));
        }
        heads.push(head);
    }
    Ok(heads)
}

/// Checks that the chain still contains every head: the event at each head's sequence number exists and has
/// that hash. Returns the heads checked and the first (lowest) head the chain contradicts. Heads before a
/// retention checkpoint are checked against the checkpoint when it sits exactly there, else skipped.
pub fn check(conn: &mut DbConnection, heads: &[SignedHead]) -> QueryResult<(u64, Option<Problem>)> {
    let mut sorted: Vec<&SignedHead> = heads.iter().collect();
    sorted.sort_by_key(|h| h.seq);
    let (chain_seq, _) = audit_log::head(conn)?;
    let checkpoint = latest_checkpoint(conn)?;
    let mut checked = 0;
    for head in sorted {
        if head.seq > chain_seq {
            return Ok((
                checked,
                Some(Problem {
                    seq: head.seq,
                    kind: "truncated",
                    detail: format!(
                        "a head signed at {} by {} records event {} but the chain ends at event {chain_seq}: events \
                         were removed from the end, or the database was restored from an older copy",
                        head.time, head.instance, head.seq
                    ),
                }),
            ));
        }
        let recorded = match &checkpoint {
            Some(cp) if head.seq < cp.seq => continue,
            Some(cp) if head.seq == cp.seq => Some(cp.hash.clone()),
            _ => audit_log::events_after(conn, head.seq - 1, 1)?
                .into_iter()
                .find(|e| e.seq == head.seq)
                .map(|e| e.hash),
        };
        checked += 1;
        if recorded.as_deref() != Some(head.hash.as_str()) {
            return Ok((
                checked,
                Some(Problem {
                    seq: head.seq,
                    kind: "head_contradicted",
                    detail: format!(
                        "event {} is not the one a head signed at {} by {} records: the chain was rewritten \
                         at or before it",
                        head.seq, head.time, head.instance
                    ),
                }),
            ));
        }
    }
    Ok((checked, None))
}

/// Signs the current head when it moved since `last`, appends it to the file, and returns it.
pub fn sign_if_moved(
    conn: &mut DbConnection,
    signer: &HeadSigner,
    file: &Path,
    last: Option<&(i64, String)>,
) -> Result<Option<SignedHead>, String> {
    let (seq, hash) = audit_log::head(conn).map_err(|e| e.to_string())?;
    if last.is_some_and(|(s, h)| *s == seq && *h == hash) {
        return Ok(None);
    }
    let head = signer.sign(seq, &hash, Utc::now())?;
    append(file, &head).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> (tempfile::TempDir, HeadSigner) {
        let dir = tempfile::tempdir().unwrap();
        let s = HeadSigner::load(&dir.path().join("k.pem"), true, "node-1").unwrap();
        (dir, s)
    }

    #[test]
    fn a_head_verifies_and_any_change_breaks_it() {
        let (_dir, s) = signer();
        let public = s.public_key().unwrap();
        let head = s.sign(42, "ab", Utc::now()).unwrap();
        assert!(signature_ok(&head, &public));
        for changed in [
            SignedHead {
                seq: 43,
                ..head.clone()
            },
            SignedHead {
                hash: "ac".into(),
                ..head.clone()
            },
            SignedHead {
                instance: "node-2".into(),
                ..head.clone()
            },
            SignedHead {
                time: "2020-01-01T00:00:00.000000Z".into(),
                ..head.clone()
            },
        ] {
            assert!(!signature_ok(&changed, &public));
        }
    }

    #[test]
    fn the_file_is_appended_and_read_back_and_a_forged_line_is_named() {
        let (dir, s) = signer();
        let file = dir.path().join("heads.jsonl");
        append(&file, &s.sign(1, "a", Utc::now()).unwrap()).unwrap();
        append(&file, &s.sign(2, "b", Utc::now()).unwrap()).unwrap();
        let public = s.public_key().unwrap();
        assert_eq!(read(&file, &public).unwrap().len(), 2);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text = text.replacen("\"seq\":2", "\"seq\":3", 1);
        std::fs::write(&file, text).unwrap();
        let err = read(&file, &public).unwrap_err();
        assert!(
            err.contains("heads.jsonl:2:") && err.contains("does not verify"),
            "{err}"
        );
    }

    #[test]
    fn a_key_that_is_not_ed25519_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rsa.pem");
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pem = PKey::from_rsa(rsa)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        std::fs::write(&path, pem).unwrap();
        let err = HeadSigner::load(&path, false, "x").unwrap_err();
        assert!(err.contains("not an Ed25519 key"), "{err}");
    }
}
