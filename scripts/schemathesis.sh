#!/usr/bin/env bash
# Fuzzes a running usher against its own /openapi.json with schemathesis:
# no answer may be a 5xx, and every answer's status, content type, headers
# and body must be what the document declares. Part of .ci/run; runs alone
# too (`bash scripts/schemathesis.sh`).
#
# usher runs as a debug build on a fresh SQLite file with the dev mail
# transport and its limits raised, so that 429s do not drown the run. An
# admin API token (of the default tenant, made by a first Akana signup) lets
# the admin endpoints be reached past their 401.
#
# Settings: SCHEMATHESIS_EXAMPLES (cases per operation and phase, default
# 50: about a minute of fuzzing on two cores), SCHEMATHESIS_SEED (default 1: a failure reproduces), SCHEMATHESIS_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples="${SCHEMATHESIS_EXAMPLES:-50}"
seed="${SCHEMATHESIS_SEED:-1}"
venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"

log() { printf '\n== %s\n' "$*"; }

# A venv of the pinned version; where python3 has no venv module (Debian
# without python3-venv), pip installs into the system Python instead.
st_command() {
    if [ -x "$venv/bin/st" ] && "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        echo "$venv/bin/st"
        return
    fi
    if python3 -m venv "$venv" >/dev/null 2>&1 && [ -x "$venv/bin/pip" ]; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
        echo "$venv/bin/st"
        return
    fi
    rm -rf "$venv"
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2 ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "schemathesis==$SCHEMATHESIS_VERSION" >&2
    command -v st
}

log "schemathesis $SCHEMATHESIS_VERSION"
st=$(realpath "$(st_command)")

log "building usher"
cargo build --locked --bin usher
usher="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/usher"

work=$(mktemp -d)
usher_pid=""
cleanup() {
    if [ -n "$usher_pid" ]; then
        kill "$usher_pid" 2>/dev/null || true
        wait "$usher_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export USHER_DATABASE_URL="sqlite://$work/usher.db"
export USHER_DATA_DIR="$work"
export USHER_LISTEN=127.0.0.1:0
export USHER_MAIL_TRANSPORT=dev
export USHER_MAIL_POLL_INTERVAL=200ms
export USHER_LIMIT_CLIENT_PER_MINUTE=0
export USHER_LIMIT_EMAIL_INTERVAL=0s
export USHER_LIMIT_EMAIL_DAILY=1000000
export USHER_PASSWORD_HASH_QUEUE=1024
export USHER_LOG_FORMAT=text
unset USHER_CONFIG USHER_BASE_PATH USHER_KEYS

log "starting usher"
"$usher" migrate >/dev/null
"$usher" serve >"$work/usher.log" 2>&1 &
usher_pid=$!
base=""
for _ in $(seq 1 100); do
    base=$(grep -o 'usher is listening listen=[0-9.:]*' "$work/usher.log" | head -n 1 | sed 's/.*listen=/http:\/\//') || true
    [ -n "$base" ] && break
    kill -0 "$usher_pid" 2>/dev/null || { cat "$work/usher.log" >&2; echo "usher did not start" >&2; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { cat "$work/usher.log" >&2; echo "usher did not start" >&2; exit 1; }
echo "usher at $base"

# The first developer signup creates the default tenant (in the worker).
python3 - "$base/api/users/signupUser" <<'PY'
import sys, urllib.request
form = b"firstName=Ada&lastName=Lovelace&emailAddress=ada%40example.com"
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}))
PY
token=""
for _ in $(seq 1 50); do
    token=$("$usher" api-token create --tenant default --role admin 2>/dev/null | tail -n 1) && break
    sleep 0.2
done
[ -n "$token" ] || { echo "could not create an admin API token" >&2; exit 1; }

log "schemathesis: $examples cases per operation and phase, seed $seed"
started=$(date +%s)
status=0
report="$PWD/target/schemathesis-report"
# In the temp dir: schemathesis keeps a cache where it runs.
(cd "$work" && "$st" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 2 \
    --request-timeout 30 \
    --header "Authorization: Bearer $token" \
    --generation-database none \
    --report junit --report-dir "$report" \
    --no-color) || status=$?
echo "schemathesis took $(($(date +%s) - started)) s"
if grep -q 'internal error' "$work/usher.log"; then
    log "usher's log of internal errors"
    grep -A3 'internal error' "$work/usher.log" | head -n 60
fi
exit "$status"
