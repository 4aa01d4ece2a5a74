//! The Akana developer self-signup, in the shapes of Akana's users API
//! documents (signupUser, verifySignup, completeSignup, resendActivation).

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const FORM: &str = "application/x-www-form-urlencoded; charset=UTF-8";

async fn form(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    app.client.post(app.url(path)).header("accept", "*/*").header("content-type", FORM).body(body.to_owned()).send().await.unwrap()
}

async fn signup_user(app: &TestApp, email: &str) -> reqwest::Response {
    form(app, "/api/users/signupUser", &format!("firstName=Jane&lastName=Saoirse&emailAddress={}", email.replace('@', "%40"))).await
}

fn code_in(mail: &Value) -> String {
    let link = link_in(&mail["text"]);
    assert!(link.contains("/activate?signupCode="), "{link}");
    token_in(&mail["text"])
}

on_each_backend! {
    async fn a_developer_signs_up_verifies_the_emailed_code_and_completes_with_a_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = signup_user(&app, "jane.saoirse@acmepaymentscorp.com").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(r.text().await.unwrap(), "", "no body");

        let mail = app.wait_for_mail("jane.saoirse@acmepaymentscorp.com", 1).await;
        assert_eq!(mail[0]["subject"], "Activate your developer account");
        let code = code_in(&mail[0]);

        let r = form(&app, "/api/users/verifySignup", &format!("signupCode={code}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let answer = body(r).await.1;
        assert_eq!((answer["emailAddress"].as_str(), answer["status"].as_str()), (Some("jane.saoirse@acmepaymentscorp.com"), Some("PENDING_COMPLETION")));

        let r = form(&app, "/api/users/completeSignup", &format!("signupCode={code}&password={STRONG_PASSWORD}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await.unwrap(), "");
        let mut conn = app.ctx.store.acquire().await.unwrap();
        let user = usher::store::users::user_by_cname_and_email(&mut conn, "default", "jane.saoirse@acmepaymentscorp.com").await.unwrap().unwrap();
        assert_eq!(user.state, "active", "the default tenant was created on first use and the user is active");

        let r = form(&app, "/api/users/completeSignup", &format!("signupCode={code}&password={STRONG_PASSWORD}")).await;
        assert_eq!(body(r).await.1["code"], "TOKEN_USED");
    }

    async fn the_seed_sample_request_works_byte_for_byte(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(signup_user(&app, "jane.saoirse@acmepaymentscorp.com").await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(61));
        let r = app
            .client
            .post(app.url("/api/users/resendActivation"))
            .header("Accept", "*/*")
            .header("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
            .body("emailAddress=jane.saoirse@acmepaymentscorp.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(r.text().await.unwrap(), "");
        app.wait_for_mail("jane.saoirse@acmepaymentscorp.com", 2).await;
    }

    async fn json_bodies_and_vendor_media_types_are_accepted(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = app
            .client
            .post(app.url("/api/users/signupUser"))
            .header("accept", "application/vnd.soa.v81+json")
            .json(&json!({ "firstName": "Jane", "lastName": "Saoirse", "emailAddress": "jane@example.com", "phone": "+1 555 0100" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/vnd.soa.v81+json");
        let code = code_in(&app.wait_for_mail("jane@example.com", 1).await[0]);
        let r = app.client.post(app.url("/api/users/verifySignup")).header("accept", "application/vnd.soa.v72+json").json(&json!({ "signupCode": code })).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/vnd.soa.v72+json");
        assert_eq!(body(r).await.1["emailAddress"], "jane@example.com");
    }

    async fn every_refusal_has_its_status(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, answer) = body(form(&app, "/api/users/resendActivation", "").await).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("emailAddress")));
        let (status, answer) = body(form(&app, "/api/users/signupUser", "firstName=Jane&emailAddress=jane%40example.com").await).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("lastName")));
        let (status, answer) = body(form(&app, "/api/users/verifySignup", "signupCode=").await).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("signupCode")));
        let (status, answer) = body(form(&app, "/api/users/verifySignup", "signupCode=garbage").await).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_INVALID")));

        for path in ["/api/users/signupUser", "/api/users/verifySignup", "/api/users/completeSignup", "/api/users/resendActivation"] {
            for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
                let r = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert_eq!(r.headers()["allow"], "POST");
            }
        }

        let r = app.client.post(app.url("/api/users/resendActivation")).header("accept", "text/html").header("content-type", FORM).body("emailAddress=jane%40example.com").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(body(r).await.1["code"], "NOT_ACCEPTABLE");
        let r = app.client.post(app.url("/api/users/resendActivation")).header("content-type", "text/plain").body("emailAddress=jane%40example.com").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        assert_eq!(form(&app, "/api/users/resendActivation", "emailAddress=jane%40example.com").await.status(), StatusCode::OK);
        let r = form(&app, "/api/users/resendActivation", "emailAddress=jane%40example.com").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
    }

    async fn known_unknown_and_registered_addresses_get_identical_answers(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(signup_user(&app, "pending@example.com").await.status(), StatusCode::OK);
        assert_eq!(signup_user(&app, "active@example.com").await.status(), StatusCode::OK);
        let code = code_in(&app.wait_for_mail("active@example.com", 1).await[0]);
        assert_eq!(form(&app, "/api/users/completeSignup", &format!("signupCode={code}&password={STRONG_PASSWORD}")).await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(61));

        for path in ["/api/users/resendActivation", "/api/users/signupUser"] {
            let mut answers = Vec::new();
            for email in ["pending@example.com", "active@example.com", "stranger@example.com"] {
                let r = form(&app, path, &format!("firstName=A&lastName=B&emailAddress={}", email.replace('@', "%40"))).await;
                answers.push(observable(r).await);
            }
            assert!(answers.windows(2).all(|w| w[0] == w[1]), "{path}: {answers:#?}");
            app.clock.advance(Duration::from_secs(61));
        }
        let to_active = app.wait_for_mail("active@example.com", 3).await;
        assert!(to_active[1..].iter().all(|m| m["subject"] == "You already have an account"), "{to_active:#?}");
        assert!(to_active[1..].iter().all(|m| !m["text"].as_str().unwrap().contains("signupCode")));
    }

    async fn a_resent_code_supersedes_the_earlier_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(signup_user(&app, "jane@example.com").await.status(), StatusCode::OK);
        // Wait for each email before asking for the next: two queued together
        // are sent concurrently and may reach the mailbox in either order.
        let old = code_in(&app.wait_for_mail("jane@example.com", 1).await[0]);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(form(&app, "/api/users/resendActivation", "emailAddress=jane%40example.com").await.status(), StatusCode::OK);
        let new = code_in(&app.wait_for_mail("jane@example.com", 2).await[1]);
        let (status, answer) = body(form(&app, "/api/users/completeSignup", &format!("signupCode={old}&password={STRONG_PASSWORD}")).await).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_SUPERSEDED")));
        assert_eq!(form(&app, "/api/users/completeSignup", &format!("signupCode={new}&password={STRONG_PASSWORD}")).await.status(), StatusCode::OK);
    }

    async fn verifying_an_expired_code_mails_a_fresh_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(signup_user(&app, "jane@example.com").await.status(), StatusCode::OK);
        let old = code_in(&app.wait_for_mail("jane@example.com", 1).await[0]);
        app.clock.advance(Duration::from_secs(24 * 3600 + 1));
        let (status, answer) = body(form(&app, "/api/users/verifySignup", &format!("signupCode={old}")).await).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_EXPIRED")));
        let fresh = code_in(&app.wait_for_mail("jane@example.com", 2).await[1]);
        assert_eq!(form(&app, "/api/users/completeSignup", &format!("signupCode={fresh}&password={STRONG_PASSWORD}")).await.status(), StatusCode::OK);
    }

    async fn opening_the_activation_link_spends_nothing_and_its_form_activates(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(signup_user(&app, "jane@example.com").await.status(), StatusCode::OK);
        let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
        let code = link.split("signupCode=").nth(1).unwrap().to_owned();
        for _ in 0..3 {
            let page = app.client.get(&link).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
        }
        let page = app.client.get(&link).send().await.unwrap();
        let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = page.text().await.unwrap();
        assert!(html.contains("Activate your account"));
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let r = app.client.post(app.url("/activate")).header("cookie", cookie).form(&[("signupCode", code.as_str()), ("csrf", &csrf), ("password", STRONG_PASSWORD)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Your account is active"));
    }

    async fn an_activation_link_opened_while_the_database_cannot_answer_is_503_not_an_invalid_link(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("database_max_connections", "2"), ("database_acquire_timeout", "300ms")]).await;
        assert_eq!(signup_user(&app, "jane@example.com").await.status(), StatusCode::OK);
        let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
        // Every read connection is taken: the page's lookup cannot get one.
        let held = (app.ctx.store.acquire().await.unwrap(), app.ctx.store.acquire().await.unwrap());

        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.headers().contains_key("retry-after"));
        let html = page.text().await.unwrap();
        assert!(html.contains("Please try again shortly") && !html.contains("Retry-After"), "in words for people: {html}");
        assert!(!html.contains("This link does not work"), "{html}");
        let logged = failures_logged("/activate");
        assert_eq!(logged.len(), 1, "logged once, inside the request's span: {logged:?}");
        assert_eq!(logged[0].0, tracing::Level::WARN);
        assert!(logged[0].1.starts_with("taking a read connection: "), "with its context: {logged:?}");

        drop(held);
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Choose a password for"));
    }

    async fn with_a_base_domain_the_host_subdomain_names_the_tenant(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("tenancy_base_domain", "dev.test")]).await;
        let token = app.signup_token("acme", "owner@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        // A tenant made by an F5 signup takes developers only once its operator says so.
        app.ctx.store.write(|conn| Box::pin(async move { usher::store::users::set_developer_signup(conn, "acme", true).await })).await.unwrap();
        let signup = |host: &'static str| {
            app.client
                .post(app.url("/api/users/signupUser"))
                .header("host", host)
                .header("content-type", FORM)
                .body("firstName=Jane&lastName=Saoirse&emailAddress=jane%40example.com")
                .send()
        };
        assert_eq!(signup("acme.dev.test:8080").await.unwrap().status(), StatusCode::OK);
        let (status, answer) = body(signup("nosuch.dev.test").await.unwrap()).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
        app.drain_outbox().await;
        let mut conn = app.ctx.store.acquire().await.unwrap();
        assert!(usher::store::users::user_by_cname_and_email(&mut conn, "acme", "jane@example.com").await.unwrap().is_some());
    }
}
