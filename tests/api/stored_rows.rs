//! Rows the previous release stored, frozen in `tests/fixtures/previous_release/`, are still
//! understood: written into a fresh database with plain SQL, each request is resolved, each intent
//! mailed with its link, each webhook posted as it was stored, and each limit row still counts.

use crate::helpers::*;
use crate::on_each_backend;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const OUTBOX: &str = include_str!("../fixtures/previous_release/outbox.tsv");
const EMAIL_LIMITS: &str = include_str!("../fixtures/previous_release/email_limits.tsv");
/// The Standard Webhooks reference library's test secret.
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const DAY_MS: i64 = 24 * 3600 * 1000;

struct Row {
    status: &'static str,
    kind: &'static str,
    recipient: &'static str,
    tenant: Option<&'static str>,
    locale: &'static str,
    payload: &'static str,
}

impl Row {
    fn tag(&self) -> String {
        let payload: serde_json::Value = serde_json::from_str(self.payload).unwrap();
        payload["type"].as_str().unwrap().to_owned()
    }
}

fn lines(file: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    file.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(|l| l.split('\t').collect())
}

fn frozen_rows() -> Vec<Row> {
    lines(OUTBOX)
        .map(|f| Row { status: f[0], kind: f[1], recipient: f[2], tenant: (f[3] != "\\N").then_some(f[3]), locale: f[4], payload: f[5] })
        .collect()
}

/// What the mail a row ends in must carry: the page of its link, and for a `…V1` link the token
/// the row itself holds. `None`: a mail with no link.
fn expected_link(tag: &str) -> Option<&'static str> {
    match tag {
        "PasswordEmailV1" | "PasswordLinkV2" => Some("/password?token="),
        "TenantSignupV1" | "SignupLinkV2" => Some("/signup?token="),
        "DeveloperSignupV1" | "ActivationResendV1" | "ActivationCodeV2" => Some("/activate?signupCode="),
        "SignupLinkV1" => Some("/signup?token=frozen-signup-token"),
        "PasswordLinkV1" => Some("/password?token=frozen-password-token"),
        "ActivationCodeV1" => Some("/activate?signupCode=frozen-activation-code"),
        "AccountExistsV1" => None,
        other => panic!("outbox.tsv has a row of type {other} that this test does not know what to expect of: add it here"),
    }
}

/// An HTTP receiver on 127.0.0.1:0 that records each POST and answers 200.
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let hits: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
    let recorded = hits.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let recorded = recorded.clone();
            async move { recorded.lock().unwrap().push((headers, body)) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

async fn insert_outbox_rows(app: &TestApp, hook_url: &str) {
    let now = app.clock.now_ms();
    let hook_url = hook_url.to_owned();
    app.ctx
        .store
        .write(move |conn| {
            Box::pin(async move {
                for (i, row) in frozen_rows().into_iter().enumerate() {
                    let webhook = row.kind.starts_with("webhook:");
                    let message_id = if webhook { format!("msg_frozen{i}") } else { format!("<frozen{i}@usher.test>") };
                    // A webhook row goes to its endpoint: here, the test's receiver.
                    let recipient = if webhook { hook_url.as_str() } else { row.recipient };
                    conn.execute(
                        "INSERT INTO outbox (message_id, kind, recipient, tenant, locale, payload, status, attempts, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
                        usher::args![message_id.as_str(), row.kind, recipient, row.tenant, row.locale, row.payload, row.status, now],
                    )
                    .await?;
                }
                Ok::<_, usher::store::StoreError>(())
            })
        })
        .await
        .unwrap();
}

async fn tokens_for(app: &TestApp, purpose: &str, subject: &str) -> i64 {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let sql = "SELECT COUNT(*) FROM one_time_tokens WHERE purpose = $1 AND subject = $2";
    conn.fetch_one::<(i64,)>(sql, usher::args![purpose, subject]).await.unwrap().0
}

on_each_backend! {
    async fn rows_queued_by_the_previous_release_are_resolved_mailed_and_posted_after_an_upgrade(backend: Backend) {
        let (hook_url, hits) = receiver().await;
        let app = TestApp::spawn_with(backend, &[("webhook_urls", hook_url.as_str()), ("webhook_secret", SECRET)]).await;
        // The tenant acme and its active user jane, whom the frozen requests name.
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        let rows_before = app.outbox().await.len();
        let posted_before = hits.lock().unwrap().len();
        let jane_before = app.mail_to("jane@example.com").await.len();

        insert_outbox_rows(&app, &hook_url).await;
        app.drain_outbox().await;

        let outbox = app.outbox().await;
        let not_sent: Vec<_> = outbox.iter().filter(|r| r.status != "sent").collect();
        assert!(not_sent.is_empty(), "every frozen row is understood and carried out: {not_sent:#?}");
        // The tenant signup's new signup.created is the one row the frozen ones added.
        assert_eq!(outbox.len(), rows_before + frozen_rows().len() + 1);

        let rows = frozen_rows();
        for row in rows.iter().filter(|r| !r.kind.starts_with("webhook:")) {
            let tag = row.tag();
            let before = if row.recipient == "jane@example.com" { jane_before } else { 0 };
            let mail = app.mail_to(row.recipient).await;
            let from_frozen = rows.iter().filter(|r| r.recipient == row.recipient).count();
            assert_eq!(mail.len() - before, from_frozen, "{tag}: one mail to {} for each frozen row", row.recipient);
            let texts: Vec<&str> = mail[before..].iter().map(|m| m["text"].as_str().unwrap()).collect();
            match expected_link(&tag) {
                Some(link) => assert!(texts.iter().any(|t| t.contains(link)), "{tag}: no mail to {} carries {link}: {texts:#?}", row.recipient),
                None => assert!(texts.iter().all(|t| !t.contains("token=") && !t.contains("signupCode=")), "{tag}: {texts:#?}"),
            }
        }
        // A `…V2` link is minted at send time for the subject its row names.
        assert_eq!(tokens_for(&app, "signup", "Zr0zEnS1gnUpXw4kQm7bTg").await, 1);
        assert_eq!(tokens_for(&app, "password", "Zr0zEnUs3rFayQm7bTg4kw").await, 1);
        assert_eq!(tokens_for(&app, "activation", "Zr0zEnUs3rGusQm7bTg4kw").await, 1);

        // Each webhook row is posted byte for byte as stored, signed, under its own id.
        let posted: Vec<(HeaderMap, String)> = hits.lock().unwrap()[posted_before..].to_vec();
        let hook = standardwebhooks::Webhook::new(SECRET).unwrap();
        for (i, row) in rows.iter().enumerate().filter(|(_, r)| r.kind.starts_with("webhook:")) {
            let (headers, body) = posted
                .iter()
                .find(|(h, _)| h["webhook-id"] == format!("msg_frozen{i}").as_str())
                .unwrap_or_else(|| panic!("{} was not posted: {posted:#?}", row.kind));
            assert_eq!(body, row.payload);
            hook.verify(body.as_bytes(), headers).unwrap();
        }
        let created = posted.iter().map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).unwrap()).find(|b| b["data"]["cname"] == "globex" && b["timestamp"] != "2026-11-24T10:00:00.000Z");
        assert!(created.is_some_and(|b| b["type"] == "signup.created"), "the frozen tenant signup announced its signup: {posted:#?}");
    }

    async fn limit_rows_of_the_previous_release_still_count_against_their_recipient(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        // Admin password mail goes to a user of the admin's tenant; the others to anybody.
        let recipient = |flow: &str| if flow == "AdminPassword" { "jane@example.com" } else { "limited@example.com" };
        let now = app.clock.now_ms();
        let keys: Vec<(String, String)> = lines(EMAIL_LIMITS).map(|f| (f[0].to_owned(), format!("{}:{}", f[1], recipient(f[0])))).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        let stored = keys.iter().map(|(_, key)| key.clone()).collect::<Vec<_>>();
        app.ctx
            .store
            .write(move |conn| {
                Box::pin(async move {
                    for key in &stored {
                        conn.execute(
                            "INSERT INTO email_limits (key, last_at, day, day_count) VALUES ($1, $2, $3, 1)",
                            usher::args![key.as_str(), now, now.div_euclid(DAY_MS)],
                        )
                        .await?;
                    }
                    Ok::<_, usher::store::StoreError>(())
                })
            })
            .await
            .unwrap();

        let admin = create_token(&app.ctx.store, now, &Cname::parse("t", "acme").unwrap(), Role::Admin).await.unwrap().1;
        for (flow, key) in &keys {
            let r = match flow.as_str() {
                "Signup" => app.signup("globex", "limited@example.com").await,
                "Password" => app.post_json("/no_auth/send_password_email", &json!({ "cname": "acme", "email": "limited@example.com" })).await,
                "Activation" => {
                    app.client
                        .post(app.url("/api/users/signupUser"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("firstName=Lim&lastName=Ited&emailAddress=limited%40example.com")
                        .send()
                        .await
                        .unwrap()
                }
                "AdminPassword" => {
                    app.client
                        .post(app.url("/api/web/custom/namespaces/system/send_password_email"))
                        .header("authorization", format!("APIToken {admin}"))
                        .json(&json!({ "email": "jane@example.com", "namespace": "system" }))
                        .send()
                        .await
                        .unwrap()
                }
                other => panic!("email_limits.tsv names a flow {other} that this test does not know how to ask for a mail of: add it here"),
            };
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{flow}: the stored row {key} no longer limits its recipient");
        }
    }
}
