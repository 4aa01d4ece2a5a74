//! The Akana developer self-signup in the other shapes Akana's own documents show its clients
//! sending: the JSON User object, 8.4's PascalCase `completeSignup`, the
//! older query-parameter `completeSignup`, field names in any case, and
//! jQuery's q-valued `Accept` list.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FORM: &str = "application/x-www-form-urlencoded; charset=UTF-8";
/// What jQuery sends, and what Akana's samples show.
const JQUERY_ACCEPT: &str = "application/json, text/javascript, */*; q=0.01";

async fn post(app: &TestApp, path: &str, accept: &str, content_type: Option<&str>, body: String) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).header("accept", accept).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.unwrap()
}

async fn post_json(app: &TestApp, path: &str, accept: &str, body: &Value) -> reqwest::Response {
    post(app, path, accept, Some("application/json"), body.to_string()).await
}

/// The activation code of the `n`-th (from 1) email to `to`.
async fn code(app: &TestApp, to: &str, n: usize) -> String {
    let mail = app.wait_for_mail(to, n).await;
    assert!(link_in(&mail[n - 1]["text"]).contains("/activate?signupCode="));
    token_in(&mail[n - 1]["text"])
}

async fn state_of(app: &TestApp, email: &str) -> String {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let user = usher::store::users::user_by_cname_and_email(&mut conn, "default", email).await.unwrap().expect("the user exists");
    user.state.as_str().to_owned()
}

/// 8.4's `completeSignup` body, as Akana's document shows it.
fn complete_signup_84(code: &str, email: &str) -> Value {
    json!({
        "FirstName": "Jane", "LastName": "Mead", "EmailAddress": email, "Password": STRONG_PASSWORD, "SignupCode": code,
        "CountryCode": "+1", "PhoneNumber": "1234567888", "SignupAgreementsAccepted": true,
        "classifiers": { "name": [""], "status": ["Initial"], "pii": ["true"], "api-layer": ["Business"] },
        "artifacts": { "wiki-site": [""] }
    })
}

on_each_backend! {
    async fn a_user_object_signup_a_jquery_verify_and_a_pascal_case_complete_activate_the_developer(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let user = json!({ "FirstName": "Jane", "LastName": "Mead", "Email": "janemead@acmepaymentscorp.com", "Phone": "+1 555 0100", "Password": "chosen-at-signup-77" });
        let r = post_json(&app, "/api/users/signupUser", JQUERY_ACCEPT, &user).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.text().await.unwrap(), "");
        let code = code(&app, "janemead@acmepaymentscorp.com", 1).await;

        let r = post(&app, "/api/users/verifySignup", JQUERY_ACCEPT, Some("application/x-www-form-urlencoded"), format!("signupCode={code}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(
            body(r).await.1,
            json!({
                "emailAddress": "janemead@acmepaymentscorp.com", "firstName": "Jane", "lastName": "Mead", "domainName": "default",
                "expired": false, "state": "pending", "signupStatus": "PENDING_COMPLETION", "status": "PENDING_COMPLETION"
            })
        );

        let r = post_json(&app, "/api/users/completeSignup", JQUERY_ACCEPT, &complete_signup_84(&code, "janemead@acmepaymentscorp.com")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(state_of(&app, "janemead@acmepaymentscorp.com").await, "active");
    }

    async fn the_older_complete_signup_with_its_fields_in_the_query_and_no_body_activates(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = post(&app, "/api/users/signupUser", "*/*", Some(FORM), "firstName=Margaret&lastName=Doe&emailAddress=margaret%40example.com".into()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let code = code(&app, "margaret@example.com", 1).await;
        // Akana's sample: a form content type and an empty body.
        let path = format!("/api/users/completeSignup?password={STRONG_PASSWORD}&signupCode={code}");
        let r = post(&app, &path, "*/*", Some(FORM), String::new()).await;
        assert_eq!((r.status(), r.headers()["cache-control"].to_str().unwrap()), (StatusCode::OK, "no-cache"));
        assert_eq!(state_of(&app, "margaret@example.com").await, "active");

        let (status, again) = body(post(&app, &path, "*/*", None, String::new()).await).await;
        assert_eq!((status, again["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_USED")), "no content type is needed without a body");
    }

    async fn field_names_are_matched_whatever_their_case_in_forms_and_json(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = post(&app, "/api/users/signupUser", "*/*", Some(FORM), "FIRSTNAME=Kim&LastName=Lee&EmailAddress=kim%40example.com".into()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let code = code(&app, "kim@example.com", 1).await;
        let r = post_json(&app, "/api/users/verifySignup", "application/vnd.soa.v81+json", &json!({ "SignupCode": code })).await;
        assert_eq!(r.headers()["content-type"], "application/vnd.soa.v81+json");
        assert_eq!(body(r).await.1["emailAddress"], "kim@example.com");
        let r = post(&app, "/api/users/completeSignup", "*/*", Some(FORM), format!("SIGNUPCODE={code}&Password={STRONG_PASSWORD}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(state_of(&app, "kim@example.com").await, "active");
    }

    async fn a_field_spelt_twice_with_different_values_is_refused_and_nothing_is_mailed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let user = json!({ "FirstName": "Jane", "LastName": "Mead", "Email": "a@example.com", "EmailAddress": "b@example.com" });
        let (status, answer) = body(post_json(&app, "/api/users/signupUser", "*/*", &user).await).await;
        assert_eq!((status, answer["code"].as_str(), answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"), Some("emailAddress")));
        let (status, answer) = body(post_json(&app, "/api/users/resendActivation", "*/*", &json!({ "EmailAddress": ["a@example.com"] })).await).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("emailAddress")), "{answer}");
        app.drain_outbox().await;
        assert!(app.outbox().await.is_empty());
    }

    async fn accept_lists_are_negotiated_by_quality_and_only_an_unacceptable_one_is_406(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // A stranger's address each time: the per-recipient limit counts strangers too.
        let resend = |accept: &'static str, n: usize| post(&app, "/api/users/resendActivation", accept, Some(FORM), format!("emailAddress=nobody{n}%40example.com"));
        for (n, (accept, answered_as)) in [
            (JQUERY_ACCEPT, "application/json"),
            ("text/html, application/vnd.soa.v80+json;q=0.5, application/vnd.soa.v72+json;q=0.9", "application/vnd.soa.v72+json"),
            ("*/*;q=0.1, application/vnd.soa.v71+json", "application/vnd.soa.v71+json"),
            ("application/json;q=0, application/*;q=0.2", "application/vnd.soa.v71+json"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = resend(accept, n).await;
            assert_eq!(r.status(), StatusCode::OK, "{accept}");
            assert_eq!(r.headers()["content-type"], answered_as, "{accept}");
        }
        for accept in ["application/json;q=0", "text/html, text/javascript;q=0.5", "*/*;q=0"] {
            let (status, answer) = body(resend(accept, 0).await).await;
            assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_ACCEPTABLE, Some("NOT_ACCEPTABLE")), "{accept}");
        }
    }
}
