//! Tenant signup (F5 XC dialect) and resending the signup email.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const COMPLETE: &str = "/no_auth/namespaces/system/f5xc-saas/signup/complete";
const RESEND: &str = "/no_auth/namespaces/system/f5xc-saas/signup/send_email";

on_each_backend! {
    async fn a_person_signs_up_follows_the_emailed_link_and_completes_with_a_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, answer) = body(app.signup("acme", "Jane.Saoirse@Example.com").await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["success"], true);
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));

        let mail = app.wait_for_mail("Jane.Saoirse@Example.com", 1).await;
        assert!(mail[0]["subject"].as_str().unwrap().contains("acme"));
        let link = link_in(&mail[0]["text"]);
        assert!(link.starts_with(&format!("{}/signup?token=v4.local.", app.address)), "{link}");
        let token = token_in(&mail[0]["text"]);

        let (status, details) = body(app.get(&format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}")).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(details, json!({ "email": "Jane.Saoirse@Example.com", "domain": "acme", "tenant_type": "FREEMIUM" }));

        let (_, valid) = body(app.post_json("/no_auth/login/validate_registration", &json!({ "email": "jane.saoirse@example.com", "tenant_type": "FREEMIUM", "token": token })).await).await;
        assert_eq!(valid, json!({ "err": "ETOKEN_OK", "valid_registration": true }));

        let (status, done) = body(app.complete(&token, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done, json!({ "cname": "acme", "email": "Jane.Saoirse@Example.com" }));

        let mut conn = app.ctx.store.acquire().await.unwrap();
        let user = usher::store::users::user_by_cname_and_email(&mut conn, "acme", "jane.saoirse@example.com").await.unwrap().unwrap();
        assert_eq!(user.state, "active");
        assert!(user.password_hash.unwrap().starts_with("$argon2id$"));

        let (_, details) = body(app.get(&format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}")).await).await;
        assert_eq!(details["console_url"], format!("{}/console/acme", app.address));
    }

    async fn completing_without_a_password_mails_a_link_that_sets_it_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let (status, _) = body(app.complete(&token, None).await).await;
        assert_eq!(status, StatusCode::OK);

        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let link = link_in(&mail[1]["text"]);
        assert!(link.contains("/password?token="), "{link}");
        let password_token = token_in(&mail[1]["text"]);

        let set = json!({ "token": password_token, "password": STRONG_PASSWORD });
        let (status, answer) = body(app.post_json("/no_auth/password/set", &set).await).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({})));

        let (status, again) = body(app.post_json("/no_auth/password/set", &set).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(again["code"], "TOKEN_USED");
    }

    async fn resending_the_signup_email_supersedes_the_old_link(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let old = app.signup_token("acme", "jane@example.com").await;
        app.clock.advance(Duration::from_secs(61));

        let (status, answer) = body(app.post_json(RESEND, &json!({ "token": old })).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["success"], true);
        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let new = token_in(&mail[1]["text"]);
        assert_ne!(old, new);

        let (status, refused) = body(app.complete(&old, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["code"], "TOKEN_SUPERSEDED");
        assert_eq!(app.complete(&new, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }

    async fn an_expired_link_is_refused_but_can_still_ask_for_a_new_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let old = app.signup_token("acme", "jane@example.com").await;
        app.clock.advance(Duration::from_secs(24 * 3600 + 1));

        let (status, refused) = body(app.complete(&old, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["code"], "TOKEN_EXPIRED");

        assert_eq!(app.post_json(RESEND, &json!({ "token": old })).await.status(), StatusCode::OK);
        let mail = app.wait_for_mail("jane@example.com", 2).await;
        assert_eq!(app.complete(&token_in(&mail[1]["text"]), Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }

    async fn opening_a_link_never_spends_its_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        for _ in 0..3 {
            assert_eq!(app.get(&format!("/signup?token={token}")).await.status(), StatusCode::OK);
            assert_eq!(app.get(&format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}")).await.status(), StatusCode::OK);
            app.client.head(app.url(&format!("/signup?token={token}"))).send().await.unwrap();
        }
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }

    async fn twenty_concurrent_completes_of_one_token_succeed_exactly_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let attempts = (0..20).map(|_| {
            let client = app.client.clone();
            let url = app.url(COMPLETE);
            let body = json!({ "token": token, "password": STRONG_PASSWORD });
            tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
        });
        let mut statuses = Vec::new();
        for a in attempts {
            statuses.push(a.await.unwrap());
        }
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{statuses:?}");
        // Tries past a token's ten a minute are refused before any work.
        assert!(statuses.iter().all(|s| [StatusCode::OK, StatusCode::CONFLICT, StatusCode::TOO_MANY_REQUESTS].contains(s)), "{statuses:?}");
        assert!(statuses.iter().filter(|s| **s != StatusCode::TOO_MANY_REQUESTS).count() >= 10, "{statuses:?}");
    }

    async fn a_completed_signup_cannot_be_completed_again(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        let (status, again) = body(app.complete(&token, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(again["code"], "SIGNUP_COMPLETED");
        let (status, resend) = body(app.post_json(RESEND, &json!({ "token": token })).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(resend["code"], "SIGNUP_COMPLETED");
    }

    async fn a_taken_domain_is_a_conflict_at_signup_and_at_completion(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.signup_token("acme", "jane@example.com").await;
        let second = app.signup_token("acme", "joe@example.com").await;
        assert_eq!(app.complete(&first, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);

        let (status, late) = body(app.complete(&second, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(late["code"], "CNAME_TAKEN");
        let (status, fresh) = body(app.signup("acme", "kim@example.com").await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(fresh["code"], "CNAME_TAKEN");
    }

    async fn an_address_that_already_has_an_account_gets_the_same_answer_and_a_different_email(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(61));

        let known = app.signup("other", "jane@example.com").await;
        let unknown = app.signup("another", "kim@example.com").await;
        assert_eq!(known.status(), unknown.status());
        assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

        let mail = app.wait_for_mail("jane@example.com", 2).await;
        assert_eq!(mail[1]["subject"], "You already have an account");
        assert!(!mail[1]["text"].as_str().unwrap().contains("token="));
    }

    async fn registration_details_tell_a_person_why_a_link_cannot_go_on_in_f5s_error_message(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let details = |token: String| {
            let app = &app;
            async move { body(app.get(&format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}")).await).await }
        };
        let old = app.signup_token("acme", "jane@example.com").await;
        let (status, live) = details(old.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(live.get("error_message").is_none(), "a live link needs no message: {live}");

        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.post_json(RESEND, &json!({ "token": old })).await.status(), StatusCode::OK);
        let new = token_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
        let (status, superseded) = details(old.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(superseded["error_message"].as_str().unwrap().contains("most recent email"), "{superseded}");
        assert_eq!((superseded["email"].as_str(), superseded["domain"].as_str()), (Some("jane@example.com"), Some("acme")));

        app.clock.advance(Duration::from_secs(24 * 3600 + 1));
        let (status, expired) = details(new.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(expired["error_message"].as_str().unwrap().contains("expired"), "{expired}");

        assert_eq!(app.post_json(RESEND, &json!({ "token": new })).await.status(), StatusCode::OK);
        let fresh = token_in(&app.wait_for_mail("jane@example.com", 3).await[2]["text"]);
        assert_eq!(app.complete(&fresh, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        for token in [old, new, fresh] {
            let (status, done) = details(token).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(done["error_message"], "Your account is already active. Please log in to continue.", "F5's own words");
            assert_eq!(done["console_url"], format!("{}/console/acme", app.address));
        }
    }

    async fn every_endpoint_also_answers_under_the_configured_base_path(backend: Backend) {
        let base = "/api/v1/api/production/us-east-1/namespaces/default";
        let app = TestApp::spawn_with(backend, &[("base_path", base)]).await;
        let r = app.post_json(&format!("{base}/no_auth/namespaces/system/f5xc-saas/signup"), &signup_body("acme", "jane@example.com")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let token = token_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
        let r = app.post_json(&format!("{base}/no_auth/login/validate_registration"), &json!({ "email": "jane@example.com", "token": token })).await;
        assert_eq!(body(r).await.1["err"], "ETOKEN_OK");
    }
}
