#!/usr/bin/env python3
"""Latency benchmark of a running usher (see docs/benchmarks.md).

Measures, over loopback, the answer time of send_password_email for a known
and for unknown addresses (SPEC §4: equal "within noise"), of signup, and of
complete-with-password (dominated by Argon2id). Start the server with the
limits off so the benchmark measures work, not 429s:

  USHER_LIMIT_EMAIL_INTERVAL=0s USHER_LIMIT_EMAIL_DAILY=1000000 \
  USHER_LIMIT_CLIENT_PER_MINUTE=0 usher serve

then: python3 scripts/bench.py [http://127.0.0.1:8080] [N]
"""
import json
import re
import statistics
import sys
import time
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300


def post(path, body):
    req = urllib.request.Request(BASE + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        r.read()
        status = r.status
    return status, (time.perf_counter() - start) * 1000


def signup_body(cname, email):
    return {
        "account_details": {"domain": cname, "locale": "en", "tos_version": "1"},
        "company_details": {"name": "Bench", "mailing_address": {"country": "US", "zip_code": "98101"}},
        "user_details": {"email": email, "first_name": "Bench", "last_name": "Mark"},
    }


def summary(name, ms):
    ms = sorted(ms)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"{name:<38} n={len(ms):<4} median={statistics.median(ms):6.2f} ms  p90={p(0.9):6.2f} ms  p99={p(0.99):6.2f} ms")
    return statistics.median(ms)


run = str(int(time.time()))
signups = [post("/no_auth/namespaces/system/f5xc-saas/signup", signup_body(f"b{run}-{i}", f"bench{i}-{run}@example.com"))[1] for i in range(N)]
summary("signup", signups)

time.sleep(1)
mail = json.load(urllib.request.urlopen(BASE + "/dev/mail.json"))
tokens = [m for m in (re.search(r"token=(v4\.local\.[A-Za-z0-9_.-]+)", x["text"]) for x in mail) if m]
completes = [post("/no_auth/namespaces/system/f5xc-saas/signup/complete", {"token": t.group(1), "password": "violet-tractor-harbour-91"})[1] for t in tokens[:50]]
summary("complete with password (Argon2id)", completes)

known_cname = f"b{run}-0"
known_email = f"bench0-{run}@example.com"
known, unknown = [], []
for i in range(N):  # interleaved, so drift in the machine's load hits both alike
    known.append(post("/no_auth/send_password_email", {"cname": known_cname, "email": known_email})[1])
    unknown.append(post("/no_auth/send_password_email", {"cname": known_cname, "email": f"nobody{i}-{run}@example.com"})[1])
mk = summary("send_password_email, known address", known)
mu = summary("send_password_email, unknown address", unknown)
print(f"difference of medians: {mk - mu:+.2f} ms")
