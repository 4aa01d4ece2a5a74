#!/usr/bin/env bash
# Runs deploy/nginx/usher.conf in front of a real usher and signs a tenant up
# through it: TLS, the forwarded client address, the links' public URL, the
# body limit, and the paths the proxy refuses.
#
# The configuration nginx runs is deploy/nginx/usher.conf with only these
# substitutions (each checked, so an edit that defeats one fails here):
#   server 127.0.0.1:8080;                 -> usher's port for this run
#   listen 443 ssl; / listen 80;           -> loopback ports for this run
#   listen [::]:...;                       -> dropped (the host may lack IPv6)
#   /etc/ssl/CHANGE-ME/{fullchain,privkey}.pem -> a throwaway self-signed pair
#   include /etc/nginx/usher-locations.conf;   -> deploy/nginx/usher-locations.conf
#
# Needs nginx, openssl, curl and python3. Run as root, nginx's workers run as
# nobody. USHER_BIN names the usher binary; by default it is built.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

for tool in nginx openssl curl python3; do
    command -v "$tool" >/dev/null || { echo "test-nginx: $tool is missing" >&2; exit 1; }
done

bin=${USHER_BIN:-}
if [ -z "$bin" ]; then
    cargo build --locked --quiet --bin usher
    bin="${CARGO_TARGET_DIR:-$repo/target}/debug/usher"
fi

tmp=$(mktemp -d)
# nginx's workers (nobody) create their temporary files under it.
chmod 0755 "$tmp"
usher_pid=
nginx_pid=
failures=0

cleanup() {
    local status=$?
    if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null; fi
    if [ -n "$usher_pid" ]; then kill "$usher_pid" 2>/dev/null && wait "$usher_pid" 2>/dev/null; fi
    if [ "$status" -ne 0 ]; then
        echo "--- usher's log ---" >&2; cat "$tmp/usher.log" >&2 2>/dev/null || true
        echo "--- nginx's error log ---" >&2; cat "$tmp/error.log" >&2 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT

ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; failures=$((failures + 1)); }
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected $2, got $3"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
usher_port=$(free_port)
tls_port=$(free_port)
http_port=$(free_port)
usher="http://127.0.0.1:$usher_port"
public="https://127.0.0.1:$tls_port"

# --- nginx's configuration -------------------------------------------------

mkdir "$tmp/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/tls/privkey.pem" -out "$tmp/tls/fullchain.pem" 2>/dev/null

sed -e "s|server 127\.0\.0\.1:8080;|server 127.0.0.1:$usher_port;|" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$tls_port ssl;|" \
    -e "s|listen 80;|listen 127.0.0.1:$http_port;|" \
    -e '/listen \[::\]:/d' \
    -e "s|/etc/ssl/CHANGE-ME/|$tmp/tls/|" \
    -e "s|include /etc/nginx/usher-locations\.conf;|include $repo/deploy/nginx/usher-locations.conf;|" \
    deploy/nginx/usher.conf >"$tmp/usher.conf"
for substituted in "127.0.0.1:$usher_port;" "127.0.0.1:$tls_port ssl;" "127.0.0.1:$http_port;" \
    "$tmp/tls/fullchain.pem" "$tmp/tls/privkey.pem" "$repo/deploy/nginx/usher-locations.conf"; do
    grep -qF "$substituted" "$tmp/usher.conf" || { echo "test-nginx: usher.conf no longer has what becomes $substituted" >&2; exit 1; }
done
if sed 's/#.*//' "$tmp/usher.conf" | grep -nE 'CHANGE-ME/|:8080|listen 443|listen 80|/etc/nginx/'; then
    echo "test-nginx: usher.conf has a line the substitutions above do not cover" >&2
    exit 1
fi

cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log info;
events { worker_connections 128; }
http {
    access_log $tmp/access.log;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/usher.conf;
}
EOF
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp/" -e "$tmp/error.log"

# --- usher -----------------------------------------------------------------

# What this script sets is all there is, as in the Rust tests.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^USHER_' || true)
export USHER_LISTEN="127.0.0.1:$usher_port"
export USHER_DATABASE_URL="sqlite://$tmp/usher.db"
export USHER_DATA_DIR="$tmp"
export USHER_PUBLIC_URL="$public"
export USHER_TRUSTED_PROXIES=127.0.0.1/32
export USHER_MAIL_TRANSPORT=dev
USHER_KEYS=$("$bin" keys generate --id k1 | tail -n 1)
export USHER_KEYS

RUST_LOG=info "$bin" serve >"$tmp/usher.log" 2>&1 &
usher_pid=$!
nginx -c "$tmp/nginx.conf" -p "$tmp/" -e "$tmp/error.log" &
nginx_pid=$!

wait_for() { # wait_for DESCRIPTION URL
    for _ in $(seq 1 100); do
        if [ "$(curl -sk -o /dev/null -w '%{http_code}' "$2")" = 200 ]; then return; fi
        sleep 0.2
    done
    echo "test-nginx: $1 did not answer $2" >&2
    exit 1
}
wait_for usher "$usher/readyz"
wait_for nginx "$public/readyz"

# --- through nginx ---------------------------------------------------------

# curl trusts the throwaway certificate only: TLS is really checked.
through() { curl -s --cacert "$tmp/tls/fullchain.pem" "$@"; }
# usher sets Content-Security-Policy on every answer: without it, nginx answered.

email="jane.nginx@example.com"
signup=$(python3 - "$email" <<'EOF'
import json, sys
print(json.dumps({
    "account_details": {"domain": "acme", "locale": "en-US", "tos_version": "2026-01"},
    "company_details": {"name": "Example Corp", "mailing_address": {
        "address1": "1 Main St", "city": "Seattle", "country": "US", "state": "Washington",
        "state_code": "WA", "zip_code": "98101"}},
    "user_details": {"email": sys.argv[1], "first_name": "Jane", "last_name": "Saoirse"},
    "tenant_type": "FREEMIUM",
}))
EOF
)

# The signup comes from 127.0.0.2 and claims to be from 203.0.113.7; the
# completion comes from 127.0.0.3 and claims nothing. nginx connects to usher
# from 127.0.0.1, the one trusted proxy.
through --interface 127.0.0.2 -D "$tmp/signup.headers" -o "$tmp/signup.body" \
    -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.7' \
    -d "$signup" "$public/no_auth/namespaces/system/f5xc-saas/signup"
check "the signup through nginx is accepted" 200 "$(awk 'NR == 1 { print $2 }' "$tmp/signup.headers")"
if grep -qi '^strict-transport-security: max-age=31536000' "$tmp/signup.headers"; then
    ok "answers carry Strict-Transport-Security"
else
    fail "no Strict-Transport-Security in $(cat "$tmp/signup.headers")"
fi

# The mailbox is read from usher directly: on its own loopback port it answers.
link=
for _ in $(seq 1 50); do
    link=$(curl -s "$usher/dev/mail.json" | python3 -c '
import re, sys
m = re.search(r"https?://[^\s\"\\<>]*token=[^\s\"\\<>]*", sys.stdin.read())
print(m.group(0) if m else "")
')
    [ -n "$link" ] && break
    sleep 0.2
done
case "$link" in
    "$public/"*) ok "the mailed link starts with the public URL, nginx's address ($link)" ;;
    *) fail "the mailed link should start with $public/: '$link'" ;;
esac
token=${link##*token=}
token=${token%%&*}

through --interface 127.0.0.3 -o "$tmp/complete.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"token\": \"$token\", \"password\": \"violet-tractor-harbour-91\"}" \
    "$public/no_auth/namespaces/system/f5xc-saas/signup/complete" >"$tmp/complete.status"
check "the signup is completed through nginx" 200 "$(cat "$tmp/complete.status")"

# nginx appends the address it saw to any X-Forwarded-For it was sent, and
# usher takes the right-most address that is not a trusted proxy: the client
# nginx saw, never one the client named.
"$bin" audit list --json >"$tmp/audit.json"
seen=$(python3 - "$tmp/audit.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
print(" ".join(sorted({f"{r['action']}@{r['client_addr']}" for r in rows if r["action"] in ("signup.created", "tenant.created")})))
EOF
)
check "the audit trail names the client nginx saw" "signup.created@127.0.0.2 tenant.created@127.0.0.3" "$seen"

for path in /metrics /dev/mail /dev/mail.json /api/base/dev/mail.json; do
    headers=$(through -o /dev/null -D - -H 'X-Forwarded-For: 127.0.0.1' "$public$path")
    code=$(printf '%s' "$headers" | awk 'NR == 1 { print $2 }')
    if [ "$code" = 404 ] && ! printf '%s' "$headers" | grep -qi '^content-security-policy:'; then
        ok "nginx refuses $path itself (404)"
    else
        fail "$path through nginx: $code, answered by usher? $headers"
    fi
done
check "/metrics still answers on usher's own loopback port" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$usher/metrics")"

big=$(head -c 70000 /dev/zero | tr '\0' 'a')
headers=$(through -o /dev/null -D - -H 'Content-Type: application/json' --data-binary "{\"x\": \"$big\"}" "$public/no_auth/send_password_email")
if [ "$(printf '%s' "$headers" | awk 'NR == 1 { print $2 }')" = 413 ] && ! printf '%s' "$headers" | grep -qi '^content-security-policy:'; then
    ok "nginx refuses a body over 64 KiB itself (413)"
else
    fail "a body over 64 KiB through nginx: $headers"
fi

check "plain HTTP is sent to https" "301 https://usher.example.com/readyz" \
    "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/readyz")"

# Which side closes an idle upstream connection first is a race that no
# request here can catch reliably, so the two settings are compared instead:
# nginx must give up before usher does.
usher_idle=$("$bin" check-config 2>/dev/null | sed -n 's/^http_keepalive_timeout = "\([0-9]*\)s"$/\1/p')
nginx_idle=$(sed -n '/^upstream usher {/,/^}/s/^ *keepalive_timeout \([0-9]*\)s;.*/\1/p' deploy/nginx/usher.conf)
if [ -n "$usher_idle" ] && [ -n "$nginx_idle" ] && [ "$nginx_idle" -lt "$usher_idle" ]; then
    ok "nginx drops idle upstream connections (${nginx_idle}s) before usher does (${usher_idle}s)"
else
    fail "upstream keepalive_timeout '${nginx_idle}s' must be below usher's http_keepalive_timeout '${usher_idle}s'"
fi

if [ "$failures" -ne 0 ]; then
    echo "test-nginx: $failures check(s) failed" >&2
    exit 1
fi
echo "test-nginx: usher behind deploy/nginx/usher.conf works"
