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

. "$(dirname "$0")/neo_server.sh"
start_neo "$neo_bin" mcp

signal="$(curl -fsS -X POST "http://127.0.0.1:$port/v1/webhooks/tradingview" \
  -H 'content-type: application/json' \
  -d "{\"ticker\":\"BTCUSDT\",\"action\":\"buy\",\"passphrase\":\"$passphrase\",\"id\":\"mcp-check\"}" \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["signal_id"])')"
sleep 1

timeout 180 python3 "$here/mcp_client.py" --api "http://127.0.0.1:$port" --neo "$neo_bin" \
  --key "$key" --signal "$signal" || { tail -n 50 "$dir/neo.log"; exit 1; }
