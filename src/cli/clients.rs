//! `kyc-receiver clients add NAME --scopes …`: creates client credentials. The secret is printed once; the
//! config entry holds only its argon2id hash.

use serde_json::json;

use crate::auth::{generate_client_secret, hash_secret, scopes};

/// Prints a new secret and the `[[auth.clients]]` entry to paste (or one JSON object with `--json`).
pub fn add(name: &str, scope_list: &[String], as_json: bool) -> Result<(), String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "client name `{name}`: use letters, digits, `-`, `_` or `.`"
        ));
    }
    for scope in scope_list {
        if !scopes::ALL.contains(&scope.as_str()) {
            return Err(format!(
                "unknown scope `{scope}`; known: {}",
                scopes::ALL.join(", ")
            ));
        }
    }
    let secret = generate_client_secret();
    let hash = hash_secret(&secret).map_err(|e| e.to_string())?;
    if as_json {
        println!(
            "{}",
            json!({"client_id": name, "client_secret": secret, "secret_hash": hash, "scopes": scope_list})
        );
    } else {
        let scopes_toml: Vec<String> = scope_list.iter().map(|s| format!("\"{s}\"")).collect();
        println!("client_id:     {name}");
        println!("client_secret: {secret}");
        println!(
            "(shown once: give it to the client now; only the hash below goes into the config)\n"
        );
        println!("[[auth.clients]]");
        println!("client_id = \"{name}\"");
        println!("secret_hash = \"{hash}\"");
        println!("scopes = [{}]", scopes_toml.join(", "));
    }
    Ok(())
}
