//! Delivery through real transports: a real SMTP server (mailin-embedded,
//! not written by usher) and the file transport.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;

on_each_backend! {
    async fn the_signup_email_arrives_over_smtp_and_its_link_completes_the_signup(backend: Backend) {
        let (smtp, port) = SmtpSink::start();
        let url = format!("smtp://127.0.0.1:{port}?tls=none");
        let app = TestApp::spawn_with(backend, &[("mail_transport", "smtp"), ("smtp_url", &url), ("mail_from", "signup@usher.test")]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);

        let got = app.wait_for_smtp(&smtp, 1).await;
        let mail = &got[0];
        assert_eq!(mail.to, vec!["jane@example.com".to_owned()]);
        assert!(mail.header("message-id").is_some_and(|id| id.ends_with("@usher.test>")), "{}", mail.raw);
        assert!(mail.raw.contains("multipart/alternative") && mail.raw.contains("text/html"));
        let text = mail.text();
        let link = text.split_whitespace().find(|w| w.starts_with("http")).expect("link in text part").to_owned();

        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Complete your signup"));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);

        app.drain_outbox().await;
        let sent = app.outbox().await;
        assert!(sent.iter().all(|m| m.status == "sent"), "{sent:#?}");
        assert_eq!(sent.last().unwrap().message_id, mail.header("message-id").unwrap());
    }

    async fn the_request_succeeds_while_the_smtp_server_is_down_and_the_mail_arrives_once_it_is_up(backend: Backend) {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let url = format!("smtp://127.0.0.1:{port}?tls=none");
        let app = TestApp::spawn_with(backend, &[("mail_transport", "smtp"), ("smtp_url", &url)]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);

        // The worker tries once, and fails.
        app.deliver_all().await;
        let deferred = app.outbox().await;
        assert_eq!(deferred[0].status, "pending", "{deferred:#?}");
        assert!(deferred[0].last_error.as_deref().unwrap().contains("USHER_SMTP_URL"), "the error says what to check");

        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let sink = SmtpSink::start_on(listener);
        let got = app.wait_for_smtp(&sink, 1).await;
        assert_eq!(got.len(), 1);
        app.drain_outbox().await;
        assert_eq!(sink.messages().len(), 1, "delivered once");
    }

    async fn once_delivered_the_stored_message_no_longer_holds_the_link_secret(backend: Backend) {
        let mail_dir = tempfile::tempdir().unwrap();
        let dir = mail_dir.path().to_owned();
        let app = TestApp::spawn_with(backend, &[("mail_transport", "file"), ("mail_file_dir", dir.to_str().unwrap())]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        app.drain_outbox().await;

        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
        assert_eq!(files.len(), 1);
        let eml = std::fs::read_to_string(&files[0]).unwrap().replace("=\r\n", "").replace("=3D", "=");
        let token = eml.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        assert!(token.starts_with("v4.local."));

        let mut conn = app.ctx.store.acquire().await.unwrap();
        let (payload,): (String,) = conn.fetch_one("SELECT payload FROM outbox", &[]).await.unwrap();
        assert!(!payload.contains(&token) && !payload.contains("v4.local"), "{payload}");
    }
}

on_each_backend! {
    // The worker's poll is an hour here: each message arrives because the commit that queued it woke the worker.
    async fn every_flow_that_queues_mail_wakes_the_worker_when_its_commit_lands(backend: Backend) {
        use serde_json::json;
        let app = TestApp::spawn_with_worker(backend, &[("mail_poll_interval", "1h")]).await;
        // A tenant signup (a request row, resolved into a link), and its completion without a password (a password link).
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, None).await.status(), StatusCode::OK);
        app.wait_for_mail("jane@example.com", 2).await;
        // The onboarding password email.
        let ask = json!({ "cname": "acme", "email": "jane@example.com" });
        assert_eq!(app.post_json("/no_auth/send_password_email", &ask).await.status(), StatusCode::OK);
        app.wait_for_mail("jane@example.com", 3).await;
        // A resent signup link.
        let old = app.signup_token("globex", "ann@example.com").await;
        app.clock.advance(std::time::Duration::from_secs(61));
        let r = app.post_json("/no_auth/namespaces/system/f5xc-saas/signup/send_email", &json!({ "token": old })).await;
        assert_eq!(r.status(), StatusCode::OK);
        app.wait_for_mail("ann@example.com", 2).await;
        // The Akana developer signup and its resent activation code.
        let form = "firstName=Dev&lastName=Eloper&emailAddress=dev%40example.com";
        let post = |path: &str, body: &str| {
            app.client.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body.to_owned()).send()
        };
        assert_eq!(post("/api/users/signupUser", form).await.unwrap().status(), StatusCode::OK);
        app.wait_for_mail("dev@example.com", 1).await;
        app.clock.advance(std::time::Duration::from_secs(120));
        assert_eq!(post("/api/users/resendActivation", "emailAddress=dev%40example.com").await.unwrap().status(), StatusCode::OK);
        app.wait_for_mail("dev@example.com", 2).await;
    }
}
