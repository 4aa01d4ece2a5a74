//! The test harness: the real server on port 0, a database of its own
//! (a SQLite file in a temporary directory, or a fresh PostgreSQL database),
//! and helpers that read the mail it sends.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use usher::clock::Clock;
use usher::config::Layers;
use usher::flows::Ctx;
use usher::outbox::Worker;
use usher::startup::Application;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server; each test creates its own database there.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `USHER_TEST_POSTGRES_URL` names a server. In CI the
    /// PostgreSQL half of the suite is not optional.
    pub fn postgres() -> Option<Self> {
        let url = std::env::var("USHER_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
        if url.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but USHER_TEST_POSTGRES_URL is not set: run the suite through .ci/run");
        }
        url.map(Self::Postgres)
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_each_backend {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::helpers::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::Backend::postgres() {
                    Some(b) => run(b).await,
                    None => eprintln!("USHER_TEST_POSTGRES_URL is not set; the PostgreSQL run of this test was skipped"),
                }
            }
        }
    )*};
}

pub struct TestApp {
    pub address: String,
    /// The management listener's base URL, when `management_listen` is set.
    management: Option<String>,
    pub client: reqwest::Client,
    pub ctx: Ctx,
    pub clock: Clock,
    pub database_url: String,
    /// The outbox worker, run on demand; `None` when it runs in the background.
    worker: Option<Worker>,
    dir: tempfile::TempDir,
    pg_drop: Option<(String, String)>,
}

pub const STRONG_PASSWORD: &str = "violet-Tractor-harbour-91";

impl TestApp {
    /// Starts usher with the test defaults; mail moves when the test waits for it.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts usher with these settings on top of the test defaults, its
    /// outbox worker off: the helpers that wait for mail deliver what is
    /// queued first ([`TestApp::deliver_all`]), so what a test sees does not
    /// depend on when a background loop last looked.
    pub async fn spawn_with(backend: Backend, settings: &[(&str, &str)]) -> Self {
        Self::start(backend, settings, false).await
    }

    /// As [`TestApp::spawn_with`], with the outbox worker running in the
    /// background as in `usher serve`: for what only its loops do (the
    /// prune step), or what must happen while the test is not looking.
    pub async fn spawn_with_worker(backend: Backend, settings: &[(&str, &str)]) -> Self {
        Self::start(backend, settings, true).await
    }

    async fn start(backend: Backend, settings: &[(&str, &str)], background_worker: bool) -> Self {
        init_test_log();
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_drop) = match &backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("usher.db").display()), None),
            Backend::Postgres(admin) => {
                let name = format!("usher_test_{}", uuid_like());
                create_pg_database(admin, &name).await;
                (replace_db_name(admin, &name), Some((admin.clone(), name)))
            }
        };
        let mut layers = Layers::from_sources(None, Vec::new()).expect("defaults");
        // Port 0, bound once by Application::build: public_url follows the port it gets.
        layers
            .set("listen", "127.0.0.1:0")
            .set("database_url", database_url.clone())
            .set("data_dir", dir.path().display().to_string())
            .set("mail_poll_interval", "50ms")
            .set("mail_retry_min", "100ms")
            .set("mail_retry_max", "400ms")
            .set("password_hash_queue", "64");
        for (k, v) in settings {
            layers.set(k, *v);
        }
        let parsed = layers.parse().expect("test settings");
        let clock = Clock::default();
        let mut app = Application::build_with_clock(parsed, clock.clone()).await.expect("build app");
        let worker = if background_worker { None } else { app.take_worker() };
        let address = format!("http://127.0.0.1:{}", app.port());
        let management = app.management_port().map(|port| format!("http://127.0.0.1:{port}"));
        let ctx = app.ctx().clone();
        tokio::spawn(app.run_until(std::future::pending()));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { address, management, client, ctx, clock, database_url, worker, dir, pg_drop }
    }

    /// Resolves every request and sends every message that is due now;
    /// returns how many were claimed. With the background worker running,
    /// that worker does this in its own time, and this does nothing.
    pub async fn deliver_all(&self) -> usize {
        match &self.worker {
            Some(worker) => worker.deliver_all().await.expect("delivering the outbox"),
            None => 0,
        }
    }

    /// Delivers what is due, then asks `check`, until it gives a value: a
    /// message deferred for a retry is sent once it is due again.
    pub async fn deliver_until<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        eventually(what, Duration::from_secs(10), async || {
            if let Some(worker) = &self.worker {
                // A failing store is a test's business (and the next try's).
                let _ = worker.deliver_all().await;
            }
            check().await
        })
        .await
    }

    /// The built `usher` binary running `args` on this app's database and
    /// data directory.
    pub async fn usher(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = usher_command(args, &self.database_url, self.dir.path());
        tokio::task::spawn_blocking(move || cmd.output().expect("run usher")).await.expect("usher ran")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `path` on the management listener; the app must have been started with `management_listen`.
    pub fn management_url(&self, path: &str) -> String {
        format!("{}{}", self.management.as_deref().expect("management_listen is set"), path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn signup(&self, cname: &str, email: &str) -> Response {
        self.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &signup_body(cname, email)).await
    }

    pub async fn complete(&self, token: &str, password: Option<&str>) -> Response {
        let mut body = json!({ "token": token });
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        self.post_json("/no_auth/namespaces/system/f5xc-saas/signup/complete", &body).await
    }

    /// Every message the dev mailbox holds for `to`, oldest first.
    pub async fn mail_to(&self, to: &str) -> Vec<Value> {
        let all: Vec<Value> = self.get("/dev/mail.json").await.json().await.expect("mail json");
        let mut mine: Vec<Value> = all.into_iter().filter(|m| m["to"] == to).collect();
        mine.reverse();
        mine
    }

    /// Waits until `to` has received `n` messages; returns them, oldest first.
    pub async fn wait_for_mail(&self, to: &str, n: usize) -> Vec<Value> {
        self.deliver_until(&format!("{to} has received {n} messages"), async || {
            let got = self.mail_to(to).await;
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// Waits until `smtp` has accepted `n` messages; returns them, in order.
    pub async fn wait_for_smtp(&self, smtp: &SmtpSink, n: usize) -> Vec<Received> {
        self.deliver_until(&format!("the SMTP server has received {n} messages"), async || {
            let got = smtp.messages();
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// The outbox rows, newest first, as the CLI's JSON shows them.
    pub async fn outbox(&self) -> Vec<usher::store::outbox::Listed> {
        let mut conn = self.ctx.store.acquire().await.expect("conn");
        usher::store::outbox::list(&mut conn, None, 1000).await.expect("outbox")
    }

    /// Waits until every request is resolved and no message is pending or being sent.
    pub async fn drain_outbox(&self) {
        self.deliver_until("the outbox drains", async || self.outbox().await.iter().all(|m| m.status.is_final()).then_some(())).await
    }

    /// Signs up, follows the emailed link and returns its token.
    pub async fn signup_token(&self, cname: &str, email: &str) -> String {
        let before = self.mail_to(email).await.len();
        assert_eq!(self.signup(cname, email).await.status(), StatusCode::OK);
        let mail = self.wait_for_mail(email, before + 1).await;
        token_in(&mail[before]["text"])
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(async move {
                        use sqlx::Connection;
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::Executor::execute(&mut c, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A tenant `acme` whose first user `jane@example.com` is active.
pub async fn onboarded(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let token = app.signup_token("acme", "jane@example.com").await;
    assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    app
}

/// Status, headers and body: what must not differ between a known and an unknown address. Date
/// and X-Request-Id are left out: they differ from one request to the next, whatever the address.
pub async fn observable(r: Response) -> (StatusCode, Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date" && *k != "x-request-id")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (r.status(), headers, r.text().await.unwrap())
}

pub fn signup_body(cname: &str, email: &str) -> Value {
    json!({
        "account_details": { "domain": cname, "locale": "en-US", "tos_accepted_at": "2026-11-24T10:00:00Z", "tos_version": "2026-01" },
        "company_details": { "name": "Example Corp", "mailing_address": {
            "address1": "1 Main St", "city": "Seattle", "country": "US", "state": "Washington", "state_code": "WA", "zip_code": "98101"
        } },
        "user_details": { "email": email, "first_name": "Jane", "last_name": "Saoirse", "contact_number": "+1 206 555 0100" },
        "tenant_type": "FREEMIUM"
    })
}

/// The `token=` or `signupCode=` value of the first link in an email's text.
pub fn token_in(text: &Value) -> String {
    let text = text.as_str().expect("text part");
    let link = text.split_whitespace().find(|w| w.starts_with("http")).unwrap_or_else(|| panic!("no link in {text}"));
    let query = link.split_once('?').expect("query").1;
    query.split('&').find_map(|kv| kv.strip_prefix("token=").or_else(|| kv.strip_prefix("signupCode="))).expect("token in link").to_owned()
}

/// A page with a form: its `usher_csrf` cookie pair and the form's CSRF token.
pub async fn form_with_cookie(app: &TestApp, path: &str) -> (String, String) {
    let r = app.get(path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = r.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (cookie, csrf)
}

/// minijinja escapes `/` in attributes and `&` everywhere; a browser reads `&#x2f;` as `/`.
pub fn unescape(html: String) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// The built `usher` binary running `args` on `database_url` and
/// `data_dir`, with no `USHER_*` variable of the test's environment: what a
/// test sets is all there is. Every test that runs usher runs it so.
pub fn usher_command(args: &[&str], database_url: &str, data_dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_usher"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("USHER_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args).env("USHER_DATABASE_URL", database_url).env("USHER_DATA_DIR", data_dir);
    cmd
}

/// `usher serve` (see [`usher_command`]) on loopback `port`, with `keys`.
pub fn serve_command(port: u16, database_url: &str, keys: &str, data_dir: &std::path::Path) -> std::process::Command {
    let mut cmd = usher_command(&["serve"], database_url, data_dir);
    cmd.env("USHER_LISTEN", format!("127.0.0.1:{port}"))
        .env("USHER_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("USHER_KEYS", keys);
    cmd
}

pub fn link_in(text: &Value) -> String {
    let text = text.as_str().expect("text part");
    text.split_whitespace().find(|w| w.starts_with("http")).expect("link").to_owned()
}

pub async fn body(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub fn uuid_like() -> String {
    let n: u128 = rand_u128();
    format!("{n:032x}")
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new().build_hasher().finish() as u128;
    let b = std::collections::hash_map::RandomState::new().build_hasher().finish() as u128;
    (a << 64) | b
}

pub async fn create_pg_database(admin: &str, name: &str) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(admin).await.expect("connect to the test PostgreSQL server");
    sqlx::Executor::execute(&mut c, format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
}

pub fn replace_db_name(admin: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin).expect("postgres url");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The test process's subscriber: the statement log always, and the
/// server's logs on stderr with `TEST_LOG=1`.
fn init_test_log() {
    use tracing_subscriber::prelude::*;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fmt = std::env::var("TEST_LOG").is_ok().then(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter)
        });
        let statements = tracing_subscriber::filter::filter_fn(|meta| {
            // Every span: a statement run inside a child span (the worker's `resolve`) still
            // belongs to the request span above it.
            ["usher::sql", "usher::failure"].contains(&meta.target()) || meta.is_span()
        });
        let _ = tracing_subscriber::registry().with(StatementLog.with_filter(statements)).with(fmt).try_init();
    });
}

/// Every SQL statement run on behalf of an HTTP request, with the request's
/// path: `store` logs each statement as a `usher::sql` event, inside the span
/// of the request that asked for it (the SQLite writer runs a job inside its
/// submitter's span).
struct StatementLog;

static STATEMENTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// The `usher::failure` events (what an error answer carried to the log),
/// with the request's path and level.
static FAILURES: Mutex<Vec<(String, tracing::Level, String)>> = Mutex::new(Vec::new());

struct RequestPath(String);

#[derive(Default)]
struct Fields {
    path: Option<String>,
    summary: Option<String>,
    statement: Option<String>,
    error: Option<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let slot = match field.name() {
            "path" => &mut self.path,
            "summary" => &mut self.summary,
            "db.statement" => &mut self.statement,
            "error" => &mut self.error,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }
}

impl<S> tracing_subscriber::Layer<S> for StatementLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(path), Some(span)) = (fields.path, ctx.span(id)) {
            span.extensions_mut().insert(RequestPath(path));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(path) = scope.from_root().find_map(|span| span.extensions().get::<RequestPath>().map(|p| p.0.clone())) else { return };
        let mut fields = Fields::default();
        event.record(&mut fields);
        if event.metadata().target() == "usher::failure" {
            let error = fields.error.unwrap_or_default();
            FAILURES.lock().expect("failures").push((path, *event.metadata().level(), error));
            return;
        }
        let sql = fields.statement.filter(|s| !s.trim().is_empty()).or(fields.summary).unwrap_or_default();
        STATEMENTS.lock().expect("statements").push((path, sql.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
}

/// The statements run so far for requests to `path`, and forgets them.
pub fn take_statements(path: &str) -> Vec<String> {
    let mut all = STATEMENTS.lock().expect("statements");
    let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(p, _)| p == path);
    *all = rest;
    mine.into_iter().map(|(_, sql)| sql).collect()
}

/// What the error answers to requests for `path` logged so far: each
/// failure's level and context chain.
pub fn failures_logged(path: &str) -> Vec<(tracing::Level, String)> {
    let all = FAILURES.lock().expect("failures");
    all.iter().filter(|(p, _, _)| p == path).map(|(_, level, error)| (*level, error.clone())).collect()
}

/// The tests' one SMTP server: a real one (mailin-embedded, not written by
/// usher) on a free port, recording every try and what it accepts, which a
/// test can script to refuse messages ([`SmtpSink::refuse_next`]) or to
/// stall inside DATA until released ([`SmtpSink::stall`]).
#[derive(Clone, Default)]
pub struct SmtpSink {
    shared: Arc<Shared>,
    // One session's message so far: mailin clones the handler per connection.
    current: Vec<u8>,
    rcpt: Vec<String>,
}

#[derive(Default)]
struct Shared {
    accepted: Mutex<Vec<Received>>,
    tries: Mutex<Vec<Try>>,
    refusals: Mutex<std::collections::VecDeque<(u16, &'static str)>>,
    // A session waiting for a release holds this lock: `stalling` is read without it.
    releases: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    stalling: std::sync::atomic::AtomicBool,
    stalled: std::sync::atomic::AtomicUsize,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: String,
}

/// One message sent to the server, with the code it was answered.
#[derive(Clone, Debug)]
pub struct Try {
    pub code: u16,
    pub message: Received,
}

impl Try {
    pub fn header(&self, name: &str) -> Option<String> {
        self.message.header(name)
    }
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or_default();
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.split("\r\n").find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The text/plain part, decoded as a mail client shows it.
    pub fn text(&self) -> String {
        self.parsed().body_text(0).expect("a text part").into_owned()
    }

    /// The text/html part, decoded (the markup as sent).
    pub fn html(&self) -> String {
        self.parsed().body_html(0).expect("an HTML part").into_owned()
    }

    /// The Subject, its encoded words decoded.
    pub fn subject(&self) -> String {
        self.parsed().subject().expect("a subject").to_owned()
    }

    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(self.raw.as_bytes()).expect("a parsable message")
    }
}

impl mailin_embedded::Handler for SmtpSink {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.current.clear();
        self.rcpt = to.to_vec();
        mailin_embedded::response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = Received { to: self.rcpt.clone(), raw: String::from_utf8_lossy(&self.current).into_owned() };
        let shared = &self.shared;
        let mut answer = None;
        if shared.stalling.load(std::sync::atomic::Ordering::SeqCst) {
            shared.stalled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let released = shared.releases.lock().expect("releases").as_ref().is_some_and(|r| r.recv().is_ok());
            if !released {
                answer = Some(mailin_embedded::Response::custom(451, "try again later".to_owned()));
            }
        }
        if answer.is_none() {
            if let Some((code, text)) = shared.refusals.lock().expect("refusals").pop_front() {
                // mailin stays in its DATA state after refusing a message, so it
                // would take the client's QUIT for message text and never answer
                // it; the sink hangs up instead, as servers may.
                let mut refusal = mailin_embedded::Response::custom(code, text.to_owned());
                refusal.action = mailin_embedded::Action::Close;
                answer = Some(refusal);
            }
        }
        let answer = answer.unwrap_or_else(|| {
            shared.accepted.lock().expect("accepted").push(message.clone());
            mailin_embedded::response::OK
        });
        shared.tries.lock().expect("tries").push(Try { code: answer.code, message });
        answer
    }
}

impl SmtpSink {
    /// Starts the server on a thread; returns the sink and its port.
    pub fn start() -> (Self, u16) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        (Self::start_on(listener), port)
    }

    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let sink = Self::default();
        let mut server = mailin_embedded::Server::new(sink.clone());
        // usher opens up to one connection per message of a claimed batch and
        // keeps some idle in its pool, each holding one of the server's threads.
        server.with_name("sink.test").with_num_threads(32).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        sink
    }

    /// Answers the next message `code` (and hangs up) instead of accepting it.
    pub fn refuse_next(&self, code: u16, text: &'static str) {
        self.shared.refusals.lock().expect("refusals").push_back((code, text));
    }

    /// From now on every message, once read whole, waits inside DATA for a
    /// release sent on the returned channel; dropping it answers the waiting
    /// ones 451.
    pub fn stall(&self) -> std::sync::mpsc::Sender<()> {
        let (release, releases) = std::sync::mpsc::channel();
        *self.shared.releases.lock().expect("releases") = Some(releases);
        self.shared.stalling.store(true, std::sync::atomic::Ordering::SeqCst);
        release
    }

    /// How many messages have waited inside DATA.
    pub fn stalled(&self) -> usize {
        self.shared.stalled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The messages accepted, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.accepted.lock().expect("accepted").clone()
    }

    /// Every message sent, accepted or not, with its answer.
    pub fn tries(&self) -> Vec<Try> {
        self.shared.tries.lock().expect("tries").clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("the SMTP server has received {n} messages"), Duration::from_secs(10), async || {
            let got = self.messages();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

/// Polls `check` until it gives a value; fails the test after `within`.
pub async fn eventually<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up after {within:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A database of its own on the test server, dropped with the test.
pub struct FreshDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(admin: &str) -> Self {
        let name = format!("usher_test_{}", uuid_like());
        create_pg_database(admin, &name).await;
        Self { admin: admin.to_owned(), url: replace_db_name(admin, &name), name }
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.url).await.expect("connect to the test database")
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                use sqlx::{Connection, Executor};
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = c.execute(drop.as_str()).await;
                }
            });
        })
        .join();
    }
}

/// Waits until a spawned `usher serve` answers `/readyz`; fails the test with
/// its log if it exits first.
pub async fn wait_until_serving(child: &mut std::process::Child, address: &str, log: &std::path::Path) {
    let client = reqwest::Client::new();
    eventually("usher serve is ready", Duration::from_secs(20), async || {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("usher exited ({status}):\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        let r = client.get(format!("{address}/readyz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
}

/// A database of its own for a test: a SQLite file in `dir`, or a fresh
/// PostgreSQL database (dropped with the returned guard).
pub async fn fresh_database(backend: &Backend, dir: &std::path::Path) -> (String, Option<FreshDatabase>) {
    match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.join("usher.db").display()), None),
        Backend::Postgres(admin) => {
            let db = FreshDatabase::create(admin).await;
            (db.url.clone(), Some(db))
        }
    }
}
