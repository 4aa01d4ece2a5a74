//! Scale-out: on PostgreSQL any number of usher instances
//! run side by side — single use, rate limits and outbox delivery stay
//! correct, and a killed instance loses nothing — and while the database is
//! unreachable usher answers 503 with `Retry-After`, then recovers by itself.
//!
//! The instances are real `usher serve` processes configured through `USHER_*`
//! variables, sharing one fresh database and one key ring. Every test here
//! needs PostgreSQL (`USHER_TEST_POSTGRES_URL`) and is skipped without it.

use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener as StdTcpListener;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use usher::tokens::KeyRing;

const SIGNUP: &str = "/no_auth/namespaces/system/f5xc-saas/signup";
const COMPLETE: &str = "/no_auth/namespaces/system/f5xc-saas/signup/complete";
const SEND_PASSWORD: &str = "/no_auth/send_password_email";

/// How often a condition is polled, and how long a process may take to start.
const POLL: Duration = Duration::from_millis(20);
const STARTUP: Duration = Duration::from_secs(20);
const WITHIN: Duration = Duration::from_secs(15);

/// The PostgreSQL server's admin URL, or `None` after saying the test is skipped.
fn postgres_or_skip() -> Option<String> {
    match Backend::postgres() {
        Some(Backend::Postgres(admin)) => Some(admin),
        _ => {
            eprintln!("USHER_TEST_POSTGRES_URL is not set; this PostgreSQL-only test was skipped");
            None
        }
    }
}

fn free_port() -> u16 {
    let probe = StdTcpListener::bind("127.0.0.1:0").expect("bind a free port");
    probe.local_addr().expect("addr").port()
}

/// One outbox row, as the tests look at it.
#[derive(Debug, Clone)]
struct OutboxRow {
    recipient: String,
    message_id: String,
    status: String,
    claimed_by: Option<String>,
    attempts: i64,
}

async fn outbox(pool: &sqlx::PgPool) -> Vec<OutboxRow> {
    let rows: Vec<(String, String, String, Option<String>, i64)> =
        sqlx::query_as("SELECT recipient, message_id, status, claimed_by, attempts FROM outbox ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("read the outbox");
    rows.into_iter()
        .map(|(recipient, message_id, status, claimed_by, attempts)| OutboxRow { recipient, message_id, status, claimed_by, attempts })
        .collect()
}

/// Waits until every queued message is sent; returns the outbox.
async fn all_sent(pool: &sqlx::PgPool, expected: usize) -> Vec<OutboxRow> {
    eventually(&format!("all {expected} queued messages are sent"), WITHIN, async || {
        let rows = outbox(pool).await;
        (rows.len() == expected && rows.iter().all(|r| r.status == "sent")).then_some(rows)
    })
    .await
}

/// A running `usher serve` process. Killed (SIGKILL) when dropped.
struct Instance {
    name: &'static str,
    address: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Starts `usher serve` on `database_url` with the key ring `keys`, mailing
    /// through the SMTP server on `smtp_port`, with `env` on top.
    fn start(name: &'static str, database_url: &str, keys: &str, smtp_port: u16, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let log = dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        // Only what this test sets: nothing leaks in from the environment.
        let mut cmd = serve_command(port, database_url, keys, dir.path());
        cmd.env("USHER_MAIL_TRANSPORT", "smtp")
            .env("USHER_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}?tls=none"))
            .env("USHER_MAIL_POLL_INTERVAL", "100ms");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("start usher serve");
        Self { name, address, child, log, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/readyz` until it answers 200.
    async fn wait_until_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!("usher {} exited ({status}) before it was ready:\n{}", self.name, self.log());
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "usher {} was not ready after {STARTUP:?}:\n{}", self.name, self.log());
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL: no graceful shutdown, no chance to release anything.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("reap");
        assert!(!status.success(), "{status}");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- log of usher {} ---\n{}", self.name, self.log());
        }
    }
}

/// Two instances side by side on one database, sharing a key ring and an SMTP server.
async fn two_instances(db: &FreshDatabase, smtp_port: u16) -> (Instance, Instance) {
    let keys = KeyRing::generate_entry("k1").expect("key");
    let mut a = Instance::start("a", &db.url, &keys, smtp_port, &[]);
    let mut b = Instance::start("b", &db.url, &keys, smtp_port, &[]);
    // Started together, so they also migrate the fresh database at once.
    tokio::join!(a.wait_until_ready(), b.wait_until_ready());
    (a, b)
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> Response {
    client.post(url).json(body).send().await.expect("request")
}

/// Sends `body` to `path` `per_instance` times on each instance, interleaved
/// and all at once; returns each answer's status, `Retry-After` and body.
async fn storm(
    client: &reqwest::Client,
    instances: [&Instance; 2],
    per_instance: usize,
    path: &str,
    body: Value,
) -> Vec<(StatusCode, Option<u64>, Value)> {
    let mut requests = JoinSet::new();
    for i in 0..2 * per_instance {
        let (client, url, body) = (client.clone(), instances[i % 2].url(path), body.clone());
        requests.spawn(async move { answer_of(post(&client, url, &body).await).await });
    }
    requests.join_all().await
}

async fn answer_of(r: Response) -> (StatusCode, Option<u64>, Value) {
    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().expect("ascii").parse().expect("seconds"));
    let (status, answer) = body(r).await;
    (status, retry_after, answer)
}

fn token_of(mail: &Received) -> String {
    token_in(&Value::String(mail.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signup_token_spent_through_two_instances_at_once_succeeds_exactly_once() {
    let Some(admin) = postgres_or_skip() else {
        return;
    };
    let db = FreshDatabase::create(&admin).await;
    let (smtp, smtp_port) = SmtpSink::start();
    let (a, b) = two_instances(&db, smtp_port).await;
    let client = reqwest::Client::new();

    let r = post(&client, a.url(SIGNUP), &signup_body("acme", "jane@example.com")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = token_of(&smtp.wait_for(1).await[0]);

    let complete = json!({ "token": token, "password": STRONG_PASSWORD });
    let answers = storm(&client, [&a, &b], 10, COMPLETE, complete).await;
    let won = answers.iter().filter(|(s, ..)| *s == StatusCode::OK).count();
    assert_eq!(won, 1, "{answers:?}");
    // A token takes ten tries a minute, across instances: tries past them are refused before any work.
    assert!(
        answers.iter().all(|(s, _, answer)| *s == StatusCode::OK
            || (*s == StatusCode::CONFLICT && answer["code"] == "SIGNUP_COMPLETED")
            || (*s == StatusCode::TOO_MANY_REQUESTS && answer["code"] == "TOO_MANY_REQUESTS")),
        "{answers:?}"
    );
    assert!(answers.iter().filter(|(s, ..)| *s != StatusCode::TOO_MANY_REQUESTS).count() >= 10, "{answers:?}");

    let pool = db.pool().await;
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(&pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!((tenants, users), (1, 1), "one tenant, one user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_asking_two_instances_at_once_is_sent_one_email_and_the_rest_are_429() {
    let Some(admin) = postgres_or_skip() else {
        return;
    };
    let db = FreshDatabase::create(&admin).await;
    let (smtp, smtp_port) = SmtpSink::start();
    let (a, b) = two_instances(&db, smtp_port).await;
    let client = reqwest::Client::new();

    // An onboarded user: signed up through one instance, completed through the other.
    let r = post(&client, a.url(SIGNUP), &signup_body("acme", "jane@example.com")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = token_of(&smtp.wait_for(1).await[0]);
    let done = json!({ "token": token, "password": STRONG_PASSWORD });
    assert_eq!(post(&client, b.url(COMPLETE), &done).await.status(), StatusCode::OK);

    let ask = json!({ "cname": "acme", "email": "jane@example.com" });
    let answers = storm(&client, [&a, &b], 10, SEND_PASSWORD, ask).await;
    let accepted = answers.iter().filter(|(s, ..)| *s == StatusCode::OK).count();
    assert_eq!(accepted, 1, "one email a minute: {answers:?}");
    for (status, retry_after, answer) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
            assert_eq!(answer["code"], "TOO_MANY_REQUESTS");
            // A minute from when the slot was taken, rounded up; a request
            // that read the clock just before the winner did may see 61.
            assert!(retry_after.is_some_and(|s| (1..=61).contains(&s)), "{answers:?}");
        }
    }

    // The signup email and one password email were queued, and only they arrive.
    let pool = db.pool().await;
    let queued = all_sent(&pool, 2).await;
    let arrived = smtp.wait_for(2).await;
    assert_eq!(arrived.len(), 2, "no more emails than allowed");
    let sent_ids: BTreeSet<_> = queued.iter().map(|r| r.message_id.clone()).collect();
    let arrived_ids: BTreeSet<_> = arrived.iter().map(|m| m.header("message-id").expect("Message-ID")).collect();
    assert_eq!(sent_ids, arrived_ids);
    assert!(arrived.iter().all(|m| m.to == vec!["jane@example.com".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_held_by_a_killed_instance_reach_the_smtp_server_within_20_seconds_of_the_kill_exactly_once() {
    let Some(admin) = postgres_or_skip() else {
        return;
    };
    let db = FreshDatabase::create(&admin).await;
    let pool = db.pool().await;
    let keys = KeyRing::generate_entry("k1").expect("key");
    // The defaults that decide how fast a survivor takes over: the lease
    // (15s, renewed while sending) and the poll of an idle worker (2s).
    // A batch is as large as the SMTP pool: 8 lets A claim all six queued messages at once.
    let fleet = [("USHER_MAIL_POLL_INTERVAL", "2s"), ("USHER_SMTP_POOL_SIZE", "8")];
    // An SMTP server that reads each message whole and then holds its
    // answer until the test releases it: a send stalled inside DATA.
    let (stall, stall_port) = SmtpSink::start();
    let release = stall.stall();
    let mut a = Instance::start("a", &db.url, &keys, stall_port, &fleet);
    a.wait_until_ready().await;
    let client = reqwest::Client::new();

    // A's worker takes the first message and stalls inside DATA with it, so
    // the next ones queue up behind it...
    let first = signup_body("first", "first@example.com");
    assert_eq!(post(&client, a.url(SIGNUP), &first).await.status(), StatusCode::OK);
    eventually("A stalls inside DATA", WITHIN, async || (stall.stalled() == 1).then_some(())).await;
    let recipients: Vec<String> = (0..6).map(|i| format!("user{i}@example.com")).collect();
    for (i, to) in recipients.iter().enumerate() {
        let r = post(&client, a.url(SIGNUP), &signup_body(&format!("acme{i}"), to)).await;
        assert_eq!(r.status(), StatusCode::OK, "signup {i}");
    }
    // A's resolver turns the requests into messages while its deliverer is stuck.
    let rows = eventually("A has resolved the six requests", WITHIN, async || {
        let rows = outbox(&pool).await;
        (rows.len() == 7 && rows[1..].iter().all(|r| r.status == "pending")).then_some(rows)
    })
    .await;
    let worker_a = rows[0].claimed_by.clone().expect("A claimed the first");

    // ...and once it is answered, A claims them all in one batch and stalls
    // inside DATA with every one of them.
    release.send(()).expect("release the first message");
    let held = eventually("A holds every queued message, stalled inside DATA", WITHIN, async || {
        let rows = outbox(&pool).await;
        let held = rows[1..].iter().all(|r| r.status == "sending" && r.claimed_by.as_deref() == Some(&worker_a));
        (held && stall.stalled() == 1 + recipients.len()).then_some(rows)
    })
    .await;
    assert_eq!(held[0].status, "sent", "{held:#?}");

    // B runs beside A and takes nothing while A lives: A's lease is live.
    let (smtp, smtp_port) = SmtpSink::start();
    let mut b = Instance::start("b", &db.url, &keys, smtp_port, &fleet);
    b.wait_until_ready().await;
    assert!(smtp.messages().is_empty(), "B sent what A holds");
    let killed = Instant::now();
    a.kill();

    // B takes them over once A's lease runs out, and delivers each once.
    // Measured from the kill to the moment the SMTP server holds the last
    // message (polled every 20 ms, so it is at most that late: an upper bound).
    let took = eventually("B delivers what A held", Duration::from_secs(40), async || {
        (smtp.messages().len() >= recipients.len()).then(|| killed.elapsed())
    })
    .await;
    eprintln!("failover: the last of A's {} messages reached the SMTP server {took:?} after A was killed", recipients.len());
    assert!(took < Duration::from_secs(20), "mail held by a killed instance is delivered within 20 s of the kill, took {took:?}");
    let done = all_sent(&pool, 1 + recipients.len()).await;
    let arrived = smtp.messages();

    let mut by_recipient: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &arrived {
        assert_eq!(m.to.len(), 1, "{:?}", m.to);
        let id = m.header("message-id").expect("Message-ID");
        by_recipient.entry(m.to[0].clone()).or_default().push(id);
    }
    let expected: BTreeMap<String, Vec<String>> = done[1..].iter().map(|r| (r.recipient.clone(), vec![r.message_id.clone()])).collect();
    assert_eq!(by_recipient, expected, "each message once, with its own Message-ID");
    assert_eq!(expected.keys().cloned().collect::<Vec<_>>(), recipients);
    for r in &done[1..] {
        assert_ne!(r.claimed_by.as_deref(), Some(worker_a.as_str()), "{r:?}");
        assert_eq!(r.attempts, 2, "claimed by A, then by B: {r:?}");
    }
    // The first message went out through A only, before it was killed.
    let first_out = stall.messages();
    assert_eq!(first_out.len(), 1);
    assert_eq!(first_out[0].header("message-id").as_deref(), Some(done[0].message_id.as_str()));
    assert_eq!(smtp.messages().len(), recipients.len(), "nothing more arrives");
    // Unblocks A's abandoned sessions, which the server now answers 451.
    drop(release);
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore.
struct Proxy {
    port: u16,
    upstream: String,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mut proxy = Self { port, upstream, accept: None, connections: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, connections) = (self.upstream.clone(), self.connections.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.lock().expect("connections").spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Closes the port and cuts every open connection, idle or not.
    async fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let mut open = std::mem::take(&mut *self.connections.lock().expect("connections"));
        open.shutdown().await;
    }

    /// Listens again on the same port.
    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind the proxy's port again");
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        self.connections.lock().expect("connections").abort_all();
    }
}

fn assert_unavailable(status: StatusCode, retry_after: Option<u64>, answer: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After: {retry_after:?}");
    assert_eq!(answer["code"], "UNAVAILABLE", "{answer}");
    let text = answer.to_string().to_lowercase();
    assert!(!text.contains("postgres") && !text.contains("sqlx"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_unreachable_usher_answers_503_with_retry_after_and_recovers_without_a_restart() {
    let Some(admin) = postgres_or_skip() else {
        return;
    };
    // The database is created directly; only usher reaches it through the proxy.
    let db = FreshDatabase::create(&admin).await;
    let direct = url::Url::parse(&db.url).expect("postgres url");
    let upstream = format!("{}:{}", direct.host_str().expect("host"), direct.port().unwrap_or(5432));
    let mut proxy = Proxy::start(upstream).await;
    let mut proxied = direct.clone();
    proxied.set_port(Some(proxy.port)).expect("port");
    // `database_url` overrides the harness's own (SQLite) database.
    let app = TestApp::spawn_with(Backend::Sqlite, &[("database_url", proxied.as_str()), ("database_acquire_timeout", "500ms")]).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
    app.wait_for_mail("jane@example.com", 1).await;

    proxy.cut().await;
    let (status, retry_after, answer) = answer_of(app.get("/readyz").await).await;
    assert_unavailable(status, retry_after, &answer);
    let (status, retry_after, answer) = answer_of(app.signup("other", "kim@example.com").await).await;
    assert_unavailable(status, retry_after, &answer);

    proxy.restore().await;
    eventually("/readyz is 200 again", WITHIN, async || (app.get("/readyz").await.status() == StatusCode::OK).then_some(())).await;
    assert_eq!(app.signup("other", "kim@example.com").await.status(), StatusCode::OK);
    app.wait_for_mail("kim@example.com", 1).await;
    let queued = outbox(&db.pool().await).await;
    assert_eq!(queued.len(), 2, "nothing was queued for the refused signup");
}
