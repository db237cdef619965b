#!/usr/bin/env bash
# NEO's MCP server checked with the official Python MCP SDK (PyPI `mcp`) as the
# client, over streamable HTTP at /mcp and over stdio through `neo mcp`, with an
# admin key set: every tool called, bad arguments named, a schema resource read.
# Usage: scripts/mcp.sh <path to the neo binary>
set -euo pipefail
neo_bin="${1:?usage: scripts/mcp.sh <neo binary>}"
here="$(cd "$(dirname "$0")" && pwd)"

if ! python3 -c 'import mcp.client.streamable_http' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'mcp>=2.3,<3'
fi

dir="$(mktemp -d)"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="neo_$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
passphrase="mcp-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
cat > "$dir/neo.toml" <<TOML
[server]
port = $port

[gateway]
passphrase = "$passphrase"

[[api.keys]]
name = "mcp"
role = "admin"
sha256 = "$digest"
TOML

"$neo_bin" run --config "$dir/neo.toml" --data-dir "$dir/data" >"$dir/neo.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/ready" >/dev/null || { cat "$dir/neo.log"; echo "NEO did not become ready"; exit 1; }

signal="$(curl -fsS -X POST "http://127.0.0.1:$port/v1/webhooks/tradingview" \
  -H 'content-type: application/json' \
  -d "{\"ticker\":\"BTCUSDT\",\"action\":\"buy\",\"passphrase\":\"$passphrase\",\"id\":\"mcp-check\"}" \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["signal_id"])')"
sleep 1

timeout 180 python3 "$here/mcp_client.py" --api "http://127.0.0.1:$port" --neo "$neo_bin" \
  --key "$key" --signal "$signal" || { tail -n 50 "$dir/neo.log"; exit 1; }
