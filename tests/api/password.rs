//! The onboarding password email (F5's `SendPasswordEmail`), and setting a password.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const SEND: &str = "/no_auth/send_password_email";

on_each_backend! {
    async fn the_password_email_carries_a_link_that_sets_a_new_password(backend: Backend) {
        let app = onboarded(backend).await;
        let (status, answer) = body(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({})));
        let mail = app.wait_for_mail("jane@example.com", 2).await;
        assert_eq!(mail[1]["subject"], "Set your password for acme");
        let token = token_in(&mail[1]["text"]);
        let r = app.post_json("/no_auth/password/set", &json!({ "token": token, "password": "another-Lantern-quarry-44" })).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn known_and_unknown_addresses_get_identical_answers_and_only_the_outbox_differs(backend: Backend) {
        let app = onboarded(backend).await;
        app.drain_outbox().await;
        let queued_before = app.outbox().await.len();
        let mut answers = Vec::new();
        for (cname, email) in [("acme", "jane@example.com"), ("acme", "nobody@example.com"), ("nosuch", "kim@example.com")] {
            answers.push(observable(app.post_json(SEND, &json!({ "cname": cname, "email": email })).await).await);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
        // Each request left one row; once the worker looked the accounts up,
        // only the known address has an email to send.
        app.drain_outbox().await;
        let rows = app.outbox().await;
        assert_eq!(rows.len(), queued_before + 3);
        let dropped: Vec<&str> = rows.iter().filter(|m| m.status == "dropped").map(|m| m.to.as_str()).collect();
        assert_eq!(dropped, ["kim@example.com", "nobody@example.com"], "{rows:#?}");
        assert_eq!(app.mail_to("nobody@example.com").await.len() + app.mail_to("kim@example.com").await.len(), 0);
    }

    async fn a_newer_password_link_supersedes_the_older_one(backend: Backend) {
        let app = onboarded(backend).await;
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        // Wait for each email before asking for the next: two queued together
        // are sent concurrently and may reach the mailbox in either order.
        let old = token_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        let new = token_in(&app.wait_for_mail("jane@example.com", 3).await[2]["text"]);
        let (status, refused) = body(app.post_json("/no_auth/password/set", &json!({ "token": old, "password": STRONG_PASSWORD })).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["code"], "TOKEN_SUPERSEDED");
        assert_eq!(app.post_json("/no_auth/password/set", &json!({ "token": new, "password": STRONG_PASSWORD })).await.status(), StatusCode::OK);
    }

    async fn of_password_links_minted_in_one_batch_only_the_newest_request_s_works(backend: Backend) {
        let app = onboarded(backend).await;
        app.drain_outbox().await;
        let before = app.mail_to("jane@example.com").await.len();
        // The worker runs on demand here, so the three wait to be claimed and minted together.
        for _ in 0..3 {
            assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
            app.clock.advance(Duration::from_secs(61));
        }
        let mails = app.wait_for_mail("jane@example.com", before + 3).await;
        let newest = app.outbox().await.into_iter().find(|m| m.to == "jane@example.com").expect("jane's mail").message_id;
        let mut live = Vec::new();
        for m in &mails[before..] {
            let set = json!({ "token": token_in(&m["text"]), "password": "another-Lantern-meadow-58" });
            let (status, answer) = body(app.post_json("/no_auth/password/set", &set).await).await;
            match status {
                StatusCode::OK => live.push(m["message_id"].as_str().expect("message_id").to_owned()),
                _ => assert_eq!(answer["code"], "TOKEN_SUPERSEDED", "{answer}"),
            }
        }
        assert_eq!(live, [newest], "one link lives, the newest request's");
    }

    async fn a_password_link_expires_after_an_hour(backend: Backend) {
        let app = onboarded(backend).await;
        assert_eq!(app.post_json(SEND, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        let token = token_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
        app.clock.advance(Duration::from_secs(3601));
        let (status, refused) = body(app.post_json("/no_auth/password/set", &json!({ "token": token, "password": STRONG_PASSWORD })).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["code"], "TOKEN_EXPIRED");
    }

    async fn weak_short_and_personal_passwords_are_refused_and_the_link_stays_usable(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane.saoirse@example.com").await;
        for weak in ["password123", "short", "my-jane.saoirse-Secret-77", "qwertyuiop"] {
            let (status, refused) = body(app.complete(&token, Some(weak)).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}");
            assert_eq!(refused["field"], "password", "{weak}: {refused}");
        }
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }
}
