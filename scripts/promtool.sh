#!/usr/bin/env bash
# Checks NEO's Prometheus SLO rules and config with promtool and runs their unit tests.
# Installs Debian's `prometheus` package (which ships promtool) when promtool is missing.
# Usage: scripts/promtool.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  if ! $sudo apt-get install -y --no-install-recommends prometheus; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends prometheus
  fi
fi

promtool --version 2>&1 | sed -n 1p
promtool check rules deploy/prometheus/neo-slo.rules.yml
# rule_files in prometheus.yml are relative to the config file, so this checks the rules again.
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/tests/neo-slo.test.yml
