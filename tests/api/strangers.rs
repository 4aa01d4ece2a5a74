//! What a stranger with nothing but an HTTP client must not be able to do to
//! someone else: take their address for good, read what the operator reads,
//! or post forms from another site through their visitors' browsers.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const FORM: &str = "application/x-www-form-urlencoded";
const SIGNUP_USER: &str = "/api/users/signupUser";
const VALIDATE: &str = "/no_auth/login/validate_registration";
const SEND_PASSWORD: &str = "/no_auth/send_password_email";

async fn strangers_developer_signup(app: &TestApp, email: &str) {
    let form = format!("firstName=Eve&lastName=Stranger&emailAddress={}", email.replace('@', "%40"));
    let r = app.client.post(app.url(SIGNUP_USER)).header("content-type", FORM).body(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.drain_outbox().await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    conn.fetch_one::<(i64,)>(sql, &[]).await.unwrap().0
}

on_each_backend! {
    async fn a_strangers_developer_signup_with_my_address_does_not_stop_my_tenant_signup(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        strangers_developer_signup(&app, "jane@example.com").await;
        assert_eq!(app.mail_to("jane@example.com").await.len(), 1, "the activation code went to the owner's mailbox");

        // The owner's own tenant signup gets a signup link, not "you already have an account".
        let token = app.signup_token("acme", "jane@example.com").await;
        let mail = app.mail_to("jane@example.com").await;
        assert!(mail[1]["text"].as_str().unwrap().contains("/signup?token="), "{}", mail[1]["text"]);
        let (_, answer) = body(app.post_json(VALIDATE, &json!({ "email": "jane@example.com", "token": token })).await).await;
        assert_eq!(answer["err"], "ETOKEN_OK", "{answer}");
        let (status, answer) = body(app.complete(&token, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::OK, "{answer}");

        // Nobody proved the developer's mailbox, so it has no password to reset: no password email for it.
        let ask = json!({ "cname": "default", "email": "jane@example.com" });
        assert_eq!(app.post_json(SEND_PASSWORD, &ask).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        assert_eq!(app.mail_to("jane@example.com").await.len(), 2);
    }

    async fn a_repeated_developer_signup_before_activation_takes_the_newest_name(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        strangers_developer_signup(&app, "jane@example.com").await;
        app.clock.advance(Duration::from_secs(120));
        let form = "firstName=Jane&lastName=Saoirse&emailAddress=jane%40example.com";
        let r = app.client.post(app.url(SIGNUP_USER)).header("content-type", FORM).body(form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let text = mail[1]["text"].as_str().unwrap();
        assert!(text.contains("Jane") && !text.contains("Eve"), "{text}");
    }

    async fn unactivated_developers_and_signups_never_completed_are_pruned_after_their_period(backend: Backend) {
        let app = TestApp::spawn_with_worker(backend, &[]).await;
        strangers_developer_signup(&app, "jane@example.com").await;
        assert_eq!(app.signup("acme", "joe@example.com").await.status(), StatusCode::OK);
        app.drain_outbox().await;
        // An activated developer and a completed signup stay.
        let token = app.signup_token("globex", "ann@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        const UNVERIFIED: &str = "SELECT COUNT(*) FROM users WHERE verified_at IS NULL";
        const PENDING_SIGNUPS: &str = "SELECT COUNT(*) FROM signups WHERE state = 'pending'";
        assert_eq!((count(&app, UNVERIFIED).await, count(&app, PENDING_SIGNUPS).await), (1, 1));

        app.clock.advance(Duration::from_secs(29 * 86_400));
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(count(&app, UNVERIFIED).await, 1, "not before its 30 days");
        app.clock.advance(Duration::from_secs(2 * 86_400));
        for sql in [UNVERIFIED, PENDING_SIGNUPS] {
            eventually(&format!("the prune step empties `{sql}`"), Duration::from_secs(10), async || {
                (count(&app, sql).await == 0).then_some(())
            })
            .await;
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 1, "the verified user stays");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM signups").await, 1, "the completed signup stays");
    }
}

/// GETs `path` from this host, as a proxy on this host would forward a client's request.
async fn get_as(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

on_each_backend! {
    async fn metrics_and_the_dev_mailbox_answer_no_client_a_proxy_speaks_for(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("trusted_proxies", "127.0.0.1/32")]).await;
        assert_eq!(app.post_json(SEND_PASSWORD, &json!({ "cname": "acme", "email": "nobody@example.com" })).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        for path in ["/metrics", "/dev/mail", "/dev/mail.json"] {
            assert_eq!(get_as(&app, path, &[]).await, StatusCode::OK, "{path} from this host");
            assert_eq!(get_as(&app, path, &[("x-forwarded-for", "127.0.0.1")]).await, StatusCode::OK, "{path} for this host");
            for (name, value) in [
                ("x-forwarded-for", "203.0.113.9"),
                ("x-forwarded-for", "203.0.113.9, 127.0.0.1"),
                ("x-real-ip", "203.0.113.9"),
                ("forwarded", "for=203.0.113.9"),
            ] {
                assert_eq!(get_as(&app, path, &[(name, value)]).await, StatusCode::NOT_FOUND, "{path} with {name}: {value}");
            }
        }
        // Health stays public: load balancers probe it from elsewhere.
        assert_eq!(get_as(&app, "/readyz", &[("x-forwarded-for", "203.0.113.9")]).await, StatusCode::OK);
    }

    async fn on_a_management_listener_metrics_and_the_dev_mailbox_answer_whoever_reaches_it(backend: Backend) {
        // An operator binds it to a private network for Prometheus: what reaches it is meant to.
        let app = TestApp::spawn_with(backend, &[("trusted_proxies", "127.0.0.1/32"), ("management_listen", "127.0.0.1:0")]).await;
        for path in ["/metrics", "/dev/mail.json"] {
            let r = app.client.get(app.management_url(path)).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let port = app.management_url("").rsplit(':').next().unwrap().to_owned();
            let r = app.client.get(app.management_url(path)).header("host", format!("10.1.2.3:{port}")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path} named by a private address");
            let r = app.client.get(app.management_url(path)).header("host", "evil.example").send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path} named by a stranger's name: a page rebinding it reads nothing");
        }
    }

    async fn with_the_dev_mailbox_on_only_this_servers_names_are_answered(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("tenancy_base_domain", "portal.example")]).await;
        let port = app.address.rsplit(':').next().unwrap().to_owned();
        for host in [format!("evil.example:{port}"), "127.0.0.1.evil.example".to_owned(), "portal.example.evil".to_owned()] {
            let status = get_as(&app, "/dev/mail.json", &[("host", &host)]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "a page rebinding {host} to this host reads nothing");
        }
        for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}"), "acme.portal.example".to_owned()] {
            assert_eq!(get_as(&app, "/dev/mail.json", &[("host", &host)]).await, StatusCode::OK, "{host}");
        }
    }

    async fn with_no_dev_mailbox_any_host_name_is_answered(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("mail_transport", "file")]).await;
        assert_eq!(get_as(&app, "/healthz", &[("host", "usher.internal.example")]).await, StatusCode::OK);
    }
}

async fn post_form_from(app: &TestApp, path: &str, form: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app.client.post(app.url(path)).header("content-type", FORM).body(form.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

async fn post_json_from(app: &TestApp, path: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app.client.post(app.url(path)).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

const CROSS_SITE: [&[(&str, &str)]; 3] = [
    &[("origin", "https://evil.example")],
    &[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
    &[("sec-fetch-site", "same-site")],
];

on_each_backend! {
    async fn another_sites_page_cannot_make_its_visitors_sign_up_addresses(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let form = "firstName=Jane&lastName=Doe&emailAddress=jane%40example.com";
        for headers in CROSS_SITE {
            assert_eq!(post_form_from(&app, SIGNUP_USER, form, headers).await, StatusCode::FORBIDDEN, "{headers:?}");
            let signup = signup_body("acme", "jane@example.com");
            let status = post_json_from(&app, "/no_auth/namespaces/system/f5xc-saas/signup", &signup, headers).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
            let ask = json!({ "cname": "acme", "email": "jane@example.com" });
            assert_eq!(post_json_from(&app, SEND_PASSWORD, &ask, headers).await, StatusCode::FORBIDDEN, "{headers:?}");
        }
        app.drain_outbox().await;
        assert!(app.outbox().await.is_empty(), "nothing was asked for");

        // API clients send neither header; usher's own pages are same-origin.
        assert_eq!(post_form_from(&app, SIGNUP_USER, form, &[]).await, StatusCode::OK);
        let own = [("origin", app.address.as_str()), ("sec-fetch-site", "same-origin")];
        let ask = json!({ "cname": "acme", "email": "joe@example.com" });
        assert_eq!(post_json_from(&app, SEND_PASSWORD, &ask, &own).await, StatusCode::OK);
    }

    async fn the_developer_portals_own_origin_may_post_when_allowed(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("allowed_origins", "https://portal.example.com")]).await;
        let form = "firstName=Jane&lastName=Doe&emailAddress=jane%40example.com";
        let portal = [("origin", "https://portal.example.com"), ("sec-fetch-site", "cross-site")];
        assert_eq!(post_form_from(&app, SIGNUP_USER, form, &portal).await, StatusCode::OK);
        assert_eq!(post_form_from(&app, SIGNUP_USER, form, CROSS_SITE[1]).await, StatusCode::FORBIDDEN);
        let other_port = [("origin", "https://portal.example.com:8443")];
        assert_eq!(post_form_from(&app, SIGNUP_USER, form, &other_port).await, StatusCode::FORBIDDEN, "an origin is scheme, host and port");
    }

    async fn a_form_token_expires_and_passes_only_the_form_it_came_with(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("signup_link_ttl", "1d")]).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let post = |cookie: String, csrf: String| {
            let form = [("token", token.clone()), ("csrf", csrf), ("password", STRONG_PASSWORD.to_owned())];
            app.client.post(app.url("/signup")).header("cookie", cookie).form(&form).send()
        };
        // A token and cookie taken from the developer signup form do not pass the signup page's form.
        let (cookie, csrf) = form_with_cookie(&app, "/signup/developer").await;
        assert_eq!(post(cookie, csrf).await.unwrap().status(), StatusCode::FORBIDDEN);
        // Nor does the page's own, once it is older than two hours.
        let (cookie, csrf) = form_with_cookie(&app, &format!("/signup?token={token}")).await;
        app.clock.advance(Duration::from_secs(2 * 3600 + 1));
        assert_eq!(post(cookie, csrf).await.unwrap().status(), StatusCode::FORBIDDEN);
        let (cookie, csrf) = form_with_cookie(&app, &format!("/signup?token={token}")).await;
        assert_eq!(post(cookie, csrf).await.unwrap().status(), StatusCode::OK, "a fresh page's form passes");
    }

    async fn behind_https_the_form_cookie_is_a_host_only_secure_cookie(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("public_url", "https://signup.example.com")]).await;
        let r = app.get("/signup/developer").await;
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.starts_with("__Host-usher_csrf=") && set.contains("; Secure") && set.contains("Path=/"), "{set}");
        assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    }
}
