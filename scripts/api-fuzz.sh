#!/usr/bin/env bash
# Schemathesis against the running server's OpenAPI document (/api/v1/openapi.json) with an admin
# API token: zero 5xx responses, and every response's status, content type and body as documented.
#
# Runs inside a network namespace that has only a loopback interface, so whatever hosts and
# endpoints the fuzzer invents for destinations, no request leaves the machine (name lookups and
# outside addresses fail at once). Local paths are confined to a scratch folder
# (DEVPILOT_ALLOWED_PATHS), so generated plans can neither read nor write the rest of the disk.
#
#   scripts/api-fuzz.sh PYTHON      (PYTHON: the test servers' venv, which has schemathesis)
#
# DEVPILOT_FUZZ_SKIP_BUILD=1 takes target/debug/devpilot as it is (scripts/test: `cargo test` built it).
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
python="$1"
schemathesis="$(dirname "$python")/schemathesis"
[ "${DEVPILOT_FUZZ_SKIP_BUILD:-0}" = 1 ] || cargo build --quiet --bin devpilot
[ -x target/debug/devpilot ] || { echo "target/debug/devpilot is not built" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/data" "$scratch/sandbox"

unshare_net() { if [ "$(id -u)" -eq 0 ]; then unshare --net "$@"; else unshare --map-root-user --net "$@"; fi; }

# shellcheck disable=SC2016 # expanded inside the namespace
unshare_net env SCRATCH="$scratch" PYTHON="$python" SCHEMATHESIS="$schemathesis" bash -c '
    set -euo pipefail
    ip link set lo up
    port=18080
    DEVPILOT_DATA_DIR="$SCRATCH/data" DEVPILOT_PORT=$port DEVPILOT_ALLOWED_PATHS="$SCRATCH/sandbox" \
        RUST_LOG=warn target/debug/devpilot >"$SCRATCH/server.log" 2>&1 &
    server=$!
    trap "kill $server 2>/dev/null || true" EXIT
    for _ in $(seq 1 100); do
        "$PYTHON" -c "import urllib.request as u; u.urlopen(\"http://127.0.0.1:$port/healthz\")" 2>/dev/null && break
        sleep 0.2
    done
    token="$("$PYTHON" scripts/api_fuzz_token.py "http://127.0.0.1:$port")"
    "$SCHEMATHESIS" run "http://127.0.0.1:$port/api/v1/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples 25 --max-time 90 --workers 2 --request-timeout 30 \
        --seed 20261122 --generation-database none --no-color \
        || { echo "--- server errors"; grep -E "ERROR|panicked" "$SCRATCH/server.log" | tail -n 40; exit 1; }
'
