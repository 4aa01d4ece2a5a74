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

/// The page after the signup and the signup's link opened again, as a person sees them.
async fn welcome_and_completed_pages(app: &TestApp) -> (String, String) {
    let token = app.signup_token("acme", "jane@example.com").await;
    let (cookie, csrf) = form_with_cookie(app, &format!("/signup?token={token}")).await;
    let form = [("token", token.as_str()), ("csrf", csrf.as_str()), ("password", STRONG_PASSWORD)];
    let r = app.client.post(app.url("/signup")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let welcome = unescape(r.text().await.unwrap());
    let completed = unescape(app.get(&format!("/signup?token={token}")).await.text().await.unwrap());
    (welcome, completed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_console_url_the_pages_link_to_no_console_and_offer_the_next_step_instead() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (welcome, completed) = welcome_and_completed_pages(&app).await;
    for page in [&welcome, &completed] {
        assert!(!page.contains("/console/") && !page.contains("Go to your console"), "{page}");
        assert!(page.contains("href=\"/password/forgot?cname=acme&email=jane%40example.com\""), "the next step, filled in: {page}");
    }
    assert!(welcome.contains("Your account is ready"), "{welcome}");

    let app = TestApp::spawn_with(Backend::Sqlite, &[("console_url", "https://console.example.com/t/{cname}")]).await;
    let (welcome, completed) = welcome_and_completed_pages(&app).await;
    for page in [&welcome, &completed] {
        assert!(page.contains("href=\"https://console.example.com/t/acme\""), "{page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_over_the_client_limit_reads_a_page_saying_when_to_try_again_while_the_api_answers_json() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("limit_client_per_minute", "2")]).await;
    for _ in 0..2 {
        assert_eq!(app.get("/signup/tenant").await.status(), StatusCode::OK);
    }
    let r = app.get("/signup/tenant").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.headers().contains_key("retry-after"), "for browsers and proxies, not for the reader");
    let html = r.text().await.unwrap();
    assert!(html.contains("Try again in ") && (html.contains("seconds") || html.contains("minute")), "{html}");
    for word in ["Retry-After", "429", "{\"code\""] {
        assert!(!html.contains(word), "{word}: {html}");
    }
    let (status, answer) = body(app.post_json("/no_auth/send_password_email", &serde_json::json!({})).await).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_REQUESTS")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_from_another_site_is_refused_with_a_page_and_the_api_with_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cross = |path: &str| {
        app.client
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .form(&[("domain", "acme")])
    };
    let r = cross("/signup/tenant").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = unescape(r.text().await.unwrap());
    assert!(html.contains("This form came from another website") && html.contains("href=\"/signup/tenant\""), "{html}");
    let r = cross("/no_auth/send_password_email").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "PERMISSION_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mailbox_says_when_each_message_was_sent_for_people_in_the_pages_language() {
    const ENGLISH: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    const GERMAN: [&str; 12] =
        ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"];
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.signup_token("acme", "jane@example.com").await;
    for (lang, months, day_end) in [("en", ENGLISH, ""), ("de", GERMAN, ".")] {
        let r = app.client.get(app.url("/dev/mail")).header("accept-language", lang).send().await.unwrap();
        let html = r.text().await.unwrap();
        let sent = html.split("<time datetime=\"").nth(1).expect("a time").split('"').next().unwrap().to_owned();
        let at = jiff::tz::TimeZone::UTC.to_datetime(sent.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{sent}: {e}")));
        let month = months[usize::try_from(at.month()).unwrap() - 1];
        let said = format!("{}{day_end} {month} {}, {:02}:{:02} UTC", at.day(), at.year(), at.hour(), at.minute());
        assert!(html.contains(&format!("\">{said}</time>")), "{lang}: {said}: {html}");
    }
}
