//! What an operator of usher relies on — safe defaults, logs that
//! read well in a file, `/metrics`, key rotation, retention.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use std::process::{Child, Stdio};
use std::time::Duration;
use usher::tokens::KeyRing;

/// `usher serve` with its standard error in a file (not a terminal), on a
/// database of its own. Killed when dropped.
struct Served {
    address: String,
    child: Child,
    log: std::path::PathBuf,
    place: Option<Place>,
}

/// Where an instance keeps its data: kept from one run to the next.
struct Place {
    dir: tempfile::TempDir,
    database_url: String,
    _db: Option<FreshDatabase>,
}

impl Place {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, db) = fresh_database(&backend, dir.path()).await;
        Self { dir, database_url, _db: db }
    }

    /// `usher ARGS` on this place's database and data directory.
    fn usher(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = usher_command(args, &self.database_url, self.dir.path());
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    }
}

impl Served {
    async fn start(backend: Backend, env: &[(&str, &str)]) -> Self {
        let keys = KeyRing::generate_entry("k1").unwrap();
        Self::start_in(Place::new(backend).await, Some(&keys), env).await
    }

    /// Without `keys`, the ring is the development key file of the place.
    async fn start_in(place: Place, keys: Option<&str>, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = place.dir.path().join(format!("usher-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = serve_command(port, &place.database_url, keys.unwrap_or_default(), place.dir.path());
        if keys.is_none() {
            cmd.env_remove("USHER_KEYS");
        }
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v.replace("{port}", &port.to_string()));
        }
        let child = cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
        let mut served = Self { address: format!("http://127.0.0.1:{port}"), child, log, place: Some(place) };
        wait_until_serving(&mut served.child, &served.address, &served.log).await;
        served
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the instance and hands back its place.
    fn stop(mut self) -> Place {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.place.take().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- usher's log ---\n{}", self.log());
        }
    }
}

on_each_backend! {
    async fn a_network_listener_with_the_dev_transport_warns_and_hides_the_dev_mailbox(backend: Backend) {
        let served = Served::start(backend, &[("USHER_LISTEN", "0.0.0.0:{port}")]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "/dev/mail would hand every signup link to the network");
        let log = served.log();
        assert!(log.contains("WARN") && log.contains("mail_transport is dev on a non-loopback address"), "{log}");
        assert!(!log.contains('\u{1b}'), "no colour codes in a log written to a file: {log:?}");
    }

    async fn the_dev_mailbox_on_a_network_listener_is_served_when_asked_for_explicitly(backend: Backend) {
        let served = Served::start(backend, &[("USHER_LISTEN", "0.0.0.0:{port}"), ("USHER_DEV_MAILBOX", "true")]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(served.log().contains("/dev/mail shows every link"), "{}", served.log());
    }

    async fn a_loopback_listener_serves_the_dev_mailbox_without_a_warning(backend: Backend) {
        let served = Served::start(backend, &[]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!served.log().contains("WARN"), "{}", served.log());
    }
}

/// The `X-Request-Id` of an answer to `req`.
async fn request_id(req: reqwest::RequestBuilder) -> String {
    let r = req.send().await.unwrap();
    r.headers().get("x-request-id").unwrap_or_else(|| panic!("no X-Request-Id on a {}", r.status())).to_str().unwrap().to_owned()
}

on_each_backend! {
    async fn every_answer_carries_a_request_id_kept_from_a_trusted_proxy_only_when_it_is_plain(backend: Backend) {
        let app = TestApp::spawn_with(backend.clone(), &[("trusted_proxies", "127.0.0.1/32")]).await;
        let c = &app.client;
        let ids = [
            request_id(c.get(app.url("/healthz"))).await,
            request_id(c.get(app.url("/no/such/path"))).await,
            request_id(c.delete(app.url("/healthz"))).await,
            request_id(c.post(app.url("/no_auth/namespaces/system/f5xc-saas/signup")).json(&serde_json::json!({}))).await,
        ];
        for id in &ids {
            assert!(uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7), "a new id is a UUID v7: {id}");
        }
        assert!(ids.iter().collect::<std::collections::HashSet<_>>().len() == ids.len(), "{ids:?}");

        let kept = request_id(c.get(app.url("/healthz")).header("x-request-id", "edge-42.a_B")).await;
        assert_eq!(kept, "edge-42.a_B", "a trusted proxy's id ties usher's log to the proxy's");
        for unsafe_id in ["has space", "quote\"", &"x".repeat(65), ""] {
            let replaced = request_id(c.get(app.url("/healthz")).header("x-request-id", unsafe_id)).await;
            assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{unsafe_id:?} is not written to the log: {replaced}");
        }

        let untrusted = TestApp::spawn(backend).await;
        let replaced = request_id(untrusted.client.get(untrusted.url("/healthz")).header("x-request-id", "edge-42")).await;
        assert_ne!(replaced, "edge-42", "a client that is no trusted proxy does not choose its id");
    }

    async fn each_request_logs_one_access_line_with_its_route_template_and_id_and_never_its_query(backend: Backend) {
        let served = Served::start(backend, &[]).await;
        let client = reqwest::Client::new();
        let states = request_id(client.get(format!("{}/no_auth/countries/US/states?token=secret", served.address))).await;
        let signup = request_id(
            client.post(format!("{}/no_auth/namespaces/system/f5xc-saas/signup", served.address)).json(&signup_body("acme", "jane@example.com")),
        )
        .await;
        let log = served.log();
        for (id, route, status) in [(&states, "/no_auth/countries/{country_code}/states", "status=200"), (&signup, "/no_auth/namespaces/system/f5xc-saas/signup", "status=200")] {
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("usher::access") && l.contains(id.as_str())).collect();
            assert_eq!(lines.len(), 1, "one access line for {route}:\n{log}");
            let line = lines[0];
            assert!(line.contains(" INFO ") && line.contains(&format!("route={route}")) && line.contains("method=") && line.contains(status) && line.contains("ms="), "{line}");
        }
        assert!(!log.contains("secret"), "no query string in the log:\n{log}");
        assert!(!log.contains("usher::sql"), "no SQL at info:\n{log}");
    }

    async fn sql_statements_are_logged_only_when_asked_for_and_carry_the_request_id(backend: Backend) {
        let quiet = Served::start(backend.clone(), &[("RUST_LOG", "debug")]).await;
        let client = reqwest::Client::new();
        request_id(client.post(format!("{}/no_auth/namespaces/system/f5xc-saas/signup", quiet.address)).json(&signup_body("acme", "jane@example.com"))).await;
        assert!(quiet.log().contains("DEBUG"), "{}", quiet.log());
        assert!(!quiet.log().contains("usher::sql"), "RUST_LOG=debug shows no statements:\n{}", quiet.log());

        let asked = Served::start(backend, &[("RUST_LOG", "info,usher::sql=debug")]).await;
        let id = request_id(client.post(format!("{}/no_auth/namespaces/system/f5xc-saas/signup", asked.address)).json(&signup_body("acme", "jane@example.com"))).await;
        let log = asked.log();
        assert!(log.lines().any(|l| l.contains("usher::sql") && l.contains(&id)), "a statement names the request it ran for:\n{log}");
    }
}

/// `/metrics`, parsed by a parser usher did not write, after a strict check
/// of every line's shape.
async fn scrape(app: &TestApp) -> (String, prometheus_parse::Scrape) {
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = r.text().await.unwrap();
    let sample =
        regex::Regex::new(r#"^[a-z_][a-z0-9_]*(\{([a-z_]+="[^"\\]*",?)*\})? -?[0-9][0-9.e+-]*$|^[a-z_][a-z0-9_]*(\{[^}]*\})? \+Inf$"#)
            .unwrap();
    for line in text.lines() {
        assert!(line.starts_with("# ") || sample.is_match(line), "not a metrics line: {line:?}");
    }
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{metric} is not a single value"),
        })
        .sum()
}

on_each_backend! {
    async fn metrics_parse_and_count_requests_deliveries_token_spends_and_refusals(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_client_per_minute", "6")]).await;
        let (_, before) = scrape(&app).await;
        const SIGNUP: &str = "/no_auth/namespaces/system/f5xc-saas/signup";
        let requests = |s: &prometheus_parse::Scrape, route: &str, status: &str| {
            value(s, "usher_http_requests_total", &[("route", route), ("method", "POST"), ("status", status)])
        };

        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_ne!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/no/such/path?token=secret-in-query").await.status(), StatusCode::NOT_FOUND);
        app.drain_outbox().await;

        let (text, after) = scrape(&app).await;
        let delta = |metric: &str, labels: &[(&str, &str)]| value(&after, metric, labels) - value(&before, metric, labels);
        assert_eq!(requests(&after, SIGNUP, "200") - requests(&before, SIGNUP, "200"), 1.0, "{text}");
        assert_eq!(delta("usher_http_requests_total", &[("route", "unmatched"), ("status", "404")]), 1.0);
        assert!(delta("usher_http_request_duration_seconds_count", &[("route", SIGNUP)]) >= 1.0, "{text}");
        assert_eq!(delta("usher_mail_deliveries_total", &[("outcome", "sent")]), 1.0);
        assert_eq!(delta("usher_token_spends_total", &[("outcome", "spent")]), 1.0);
        assert_eq!(delta("usher_token_spends_total", &[("outcome", "used")]), 1.0);
        assert_eq!(value(&after, "usher_outbox_messages", &[("status", "sent")]), 1.0);
        assert_eq!(value(&after, "usher_outbox_messages", &[("status", "pending")]), 0.0);
        assert_eq!(value(&after, "usher_outbox_oldest_due_age_seconds", &[]), 0.0);
        assert_eq!(value(&after, "usher_password_hash_running", &[]), 0.0);
        assert!(delta("usher_database_commit_duration_seconds_count", &[]) >= 3.0, "the signup, the spend and the delivery: {text}");
        for secret in ["jane@example.com", "example.com", &token, "secret-in-query", "127.0.0.1"] {
            assert!(!text.contains(secret), "/metrics shows {secret}");
        }

        // The per-client limit is 6 a minute; four requests were made above.
        for _ in 0..4 {
            app.signup("beta", "bob@example.com").await;
        }
        let (_, limited) = scrape(&app).await;
        let refused = value(&limited, "usher_rate_limit_refusals_total", &[("kind", "client")]) - value(&before, "usher_rate_limit_refusals_total", &[("kind", "client")]);
        assert!(refused >= 1.0, "a request over the client limit is counted");
    }

    async fn metrics_start_at_zero_name_routes_by_their_documented_template_and_describe_the_process(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (text, fresh) = scrape(&app).await;
        let exists = |metric: &str, labels: &[(&str, &str)]| {
            fresh.samples.iter().any(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        };
        for (metric, labels) in [
            ("usher_mail_deliveries_total", [("outcome", "failed")]),
            ("usher_token_spends_total", [("outcome", "expired")]),
            ("usher_rate_limit_refusals_total", [("kind", "login")]),
            ("usher_webhook_deliveries_total", [("event", "user.activated")]),
        ] {
            assert!(exists(metric, &labels), "{metric} {labels:?} is there before it happens: {text}");
        }
        assert_eq!(value(&fresh, "usher_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0, "{text}");
        assert!(value(&fresh, "process_resident_memory_bytes", &[]) > 1e6, "{text}");
        assert!(value(&fresh, "process_open_fds", &[]) >= 3.0, "{text}");
        assert!(value(&fresh, "process_start_time_seconds", &[]) > 1.7e9, "{text}");
        assert!(text.contains("process_cpu_seconds_total "), "{text}");

        assert_eq!(app.get("/no_auth/countries/US/states").await.status(), StatusCode::OK);
        let (text, _) = scrape(&app).await;
        // prometheus_parse ends the labels at the first `}`, even inside a value: read the line itself.
        let line = r#"usher_http_requests_total{route="/no_auth/countries/{country_code}/states",method="GET",status="200"} 1"#;
        assert!(text.lines().any(|l| l == line), "{text}");
        assert!(!text.contains("{p3}"), "no route is labelled by its position: {text}");
    }

    async fn the_oldest_due_message_ages_in_metrics_while_mail_cannot_be_sent(backend: Backend) {
        // An SMTP server that does not exist, and a worker that looks for due mail
        // only hourly (real time): once deferred, the message stays due.
        let app = TestApp::spawn_with(backend, &[("mail_transport", "smtp"), ("smtp_url", "smtp://127.0.0.1:9?tls=none"), ("mail_retry_min", "1h"), ("mail_retry_max", "2h"), ("mail_poll_interval", "1h")]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        app.deliver_all().await;
        eventually("the first attempt is deferred", Duration::from_secs(10), async || {
            let (_, s) = scrape(&app).await;
            (value(&s, "usher_mail_deliveries_total", &[("outcome", "deferred")]) >= 1.0).then_some(())
        })
        .await;
        app.clock.advance(Duration::from_secs(2 * 3600 + 60));
        let (text, s) = scrape(&app).await;
        assert_eq!(value(&s, "usher_outbox_messages", &[("status", "pending")]), 1.0, "{text}");
        let age = value(&s, "usher_outbox_oldest_due_age_seconds", &[]);
        assert!((60.0..=2.0 * 3600.0 + 60.0).contains(&age), "{age}");
    }
}

on_each_backend! {
    async fn a_management_listener_serves_the_operations_routes_instead_of_the_public_listener(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("management_listen", "127.0.0.1:0")]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK, "the API stays on the public listener");
        app.drain_outbox().await;
        for path in ["/metrics", "/healthz", "/readyz", "/dev/mail", "/dev/mail.json"] {
            let r = app.client.get(app.management_url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path} on the management listener");
            assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND, "{path} on the public listener");
        }
        let mail: serde_json::Value = app.client.get(app.management_url("/dev/mail.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(mail[0]["to"], "jane@example.com");
        let r = app.client.post(app.management_url("/no_auth/namespaces/system/f5xc-saas/signup")).json(&signup_body("beta", "bob@example.com")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "the management listener serves no API");
    }
}

/// Signs `email` up at `served` and returns the token of the link it is mailed.
async fn mailed_token(served: &Served, cname: &str, email: &str) -> String {
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/no_auth/namespaces/system/f5xc-saas/signup", served.address))
        .json(&signup_body(cname, email))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    eventually("the signup email arrives", Duration::from_secs(10), async || {
        let all: Vec<serde_json::Value> = client.get(format!("{}/dev/mail.json", served.address)).send().await.ok()?.json().await.ok()?;
        all.iter().find(|m| m["to"] == email).map(|m| token_in(&m["text"]))
    })
    .await
}

/// The key id in a token's footer (`v4.local.PAYLOAD.FOOTER`).
fn kid(token: &str) -> String {
    use base64::Engine;
    let footer = token.rsplit('.').next().unwrap();
    let footer: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(footer).unwrap()).unwrap();
    footer["kid"].as_str().unwrap().to_owned()
}

on_each_backend! {
    async fn keys_rotate_signs_new_links_with_the_new_key_and_old_links_keep_working(backend: Backend) {
        let first = Served::start_in(Place::new(backend).await, None, &[]).await;
        let old = mailed_token(&first, "acme", "jane@example.com").await;
        assert_eq!(kid(&old), "dev1");
        let place = first.stop();

        let out = place.usher(&["keys", "rotate"], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let spec = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();
        let ids: Vec<&str> = spec.split(',').map(|e| e.split(':').next().unwrap()).collect();
        assert_eq!(ids, ["k2", "dev1"], "the new key first, the old one kept");
        assert_eq!(std::fs::read_to_string(place.dir.path().join("usher-dev.keys")).unwrap().trim(), spec, "the development key file holds the new ring");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Restart"), "it says what to do next");

        let second = Served::start_in(place, None, &[]).await;
        let client = reqwest::Client::new();
        let complete = format!("{}/no_auth/namespaces/system/f5xc-saas/signup/complete", second.address);
        let r = client.post(&complete).json(&serde_json::json!({ "token": old, "password": STRONG_PASSWORD })).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "a link mailed before the rotation still works");
        let new = mailed_token(&second, "beta", "bob@example.com").await;
        assert_eq!(kid(&new), "k2", "new links are signed by the new key");
    }

    async fn keys_rotate_with_keys_in_the_environment_prints_the_new_value_and_writes_no_file(backend: Backend) {
        let place = Place::new(backend).await;
        let current = format!("{},{}", KeyRing::generate_entry("k7").unwrap(), KeyRing::generate_entry("k3").unwrap());
        let out = place.usher(&["keys", "rotate"], &[("USHER_KEYS", &current)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let spec = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();
        assert!(spec.starts_with("k8:") && spec.ends_with(&format!(",{current}")), "{spec}");
        KeyRing::parse(&spec).unwrap();
        assert!(!place.dir.path().join("usher-dev.keys").exists());

        let out = place.usher(&["keys", "rotate", "--id", "k3"], &[("USHER_KEYS", &current)]);
        assert!(!out.status.success(), "an id already in the ring is refused");
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    conn.fetch_one::<(i64,)>(sql, &[]).await.unwrap().0
}

const SENT: &str = "SELECT COUNT(*) FROM outbox WHERE status = 'sent'";
const DROPPED: &str = "SELECT COUNT(*) FROM outbox WHERE status = 'dropped'";
const DEV_MAILBOX: &str = "SELECT COUNT(*) FROM dev_mailbox";
const SPENT_TOKENS: &str = "SELECT COUNT(*) FROM one_time_tokens WHERE used_at IS NOT NULL";
const EMAIL_LIMITS: &str = "SELECT COUNT(*) FROM email_limits";
const AUDIT: &str = "SELECT COUNT(*) FROM audit_events";

/// Moves the clock on and waits until the worker's prune step has deleted
/// every row each of `counts` counts. A prune deletes table by table, a
/// chunk a write, so one table can be empty while the next still waits.
async fn advance_until_pruned(app: &TestApp, by: Duration, counts: &[&str]) {
    app.clock.advance(by);
    for sql in counts {
        eventually(&format!("the prune step empties `{sql}`"), Duration::from_secs(10), async || {
            (count(app, sql).await == 0).then_some(())
        })
        .await;
    }
}

on_each_backend! {
    async fn pruning_removes_only_what_each_retention_period_allows_and_keeps_the_audit_trail(backend: Backend) {
        // Only the background worker prunes (once a minute of the clock).
        let app = TestApp::spawn_with_worker(backend, &[]).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_eq!(app.post_json("/no_auth/send_password_email", &serde_json::json!({ "cname": "acme", "email": "nobody@example.com" })).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        let (sent, audit) = (count(&app, SENT).await, count(&app, AUDIT).await);
        assert!(sent >= 1 && audit >= 1 && count(&app, DEV_MAILBOX).await >= 1);
        assert_eq!((count(&app, DROPPED).await, count(&app, SPENT_TOKENS).await), (1, 1));
        assert!(count(&app, EMAIL_LIMITS).await >= 1);

        // Two days on: spent tokens (1d) and idle rate-limit rows (1d) go, nothing else.
        advance_until_pruned(&app, Duration::from_secs(2 * 86_400), &[SPENT_TOKENS, EMAIL_LIMITS]).await;
        assert_eq!((count(&app, DROPPED).await, count(&app, SENT).await, count(&app, AUDIT).await), (1, sent, audit));
        assert!(count(&app, DEV_MAILBOX).await >= 1);

        // Eight days: dropped requests and the dev mailbox (7d) too, sent mail stays.
        advance_until_pruned(&app, Duration::from_secs(6 * 86_400), &[DROPPED, DEV_MAILBOX]).await;
        assert_eq!((count(&app, SENT).await, count(&app, AUDIT).await), (sent, audit));

        // Thirty-one days: sent mail (30d) goes; the audit trail is kept by default.
        advance_until_pruned(&app, Duration::from_secs(23 * 86_400), &[SENT]).await;
        assert_eq!(count(&app, AUDIT).await, audit);
    }

    async fn the_audit_trail_is_pruned_only_when_its_own_period_is_set(backend: Backend) {
        let app = TestApp::spawn_with_worker(backend, &[("retention_audit", "90d"), ("retention_sent_mail", "off")]).await;
        app.signup_token("acme", "jane@example.com").await;
        app.drain_outbox().await;
        let (sent, audit) = (count(&app, SENT).await, count(&app, AUDIT).await);
        assert!(sent >= 1 && audit >= 1);
        advance_until_pruned(&app, Duration::from_secs(8 * 86_400), &[DEV_MAILBOX]).await;
        assert_eq!(count(&app, AUDIT).await, audit, "not before its 90 days");
        advance_until_pruned(&app, Duration::from_secs(83 * 86_400), &[AUDIT]).await;
        assert_eq!(count(&app, SENT).await, sent, "retention_sent_mail = off keeps sent mail");
    }
}

/// An SMTP server that accepts connections and never says a word.
async fn silent_smtp() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

/// A minimal SMTP server that waits `delay` before its greeting, then
/// accepts every message.
async fn slow_smtp(delay: Duration) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                tokio::time::sleep(delay).await;
                write.write_all(b"220 slow ESMTP\r\n").await.ok()?;
                let mut in_data = false;
                while let Some(line) = lines.next_line().await.ok()? {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                            "EHLO" | "HELO" => b"250 slow\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok()?;
                                return Some(());
                            }
                            _ => b"250 ok\r\n",
                        }
                    };
                    write.write_all(reply).await.ok()?;
                }
                Some(())
            });
        }
    });
    port
}

fn statuses(place: &Place) -> Vec<String> {
    let out = place.usher(&["outbox", "list", "--json"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter().map(|r| r["status"].as_str().unwrap().to_owned()).collect()
}

/// Signs up at `served`, waits until its email is being sent, then sends
/// SIGTERM and waits for the process to exit; returns its place.
async fn terminate_while_sending(served: Served) -> Place {
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/no_auth/namespaces/system/f5xc-saas/signup", served.address))
        .json(&signup_body("acme", "jane@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let place = served.place.as_ref().unwrap();
    eventually("the email is being sent", Duration::from_secs(10), async || statuses(place).iter().any(|s| s == "sending").then_some(()))
        .await;
    let pid = served.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut served = served;
    let status = eventually("usher exits after SIGTERM", Duration::from_secs(15), async || served.child.try_wait().unwrap()).await;
    assert!(status.success(), "usher exits cleanly: {status}\n{}", served.log());
    served.stop()
}

on_each_backend! {
    async fn sigterm_finishes_the_send_in_flight_and_leaves_nothing_in_sending(backend: Backend) {
        let smtp = slow_smtp(Duration::from_millis(1500)).await;
        let url = format!("smtp://127.0.0.1:{smtp}?tls=none");
        let env = [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", url.as_str())];
        let place = terminate_while_sending(Served::start(backend, &env).await).await;
        assert_eq!(statuses(&place), ["sent"], "the send in flight was finished before usher exited");
    }

    async fn sigterm_hands_back_a_send_that_outlasts_the_grace_period(backend: Backend) {
        let smtp = silent_smtp().await;
        let url = format!("smtp://127.0.0.1:{smtp}?tls=none");
        let env = [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", url.as_str()), ("USHER_SMTP_TIMEOUT", "60s"), ("USHER_MAIL_LEASE", "10m"), ("USHER_SHUTDOWN_GRACE", "1s")];
        let served = Served::start(backend, &env).await;
        let started = std::time::Instant::now();
        let place = terminate_while_sending(served).await;
        assert!(started.elapsed() < Duration::from_secs(15), "it did not wait for the SMTP timeout");
        assert_eq!(statuses(&place), ["pending"], "released, not left in sending for its 10-minute lease");
        let out = place.usher(&["outbox", "list", "--json"], &[]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows[0]["attempts"], 0, "the cut-short attempt is not counted");
    }
}

on_each_backend! {
    async fn an_smtp_server_that_never_answers_defers_the_message_instead_of_holding_it(backend: Backend) {
        let smtp = silent_smtp().await;
        let url = format!("smtp://127.0.0.1:{smtp}?tls=none");
        let settings = [("mail_transport", "smtp"), ("smtp_url", url.as_str()), ("smtp_timeout", "300ms"), ("mail_retry_min", "1h"), ("mail_retry_max", "2h")];
        let app = TestApp::spawn_with(backend, &settings).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        app.deliver_all().await;
        let error = eventually("the send gives up on the silent server", Duration::from_secs(10), async || {
            app.outbox().await.into_iter().find(|m| m.status.as_str() == "pending" && m.attempts == 1).and_then(|m| m.last_error)
        })
        .await;
        assert!(error.contains("did not finish the conversation"), "{error}");
    }
}

on_each_backend! {
    async fn serve_refuses_a_network_listener_without_a_public_url_and_names_the_setting(backend: Backend) {
        let place = Place::new(backend).await;
        let out = place.usher(&["serve"], &[("USHER_LISTEN", "0.0.0.0:0")]);
        assert!(!out.status.success(), "links would point at http://0.0.0.0:0");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("USHER_PUBLIC_URL=https://signup.example.com"), "{stderr}");
    }

    async fn the_start_up_line_says_where_the_database_and_the_mail_go(backend: Backend) {
        let served = Served::start(backend, &[]).await;
        let log = served.log();
        let line = log.lines().find(|l| l.contains("usher is listening")).unwrap_or_else(|| panic!("{log}"));
        let place = served.place.as_ref().unwrap();
        let database = place.database_url.trim_start_matches("sqlite://");
        assert!(line.contains(database.split('?').next().unwrap()), "{line}");
        assert!(line.contains("mail=dev") && line.contains(&format!("public_url={}", served.address)), "{line}");
        assert!(line.contains(&format!("listen={}", served.address.trim_start_matches("http://"))), "{line}");
    }
}

#[test]
fn a_misspelt_usher_variable_stops_any_command_and_names_the_setting_meant() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("usher.db").display());
    let out = usher_command(&["check-config"], &url, dir.path()).env("USHER_PUBLIC_ULR", "https://signup.example.com").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("USHER_PUBLIC_ULR") && stderr.contains("did you mean USHER_PUBLIC_URL?"), "{stderr}");
}

#[test]
fn a_broken_message_catalogue_fails_check_config_and_stops_serve_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("usher.db").display());
    let messages = dir.path().join("messages");
    std::fs::create_dir_all(messages.join("fr")).unwrap();
    std::fs::write(messages.join("fr/mail.ftl"), "mail-hello = Bonjour { $name },\n").unwrap();
    let check_config = || {
        let out = usher_command(&["check-config"], &url, dir.path()).env("USHER_MESSAGES_DIR", &messages).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) = check_config();
    assert!(ok, "a language that lacks messages is no problem: {out}");
    assert!(out.contains("# ok: messages_dir: the message catalogues load (en, de, fr)"), "{out}");
    assert!(out.contains("# warning: messages_dir: fr lacks ") && out.contains("mail-signup-subject"), "{out}");

    std::fs::create_dir_all(messages.join("de")).unwrap();
    std::fs::write(messages.join("de/ours.ftl"), "mail-helo = Servus { $name },\n").unwrap();
    let (ok, out) = check_config();
    assert!(!ok, "{out}");
    assert!(
        out.contains("# problem: messages_dir:") && out.contains("de/ours.ftl: `mail-helo` is no message of the English catalogue"),
        "{out}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let keys = KeyRing::generate_entry("k1").unwrap();
    let mut serve = serve_command(port, &url, &keys, dir.path())
        .env("USHER_MESSAGES_DIR", &messages)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            serve.kill().unwrap();
            panic!("usher serve started with a broken catalogue");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success() && stderr.contains("`mail-helo` is no message of the English catalogue"), "{stderr}");
}

/// `usher ARGS` run in `cwd` with no `USHER_DATABASE_URL`: the database is wherever usher puts it.
fn usher_in(cwd: &std::path::Path, data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = usher_command(args, "", data_dir);
    cmd.env_remove("USHER_DATABASE_URL").current_dir(cwd);
    cmd.output().unwrap()
}

#[test]
fn without_a_database_url_the_database_is_in_the_data_directory_which_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var/usher");
    let out = usher_in(dir.path(), &data, &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(data.join("usher.db").is_file());
    assert!(!dir.path().join("usher.db").exists(), "nothing in the working directory");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_database_where_older_releases_put_it_is_still_read_with_a_warning_to_move_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = usher_command(&["migrate"], "sqlite://usher.db", dir.path()).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = dir.path().join("data");
    let out = usher_in(dir.path(), &data, &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN") && stderr.contains("where older releases put it") && stderr.contains("move it"), "{stderr}");
    assert!(!data.join("usher.db").exists(), "no new, empty database beside the old one");
}

/// An HTTP server that answers every request 405 with no body, as a webhook receiver may answer a HEAD.
async fn http_stub() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            });
        }
    });
    port
}

impl Place {
    /// [`Place::usher`] off the runtime's threads, for tests that serve something to it.
    async fn usher_async(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let mut cmd = usher_command(args, &self.database_url, self.dir.path());
        cmd.envs(env.iter().copied());
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

on_each_backend! {
    async fn check_config_reports_pending_migrations_until_they_are_applied(backend: Backend) {
        let place = Place::new(backend).await;
        let (ok, out, err) = place.usher_async(&["check-config"], &[]).await;
        assert!(ok, "nothing pending is a problem: serve applies it\n{out}{err}");
        assert!(out.contains("pending") || out.contains("does not exist yet"), "{out}");
        assert!(out.contains("# warning: keys:") && out.contains("would be generated"), "{out}");
        let (ok, _, err) = place.usher_async(&["migrate"], &[]).await;
        assert!(ok, "{err}");
        let (ok, out, _) = place.usher_async(&["check-config"], &[]).await;
        assert!(ok && out.contains("none pending") && out.contains("# configuration is valid"), "{out}");
    }

    async fn check_config_fails_on_keys_that_do_not_load_and_a_network_listener_without_a_public_url(backend: Backend) {
        let place = Place::new(backend).await;
        let (ok, out, err) = place.usher_async(&["check-config"], &[("USHER_KEYS", "k1:short"), ("USHER_LISTEN", "0.0.0.0:8080")]).await;
        assert!(!ok, "{out}");
        assert!(out.contains("# problem: keys:") && out.contains("# problem: public_url:") && out.contains("USHER_PUBLIC_URL="), "{out}");
        assert!(out.contains("# warning: mail_transport: dev on 0.0.0.0:8080"), "{out}");
        assert!(err.contains("2 problem(s)"), "{err}");
    }

    async fn check_config_connect_greets_the_smtp_server_and_reaches_each_webhook(backend: Backend) {
        let place = Place::new(backend).await;
        let (_smtp, port) = SmtpSink::start();
        let (smtp_url, hook) = (format!("smtp://127.0.0.1:{port}?tls=none"), format!("http://127.0.0.1:{}/hook", http_stub().await));
        let env = [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", smtp_url.as_str()), ("USHER_WEBHOOK_URLS", hook.as_str()), ("USHER_WEBHOOK_SECRET", SECRET)];
        let (ok, out, err) = place.usher_async(&["check-config", "--connect"], &env).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("# ok: smtp_url:") && out.contains("answers EHLO"), "{out}");
        assert!(out.contains("# ok: webhook_urls:") && out.contains("HTTP 405"), "{out}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (smtp_url, hook) = (format!("smtp://127.0.0.1:{closed}?tls=none"), format!("http://127.0.0.1:{closed}/hook"));
        let env = [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", smtp_url.as_str()), ("USHER_WEBHOOK_URLS", hook.as_str()), ("USHER_WEBHOOK_SECRET", SECRET)];
        let (ok, out, _) = place.usher_async(&["check-config", "--connect"], &env).await;
        assert!(!ok, "{out}");
        assert!(out.contains("# problem: smtp_url:") && out.contains("check the host and port"), "{out}");
        assert!(out.contains("# problem: webhook_urls:") && out.contains("cannot be reached"), "{out}");
        let (ok, out, _) = place.usher_async(&["check-config"], &env).await;
        assert!(ok, "without --connect nothing is reached: {out}");
    }
}

on_each_backend! {
    async fn mail_test_sends_through_the_smtp_server_and_prints_its_answer(backend: Backend) {
        let place = Place::new(backend).await;
        let (smtp, port) = SmtpSink::start();
        let url = format!("smtp://127.0.0.1:{port}?tls=none");
        let env = [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", url.as_str())];
        let (ok, out, err) = place.usher_async(&["mail", "test", "--to", "jane@example.com"], &env).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("the SMTP server answered 250"), "{out}");
        let got = smtp.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, ["jane@example.com"]);
        assert_eq!(got[0].header("subject").as_deref(), Some("usher test message"));

        smtp.refuse_next(550, "no such mailbox here");
        let (ok, out, err) = place.usher_async(&["mail", "test", "--to", "nobody@example.com"], &env).await;
        assert!(!ok, "{out}");
        assert!(err.contains("550") && err.contains("no such mailbox here") && err.contains("refused the message permanently"), "{err}");
    }

    async fn mail_test_with_the_dev_transport_leaves_the_message_in_the_dev_mailbox(backend: Backend) {
        let place = Place::new(backend).await;
        let (ok, out, err) = place.usher_async(&["mail", "test", "--to", "jane@example.com"], &[]).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("development mailbox"), "{out}");
        let keys = KeyRing::generate_entry("k1").unwrap();
        let served = Served::start_in(place, Some(&keys), &[]).await;
        let all: Vec<serde_json::Value> = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap().json().await.unwrap();
        assert!(all.iter().any(|m| m["to"] == "jane@example.com" && m["subject"] == "usher test message"), "{all:?}");
    }
}

#[test]
fn mail_test_says_why_an_smtp_server_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("sqlite://{}", dir.path().join("usher.db").display());
    let out = usher_command(&["mail", "test", "--to", "jane@example.com"], &url, dir.path())
        .env("USHER_MAIL_TRANSPORT", "smtp")
        .env("USHER_SMTP_URL", format!("smtp://127.0.0.1:{closed}?tls=none"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("check the host and port of USHER_SMTP_URL"), "{stderr}");
}

on_each_backend! {
    async fn backup_copies_the_sqlite_database_while_usher_serves_and_writes_and_refuses_postgresql(backend: Backend) {
        let postgres = matches!(backend, Backend::Postgres(_));
        let app = std::sync::Arc::new(TestApp::spawn_with(backend, &[("limit_client_per_minute", "0")]).await);
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        for i in 0..5 {
            assert_eq!(app.signup(&format!("before{i}"), &format!("b{i}@example.com")).await.status(), StatusCode::OK);
        }
        let writing = {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    app.signup(&format!("during{i}"), &format!("d{i}@example.com")).await;
                }
            })
        };
        let copy = tempfile::tempdir().unwrap();
        let file = copy.path().join("usher-backup.db");
        let out = app.usher(&["backup", file.to_str().unwrap()]).await;
        writing.abort();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if postgres {
            assert!(!out.status.success() && stderr.contains("pg_dump"), "{stdout}{stderr}");
            assert!(!file.exists());
            return;
        }
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("usher-backup.db") && stdout.contains("integrity_check"), "{stdout}");
        let copy = rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let count = |sql: &str| copy.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM tenants WHERE cname = 'acme'"), 1, "the completed signup is in the copy");
        assert!(count("SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'b%@example.com'") >= 5, "every request made before the backup is in the copy");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "the copy is as private as the database");
        let again = app.usher(&["backup", file.to_str().unwrap()]).await;
        assert!(!again.status.success(), "an existing file is not overwritten");
    }
}
