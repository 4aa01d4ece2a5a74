//! The pages a person sees behind the links (HTTP level; no JavaScript needed).

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;

on_each_backend! {
    async fn the_signup_link_opens_a_form_that_completes_the_signup(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let (cookie, csrf) = form_with_cookie(&app, &format!("/signup?token={token}")).await;

        let form = [("token", token.as_str()), ("csrf", csrf.as_str()), ("password", STRONG_PASSWORD)];
        let forged = app.client.post(app.url("/signup")).form(&form).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a POST without the cookie is refused");

        let r = app.client.post(app.url("/signup")).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Welcome aboard"));
    }

    async fn an_expired_signup_link_offers_a_new_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        app.clock.advance(std::time::Duration::from_secs(25 * 3600));
        let (cookie, csrf) = form_with_cookie(&app, &format!("/signup?token={token}")).await;
        let form = [("token", token.as_str()), ("csrf", csrf.as_str())];
        let r = app.client.post(app.url("/signup/resend")).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Check your email"));
        app.wait_for_mail("jane@example.com", 2).await;
    }

    async fn the_password_link_opens_a_form_that_sets_the_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, None).await.status(), StatusCode::OK);
        let password_token = token_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
        let (cookie, csrf) = form_with_cookie(&app, &format!("/password?token={password_token}")).await;
        let form = [("token", password_token.as_str()), ("csrf", csrf.as_str()), ("password", "weak")];
        let r = app.client.post(app.url("/password")).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a weak password shows the form again");
        let form = [("token", password_token.as_str()), ("csrf", csrf.as_str()), ("password", STRONG_PASSWORD)];
        let r = app.client.post(app.url("/password")).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Password set"));
    }
}

/// Cookie flags do not depend on the backend: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_cookie_is_secure_exactly_when_usher_is_reached_over_https() {
    let flags = async |public_url: Option<&str>| {
        let app = match public_url {
            Some(url) => TestApp::spawn_with(Backend::Sqlite, &[("public_url", url)]).await,
            None => TestApp::spawn(Backend::Sqlite).await,
        };
        let r = app.get("/signup/tenant").await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        cookie.split(';').skip(1).map(|f| f.trim().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(flags(Some("https://signup.example.com")).await, ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"]);
    assert_eq!(flags(None).await, ["Path=/", "HttpOnly", "SameSite=Strict"], "plain HTTP (development) keeps the cookie usable");
}
