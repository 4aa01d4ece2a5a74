//! Rate limits: per recipient and kind of email, and per client address.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const SEND: &str = "/no_auth/send_password_email";

on_each_backend! {
    async fn a_second_email_within_a_minute_is_429_with_retry_after_and_nothing_is_queued(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        let queued = app.outbox().await.len();

        let r = app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(body(r).await.1["code"], "TOO_MANY_REQUESTS");
        assert_eq!(app.outbox().await.len(), queued);

        // An unknown address is counted and limited exactly like a known one.
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "nobody@example.com" })).await.status(), StatusCode::OK);
        let r = app.post_json(SEND, &json!({ "cname": "acme", "email": "nobody@example.com" })).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.outbox().await.len(), queued + 1, "one request row, for the first of the two");

        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        assert_eq!(app.outbox().await.len(), queued + 2);
        app.drain_outbox().await;
        assert!(app.mail_to("nobody@example.com").await.is_empty(), "nothing is mailed to an address without an account");
    }

    async fn a_recipient_gets_at_most_the_daily_number_of_emails(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_email_daily", "3")]).await;
        for i in 0..3 {
            let r = app.signup(&format!("acme{i}"), "jane@example.com").await;
            assert_eq!(r.status(), StatusCode::OK, "signup {i}");
            app.clock.advance(Duration::from_secs(61));
        }
        let r = app.signup("acme9", "jane@example.com").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 60, "the wait runs to the end of the day, not a minute: {retry}");
        app.drain_outbox().await;
        assert_eq!(app.mail_to("jane@example.com").await.len(), 3);
    }

    async fn with_no_interval_concurrent_requests_for_one_recipient_are_never_refused(backend: Backend) {
        // Concurrent transactions may commit out of the order they read the
        // clock in; a zero interval must not turn that into a 429.
        let app = TestApp::spawn_with(backend, &[("limit_email_interval", "0s"), ("limit_email_daily", "1000")]).await;
        let mut sends = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let (client, url) = (app.client.clone(), app.url(SEND));
            sends.spawn(async move { client.post(url).json(&json!({ "cname": "acme", "email": "jane@example.com" })).send().await.unwrap().status() });
        }
        let statuses = sends.join_all().await;
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    }

    async fn a_client_making_too_many_unauthenticated_requests_is_429(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_client_per_minute", "5")]).await;
        let probe = json!({ "email": "jane@example.com", "token": "x" });
        for _ in 0..5 {
            assert_eq!(app.post_json("/no_auth/login/validate_registration", &probe).await.status(), StatusCode::OK);
        }
        let r = app.post_json("/no_auth/login/validate_registration", &probe).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "health checks are not limited");
        app.clock.advance(Duration::from_secs(60));
        assert_eq!(app.post_json("/no_auth/login/validate_registration", &probe).await.status(), StatusCode::OK);
    }
}
