#!/usr/bin/env bash
# Issue 9's load benchmark: kyc-receiver against a bare actix-web + openssl server (benches/bare_server.rs,
# same TLS set-up and certificate, reads the body and answers, nothing else) in one run on one machine,
# pushed by the same client (`kyc-upstream load`, keep-alive, AES/GCM-encrypted bodies with a fresh IV
# each, every submission with its own requester_id), and prints the ratios the issue asks for.
#
#   benches/load.sh                 # SQLite; PostgreSQL as well when KYC_TEST_POSTGRES_URL is set
#
# Per server:
#   small  ≈3 KB submissions (--images none), SMALL_CONCURRENCY (32) connections, SMALL_DURATION (20s);
#   half   the same at a fixed rate of half the small peak (open loop: latency counts from the scheduled
#          start), for p99 vs p50;
#   full   ≈1.2 MB submissions with four images, FULL_CONCURRENCY (8) connections, FULL_DURATION (20s);
#   rss64  64 concurrent ≈1.2 MB submissions (RSS64_COUNT, 320), then the receiver's peak RSS (VmHWM).
# For the receiver also: cold start (spawn → first accepted submission, fresh database, existing
# certificate and keys, measured from this shell so it includes two process starts of kyc-upstream), and idle
# RSS right after that first submission.
#
# Durability is the shipped one: SQLite WAL with synchronous=FULL; PostgreSQL with its default
# synchronous_commit. The client runs on the same two cores as the server; that is the same for both servers.
# Knobs (environment): SMALL_CONCURRENCY, SMALL_DURATION, FULL_CONCURRENCY, FULL_DURATION, RSS64_COUNT,
# JOBS (cargo -j, 1), SEED (random), KEEP_DIR (keep the JSON summaries and server logs). The full runs store a few GB per backend in the temp dir or a temp
# PostgreSQL database, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL_CONCURRENCY=${SMALL_CONCURRENCY:-32}
SMALL_DURATION=${SMALL_DURATION:-20s}
FULL_CONCURRENCY=${FULL_CONCURRENCY:-8}
FULL_DURATION=${FULL_DURATION:-20s}
RSS64_COUNT=${RSS64_COUNT:-320}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}

cargo build --release --locked -j"${JOBS:-1}" --bin kyc-receiver --bin kyc-upstream --example bare_server >&2
bin=target/release

work=$(mktemp -d)
client=$($bin/kyc-receiver clients add bench --scopes kyc:submit --json)
export KYC_UPSTREAM_CLIENT_SECRET
KYC_UPSTREAM_CLIENT_SECRET=$(jq -r .client_secret <<<"$client")
secret_hash=$(jq -r .secret_hash <<<"$client")
data_key=$($bin/kyc-receiver keys generate)
search_key=$($bin/kyc-receiver keys generate)
request_key=$($bin/kyc-receiver keys generate)
server_pid=""
pg_admin=""
pg_dbs=()
cleanup() {
    stop_server
    for db in "${pg_dbs[@]}"; do psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

# The upstream's side: AES-256-GCM, fresh IV in front of every message.
encryption_block='[encryption.request]
enable = true
cipher_spec = "AES/GCM/NoPadding"
key = "'"$request_key"'"
key_encoding = "base64"
iv = "prefix"'
printf '%s\n' "$encryption_block" >"$work/upstream.toml"
# The bare server answers no user_id (it does not read the body).
printf '%s\n\n[locators]\nuser_id = ""\n' "$encryption_block" >"$work/upstream-bare.toml"

# A port nobody listens on (connection refused); the server binds it right after.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "no free port found" >&2
    return 1
}

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

# KEEP_DIR: copy the runs' JSON summaries and server logs there.
keep() {
    if [ -n "${KEEP_DIR:-}" ]; then mkdir -p "$KEEP_DIR" && cp "$work"/"$1"-*.json "$work"/server-"$1".log "$KEEP_DIR"/; fi
}

rss_kb() { sed -n "s/^$1:\s*\([0-9]*\) kB/\1/p" "/proc/$server_pid/status"; }

upstream() { # $1 config file, then kyc-upstream arguments
    local config=$1
    shift
    $bin/kyc-upstream --config "$config" --token-url "https://127.0.0.1:$port/oauth/token" --client-id bench \
        --submit-url "https://127.0.0.1:$port/kyc" --ca "$work/cert.pem" "$@"
}

upstream_load() { # $1 config, $2 output file, then load arguments
    local config=$1 out=$2
    shift 2
    # Exit code 1 only means errors were counted; they appear in the table.
    upstream "$config" load --json --reject-share 0.2 "$@" >"$out" || [ $? -eq 1 ]
}

write_receiver_config() { # $1 database url
    cat >"$work/kyc-receiver.toml" <<EOF
[server]
bind = "127.0.0.1:$port"
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

$encryption_block
EOF
}

# Starts the receiver on a fresh database; writes the milliseconds from spawn to the first accepted
# submission to $work/cold-LABEL.
start_receiver() { # $1 database url, $2 label
    port=$(free_port)
    write_receiver_config "$1"
    local t0 t1
    t0=$(date +%s%N)
    # MALLOC_ARENA_MAX=2 as in the shipped Dockerfile (README "Throughput").
    MALLOC_ARENA_MAX=2 RUST_LOG=warn $bin/kyc-receiver --config "$work/kyc-receiver.toml" serve \
        >"$work/server-$2.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 2000); do
        if upstream "$work/upstream.toml" send "$work/first.json" >/dev/null 2>&1; then
            t1=$(date +%s%N)
            echo $(((t1 - t0) / 1000000)) >"$work/cold-$2"
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    done
    echo "receiver ($2) did not accept a submission:" >&2
    cat "$work/server-$2.log" >&2
    exit 1
}

start_bare() {
    port=$(free_port)
    $bin/examples/bare_server "127.0.0.1:$port" "$work/cert.pem" "$work/key.pem" >"$work/server-bare.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 200); do
        if curl -s --cacert "$work/cert.pem" -X POST "https://127.0.0.1:$port/oauth/token" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "bare server did not start" >&2
    exit 1
}

"$bin/kyc-upstream" generate --images none --count 1 --seed $((SEED + 7)) >"$work/first.json"

results="$work/results.tsv"
: >"$results"
# One row per run: label, kind, the kyc-upstream summary's fields.
record() { # $1 label, $2 kind, $3 summary json
    jq -r --arg srv "$1" --arg kind "$2" '[
        $srv, $kind, .requests, .concurrency, (.rate // "-"),
        (.submissions_per_sec * 10 | round / 10), (.mb_per_sec * 10 | round / 10),
        (.latency_ms | .p50, .p99 | . * 10 | round / 10), .errors_total
    ] | @tsv' "$3" >>"$results"
}

# $1 label, $2 upstream config. Runs small, half, full and rss64 against the server on $port.
run_suite() {
    local label=$1 config=$2 peak
    upstream_load "$config" "$work/warm.json" --images none --count 500 --concurrency 8 --seed $((SEED + 100))
    upstream_load "$config" "$work/$label-small.json" --images none --concurrency "$SMALL_CONCURRENCY" \
        --duration "$SMALL_DURATION" --seed "$SEED"
    record "$label" small "$work/$label-small.json"
    peak=$(jq '.submissions_per_sec' "$work/$label-small.json")
    upstream_load "$config" "$work/$label-half.json" --images none --concurrency "$SMALL_CONCURRENCY" \
        --rate "$(jq -n "$peak / 2 | floor")" --duration "$SMALL_DURATION" --seed $((SEED + 1))
    record "$label" half "$work/$label-half.json"
    upstream_load "$config" "$work/$label-full.json" --images full --concurrency "$FULL_CONCURRENCY" \
        --duration "$FULL_DURATION" --seed $((SEED + 2))
    record "$label" full "$work/$label-full.json"
    upstream_load "$config" "$work/$label-rss64.json" --images full --concurrency 64 --count "$RSS64_COUNT" \
        --seed $((SEED + 3))
    record "$label" rss64 "$work/$label-rss64.json"
}

facts="$work/facts.tsv"
: >"$facts"
start_bare
run_suite bare "$work/upstream-bare.toml"
stop_server
keep bare
sync

bench_receiver() { # $1 label, $2 database url
    local cold idle
    start_receiver "$2" "$1"
    cold=$(cat "$work/cold-$1")
    idle=$(rss_kb VmRSS)
    run_suite "$1" "$work/upstream.toml"
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$cold" "$idle" "$(rss_kb VmRSS)" "$(rss_kb VmHWM)" >>"$facts"
    stop_server
    keep "$1"
    # The full runs leave gigabytes of dirty pages; flushed now, they do not slow the next backend's fsyncs.
    rm -f "$work"/kyc.sqlite*
    sync
}


bench_receiver sqlite "sqlite://$work/kyc.sqlite"
if [ -n "${KYC_TEST_POSTGRES_URL:-}" ]; then
    pg_admin=$KYC_TEST_POSTGRES_URL
    pg_dbs+=("kyc_bench_$$")
    psql -q "$pg_admin" -c "CREATE DATABASE kyc_bench_$$" >/dev/null
    bench_receiver postgres "${pg_admin%/*}/kyc_bench_$$"
fi

echo "kyc-receiver vs bare actix+openssl: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), client on the same machine, seed $SEED"
echo
{
    printf 'server\trun\trequests\tconc\trate\tsubmissions/s\tMB/s\tp50 ms\tp99 ms\terrors\n'
    cat "$results"
} | column -t -s $'\t' -o ' | '
echo
python3 - "$results" "$facts" <<'PY'
import csv, sys
runs = {(r[0], r[1]): r for r in csv.reader(open(sys.argv[1]), delimiter="\t")}
facts = {r[0]: r for r in csv.reader(open(sys.argv[2]), delimiter="\t")}
def val(label, kind, col):
    return float(runs[(label, kind)][col])
rows = []
for label, floor in (("sqlite", 0.60), ("postgres", 0.40)):
    if label not in facts:
        continue
    small = val(label, "small", 5) / val("bare", "small", 5)
    full = val(label, "full", 6) / val("bare", "full", 6)
    p50, p99 = val(label, "half", 7), val(label, "half", 8)
    _, cold, idle, last, peak = facts[label]
    rows += [
        (label, "small req/s vs bare", f"{small:.0%}", f">= {floor:.0%}", small >= floor),
        (label, "1.2 MB byte rate vs bare", f"{full:.0%}", ">= 50%", full >= 0.5),
        (label, "p99 / p50 at half peak", f"{p99 / p50:.1f}x ({p50} / {p99} ms)", "<= 3x", p99 <= 3 * p50),
        (label, "peak RSS (whole run, incl. 64 x 1.2 MB)", f"{int(peak) / 1024:.1f} MiB", "<= 128 MiB", int(peak) <= 128 * 1024),
        (label, "idle RSS after start / after the runs", f"{int(idle) / 1024:.1f} / {int(last) / 1024:.1f} MiB", "<= 32 MiB", int(idle) <= 32 * 1024),
    ]
    if label == "sqlite":
        rows.append((label, "cold start to first accepted submission", f"{cold} ms", "<= 300 ms", int(cold) <= 300))
errors = sum(int(r[9]) for r in runs.values())
print("| backend | goal | measured | target | met |")
print("|---|---|---|---|---|")
for label, goal, measured, target, ok in rows:
    print(f"| {label} | {goal} | {measured} | {target} | {'yes' if ok else 'NO'} |")
print(f"\nerrors over all runs: {errors}")
PY
