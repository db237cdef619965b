#!/usr/bin/env bash
# Property-based API testing of a running NEO against its own /openapi.json
# (schemathesis, from PyPI), bounded in time. Passes only with no server error
# and no response that breaks the document (status codes, content types,
# headers and bodies). Usage: scripts/schemathesis.sh <path to the neo binary>
set -euo pipefail
neo_bin="${1:?usage: scripts/schemathesis.sh <neo binary>}"
budget="${NEO_SCHEMATHESIS_SECS:-240}"
examples="${NEO_SCHEMATHESIS_EXAMPLES:-40}"

if ! python3 -c 'import schemathesis' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'schemathesis>=4,<5'
fi
scripts_dir="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
st="$scripts_dir/schemathesis"

. "$(dirname "$0")/neo_server.sh"
start_neo "$neo_bin" schemathesis

status=0
# From the temporary folder: schemathesis keeps a cache where it runs.
cd "$dir"
run() {
  local secs="$1"
  shift
  timeout "$secs" "$st" run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --seed 20261206 \
    --rate-limit 60/s \
    --no-color "$@" || status=$?
}
# Changing flags last: a flag it switches off (tv_slice) would turn the intake's
# answers into 503 intake_disabled for the rest of the run.
run "$((budget * 3 / 4))" --exclude-method PUT
run "$((budget / 4))" --include-method PUT
if ! kill -0 "$pid" 2>/dev/null; then
  cat "$dir/neo.log"
  echo "NEO died during the run"
  exit 1
fi
if grep -q 'panicked' "$dir/neo.log"; then
  grep -n 'panicked' "$dir/neo.log"
  echo "NEO panicked during the run"
  exit 1
fi
exit "$status"
