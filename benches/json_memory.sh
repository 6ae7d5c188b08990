#!/usr/bin/env bash
# Memory of JSON that explodes when parsed: a 32 MiB body of small numbers ([1,1,1,…]) takes about twenty
# times its size as a serde_json::Value. The receiver charges the parsed size to server.inflight_body_bytes
# and refuses what could never fit (413 payload_too_large), so its peak RSS must stay near
# body + decrypted copy, not grow to the parsed size. Sends CONCURRENCY such bodies at once, ROUNDS times,
# and prints the receiver's idle RSS, peak RSS (VmHWM) and RSS afterwards.
#
# Usage: benches/json_memory.sh            (CONCURRENCY=4 ROUNDS=3 by default; needs curl, jq, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
CONCURRENCY=${CONCURRENCY:-4}
ROUNDS=${ROUNDS:-3}
cargo build --release --locked --bin kyc-receiver >&2
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18553
client=$(target/release/kyc-receiver clients add bench --scopes kyc:submit --json)
secret=$(jq -r .client_secret <<<"$client")
cat >"$work/kyc.toml" <<TOML
[server]
bind = "127.0.0.1:$port"
tls_self_signed = true
tls_cert = "$work/cert.pem"
tls_key = "$work/key.pem"
[database]
url = "sqlite://$work/kyc.sqlite"
[auth.signing]
key_file = "$work/signing.pem"
generate_if_missing = true
[storage]
active_key_id = "b1"
keys = [{ id = "b1", key = "$(target/release/kyc-receiver keys generate)" }]
search_key = "$(target/release/kyc-receiver keys generate)"
[[auth.clients]]
client_id = "bench"
secret_hash = "$(jq -r .secret_hash <<<"$client")"
scopes = ["kyc:submit"]
TOML
MALLOC_ARENA_MAX=2 RUST_LOG=error target/release/kyc-receiver --config "$work/kyc.toml" serve >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -sk "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 -c "import sys; n=(32*1024*1024-4)//2; sys.stdout.write('['+'1,'*(n-1)+'1]')" >"$work/bomb.json"
token=$(curl -sk -d grant_type=client_credentials -d client_id=bench -d "client_secret=$secret" \
    "https://127.0.0.1:$port/oauth/token" | jq -r .access_token)
rss() { sed -n "s/^$1:\s*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
idle=$(rss VmRSS)
for _ in $(seq 1 "$ROUNDS"); do
    seq 1 "$CONCURRENCY" | xargs -P "$CONCURRENCY" -I{} curl -sk -o /dev/null -w "%{http_code}\n" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @"$work/bomb.json" \
        "https://127.0.0.1:$port/kyc"
done | sort | uniq -c
printf 'idle RSS %d KiB, peak RSS %d KiB, RSS after %d KiB (%d x %d bodies of 32 MiB)\n' \
    "$idle" "$(rss VmHWM)" "$(rss VmRSS)" "$ROUNDS" "$CONCURRENCY"
