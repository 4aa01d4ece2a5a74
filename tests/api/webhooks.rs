//! Webhooks: each event reaches a real HTTP receiver after the
//! change that causes it, signed as Standard Webhooks says (checked with the
//! `standardwebhooks` crate, which usher did not write); failures are
//! retried through the outbox, a 4xx gives up after the configured tries and
//! `outbox retry` posts it again; no body carries a token or a password.

use crate::helpers::*;
use crate::mail_delivery::{outbox_json, usher_cli};
use crate::on_each_backend;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The reference library's own test secret (24 bytes).
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WITHIN: Duration = Duration::from_secs(15);

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// Verified by the Standard Webhooks reference library.
    fn verify(&self) {
        let hook = standardwebhooks::Webhook::new(SECRET).unwrap();
        hook.verify(self.body.as_bytes(), &self.headers).unwrap_or_else(|e| panic!("signature refused ({e:?}): {self:#?}"));
    }
}

/// An HTTP receiver on 127.0.0.1:0 (axum): records every POST, answers
/// the scripted statuses in order and then 200; with `stall`, answers
/// nothing until `release`.
#[derive(Clone)]
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    open: watch::Sender<bool>,
}

impl Receiver {
    async fn start(script: &[u16], stall: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/usher", listener.local_addr().unwrap());
        let (open, _) = watch::channel(!stall);
        let receiver = Self { url, hits: Arc::default(), script: Arc::new(Mutex::new(script.iter().copied().collect())), open };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hooks/usher",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.hits.lock().unwrap().push(Hit { headers, body });
                    let mut open = state.open.subscribe();
                    let _ = open.wait_for(|open| *open).await;
                    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                    AxumStatus::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn release(&self) {
        self.open.send_replace(true);
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        eventually(&format!("the receiver has {n} posts"), WITHIN, async || {
            let hits = self.hits();
            (hits.len() >= n).then_some(hits)
        })
        .await
    }
}

async fn app_posting_to(backend: Backend, urls: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("webhook_urls", urls), ("webhook_secret", SECRET)];
    settings.extend_from_slice(extra);
    // The background worker: these tests watch it retry, back off and renew its lease.
    TestApp::spawn_with_worker(backend, &settings).await
}

async fn form(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    app.client.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()
}

/// The webhook rows of the outbox, oldest first.
async fn webhook_rows(app: &TestApp) -> Vec<usher::store::outbox::Listed> {
    let mut rows: Vec<_> = app.outbox().await.into_iter().filter(|r| r.kind.starts_with("webhook:")).collect();
    rows.reverse();
    rows
}

on_each_backend! {
    async fn each_event_is_posted_after_the_change_that_causes_it_signed_as_standard_webhooks_says(backend: Backend) {
        let receiver = Receiver::start(&[], false).await;
        let app = app_posting_to(backend, &receiver.url, &[]).await;

        // A tenant signup: signup.created once the worker has stored it.
        let signup_token = app.signup_token("acme", "jane@example.com").await;
        let hits = receiver.wait_for(1).await;
        let created = hits[0].json();
        assert_eq!(created["type"], "signup.created", "{created}");
        assert_eq!(created["data"]["cname"], "acme");
        assert_eq!(created["data"]["email"], "jane@example.com");
        assert_eq!(created["data"]["tenant_type"], "FREEMIUM");
        let signup_id = created["data"]["signup_id"].as_str().unwrap().to_owned();

        // Completed without a password: the tenant and a pending user.
        assert_eq!(app.complete(&signup_token, None).await.status(), StatusCode::OK);
        let tenant = receiver.wait_for(2).await[1].json();
        assert_eq!(tenant["type"], "tenant.created", "{tenant}");
        let data = &tenant["data"];
        assert_eq!((data["tenant"]["cname"].as_str(), data["tenant"]["name"].as_str()), (Some("acme"), Some("Example Corp")));
        assert_eq!((data["user"]["email"].as_str(), data["user"]["state"].as_str()), (Some("jane@example.com"), Some("pending")));
        let (tenant_id, user_id) = (data["tenant"]["id"].as_str().unwrap().to_owned(), data["user"]["id"].as_str().unwrap().to_owned());

        // The password link: password.set.
        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let password_token = token_in(&mail[1]["text"]);
        let r = app.post_json("/no_auth/password/set", &json!({ "token": password_token, "password": STRONG_PASSWORD })).await;
        assert_eq!(r.status(), StatusCode::OK);
        let set = receiver.wait_for(3).await[2].json();
        assert_eq!(set["type"], "password.set", "{set}");
        assert_eq!(set["data"], json!({ "tenant": { "id": tenant_id, "cname": "acme" }, "user": { "id": user_id, "email": "jane@example.com" } }));

        // An Akana developer completes their signup: user.activated.
        let r = form(&app, "/api/users/signupUser", "firstName=Dev&lastName=Loper&emailAddress=dev%40example.com".into()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let code = token_in(&app.wait_for_mail("dev@example.com", 1).await[0]["text"]);
        let r = form(&app, "/api/users/completeSignup", format!("signupCode={code}&password={STRONG_PASSWORD}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let activated = receiver.wait_for(4).await[3].json();
        assert_eq!(activated["type"], "user.activated", "{activated}");
        assert_eq!(activated["data"]["tenant"]["cname"], "default");
        assert_eq!(activated["data"]["user"]["email"], "dev@example.com");

        // A refused change announces nothing: its transaction queued nothing.
        let (status, _) = body(app.complete(&signup_token, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        app.drain_outbox().await;
        let hits = receiver.hits();
        assert_eq!(hits.len(), 4, "{hits:#?}");

        let mut ids = Vec::new();
        for hit in &hits {
            hit.verify();
            assert_eq!(hit.headers["content-type"], "application/json");
            let id = hit.id();
            assert!(id.starts_with("msg_"), "{id}");
            ids.push(id);
            let event = hit.json();
            let at = event["timestamp"].as_str().unwrap();
            assert!(humantime::parse_rfc3339(at).is_ok(), "{at}");
            // No secret of any kind, in any form.
            for secret in [STRONG_PASSWORD, &signup_token, &password_token, &code, "v4.local", "argon2", "token", "password_hash"] {
                assert!(!hit.body.contains(secret), "a webhook body holds {secret}: {}", hit.body);
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "one webhook-id per event");
        assert!(!signup_id.is_empty());

        let rows = webhook_rows(&app).await;
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["webhook:signup.created", "webhook:tenant.created", "webhook:password.set", "webhook:user.activated"]);
        for (row, hit) in rows.iter().zip(&hits) {
            assert_eq!((row.status.as_str(), row.attempts, row.to.as_str()), ("sent", 1, receiver.url.as_str()), "{row:#?}");
            assert_eq!(row.message_id, hit.id(), "the webhook-id is the outbox row's");
        }

        let metrics = app.get("/metrics").await.text().await.unwrap();
        for event in ["signup.created", "tenant.created", "password.set", "user.activated"] {
            let line = format!("usher_webhook_deliveries_total{{event=\"{event}\",outcome=\"sent\"}}");
            assert!(metrics.contains(&line), "{line} in {metrics}");
        }
        assert!(!metrics.contains("/hooks/usher"), "no endpoint in a label");
    }

    async fn a_receiver_error_or_an_unreachable_endpoint_is_retried_with_backoff(backend: Backend) {
        let receiver = Receiver::start(&[500, 503], false).await;
        // Port 9 (discard) has no listener: every try is a refused connection.
        let urls = format!("{},http://127.0.0.1:9/hooks", receiver.url);
        let app = app_posting_to(backend, &urls, &[("mail_max_attempts", "4")]).await;
        app.signup_token("acme", "jane@example.com").await;

        let hits = receiver.wait_for(3).await;
        app.drain_outbox().await;
        assert_eq!(receiver.hits().len(), 3, "500, 503, then delivered once");
        let id = hits[0].id();
        for hit in &hits {
            hit.verify();
            assert_eq!(hit.id(), id, "every try carries the same webhook-id");
            assert_eq!(hit.body, hits[0].body, "and the same body");
        }
        let rows = webhook_rows(&app).await;
        let delivered = rows.iter().find(|r| r.to == receiver.url).unwrap();
        assert_eq!((delivered.status.as_str(), delivered.attempts), ("sent", 3), "{delivered:#?}");
        let unreachable = rows.iter().find(|r| r.to.contains(":9/")).unwrap();
        assert_eq!((unreachable.status.as_str(), unreachable.attempts), ("failed", 4), "{unreachable:#?}");
        let error = unreachable.last_error.as_deref().unwrap();
        assert!(error.contains("gave up after 4 attempts") && error.contains("connect"), "{error}");
    }

    async fn a_4xx_gives_up_after_the_configured_tries_and_outbox_retry_posts_it_again(backend: Backend) {
        let refusing = Receiver::start(&[400, 400, 400], false).await;
        let gone = Receiver::start(&[410], false).await;
        let urls = format!("{},{}", refusing.url, gone.url);
        let app = app_posting_to(backend, &urls, &[("mail_max_attempts", "3")]).await;
        app.signup_token("acme", "jane@example.com").await;
        app.drain_outbox().await;
        assert_eq!(refusing.hits().len(), 3, "a 4xx is tried mail_max_attempts times");
        assert_eq!(gone.hits().len(), 1, "410 Gone gives up at once");

        let failed = outbox_json(&app, &["--status", "failed"]).await;
        assert_eq!(failed.len(), 2, "{failed:#?}");
        let refused = failed.iter().find(|r| r["to"] == refusing.url.as_str()).unwrap();
        assert_eq!((refused["kind"].as_str(), refused["attempts"].as_i64()), (Some("webhook:signup.created"), Some(3)));
        let error = refused["last_error"].as_str().unwrap();
        assert!(error.contains("400") && error.contains("gave up after 3 attempts"), "{error}");
        let went = failed.iter().find(|r| r["to"] == gone.url.as_str()).unwrap();
        assert_eq!(went["attempts"], 1);
        assert!(went["last_error"].as_str().unwrap().contains("410"), "{went}");

        // The receiver is fixed; the operator posts it again.
        let (ok, out, err) = usher_cli(&app, &["outbox", "retry", &refused["id"].to_string()]).await;
        assert!(ok && out.contains("queued again"), "{out} {err}");
        let hits = refusing.wait_for(4).await;
        hits[3].verify();
        assert_eq!(hits[3].id(), hits[0].id(), "the same event, not a new one");
        app.drain_outbox().await;
        let row = webhook_rows(&app).await.into_iter().find(|r| r.to == refusing.url).unwrap();
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1), "{row:#?}");
    }

    async fn a_delivery_slower_than_the_lease_keeps_its_claim_because_the_worker_renews_it(backend: Backend) {
        let receiver = Receiver::start(&[], true).await;
        let lease = Duration::from_millis(300);
        let app = app_posting_to(backend, &receiver.url, &[("mail_lease", "300ms")]).await;
        app.signup_token("acme", "jane@example.com").await;
        receiver.wait_for(1).await;

        // While the receiver holds the post, another worker finds nothing to
        // take, for four leases: the lease keeps being renewed. Time must
        // pass here, so the test waits for it.
        let store = app.ctx.store.clone();
        let started = Instant::now();
        while started.elapsed() < lease * 4 {
            let now = app.clock.now_ms();
            let backend = store.backend();
            let taken = store
                .write(move |conn| Box::pin(async move { usher::store::outbox::claim(conn, backend, "intruder", now, now + 60_000, 10).await }))
                .await
                .unwrap();
            assert!(taken.is_empty(), "a live worker's claim was taken after {:?}: {taken:#?}", started.elapsed());
            tokio::time::sleep(lease / 4).await;
        }
        let row = webhook_rows(&app).await.remove(0);
        assert_eq!((row.status.as_str(), row.attempts), ("sending", 1), "{row:#?}");

        receiver.release();
        app.drain_outbox().await;
        let row = webhook_rows(&app).await.remove(0);
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1), "{row:#?}");
        assert_eq!(receiver.hits().len(), 1, "posted once");
    }
}
