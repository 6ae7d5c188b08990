#!/usr/bin/env bash
# Bytes stored per full Ditto submission (tests/fixtures/ditto-v3-full.json, 1.2 MB with four JPEGs), with
# images encrypted and with images dropped. Starts the receiver on a temporary SQLite database on 127.0.0.1,
# pushes N submissions with distinct requester ids, and reports the database's own accounting.
# Usage: benches/storage_cost.sh [N]   (needs curl, jq, sqlite3; builds the debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
cargo build -q --bin kyc-receiver
BIN=target/debug/kyc-receiver
KEY=$($BIN keys generate)
SECRET=$($BIN clients add bench --scopes kyc:submit --json)
HASH=$(jq -r .secret_hash <<<"$SECRET"); PLAIN=$(jq -r .client_secret <<<"$SECRET")

measure() {
  local policy=$1 dir port pid token
  dir=$(mktemp -d); port=$((20000 + RANDOM % 20000))
  cat >"$dir/c.toml" <<TOML
[server]
bind = "127.0.0.1:$port"
tls_self_signed = true
tls_cert = "$dir/cert.pem"
tls_key = "$dir/key.pem"
[database]
url = "sqlite://$dir/kyc.sqlite"
[auth.signing]
key_file = "$dir/sign.pem"
generate_if_missing = true
[[auth.clients]]
client_id = "bench"
secret_hash = "$HASH"
scopes = ["kyc:submit"]
[storage]
images = "$policy"
active_key_id = "b1"
keys = [{ id = "b1", key = "$KEY" }]
search_key = "$KEY"
TOML
  RUST_LOG=warn $BIN serve --config "$dir/c.toml" >"$dir/log" 2>&1 & pid=$!
  for _ in $(seq 50); do curl -s --cacert "$dir/cert.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  token=$(curl -s --cacert "$dir/cert.pem" -u "bench:$PLAIN" -d grant_type=client_credentials "https://127.0.0.1:$port/oauth/token" | jq -r .access_token)
  for i in $(seq "$N"); do
    jq -c ".request_info.requester_id = \"cost-$i\"" tests/fixtures/ditto-v3-full.json |
      curl -sS -o /dev/null --cacert "$dir/cert.pem" -H "Content-Type: application/json" -H "Authorization: Bearer $token" --data-binary @- "https://127.0.0.1:$port/kyc"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  sqlite3 "$dir/kyc.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  local rows images events file
  rows=$(sqlite3 "$dir/kyc.sqlite" "SELECT coalesce(sum(length(reference)+length(requester_id)+length(user_id)+length(coalesce(app_id,''))+length(fields)+length(pii_names)+length(coalesce(pii_ciphertext,''))+length(coalesce(pii_nonce,''))+length(coalesce(document_number_hmac,''))+length(reasons)+length(response_body)+length(content_hash)+length(payload_digest)+length(mapping_hash)+120),0) FROM submissions")
  images=$(sqlite3 "$dir/kyc.sqlite" "SELECT coalesce(sum(length(ciphertext)+length(nonce)+length(reference)+length(kind)+40),0) FROM submission_images")
  events=$(sqlite3 "$dir/kyc.sqlite" "SELECT coalesce(sum(length(details)+length(hash)+length(prev_hash)+length(kind)+80),0) FROM audit_events")
  file=$(stat -c %s "$dir/kyc.sqlite")
  printf '| %-7s | %6d | %10d | %10d | %8d | %12d |\n' "$policy" "$N" $((rows / N)) $((images / N)) $((events / N)) $((file / N))
  rm -rf "$dir"
}

echo "| images  | subm.  | row B/subm | image B/subm | audit B/subm | file B/subm |"
echo "|---------|--------|------------|--------------|--------------|-------------|"
measure encrypt
measure drop
