//! Every error answer is `{"code", "message"}` with the right status.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;

const SIGNUP: &str = "/no_auth/namespaces/system/f5xc-saas/signup";

on_each_backend! {
    async fn a_signup_missing_or_breaking_a_field_is_400_naming_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            ("/user_details/email", json!(null), "email"),
            ("/user_details/email", json!("jane@example"), "email"),
            ("/account_details/domain", json!("Not A Label"), "domain"),
            ("/account_details/domain", json!(null), "domain"),
            ("/user_details/first_name", json!("   "), "first_name"),
            ("/account_details/tos_version", json!(null), "tos_version"),
            ("/tenant_type", json!("PLATINUM"), "tenant_type"),
            ("/account_details/locale", json!("../../etc"), "locale"),
            ("/company_details/mailing_address", json!("a string"), "mailing_address"),
            ("/user_details/email", json!(42), "email"),
        ];
        for (pointer, value, field) in cases {
            let mut req = signup_body("acme", "jane@example.com");
            *req.pointer_mut(pointer).unwrap() = value.clone();
            let (status, answer) = body(app.post_json(SIGNUP, &req).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer} = {value}: {answer}");
            assert_eq!(answer["code"], "INVALID_INPUT");
            assert_eq!(answer["field"], field, "{pointer} = {value}: {answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        assert!(app.outbox().await.is_empty(), "nothing is queued for a refused request");
    }

    async fn unknown_fields_are_ignored(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut req = signup_body("acme", "jane@example.com");
        req["is_admin"] = json!(true);
        req["user_details"]["state"] = json!("active");
        assert_eq!(app.post_json(SIGNUP, &req).await.status(), StatusCode::OK);
    }

    async fn a_body_that_is_not_json_is_415_or_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = app.client.post(app.url(SIGNUP)).header("content-type", "text/plain").body("{}").send().await.unwrap();
        let (status, answer) = body(r).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(answer["code"], "UNSUPPORTED_MEDIA_TYPE");

        let r = app.client.post(app.url(SIGNUP)).header("content-type", "application/json").body("{not json").send().await.unwrap();
        let (status, answer) = body(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["field"], "body");

        let r = app.client.post(app.url(SIGNUP)).header("content-type", "application/json; charset=utf-8").body("[1,2]").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    async fn a_body_over_64_kib_is_413(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut req = signup_body("acme", "jane@example.com");
        req["padding"] = json!("x".repeat(70 * 1024));
        let (status, answer) = body(app.post_json(SIGNUP, &req).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["code"], "PAYLOAD_TOO_LARGE");
    }

    async fn an_unknown_path_is_404_and_a_wrong_method_is_405_with_allow(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, answer) = body(app.get("/no_auth/nothing/here").await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer["code"], "NOT_FOUND");

        let r = app.get(SIGNUP).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["allow"], "POST");
        assert_eq!(body(r).await.1["code"], "METHOD_NOT_ALLOWED");
    }

    async fn no_error_answer_echoes_a_token_or_a_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let forged = format!("{}Z", &token[..token.len() - 1]);
        let (_, a) = body(app.complete(&forged, Some("hunter2hunter2")).await).await;
        let (_, b) = body(app.complete(&token, Some("hunter2hunter2")).await).await;
        for answer in [a, b] {
            let text = answer.to_string();
            assert!(!text.contains("v4.local") && !text.contains("hunter2"), "{text}");
        }
    }
}

/// SQLite's "database is unavailable": another process holds the write lock
/// longer than usher will wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_503_with_retry_after_and_recovers() {
    use sqlx::{Connection, Executor};
    let app = TestApp::spawn_with(Backend::Sqlite, &[("database_acquire_timeout", "300ms")]).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
    holder.execute("BEGIN EXCLUSIVE").await.unwrap();

    let r = app.signup("acme", "jane@example.com").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let answer = body(r).await.1;
    assert_eq!(answer["code"], "UNAVAILABLE");
    assert!(!answer.to_string().to_lowercase().contains("sqlite"), "{answer}");

    holder.execute("ROLLBACK").await.unwrap();
    assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
}
