#!/usr/bin/env bash
# Checks deploy/systemd/usher.service with systemd's own tools: any warning
# of `systemd-analyze verify` fails (an unknown or misspelt key is only a
# warning to systemd, and silently unhardens the service), and so does an
# exposure score above 2.0 in `systemd-analyze security`.
#
# The unit names /usr/local/bin/usher, which a build machine lacks and which
# verify would report; the copy checked here names the built binary instead,
# its only change. Skipped where systemd-analyze is missing.
# USHER_BIN names the usher binary; by default it is built.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    echo "test-systemd: no systemd-analyze here, skipped"
    exit 0
fi

bin=${USHER_BIN:-}
if [ -z "$bin" ]; then
    cargo build --locked --quiet --bin usher
    bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/usher"
fi
bin=$(realpath "$bin")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/local/bin/usher |ExecStart=$bin |" deploy/systemd/usher.service >"$tmp/usher.service"
grep -qF "ExecStart=$bin serve" "$tmp/usher.service" || {
    echo "test-systemd: the unit no longer starts /usr/local/bin/usher serve" >&2
    exit 1
}

if ! out=$(systemd-analyze verify "$tmp/usher.service" 2>&1) || [ -n "$out" ]; then
    echo "test-systemd: systemd-analyze verify complained:" >&2
    echo "$out" >&2
    exit 1
fi
echo "ok   systemd-analyze verify has nothing to say about usher.service"

if ! out=$(systemd-analyze security --offline=yes --threshold=20 "$tmp/usher.service" 2>&1); then
    echo "$out" | grep -v '^✓' >&2
    echo "test-systemd: usher.service is exposed more than 2.0 (see above)" >&2
    exit 1
fi
echo "ok   $(echo "$out" | grep 'Overall exposure')"
