#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs) for a bounded time each with
# cargo-fuzz (libFuzzer, the nightly toolchain). A crash fails the run and
# leaves its input under fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-${NEO_FUZZ_SECS:-20}}"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
# Its own target folder: nightly and sanitizer flags would otherwise rebuild the workspace's.
export CARGO_TARGET_DIR="${NEO_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/neo/fuzz-target}"
cd fuzz
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  if [ -d "seeds/$target" ]; then
    cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  fi
  echo "==> fuzz $target for ${secs}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $target failed"; exit 1; }
done
