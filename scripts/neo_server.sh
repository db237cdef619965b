# Sourced by the scripts that check a running NEO (schemathesis.sh, mcp.sh):
# `start_neo <neo binary> <key name>` runs `neo run` on a free port in a fresh
# directory with an admin key and a webhook passphrase, waits until it is
# ready, and stops it and removes the directory when the script exits. It sets
# dir, pid, port, key and passphrase.

start_neo() {
  local neo_bin="$1" key_name="$2"
  dir="$(mktemp -d)"
  trap 'stop_neo' EXIT
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  key="neo_$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  local digest
  digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
  passphrase="$key_name-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
  cat > "$dir/neo.toml" <<TOML
[server]
port = $port

[gateway]
passphrase = "$passphrase"

[[api.keys]]
name = "$key_name"
role = "admin"
sha256 = "$digest"
TOML
  "$neo_bin" run --config "$dir/neo.toml" --data-dir "$dir/data" >"$dir/neo.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$dir/neo.log"
  echo "NEO did not become ready"
  exit 1
}

stop_neo() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "${dir:-}"
}
