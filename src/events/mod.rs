//! Decision events out: how an event looks on the wire (the change feed and webhooks), how a webhook is signed
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` with `v1` HMAC-SHA256 per secret
//! and optionally `v1a` Ed25519), and the dispatcher that delivers them ([`deliver`]). The events themselves
//! are written by `store` in the transaction of the change they report.

pub mod admin;
pub mod deliver;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::store::audit_log::format_timestamp;
use crate::store::events::EventRow;

/// An event as the change feed and webhooks send it: `{"type", "timestamp", "data"}`. `fields` names the
/// canonical non-personal fields kept in `data.fields`; without any, `data.fields` is left out.
pub fn envelope(event: &EventRow, fields: &[String]) -> Value {
    let mut data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    if let Some(map) = data.as_object_mut() {
        let chosen: Option<Map<String, Value>> = map
            .remove("fields")
            .and_then(|f| match f {
                Value::Object(all) => Some(all),
                _ => None,
            })
            .map(|all| {
                all.into_iter()
                    .filter(|(name, _)| fields.iter().any(|f| f == name))
                    .collect()
            });
        if let Some(chosen) = chosen.filter(|_| !fields.is_empty()) {
            map.insert("fields".into(), Value::Object(chosen));
        }
        map.insert("event_seq".into(), json!(event.seq));
    }
    json!({
        "type": event.kind,
        "timestamp": format_timestamp(event.occurred_at),
        "data": data,
    })
}

/// The `webhook-signature` header: one `v1,<base64>` per secret (HMAC-SHA256 over `id.timestamp.body`), and
/// `v1a,<base64>` when an Ed25519 key is given, separated by spaces.
pub fn signature_header(
    id: &str,
    timestamp: i64,
    body: &str,
    secrets: &[Vec<u8>],
    ed25519: Option<&openssl::pkey::PKey<openssl::pkey::Private>>,
) -> Result<String, String> {
    let content = format!("{id}.{timestamp}.{body}");
    let mut parts = Vec::with_capacity(secrets.len() + 1);
    for key in secrets {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
        mac.update(content.as_bytes());
        parts.push(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ));
    }
    if let Some(key) = ed25519 {
        let mut signer =
            openssl::sign::Signer::new_without_digest(key).map_err(|e| e.to_string())?;
        let signature = signer
            .sign_oneshot_to_vec(content.as_bytes())
            .map_err(|e| e.to_string())?;
        parts.push(format!("v1a,{}", STANDARD.encode(signature)));
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its reference libraries' test vector).
    #[test]
    fn the_specification_example_signs_as_published() {
        let secret =
            crate::config::decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header = signature_header(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            &[secret],
            None,
        )
        .unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_secret_signs_during_a_rotation() {
        let header = signature_header("id", 1, "{}", &[vec![1; 32], vec![2; 32]], None).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|p| p.starts_with("v1,")));
    }

    #[test]
    fn a_v1a_signature_verifies_with_the_public_key() {
        let key = openssl::pkey::PKey::generate_ed25519().unwrap();
        let header = signature_header("id", 5, "{}", &[vec![1; 32]], Some(&key)).unwrap();
        let v1a = header
            .split(' ')
            .find_map(|p| p.strip_prefix("v1a,"))
            .expect("a v1a signature");
        let signature = STANDARD.decode(v1a).unwrap();
        let public = openssl::pkey::PKey::public_key_from_raw_bytes(
            &key.raw_public_key().unwrap(),
            openssl::pkey::Id::ED25519,
        )
        .unwrap();
        let mut verifier = openssl::sign::Verifier::new_without_digest(&public).unwrap();
        assert!(verifier.verify_oneshot(&signature, b"id.5.{}").unwrap());
        let mut verifier = openssl::sign::Verifier::new_without_digest(&public).unwrap();
        assert!(!verifier.verify_oneshot(&signature, b"id.6.{}").unwrap());
    }

    #[test]
    fn only_the_chosen_fields_go_out() {
        let event = EventRow {
            seq: 7,
            id: "evt_1".into(),
            kind: "submission.decided".into(),
            occurred_at: chrono::NaiveDateTime::default(),
            reference: Some("KYC-1".into()),
            data: r#"{"reference":"KYC-1","fields":{"document_type":"P","nationality":"NGA"}}"#
                .into(),
        };
        let plain = envelope(&event, &[]);
        assert!(plain["data"].get("fields").is_none());
        assert_eq!(plain["data"]["event_seq"], 7);
        let chosen = envelope(&event, &["nationality".to_string()]);
        assert_eq!(chosen["data"]["fields"], json!({"nationality": "NGA"}));
        assert_eq!(chosen["type"], "submission.decided");
    }
}
