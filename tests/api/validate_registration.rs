//! F5's `ValidateRegistration`: every `err` code, checked in the order
//! docs/f5xc.md lists.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use usher::tokens::Purpose;

const VALIDATE: &str = "/no_auth/login/validate_registration";

async fn validate(app: &TestApp, email: &str, tenant_type: &str, token: &str) -> Value {
    let (status, answer) =
        body(app.post_json(VALIDATE, &json!({ "email": email, "tenant_type": tenant_type, "token": token })).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let valid = answer["err"] == "ETOKEN_OK";
    assert_eq!(answer["valid_registration"], valid, "{answer}");
    answer["err"].clone()
}

on_each_backend! {
    async fn a_fresh_link_is_etoken_ok_and_unknown_tenant_type_matches_any(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(validate(&app, "jane@example.com", "FREEMIUM", &token).await, "ETOKEN_OK");
        assert_eq!(validate(&app, "JANE@example.com", "UNKNOWN", &token).await, "ETOKEN_OK");
        let (_, answer) = body(app.post_json(VALIDATE, &json!({ "email": "jane@example.com", "token": token })).await).await;
        assert_eq!(answer["err"], "ETOKEN_OK");
    }

    async fn garbage_foreign_or_mismatched_tokens_are_etoken_failed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", "example").await, "ETOKEN_FAILED");
        let mut tampered = token.clone();
        tampered.replace_range(20..21, if &token[20..21] == "A" { "B" } else { "A" });
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &tampered).await, "ETOKEN_FAILED");
        let other_purpose = app.ctx.keys.issue(&app.clock, Purpose::Password, "someone", Duration::from_secs(60)).unwrap().token;
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &other_purpose).await, "ETOKEN_FAILED");
        assert_eq!(validate(&app, "joe@example.com", "UNKNOWN", &token).await, "ETOKEN_FAILED");
        assert_eq!(validate(&app, "jane@example.com", "ENTERPRISE", &token).await, "ETOKEN_FAILED");
    }

    async fn a_token_for_a_signup_that_does_not_exist_is_etoken_notfound(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let orphan = app.ctx.keys.issue(&app.clock, Purpose::Signup, "no-such-signup", Duration::from_secs(60)).unwrap().token;
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &orphan).await, "ETOKEN_NOTFOUND");
    }

    async fn a_completed_signup_is_etoken_used(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &token).await, "ETOKEN_USED");
    }

    async fn an_expired_or_superseded_link_is_etoken_expired(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.signup_token("acme", "jane@example.com").await;
        app.clock.advance(Duration::from_secs(61));
        let second = app.signup_token("other", "jane@example.com").await;
        // A second signup of the same person is a second signup: both links live.
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &first).await, "ETOKEN_OK");

        app.clock.advance(Duration::from_secs(61));
        let r = app.post_json("/no_auth/namespaces/system/f5xc-saas/signup/send_email", &json!({ "token": second })).await;
        assert_eq!(r.status(), StatusCode::OK);
        // The new link's token is minted when its email is sent.
        app.wait_for_mail("jane@example.com", 3).await;
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &second).await, "ETOKEN_EXPIRED");

        app.clock.advance(Duration::from_secs(24 * 3600));
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &first).await, "ETOKEN_EXPIRED");
    }

    async fn an_address_that_got_an_account_meanwhile_is_euser_exists(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.signup_token("acme", "jane@example.com").await;
        app.clock.advance(Duration::from_secs(61));
        let second = app.signup_token("other", "jane@example.com").await;
        assert_eq!(app.complete(&first, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        assert_eq!(validate(&app, "jane@example.com", "UNKNOWN", &second).await, "EUSER_EXISTS");
        let (status, refused) = body(app.complete(&second, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(refused["code"], "USER_EXISTS");
    }

    async fn malformed_fields_are_invalid_input_naming_the_field(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (req, field) in [
            (json!({ "email": "not-an-email", "token": "x" }), "email"),
            (json!({ "email": "jane@example.com", "token": "x", "tenant_type": "GOLD" }), "tenant_type"),
            (json!({ "email": "jane@example.com" }), "token"),
            (json!({ "email": "jane@example.com", "token": "x".repeat(1025) }), "token"),
            (json!({ "email": format!("{}@example.com", "a".repeat(1020)), "token": "x" }), "email"),
        ] {
            let (status, answer) = body(app.post_json(VALIDATE, &req).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{req}");
            assert_eq!(answer["code"], "INVALID_INPUT");
            assert_eq!(answer["field"], field, "{answer}");
        }
    }
}
