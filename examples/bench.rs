//! The benchmark's helpers (scripts/bench.sh drives them; wrk makes the load):
//!
//! - `seed URL N`: N onboarded F5 users (`known{i}@bench.test`, tenant
//!   `bench{i}`), N pending and N active Akana developers, and one live signup
//!   link for `validate_registration` (written to `bench-token.txt`).
//! - `timing URL DATABASE_URL ENDPOINT N`: N known and N unknown requests to
//!   an email-naming endpoint (or `code`: a wrong code for an address with a
//!   live one and for nobody), interleaved in random order on one keep-alive
//!   connection, once the worker is idle; prints medians, the interval of
//!   their difference and Welch's t of the two groups.
//! - `rate URL RPS SECONDS CONNECTIONS`: offers `send_password_email` for
//!   known users at a fixed rate (open loop: each request's latency counts
//!   from when it was due, so a slow answer cannot hide the queue behind
//!   it); prints p50, p99, p99.9 and refusals, and from usher's metrics how
//!   many commits the run made and how many were slow (the disk's share of
//!   the tail).
//! - `backlog DATABASE_URL`: waits until the worker has resolved and
//!   delivered everything queued; prints how long that took.
//!
//! Run usher with the dev transport and the limits out of the way (see
//! scripts/bench.sh), or seeding is refused by them.

use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use usher::store::{PoolSettings, Store};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["seed", url, n] => seed(url, n.parse()?).await,
        ["timing", url, db, endpoint, n] => timing(url, db, endpoint, n.parse()?).await,
        ["backlog", db] => backlog(db).await,
        ["rate", url, rps, secs, conns] => rate(url, rps.parse()?, secs.parse()?, conns.parse()?).await,
        ["hangup", url, secs, conns] => hangup(url, secs.parse()?, conns.parse()?).await,
        _ => {
            Err("usage: bench seed URL N | timing URL DATABASE_URL ENDPOINT N | rate URL RPS SECONDS CONNECTIONS | hangup URL SECONDS CONNECTIONS | backlog DATABASE_URL"
                .into())
        }
    }
}

const PASSWORD: &str = "violet-Tractor-harbour-91";

fn signup_body(cname: &str, email: &str) -> Value {
    json!({
        "account_details": { "domain": cname, "locale": "en", "tos_version": "2026-01" },
        "company_details": { "name": "Bench", "mailing_address": { "country": "US", "zip_code": "98101" } },
        "user_details": { "email": email, "first_name": "Bench", "last_name": "Mark" },
        "tenant_type": "FREEMIUM"
    })
}

async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> Result<reqwest::Response> {
    Ok(c.post(url).json(body).send().await?.error_for_status()?)
}

async fn post_form(c: &reqwest::Client, url: &str, body: String) -> Result<reqwest::Response> {
    let r = c.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await?;
    Ok(r.error_for_status()?)
}

/// The secret of the newest link mailed to `to`, read from the dev mailbox.
async fn link_secret(c: &reqwest::Client, base: &str, to: &str) -> Result<String> {
    for _ in 0..400 {
        let all: Vec<Value> = c.get(format!("{base}/dev/mail.json")).send().await?.json().await?;
        let text = all.iter().find(|m| m["to"] == to).and_then(|m| m["text"].as_str()).map(str::to_owned);
        if let Some(secret) = text.as_deref().and_then(|t| t.split(['=', '\n', ' ']).find(|w| w.starts_with("v4.local."))) {
            return Ok(secret.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("no link reached {to}").into())
}

async fn seed(base: &str, n: usize) -> Result<()> {
    let c = reqwest::Client::new();
    for i in 0..n {
        let email = format!("known{i}@bench.test");
        post_json(&c, &format!("{base}/no_auth/namespaces/system/f5xc-saas/signup"), &signup_body(&format!("bench{i}"), &email)).await?;
        let token = link_secret(&c, base, &email).await?;
        post_json(
            &c,
            &format!("{base}/no_auth/namespaces/system/f5xc-saas/signup/complete"),
            &json!({ "token": token, "password": PASSWORD }),
        )
        .await?;
        for kind in ["pending", "active"] {
            let body = format!("firstName=Bench&lastName=Mark&emailAddress={kind}{i}%40bench.test");
            post_form(&c, &format!("{base}/api/users/signupUser"), body).await?;
        }
        let code = link_secret(&c, base, &format!("active{i}@bench.test")).await?;
        post_form(&c, &format!("{base}/api/users/completeSignup"), format!("signupCode={code}&password={PASSWORD}")).await?;
    }
    post_json(&c, &format!("{base}/no_auth/namespaces/system/f5xc-saas/signup"), &signup_body("benchvalid", "valid@bench.test")).await?;
    std::fs::write("bench-token.txt", link_secret(&c, base, "valid@bench.test").await?)?;
    println!("seeded {n} F5 users, {n} pending and {n} active developers, and one live signup link");
    Ok(())
}

/// One request of `endpoint`, for a known (`true`) or unknown address.
///
/// Both kinds must have the same history, or the benchmark measures that
/// and not the account: an address asked about thousands of times has its
/// per-recipient limit row in a hot page, a fresh one has it in a cold page
/// (~10 µs here), and a longer address costs its bytes. So an unknown
/// address is a known one's local part at a domain of its own, as long as
/// `bench`; and each endpoint draws both kinds from pools alike. Where the
/// endpoint never makes an address an account, both are pools of 100, the
/// known one the seeded accounts. `signupUser` makes one, so there both
/// kinds are fresh, each prepared once before the measuring (`prepare`):
/// a known address by a `signupUser` of its own, an unknown one by a
/// `resendActivation`, which takes its slot and mails nobody.
fn request(c: &reqwest::Client, base: &str, endpoint: &str, known: bool, i: usize, run: u32) -> Result<reqwest::RequestBuilder> {
    let form =
        |path: &str, body: String| c.post(format!("{base}{path}")).header("content-type", "application/x-www-form-urlencoded").body(body);
    let who = i % 100;
    let pooled = domain('z', who, run);
    Ok(match (endpoint, known) {
        ("send_password_email", true) => c
            .post(format!("{base}/no_auth/send_password_email"))
            .json(&json!({ "cname": format!("bench{who}"), "email": format!("known{who}@bench.test") })),
        ("send_password_email", false) => c
            .post(format!("{base}/no_auth/send_password_email"))
            .json(&json!({ "cname": format!("bench{who}"), "email": format!("known{who}@{pooled}") })),
        ("signup", true) => c
            .post(format!("{base}/no_auth/namespaces/system/f5xc-saas/signup"))
            .json(&signup_body(&format!("k{run}x{i}"), &format!("known{who}@bench.test"))),
        ("signup", false) => c
            .post(format!("{base}/no_auth/namespaces/system/f5xc-saas/signup"))
            .json(&signup_body(&format!("u{run}x{i}"), &format!("known{who}@{pooled}"))),
        ("signupUser", known) => {
            form("/api/users/signupUser", format!("firstName=B&lastName=M&emailAddress={}", new_developer(known, i, run)))
        }
        ("resendActivation", true) => form("/api/users/resendActivation", format!("emailAddress=pending{who}%40bench.test")),
        ("resendActivation", false) => form("/api/users/resendActivation", format!("emailAddress=pending{who}%40{pooled}")),
        // A wrong code: for an address whose activation email carries a live code, or for nobody's.
        ("code", true) => {
            c.post(format!("{base}/no_auth/code")).json(&json!({ "email": format!("pending{who}@bench.test"), "code": WRONG_CODE }))
        }
        ("code", false) => {
            c.post(format!("{base}/no_auth/code")).json(&json!({ "email": format!("pending{who}@{pooled}"), "code": WRONG_CODE }))
        }
        _ => return Err(format!("unknown endpoint {endpoint}").into()),
    })
}

/// No code usher mails is this one's HMAC for any seeded address, whatever the odds say.
const WRONG_CODE: &str = "0000-0000";

/// What `endpoint` answers when it did what was asked: a wrong code is refused.
fn answered_as_asked(endpoint: &str, status: reqwest::StatusCode) -> bool {
    status.is_success() || (endpoint == "code" && status == reqwest::StatusCode::BAD_REQUEST)
}

/// Requests of one timing run are numbered below this (warm-up included).
const PER_RUN: usize = 50_400;

/// `first` and four letters (as long as `bench`), `.test`: a domain no
/// seeded account is at, distinct for each `i` of a run and for nine runs apart.
fn domain(first: char, i: usize, run: u32) -> String {
    let mut n = i + PER_RUN * (run % 9) as usize;
    let mut label = String::from(first);
    for _ in 0..4 {
        label.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    format!("{label}.test")
}

/// `signupUser`'s address `i`, form-encoded: fresh for both kinds, at `y…` or `z…` domains.
fn new_developer(known: bool, i: usize, run: u32) -> String {
    format!("active{}%40{}", i % 100, domain(if known { 'y' } else { 'z' }, i, run))
}

/// Gives address `i` of a fresh pool its one earlier request (see `request`).
fn prepare(c: &reqwest::Client, base: &str, endpoint: &str, known: bool, i: usize, run: u32) -> Option<reqwest::RequestBuilder> {
    match (endpoint, known) {
        ("signupUser", true) => request(c, base, endpoint, true, i, run).ok(),
        ("signupUser", false) => Some(
            c.post(format!("{base}/api/users/resendActivation"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("emailAddress={}", new_developer(false, i, run))),
        ),
        _ => None,
    }
}

async fn timing(base: &str, db: &str, endpoint: &str, n: usize) -> Result<()> {
    // One connection, kept alive: what is measured is usher, not the handshake.
    if 2 * n + 400 > PER_RUN {
        return Err(format!("at most {} requests of each kind", (PER_RUN - 400) / 2).into());
    }
    let c = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let store = open(db).await?;
    let run: u32 = rand::random();
    for i in 0..400 {
        let status = request(&c, base, endpoint, (i / 100) % 2 == 0, 2 * n + i, run)?.send().await?.status();
        if !answered_as_asked(endpoint, status) {
            return Err(format!("{endpoint} answered {status} while warming up").into());
        }
    }
    let mut order: Vec<bool> = (0..2 * n).map(|i| i % 2 == 0).collect();
    order.shuffle(&mut rand::thread_rng());
    for (i, known) in order.iter().enumerate() {
        if let Some(req) = prepare(&c, base, endpoint, *known, i, run) {
            req.send().await?.error_for_status()?;
        }
    }
    // What the warm-up and the preparing queued is resolved before the measuring starts:
    // the known addresses `signupUser` prepared are accounts by then.
    idle(&store).await?;
    let (mut known, mut unknown) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, is_known) in order.into_iter().enumerate() {
        let req = request(&c, base, endpoint, is_known, i, run)?;
        let start = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        r.bytes().await?;
        let us = start.elapsed().as_secs_f64() * 1e6;
        if !answered_as_asked(endpoint, status) {
            return Err(format!("{endpoint} answered {status}").into());
        }
        if is_known { known.push(us) } else { unknown.push(us) }
    }
    let (mk, mu) = (median(&mut known), median(&mut unknown));
    let (low, high) = median_difference_interval(&known, &unknown);
    println!(
        "{endpoint:<20} known median {mk:7.1} µs  unknown median {mu:7.1} µs  difference {:+6.1} µs (95 % interval {low:+.1} to {high:+.1})  Welch's t {:+6.2}  (n = {n} each)",
        mk - mu,
        welch_t(&known, &unknown)
    );
    Ok(())
}

/// A bootstrap interval of the difference of medians: how far apart two
/// medians of this many requests fall by chance alone, which says whether
/// "within 5 µs" is a finding or the width of the noise.
fn median_difference_interval(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut rng = rand::thread_rng();
    let mut resampled_median = |v: &[f64]| {
        let mut r: Vec<f64> = (0..v.len()).map(|_| v[rng.gen_range(0..v.len())]).collect();
        median(&mut r)
    };
    let mut differences: Vec<f64> = (0..1000).map(|_| resampled_median(a) - resampled_median(b)).collect();
    differences.sort_by(f64::total_cmp);
    (differences[25], differences[974])
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0);
    let (ma, mb) = (mean(a), mean(b));
    (ma - mb) / (var(a, ma) / a.len() as f64 + var(b, mb) / b.len() as f64).sqrt()
}

async fn rate(base: &str, rps: u64, secs: u64, conns: usize) -> Result<()> {
    let c = reqwest::Client::builder().pool_max_idle_per_host(conns).build()?;
    let url = format!("{base}/no_auth/send_password_email");
    let before = commit_times(&c, base).await;

    // At most `conns` requests in flight, as over `conns` keep-alive connections.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(conns));
    let total = rps * secs;
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rps);
        on_time(due).await;
        let (c, url, slots) = (c.clone(), url.clone(), slots.clone());
        let who = i % 100;
        let body = json!({ "cname": format!("bench{who}"), "email": format!("known{who}@bench.test") });
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.ok()?;
            let ok = c.post(&url).json(&body).send().await.ok().is_some_and(|r| r.status().is_success());
            Some((due.elapsed().as_secs_f64() * 1e3, ok))
        });
    }
    let done: Vec<(f64, bool)> = tasks.join_all().await.into_iter().flatten().collect();
    let commits = match (before, commit_times(&c, base).await) {
        (Some(before), Some(after)) => after.since(&before),
        _ => String::new(),
    };
    let refused = done.iter().filter(|(_, ok)| !ok).count() + (total as usize - done.len());
    let mut ms: Vec<f64> = done.iter().map(|(ms, _)| *ms).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    let achieved = done.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "offered {rps} req/s for {secs} s over {conns} connections: achieved {achieved:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, refused {refused}{commits}",
        q(0.5),
        q(0.99),
        q(0.999)
    );
    Ok(())
}

/// Clients that go away mid-request: each of `conns` connections writes a whole
/// `send_password_email` request, waits 0–3 ms (often less than the answer takes) and closes,
/// over and over for `secs` seconds. The server's work for a request is then dropped at any
/// point of its way, its write included.
async fn hangup(base: &str, secs: u64, conns: usize) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let host = base.strip_prefix("http://").ok_or("hangup wants an http:// URL")?.trim_end_matches('/').to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for conn in 0..conns {
        let host = host.clone();
        tasks.spawn(async move {
            let (mut sent, mut n) = (0u64, 0u64);
            while tokio::time::Instant::now() < deadline {
                n += 1;
                let body = json!({ "cname": format!("bench{}", n % 100), "email": format!("hangup{conn}-{n}@bench.test") }).to_string();
                let request = format!(
                    "POST /no_auth/send_password_email HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let Ok(mut stream) = tokio::net::TcpStream::connect(&host).await else { continue };
                if stream.write_all(request.as_bytes()).await.is_ok() {
                    sent += 1;
                }
                let wait = rand::thread_rng().gen_range(0..3000);
                tokio::time::sleep(Duration::from_micros(wait)).await;
                // Closed with the answer unread, if it came: the kernel resets the connection.
                drop(stream);
            }
            sent
        });
    }
    let sent: u64 = tasks.join_all().await.into_iter().sum();
    println!("{sent} requests sent and hung up on");
    Ok(())
}

/// usher's `usher_database_commit_duration_seconds` histogram: every answer waits for the
/// commit its write lands in, so the slow commits during a run say how much of its tail is
/// the disk's. `None` from a server without it (the echo).
struct CommitTimes {
    /// Cumulative counts by upper bound in seconds, as exposed.
    buckets: Vec<(f64, f64)>,
    count: f64,
    sum: f64,
}

async fn commit_times(c: &reqwest::Client, base: &str) -> Option<CommitTimes> {
    let text = c.get(format!("{base}/metrics")).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
    let mut times = CommitTimes { buckets: Vec::new(), count: 0.0, sum: 0.0 };
    for line in text.lines() {
        let Some((name, value)) = line.strip_prefix("usher_database_commit_duration_seconds_").and_then(|l| l.rsplit_once(' ')) else {
            continue;
        };
        let value: f64 = value.parse().ok()?;
        match name {
            "sum" => times.sum = value,
            "count" => times.count = value,
            bucket => {
                if let Some(le) = bucket.strip_prefix("bucket{le=\"").and_then(|b| b.strip_suffix("\"}")) {
                    times.buckets.push((le.parse().ok()?, value));
                }
            }
        }
    }
    (!times.buckets.is_empty()).then_some(times)
}

impl CommitTimes {
    /// The commits made since `before`, as `; commits N (mean M ms), K over 1.6 ms, …`.
    fn since(&self, before: &Self) -> String {
        let count = self.count - before.count;
        let mean_ms = if count > 0.0 { (self.sum - before.sum) / count * 1e3 } else { 0.0 };
        let at_most = |times: &Self, ms: f64| times.buckets.iter().find(|(le, _)| (le * 1e3 - ms).abs() < 1e-6).map(|(_, n)| *n);
        let mut line = format!("; commits {count:.0} (mean {mean_ms:.2} ms)");
        for over_ms in [1.6, 3.2, 6.4, 12.8] {
            if let (Some(now), Some(then)) = (at_most(self, over_ms), at_most(before, over_ms)) {
                line.push_str(&format!(", {:.0} over {over_ms} ms", count - (now - then)));
            }
        }
        line
    }
}

/// Tokio's timer has a granularity of a millisecond: sleeping until `due`
/// would release requests late and in pairs, and the client's own lateness
/// would count as the server's latency. The last stretch is spun instead,
/// yielding so the requests in flight still run (this core is the client's).
async fn on_time(due: tokio::time::Instant) {
    let early = Duration::from_millis(2);
    if let Some(sleep_until) = due.checked_sub(early) {
        tokio::time::sleep_until(sleep_until).await;
    }
    while tokio::time::Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

async fn backlog(db: &str) -> Result<()> {
    let store = open(db).await?;
    let start = Instant::now();
    let n = idle(&store).await?;
    let secs = start.elapsed().as_secs_f64();
    println!("backlog of {n} messages resolved and delivered in {secs:.1} s ({:.0} messages/s)", n as f64 / secs.max(0.001));
    Ok(())
}

async fn open(db: &str) -> Result<Store> {
    Ok(Store::connect(db, PoolSettings { max_connections: 1, acquire_timeout: Duration::from_secs(5) }).await?)
}

/// Waits until the worker has resolved and delivered everything queued;
/// returns how much was queued when it began.
async fn idle(store: &Store) -> Result<i64> {
    let mut first: Option<i64> = None;
    loop {
        let (open,): (i64,) = store
            .acquire()
            .await?
            .fetch_one("SELECT COUNT(*) FROM outbox WHERE status IN ('requested', 'pending', 'sending')", &[])
            .await?;
        first.get_or_insert(open);
        if open == 0 {
            return Ok(first.unwrap_or(0));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
