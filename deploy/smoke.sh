#!/usr/bin/env bash
# Runs a built `neo` binary with the configurations the packaging ships, without Docker or
# a cluster, and checks the contract they rely on:
#
# 1. deploy/k8s/20-configmap.yaml's neo.toml plus the Deployment's variables (the Secret's
#    store URL, passphrase and API keys), over a local nats-server started from
#    deploy/nats/nats.conf and, when NEO_TEST_DATABASE_URL is set, a fresh PostgreSQL
#    database (else SQLite, said so): /health and /ready answer 200, /metrics answers
#    without a key (public_metrics), the API refuses a request without a key and serves one
#    with it, `neo doctor` passes, and SIGTERM stops NEO cleanly within its grace.
# 2. The image's deploy/neo.container.toml: refuses to start without API keys (it listens
#    on 0.0.0.0); with NEO_API__KEYS it is ready and /metrics needs a key.
#
# Usage: deploy/smoke.sh [path/to/neo]   (default: $CARGO_TARGET_DIR/debug/neo)
# Needs nats-server (NEO_NATS_SERVER or PATH), python3 with PyYAML, curl; psql for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

neo="${1:-${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/neo/target}/debug/neo}"
[ -x "$neo" ] || { echo "smoke: no neo binary at $neo" >&2; exit 1; }
nats_server="${NEO_NATS_SERVER:-$(command -v nats-server || true)}"
[ -n "$nats_server" ] || { echo "smoke: nats-server not found (NEO_NATS_SERVER or PATH)" >&2; exit 1; }

tmp="$(mktemp -d)"
pids=()
db_name=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$db_name" ]; then
    psql "$NEO_TEST_DATABASE_URL" -q -c "DROP DATABASE IF EXISTS $db_name" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "smoke FAILED: $*" >&2
  for log in "$tmp"/*.log; do
    [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
wait_for() { # wait_for URL CODE SECONDS
  for _ in $(seq 1 $(($3 * 4))); do
    [ "$(status "$1")" = "$2" ] && return 0
    sleep 0.25
  done
  return 1
}

# An API key as `neo keys new` makes one: "neo_" and 64 hex digits; NEO keeps its SHA-256.
key="neo_$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
sha="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
api_keys="[{name=\"smoke\", role=\"admin\", sha256=\"$sha\"}]"

# --- NATS from deploy/nats/nats.conf, on free ports and a temporary store.
nats_port="$(free_port)"
nats_http="$(free_port)"
sed -e "s#^port: .*#port: $nats_port#" -e "s#^http_port: .*#http_port: $nats_http#" \
    -e "s#store_dir: .*#store_dir: \"$tmp/nats\"#" -e "s#^server_name: .*#server_name: neo-smoke#" \
    deploy/nats/nats.conf > "$tmp/nats.conf"
"$nats_server" -c "$tmp/nats.conf" -a 127.0.0.1 > "$tmp/nats.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$nats_http/healthz?js-enabled-only=true" 200 10 || fail "nats-server did not start"

# --- The store: a fresh PostgreSQL database when one is offered, else SQLite.
if [ -n "${NEO_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null 2>&1 \
   && psql "$NEO_TEST_DATABASE_URL" -q -c "CREATE DATABASE neo_smoke_$$" >/dev/null 2>&1; then
  db_name="neo_smoke_$$"
  store_url="$(python3 - "$NEO_TEST_DATABASE_URL" "$db_name" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, "")))
PY
)"
  store_kind="PostgreSQL"
else
  store_url="sqlite://$tmp/k8s-data/neo.db?mode=rwc"
  store_kind="SQLite (NEO_TEST_DATABASE_URL unset or PostgreSQL unreachable: PostgreSQL not exercised)"
fi

# --- 1. The Kubernetes ConfigMap's neo.toml with the Deployment's variables.
python3 - "$tmp/k8s.toml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("deploy/k8s/20-configmap.yaml", encoding="utf-8"))
open(sys.argv[1], "w", encoding="utf-8").write(doc["data"]["neo.toml"])
PY
port="$(free_port)"
base="http://127.0.0.1:$port"
env NEO_SERVER__PORT="$port" NEO_BUS__URL="nats://127.0.0.1:$nats_port" \
    NEO_STORE__URL="$store_url" NEO_GATEWAY__PASSPHRASE="smoke-passphrase" \
    NEO_API__KEYS="$api_keys" NEO_LOG=info NEO_MARKET__ARCHIVE=false \
    "$neo" run --config "$tmp/k8s.toml" --data-dir "$tmp/k8s-data" > "$tmp/neo-k8s.log" 2>&1 &
neo_pid=$!
pids+=("$neo_pid")
wait_for "$base/ready" 200 60 || fail "the ConfigMap's config: /ready is not 200 within 60 s"
[ "$(status "$base/health")" = 200 ] || fail "/health is not 200"
[ "$(status "$base/metrics")" = 200 ] || fail "/metrics needs a key although public_metrics = true"
[ "$(status "$base/v1/positions")" = 401 ] || fail "/v1/positions answered without a key"
[ "$(status -H "Authorization: Bearer $key" "$base/v1/positions")" = 200 ] \
  || fail "/v1/positions refused the configured key (NEO_API__KEYS)"
"$neo" doctor --url "$base" --key "$key" > "$tmp/doctor.txt" 2>&1 \
  || { cat "$tmp/doctor.txt" >&2; fail "neo doctor failed"; }
grep -q "bus" "$tmp/doctor.txt" || fail "neo doctor did not check the bus"
sed 's/^/  doctor: /' "$tmp/doctor.txt"
kill -TERM "$neo_pid"
for _ in $(seq 1 60); do kill -0 "$neo_pid" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$neo_pid" 2>/dev/null; then fail "NEO did not stop within 15 s of SIGTERM"; fi
wait "$neo_pid" || fail "NEO exited non-zero after SIGTERM"
echo "ok: ConfigMap config over NATS and $store_kind: ready, public /metrics, API behind keys, doctor passes, clean stop"

# --- 2. The image's config: no key, no start; with a key, ready and /metrics behind it.
port="$(free_port)"
base="http://127.0.0.1:$port"
if NEO_SERVER__PORT="$port" timeout 20 "$neo" run --config deploy/neo.container.toml \
     --data-dir "$tmp/image-nokey" > "$tmp/neo-nokey.log" 2>&1; then
  fail "the image's config started on 0.0.0.0 without API keys"
fi
grep -q "api.keys" "$tmp/neo-nokey.log" || fail "the refusal without keys does not name [[api.keys]]"
env NEO_SERVER__PORT="$port" NEO_API__KEYS="$api_keys" NEO_MARKET__ARCHIVE=false \
    "$neo" run --config deploy/neo.container.toml --data-dir "$tmp/image-data" > "$tmp/neo-image.log" 2>&1 &
neo_pid=$!
pids+=("$neo_pid")
wait_for "$base/ready" 200 60 || fail "the image's config: /ready is not 200 within 60 s"
[ "$(status "$base/metrics")" = 401 ] || fail "the image's config serves /metrics without a key"
[ "$(status -H "Authorization: Bearer $key" "$base/metrics")" = 200 ] || fail "/metrics refused the key"
kill -TERM "$neo_pid"
wait "$neo_pid" || fail "NEO exited non-zero after SIGTERM"
echo "ok: image config refuses to start without API keys; with them it is ready and /metrics needs a key"
