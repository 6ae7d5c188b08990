#!/usr/bin/env bash
# Indicative end-to-end load numbers for kyc-receiver, pushed by kyc-upstream (issue 6): TLS, JSON parsing,
# mapping, decision and durable storage, with the client on the same machine (it shares the cores).
#
#   benches/load.sh                 # SQLite; PostgreSQL as well when KYC_TEST_POSTGRES_URL is set
#
# Builds release, starts target/release/kyc-receiver on a free 127.0.0.1 port with a temp config (temp SQLite
# file or a temp PostgreSQL database, self-signed certificate, token signing key, data keys and one `bench`
# client made in a temp dir; auth is the builtin token endpoint, so every run includes the token fetch and
# the bearer check; no rate limit), warms up, then runs
# `kyc-upstream load` for small (≈3 KB, --images none) and full (≈1.2 MB, --images full) payloads and prints
# one table. Every run is bounded by a count and a duration; traffic goes to 127.0.0.1 only.
#
# Knobs (environment): SMALL_COUNT (30000), SMALL_CONCURRENCY (16), FULL_COUNT (1000), FULL_CONCURRENCY (4),
# MAX_DURATION (60s per run), JOBS (cargo -j, 1), SEED (random). The full run stores about 1.2 GB per backend
# (in the temp dir or the temp database), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL_COUNT=${SMALL_COUNT:-30000}
SMALL_CONCURRENCY=${SMALL_CONCURRENCY:-16}
FULL_COUNT=${FULL_COUNT:-1000}
FULL_CONCURRENCY=${FULL_CONCURRENCY:-4}
MAX_DURATION=${MAX_DURATION:-60s}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}

cargo build --release --locked -j"${JOBS:-1}" --bin kyc-receiver --bin kyc-upstream >&2

work=$(mktemp -d)
client=$(target/release/kyc-receiver clients add bench --scopes kyc:submit --json)
export KYC_UPSTREAM_CLIENT_SECRET
KYC_UPSTREAM_CLIENT_SECRET=$(jq -r .client_secret <<<"$client")
secret_hash=$(jq -r .secret_hash <<<"$client")
data_key=$(target/release/kyc-receiver keys generate)
search_key=$(target/release/kyc-receiver keys generate)
receiver_pid=""
pg_admin=""
pg_db=""
cleanup() {
    if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2>/dev/null || true; wait "$receiver_pid" 2>/dev/null || true; fi
    if [ -n "$pg_db" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A port nobody listens on (connection refused); the receiver binds it right after.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "no free port found" >&2
    return 1
}

start_receiver() { # $1 database url, $2 label
    port=$(free_port)
    rm -f "$work/cert.pem" "$work/key.pem"
    cat >"$work/kyc-receiver.toml" <<EOF
[server]
bind = "127.0.0.1:$port"
tls_self_signed = true
tls_cert = "$work/cert.pem"
tls_key = "$work/key.pem"

[database]
url = "$1"

[mappings]
dir = "$PWD/mappings"
reload = false

[auth]
modes = ["builtin"]

[auth.signing]
key_file = "$work/signing.pem"
generate_if_missing = true

[[auth.clients]]
client_id = "bench"
secret_hash = "$secret_hash"
scopes = ["kyc:submit"]

[storage]
active_key_id = "bench-1"
keys = [{ id = "bench-1", key = "$data_key" }]
search_key = "$search_key"
EOF
    RUST_LOG=warn target/release/kyc-receiver --config "$work/kyc-receiver.toml" serve >"$work/receiver-$2.log" 2>&1 &
    receiver_pid=$!
    for _ in $(seq 150); do
        if curl -sf --cacert "$work/cert.pem" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "receiver ($2) did not become ready:" >&2
    cat "$work/receiver-$2.log" >&2
    exit 1
}

stop_receiver() {
    kill "$receiver_pid" 2>/dev/null || true
    wait "$receiver_pid" 2>/dev/null || true
    receiver_pid=""
}

upstream_load() { # $1 images, $2 count, $3 concurrency, $4 seed, $5 output file
    # Exit code 1 only means errors were counted; they appear in the table.
    target/release/kyc-upstream --token-url "https://127.0.0.1:$port/oauth/token" --client-id bench \
        --submit-url "https://127.0.0.1:$port/kyc" --ca "$work/cert.pem" \
        load --images "$1" --count "$2" --concurrency "$3" --duration "$MAX_DURATION" \
        --reject-share 0.2 --seed "$4" --json >"$5" || [ $? -eq 1 ]
}

rows="$work/rows.tsv"
: >"$rows"
bench_backend() { # $1 label, $2 database url
    start_receiver "$2" "$1"
    upstream_load none 300 8 $((SEED + 100)) "$work/warmup.json"
    upstream_load full 12 2 $((SEED + 200)) "$work/warmup.json"
    for kind in small full; do
        if [ "$kind" = small ]; then images=none count=$SMALL_COUNT conc=$SMALL_CONCURRENCY; seed=$SEED
        else images=full count=$FULL_COUNT conc=$FULL_CONCURRENCY; seed=$((SEED + 1)); fi
        upstream_load "$images" "$count" "$conc" "$seed" "$work/$1-$kind.json"
        jq -r --arg backend "$1" --arg kind "$kind" '[
            $backend, $kind,
            (if .requests > 0 then (.bytes_sent / .requests / 1000 | floor | tostring) + " KB" else "-" end),
            .requests, .concurrency,
            (.submissions_per_sec * 10 | round / 10), (.mb_per_sec * 100 | round / 100),
            (.latency_ms | .p50, .p90, .p99, .p99_9, .max | . * 10 | round / 10),
            .errors_total
        ] | @tsv' "$work/$1-$kind.json" >>"$rows"
    done
    stop_receiver
}

bench_backend sqlite "sqlite://$work/kyc.sqlite"
if [ -n "${KYC_TEST_POSTGRES_URL:-}" ]; then
    pg_admin=$KYC_TEST_POSTGRES_URL
    pg_db="kyc_bench_$$"
    psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
    bench_backend postgres "${pg_admin%/*}/$pg_db"
fi

echo "kyc-receiver load (indicative): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), client and receiver on the same machine, seed $SEED"
echo
{
    printf 'backend\tpayload\tbody\trequests\tconc\tsubmissions/s\tMB/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\n'
    cat "$rows"
} | column -t -s $'\t' -o ' | '
