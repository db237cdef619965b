#!/usr/bin/env bash
# Runs a built `neo` binary with the configurations the packaging ships, without Docker or
# a cluster, and checks the contract they rely on:
#
# 1. The Kubernetes packaging as separate role processes: deploy/k8s/20-configmap.yaml's
#    neo.toml, and each Deployment's own arguments (`serve --role ...`) and Secret
#    variables, over a local nats-server started from deploy/nats/nats.conf and a fresh
#    PostgreSQL database (NEO_TEST_DATABASE_URL). Started: a desk, a notify worker, a
#    gateway, then a second desk. Each answers /health and /ready 200 and /metrics without
#    a key; the first desk is "active", the second "standby"; the gateway refuses its API
#    without a key, takes an alert with the passphrase (202), and the alert is decided (its
#    story has decisions) and delivered by the notify worker; desks and notify workers
#    answer 404 outside /health, /ready and /metrics; `neo doctor` passes against the
#    gateway; SIGTERM stops the active desk cleanly and the standby takes over (a second
#    alert is decided); SIGTERM stops every other process cleanly within its grace.
#    `neo serve` refuses a store that is not PostgreSQL, naming it. Without PostgreSQL
#    (NEO_TEST_DATABASE_URL unset or unreachable) `neo serve` cannot run: that is said, and
#    the ConfigMap's config runs as one `neo run` process over SQLite instead.
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
# json_get URL PYTHON-EXPRESSION-ON-d [curl options...]: prints the expression's value ("" on any error).
json_get() {
  local url="$1" expr="$2"
  shift 2
  curl -s --max-time 5 "$@" "$url" 2>/dev/null | python3 -c "
import json, sys
try:
    d = json.load(sys.stdin)
    v = $expr
    print(v if isinstance(v, str) else json.dumps(v))
except Exception:
    print('')
" || true
}
# stop_cleanly PID NAME: SIGTERM, gone within 15 s, exit status 0.
stop_cleanly() {
  kill -TERM "$1"
  for _ in $(seq 1 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$1" 2>/dev/null; then fail "$2 did not stop within 15 s of SIGTERM"; fi
  wait "$1" || fail "$2 exited non-zero after SIGTERM"
}

# An API key as `neo keys new` makes one: "neo_" and 64 hex digits; NEO keeps its SHA-256.
key="neo_$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
sha="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
api_keys="[{name=\"smoke\", role=\"admin\", sha256=\"$sha\"}]"
passphrase="smoke-passphrase"
auth=(-H "Authorization: Bearer $key")

# --- NATS from deploy/nats/nats.conf, on free ports and a temporary store.
nats_port="$(free_port)"
nats_http="$(free_port)"
sed -e "s#^port: .*#port: $nats_port#" -e "s#^http_port: .*#http_port: $nats_http#" \
    -e "s#store_dir: .*#store_dir: \"$tmp/nats\"#" -e "s#^server_name: .*#server_name: neo-smoke#" \
    deploy/nats/nats.conf > "$tmp/nats.conf"
"$nats_server" -c "$tmp/nats.conf" -a 127.0.0.1 > "$tmp/nats.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$nats_http/healthz?js-enabled-only=true" 200 10 || fail "nats-server did not start"

# --- The store: a fresh PostgreSQL database when one is offered.
store_url=""
if [ -n "${NEO_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null 2>&1 \
   && psql "$NEO_TEST_DATABASE_URL" -q -c "CREATE DATABASE neo_smoke_$$" >/dev/null 2>&1; then
  db_name="neo_smoke_$$"
  store_url="$(python3 - "$NEO_TEST_DATABASE_URL" "$db_name" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, "")))
PY
)"
fi

# --- 1. The Kubernetes packaging: the ConfigMap's neo.toml; each Deployment's arguments and
# the Secret variables it reads.
python3 - "$tmp/k8s.toml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("deploy/k8s/20-configmap.yaml", encoding="utf-8"))
open(sys.argv[1], "w", encoding="utf-8").write(doc["data"]["neo.toml"])
PY

# What each Secret key holds here (the Secret template's placeholders would be refused).
secret_value() {
  case "$1" in
    store-url) printf '%s' "$store_url" ;;
    api-keys) printf '%s' "$api_keys" ;;
    gateway-passphrase) printf '%s' "$passphrase" ;;
    *) return 1 ;;
  esac
}

# deployment_spec NAME: prints `args=(...)` (neo's arguments with the ConfigMap and data
# paths replaced by local ones: CONFIG and DATA, filled in by start_role) and `envs=(...)`
# (the Deployment's plain values and the Secret keys it reads, as KEY NAME pairs).
deployment_spec() {
  python3 - "$1" <<'PY'
import glob, shlex, sys, yaml
name = sys.argv[1]
for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if doc and doc.get("kind") == "Deployment" and doc["metadata"]["name"] == name:
            c = doc["spec"]["template"]["spec"]["containers"][0]
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            args = list(c.get("args") or [])
            for i, a in enumerate(args[:-1]):
                if a == "--config":
                    args[i + 1] = "CONFIG"
                if a == "--data-dir":
                    args[i + 1] = "DATA"
            envs = []
            for e in c.get("env", []):
                if "value" in e:
                    envs += ["value", e["name"], e["value"]]
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    envs += ["optional" if ref.get("optional") else "secret", e["name"], ref["key"]]
            print("args=(" + " ".join(shlex.quote(a) for a in args) + ")")
            print("envs=(" + " ".join(shlex.quote(a) for a in envs) + ")")
            sys.exit(0)
sys.exit(f"no Deployment {name} in deploy/k8s/")
PY
}

declare -A port_of pid_of
# start_role NAME DEPLOYMENT: starts the Deployment's process as NAME on a free port.
start_role() {
  local name="$1" deployment="$2" spec args envs env_args=() i kind var value
  spec="$(deployment_spec "$deployment")" || fail "cannot read the Deployment $deployment"
  eval "$spec"
  args=("${args[@]/#CONFIG/$tmp/k8s.toml}")
  args=("${args[@]/#DATA/$tmp/data-$name}")
  for ((i = 0; i < ${#envs[@]}; i += 3)); do
    kind="${envs[i]}" var="${envs[i + 1]}" value="${envs[i + 2]}"
    case "$kind" in
      value) env_args+=("$var=$value") ;;
      secret)
        value="$(secret_value "$value")" || fail "$deployment reads Secret key ${envs[i + 2]}, unknown to this smoke test"
        env_args+=("$var=$value") ;;
      optional) if value="$(secret_value "$value")"; then env_args+=("$var=$value"); fi ;;
    esac
  done
  port_of[$name]="$(free_port)"
  # Where NATS and the HTTP port are here (in the cluster: nats://nats:4222 and 8001).
  env "${env_args[@]}" NEO_BUS__URL="nats://127.0.0.1:$nats_port" NEO_SERVER__PORT="${port_of[$name]}" \
    "$neo" "${args[@]}" > "$tmp/$name.log" 2>&1 &
  pid_of[$name]=$!
  pids+=("${pid_of[$name]}")
}
url() { printf 'http://127.0.0.1:%s%s' "${port_of[$1]}" "${2:-}"; }
# ready NAME WHAT: /ready answers 200 within 60 s, or fail (at once if the process exited).
ready() {
  for _ in $(seq 1 240); do
    [ "$(status "$(url "$1" /ready)")" = 200 ] && return 0
    kill -0 "${pid_of[$1]}" 2>/dev/null || fail "$2 exited at start (see $1.log below)"
    sleep 0.25
  done
  fail "$2: /ready is not 200 within 60 s"
}
role_state() { json_get "$(url "$1" /ready)" "d['roles']['$2']"; }
# wait_state NAME ROLE STATE: the process's ROLE reports STATE within 20 s (a desk
# becomes active once the market role has written its first history).
wait_state() {
  local i
  for i in $(seq 1 80); do
    [ "$(role_state "$1" "$2")" = "$3" ] && return 0
    sleep 0.25
  done
  return 1
}
# alert ID: posts a TradingView alert to the gateway; prints the signal id (fails unless 202).
alert() {
  local body code
  body="$(curl -s --max-time 5 -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"ticker\":\"BTCUSDT\",\"exchange\":\"BINANCE\",\"action\":\"buy\",\"strategy\":\"smoke\",\"id\":\"$1\",\"passphrase\":\"$passphrase\"}" \
    "$(url gateway /v1/webhooks/tradingview)")" || true
  code="${body##*$'\n'}"
  [ "$code" = 202 ] || fail "the gateway answered $code to an alert with the passphrase: ${body%$'\n'*}"
  printf '%s' "${body%$'\n'*}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["signal_id"])'
}
# decided SIGNAL_ID: within 20 s the signal's story (read on the gateway) has decisions.
decided() {
  local n=""
  for _ in $(seq 1 80); do
    n="$(json_get "$(url gateway "/v1/signals/$1")" "len(d['decisions'])" "${auth[@]}")"
    [ -n "$n" ] && [ "$n" != 0 ] && return 0
    sleep 0.25
  done
  return 1
}

if [ -n "$store_url" ]; then
  # neo serve refuses a store that is not PostgreSQL, and says what it needs.
  if NEO_BUS__URL="nats://127.0.0.1:$nats_port" NEO_STORE__URL="sqlite://$tmp/refused.db?mode=rwc" \
     NEO_API__KEYS="$api_keys" NEO_SERVER__PORT="$(free_port)" \
     timeout 20 "$neo" serve --role desk --config "$tmp/k8s.toml" --data-dir "$tmp/refused" \
     > "$tmp/refused.log" 2>&1; then
    fail "neo serve started on a SQLite store"
  fi
  grep -q 'store\] url' "$tmp/refused.log" || fail "neo serve's refusal of SQLite does not name [store] url"

  # The desk first, so that it is the active one; then notify, the gateway, a second desk.
  start_role desk neo-desk
  ready desk "the desk (neo-desk's args)"
  wait_state desk market active || fail "the first desk process's market is not active: $(curl -s "$(url desk /ready)")"
  wait_state desk desk active || fail "the first desk is not active: $(curl -s "$(url desk /ready)")"
  start_role notify neo-notify
  start_role gateway neo-gateway
  for name in notify gateway; do
    ready $name "$name (neo-$name's args)"
  done
  start_role standby neo-desk
  ready standby "the second desk (a standby is ready too)"
  [ "$(role_state standby desk)" = standby ] || fail "the second desk is not standby: $(curl -s "$(url standby /ready)")"
  [ "$(role_state standby market)" = standby ] || fail "the second market is not standby: $(curl -s "$(url standby /ready)")"
  [ "$(role_state desk desk)" = active ] || fail "the first desk is no longer active"
  [ "$(role_state notify notify)" = running ] || fail "notify's /ready does not report its role"
  [ "$(role_state gateway gateway)" = running ] || fail "the gateway's /ready does not report its role"
  for name in desk standby notify gateway; do
    [ "$(status "$(url $name /health)")" = 200 ] || fail "$name: /health is not 200"
    [ "$(status "$(url $name /metrics)")" = 200 ] || fail "$name: /metrics needs a key although public_metrics = true"
  done
  echo "ok: processes ready: desk (active), desk (standby), notify, gateway; /health, /ready and public /metrics on each"

  # The gateway: the API behind keys, an alert taken and decided by the desk elsewhere.
  [ "$(status "$(url gateway /v1/positions)")" = 401 ] || fail "the gateway's /v1/positions answered without a key"
  [ "$(status "${auth[@]}" "$(url gateway /v1/positions)")" = 200 ] \
    || fail "the gateway's /v1/positions refused the configured key (NEO_API__KEYS)"
  signal="$(alert smoke-1)"
  decided "$signal" || fail "alert $signal has no decision 20 s after the gateway took it"
  # ...and the notify worker delivered its notification (the console channel, on by default).
  delivered=""
  for _ in $(seq 1 80); do
    delivered="$(curl -s --max-time 5 "$(url notify /metrics)" | grep -E '^neo_notifications_total\{.*outcome="delivered"' || true)"
    [ -n "$delivered" ] && break
    sleep 0.25
  done
  [ -n "$delivered" ] || fail "the notify worker delivered nothing within 20 s of the decision"
  echo "ok: gateway took alert $signal (202 with the passphrase), the desk decided it, notify delivered it"

  # Desks and notify workers serve their probes and /metrics only.
  for name in desk standby notify; do
    code="$(status "${auth[@]}" "$(url $name /v1/signals)")"
    [ "$code" = 404 ] || fail "$name answered $code to /v1/signals (only the gateway serves the API)"
  done
  echo "ok: desks and notify answer 404 on /v1/signals"

  "$neo" doctor --url "$(url gateway)" --key "$key" > "$tmp/doctor.txt" 2>&1 \
    || { cat "$tmp/doctor.txt" >&2; fail "neo doctor failed against the gateway"; }
  grep -q "bus" "$tmp/doctor.txt" || fail "neo doctor did not check the bus"
  sed 's/^/  doctor: /' "$tmp/doctor.txt"

  # Failover: SIGTERM the active desk; the standby takes over and decides the next alert.
  started="$(date +%s%N)"
  stop_cleanly "${pid_of[desk]}" "the active desk"
  took_over=""
  for _ in $(seq 1 40); do
    [ "$(role_state standby desk)" = active ] && { took_over=yes; break; }
    sleep 0.25
  done
  [ -n "$took_over" ] || fail "the standby desk did not become active within 10 s of the active desk's stop"
  echo "ok: the active desk stopped cleanly on SIGTERM; the standby was active $(( ($(date +%s%N) - started) / 1000000 )) ms after the signal"
  signal="$(alert smoke-2)"
  decided "$signal" || fail "alert $signal has no decision 20 s after the gateway took it (after the failover)"
  echo "ok: alert $signal decided by the desk that took over"

  for name in gateway notify standby; do
    stop_cleanly "${pid_of[$name]}" "$name"
  done
  echo "ok: Kubernetes packaging as role processes over NATS and PostgreSQL: gateway, notify and desk stop cleanly on SIGTERM"
else
  echo "smoke: no PostgreSQL (NEO_TEST_DATABASE_URL unset or unreachable): neo serve needs one, so the role" \
       "processes are NOT exercised; the ConfigMap's config runs as one neo run process over SQLite instead"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  env NEO_SERVER__PORT="$port" NEO_BUS__URL="nats://127.0.0.1:$nats_port" \
      NEO_STORE__URL="sqlite://$tmp/k8s-data/neo.db?mode=rwc" NEO_GATEWAY__PASSPHRASE="$passphrase" \
      NEO_API__KEYS="$api_keys" NEO_LOG=info \
      "$neo" run --config "$tmp/k8s.toml" --data-dir "$tmp/k8s-data" > "$tmp/neo-k8s.log" 2>&1 &
  neo_pid=$!
  pids+=("$neo_pid")
  wait_for "$base/ready" 200 60 || fail "the ConfigMap's config: /ready is not 200 within 60 s"
  [ "$(status "$base/health")" = 200 ] || fail "/health is not 200"
  [ "$(status "$base/metrics")" = 200 ] || fail "/metrics needs a key although public_metrics = true"
  [ "$(status "$base/v1/positions")" = 401 ] || fail "/v1/positions answered without a key"
  [ "$(status "${auth[@]}" "$base/v1/positions")" = 200 ] \
    || fail "/v1/positions refused the configured key (NEO_API__KEYS)"
  "$neo" doctor --url "$base" --key "$key" > "$tmp/doctor.txt" 2>&1 \
    || { cat "$tmp/doctor.txt" >&2; fail "neo doctor failed"; }
  grep -q "bus" "$tmp/doctor.txt" || fail "neo doctor did not check the bus"
  sed 's/^/  doctor: /' "$tmp/doctor.txt"
  stop_cleanly "$neo_pid" "NEO"
  echo "ok: ConfigMap config as one neo run over NATS and SQLite: ready, public /metrics, API behind keys, doctor passes, clean stop"
fi

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
