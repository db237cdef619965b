#!/usr/bin/env bash
# Writes deploy/.env for deploy/compose.yaml with random secrets: the PostgreSQL password,
# the webhook passphrase, Grafana's admin password and one admin API key, of which only the
# SHA-256 is stored. The key and the passphrase are printed once: keep them.
# Refuses to overwrite an existing deploy/.env (delete it first to start over).
# Usage: deploy/make-env.sh [--name ops]
set -euo pipefail
cd "$(dirname "$0")"

name="ops"
if [ "${1:-}" = "--name" ] && [ -n "${2:-}" ]; then
  name="$2"
fi
case "$name" in
  *[!A-Za-z0-9._-]*) echo "the key name may hold letters, digits, '-', '_' and '.'" >&2; exit 2 ;;
esac
if [ -e .env ]; then
  echo "deploy/.env exists; delete it first to make new secrets" >&2
  exit 1
fi

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# The key's format is neo keys new's: "neo_" and 32 random bytes in hex; NEO keeps its SHA-256.
key="neo_$(random_hex 32)"
sha="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
passphrase="$(random_hex 16)"

umask 077
cat > .env <<ENV
# Written by deploy/make-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); see deploy/env.example.
POSTGRES_PASSWORD='$(random_hex 24)'
NEO_GATEWAY_PASSPHRASE='${passphrase}'
NEO_API_KEYS='[{name="${name}", role="admin", sha256="${sha}"}]'
GRAFANA_ADMIN_PASSWORD='$(random_hex 16)'
NEO_LOG='info'
ENV

cat <<MSG
Wrote deploy/.env (mode 600). Shown only this once, keep them:

  API key (${name}, admin): ${key}
  webhook passphrase: ${passphrase}

Callers send the key as 'Authorization: Bearer <key>' (neo --key, or NEO_API_KEY);
TradingView alerts carry the passphrase. Grafana's password is in deploy/.env.
MSG
