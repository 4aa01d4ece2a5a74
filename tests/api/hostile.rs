//! The threat model of SECURITY.md, each test written as the attack it is: what an
//! anonymous caller could do to someone else's account, tenant or mailbox.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const SEND_PASSWORD: &str = "/no_auth/send_password_email";
const ADMIN_RESET: &str = "/api/web/custom/password/admin_reset";
const VERIFY: &str = "/api/web/custom/namespaces/system/verify_password";
const FORM: &str = "application/x-www-form-urlencoded";

/// Tenant `acme` with the active user jane@example.com, and an admin token of acme.
async fn acme_with_jane(app: &TestApp) -> String {
    let token = app.signup_token("acme", "jane@example.com").await;
    assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    create_token(&app.ctx.store, app.clock.now_ms(), &Cname::parse("t", "acme").unwrap(), Role::Admin).await.unwrap().1
}

async fn admin(app: &TestApp, secret: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app.client.post(app.url(path)).header("authorization", format!("APIToken {secret}")).json(&body).send().await.unwrap();
    crate::helpers::body(r).await
}

async fn verifies(app: &TestApp, secret: &str, password: &str, client: Option<&str>) -> bool {
    let mut req = json!({ "email": "jane@example.com", "password": password, "namespace": "system" });
    if let Some(c) = client {
        req["client_address"] = json!(c);
    }
    let (status, answer) = admin(app, secret, VERIFY, req).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["valid"].as_bool().unwrap()
}

/// Sets a password with the live one of the `mails` password links jane
/// has (the newest supersedes the rest; on PostgreSQL a batch is delivered
/// concurrently, so the mailbox's order need not be minting order).
async fn set_password_from_live_link(app: &TestApp, mails: usize, password: &str) {
    app.drain_outbox().await;
    let mail = app.wait_for_mail("jane@example.com", mails).await;
    for m in mail.iter().rev().filter(|m| m["text"].as_str().unwrap().contains("/password?token=")) {
        let set = json!({ "token": token_in(&m["text"]), "password": password });
        let (status, answer) = body(app.post_json("/no_auth/password/set", &set).await).await;
        if status == StatusCode::OK {
            return;
        }
        assert_eq!(answer["code"], "TOKEN_SUPERSEDED", "{answer}");
    }
    panic!("no live password link among {mails} mails");
}

on_each_backend! {
    // Limits that cannot be turned against the user.
    async fn ten_anonymous_password_emails_do_not_stop_the_admins_reset(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let secret = acme_with_jane(&app).await;
        let ask = json!({ "cname": "acme", "email": "jane@example.com" });
        for _ in 0..10 {
            assert_eq!(app.post_json(SEND_PASSWORD, &ask).await.status(), StatusCode::OK);
            app.clock.advance(Duration::from_secs(61));
        }
        let r = app.post_json(SEND_PASSWORD, &ask).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the anonymous daily cap is spent");

        let (status, answer) = admin(&app, &secret, ADMIN_RESET, json!({ "email": "jane@example.com" })).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({})), "the admin's reset is not refused by what strangers spent");
        set_password_from_live_link(&app, 12, "another-Lantern-quarry-44").await;
        assert!(verifies(&app, &secret, "another-Lantern-quarry-44", None).await);

        // The admin's own bucket is bounded too.
        let (status, _) = admin(&app, &secret, ADMIN_RESET, json!({ "email": "jane@example.com" })).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }

    // Lock-out that protects without locking the owner out.
    async fn ten_wrong_tries_then_a_password_reset_and_the_new_password_verifies(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let secret = acme_with_jane(&app).await;
        for _ in 0..10 {
            assert!(!verifies(&app, &secret, "not-her-password-at-all", None).await);
        }
        assert!(!verifies(&app, &secret, STRONG_PASSWORD, None).await, "locked: even the right password is refused");

        // The owner asks for a password email and sets a new password through it.
        let ask = json!({ "cname": "acme", "email": "jane@example.com" });
        assert_eq!(app.post_json(SEND_PASSWORD, &ask).await.status(), StatusCode::OK);
        set_password_from_live_link(&app, 2, "another-Lantern-quarry-44").await;
        assert!(verifies(&app, &secret, "another-Lantern-quarry-44", None).await, "a new password ends the lock-out");

        // And again through the admin's reset.
        for _ in 0..10 {
            assert!(!verifies(&app, &secret, "not-her-password-at-all", None).await);
        }
        let (status, _) = admin(&app, &secret, ADMIN_RESET, json!({ "email": "jane@example.com" })).await;
        assert_eq!(status, StatusCode::OK);
        set_password_from_live_link(&app, 3, "third-Meadow-lantern-83").await;
        assert!(verifies(&app, &secret, "third-Meadow-lantern-83", None).await);
    }

    async fn wrong_tries_from_one_client_address_lock_out_only_that_address_and_the_cli_unlocks(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let secret = acme_with_jane(&app).await;
        for _ in 0..10 {
            assert!(!verifies(&app, &secret, "not-her-password-at-all", Some("203.0.113.9")).await);
        }
        assert!(!verifies(&app, &secret, STRONG_PASSWORD, Some("203.0.113.9")).await, "the attacker's address is locked");
        assert!(verifies(&app, &secret, STRONG_PASSWORD, Some("198.51.100.7")).await, "the owner, elsewhere, is not");
        let (status, answer) = admin(&app, &secret, VERIFY, json!({ "email": "jane@example.com", "password": "x", "client_address": "nonsense" })).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("client_address")));

        let out = app.usher(&["user", "unlock", "--tenant", "acme", "--email", "jane@example.com"]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
        assert!(verifies(&app, &secret, STRONG_PASSWORD, Some("203.0.113.9")).await, "unlocked by the operator");
    }

    // Tenant boundaries.
    async fn an_akana_signup_under_an_f5_tenants_host_is_refused(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("tenancy_base_domain", "portal.example")]).await;
        let secret = acme_with_jane(&app).await;
        let signup = |host: &'static str| {
            app.client.post(app.url("/api/users/signupUser")).header("host", host).header("content-type", FORM)
                .body("firstName=Eve&lastName=Stranger&emailAddress=eve%40example.com").send()
        };
        let (status, answer) = body(signup("acme.portal.example").await.unwrap()).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "{answer}");
        assert_eq!(signup("portal.example").await.unwrap().status(), StatusCode::OK, "the default developer portal still takes signups");
        app.drain_outbox().await;
        let mut conn = app.ctx.store.acquire().await.unwrap();
        assert!(usher::store::users::user_by_cname_and_email(&mut conn, "acme", "eve@example.com").await.unwrap().is_none());
        let (_, answer) = admin(&app, &secret, VERIFY, json!({ "email": "eve@example.com", "password": STRONG_PASSWORD })).await;
        assert_eq!(answer, json!({ "valid": false }));
    }

    async fn reserved_cnames_and_the_default_tenant_cannot_be_claimed_by_a_signup(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("reserved_cnames", "staff, billing"), ("default_tenant", "developers")]).await;
        for cname in ["default", "www", "api", "admin", "ves", "volterra", "ves-io", "f5xc", "staff", "billing", "developers"] {
            let (status, answer) = body(app.signup(cname, &format!("{cname}@example.com")).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("domain")), "{cname}: {answer}");
        }
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
    }

    // One mailbox, one limit: plus-addressing.
    async fn twenty_plus_addressed_signups_to_one_mailbox_are_limited_as_one_recipient(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut statuses = Vec::new();
        for i in 1..=20 {
            statuses.push(app.signup(&format!("acme{i}"), &format!("victim+{i}@example.com")).await.status());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert!(statuses[1..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
        // Gmail ignores dots, so they are one mailbox too.
        assert_eq!(app.signup("gm1", "jane.doe@gmail.com").await.status(), StatusCode::OK);
        assert_eq!(app.signup("gm2", "j.a.n.e.doe+x@googlemail.com").await.status(), StatusCode::TOO_MANY_REQUESTS);
        app.drain_outbox().await;
        let to_victim = app.outbox().await.iter().filter(|m| m.to.starts_with("victim")).count();
        assert_eq!(to_victim, 1);
    }

    // Text that leaves in mail: names.
    async fn names_with_links_or_direction_overrides_are_refused_and_mail_greets_by_the_name_alone(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for name in ["Jane. URGENT: verify now at https://evil.example", "Jane\u{202E}moc.live", "Jane see evil.example"] {
            let mut req = signup_body("acme", "jane@example.com");
            req["user_details"]["first_name"] = json!(name);
            let (status, answer) = body(app.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &req).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("first_name")), "{name:?}: {answer}");
            let form = format!("firstName={}&lastName=Doe&emailAddress=dev%40example.com", percent(name));
            let r = app.client.post(app.url("/api/users/signupUser")).header("content-type", FORM).body(form).send().await.unwrap();
            assert_eq!(body(r).await.1["field"], "firstName", "{name:?}");
        }
        app.signup_token("acme", "jane@example.com").await;
        let mail = app.mail_to("jane@example.com").await;
        // A name that passed cannot read as a link, so the greeting needs no quotes to fence it off.
        assert!(mail[0]["text"].as_str().unwrap().starts_with("Hello Jane,\n"), "{}", mail[0]["text"]);
    }

    // Input: addresses.
    async fn addresses_outside_rfc_5321_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let long = format!("{}@example.com", "a".repeat(65));
        for email in [".jane@example.com", "jane.@example.com", "ja..ne@example.com", "jane@example..com", long.as_str()] {
            let (status, answer) = body(app.post_json(SEND_PASSWORD, &json!({ "cname": "acme", "email": email })).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("email")), "{email}: {answer}");
        }
    }

    // Input: passwords.
    async fn common_passwords_and_names_with_years_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        // signup_body's person is Jane Saoirse of tenant acme.
        for pw in ["Tr0ub4dor&3", "JaneSaoirse1990!", "SAOIRSE.jane.2024", "Acme2026!!", "Password123!"] {
            let (status, answer) = body(app.complete(&token, Some(pw)).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")), "{pw}: {answer}");
        }
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }

    async fn one_activation_code_replayed_from_many_addresses_gets_ten_tries_a_minute_and_verify_password_keeps_answering(backend: Backend) {
        // Behind a trusted proxy every try names another client, so the per-client limit never applies.
        let app = TestApp::spawn_with(backend, &[("trusted_proxies", "127.0.0.1")]).await;
        let secret = acme_with_jane(&app).await;
        let dev = "dev.saoirse@example.org";
        let signup = format!("firstName=Dev&lastName=Saoirse&emailAddress={}", dev.replace('@', "%40"));
        let r = app.client.post(app.url("/api/users/signupUser")).header("content-type", FORM).body(signup).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let code = token_in(&app.wait_for_mail(dev, 1).await[0]["text"]);
        let complete = |i: usize, password: &str| {
            app.client
                .post(app.url("/api/users/completeSignup"))
                .header("content-type", FORM)
                .header("x-forwarded-for", format!("198.51.{}.{}", i / 250, i % 250 + 1))
                .body(format!("signupCode={code}&password={}", password.replace('&', "%26")))
        };

        // The login service checks a real user's password all along.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checks = tokio::spawn({
            let (client, url, secret, stop) = (app.client.clone(), app.url(VERIFY), secret.clone(), stop.clone());
            async move {
                let mut answers = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({ "email": "jane@example.com", "password": STRONG_PASSWORD, "namespace": "system" });
                    let r = client.post(&url).header("authorization", format!("APIToken {secret}")).json(&body).send().await.unwrap();
                    answers.push(crate::helpers::body(r).await);
                }
                answers
            }
        });

        // A password the policy refuses, after its costliest check (a dictionary word misspelt by a letter).
        let mut statuses = Vec::new();
        for round in 0..15 {
            let mut tries = tokio::task::JoinSet::new();
            for i in 0..8 {
                let req = complete(round * 8 + i, "Tr0ub4dor&3");
                tries.spawn(async move {
                    let r = req.send().await.unwrap();
                    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                    (r.status(), retry_after)
                });
            }
            statuses.extend(tries.join_all().await);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let answers = checks.await.unwrap();

        let refused = statuses.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
        assert!(refused >= 110, "at most ten tries a minute reach the policy: {statuses:?}");
        assert!(statuses.iter().all(|(s, _)| [StatusCode::TOO_MANY_REQUESTS, StatusCode::BAD_REQUEST].contains(s)), "{statuses:?}");
        for (status, retry_after) in &statuses {
            if *status == StatusCode::TOO_MANY_REQUESTS {
                let secs: u64 = retry_after.as_deref().expect("a 429 says when to come back").parse().unwrap();
                assert!((1..=60).contains(&secs), "{secs}");
            }
        }
        assert!(!answers.is_empty());
        for (status, answer) in &answers {
            assert_eq!((*status, answer["valid"].as_bool()), (StatusCode::OK, Some(true)), "{answer}");
        }

        // Past the cap even a good password is refused before any work; a minute later the code works.
        assert_eq!(complete(1000, STRONG_PASSWORD).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(Duration::from_secs(61));
        let r = complete(1001, STRONG_PASSWORD).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }

    async fn a_password_link_and_a_signup_link_each_get_ten_tries_a_minute(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        for _ in 0..10 {
            assert_eq!(app.complete(&token, Some("Tr0ub4dor&3")).await.status(), StatusCode::BAD_REQUEST);
        }
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);

        let ask = json!({ "cname": "acme", "email": "jane@example.com" });
        assert_eq!(app.post_json(SEND_PASSWORD, &ask).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        let mail = app.wait_for_mail("jane@example.com", 1).await;
        let link = mail.iter().find(|m| m["text"].as_str().unwrap().contains("/password?token=")).expect("a password link");
        let token = token_in(&link["text"]);
        let set = |password: &str| json!({ "token": token, "password": password });
        for _ in 0..10 {
            assert_eq!(app.post_json("/no_auth/password/set", &set("Tr0ub4dor&3")).await.status(), StatusCode::BAD_REQUEST);
        }
        let r = app.post_json("/no_auth/password/set", &set(STRONG_PASSWORD)).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.post_json("/no_auth/password/set", &set("another-Lantern-quarry-44")).await.status(), StatusCode::OK);
    }

    async fn a_breached_password_is_refused_when_the_have_i_been_pwned_check_is_on(backend: Backend) {
        let (range_url, asked) = pwned_range_server(&[STRONG_PASSWORD]).await;
        let app = TestApp::spawn_with(backend, &[("password_pwned_url", &range_url)]).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let (status, answer) = body(app.complete(&token, Some(STRONG_PASSWORD)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("breach"), "{answer}");
        assert_eq!(app.complete(&token, Some("another-Lantern-quarry-44")).await.status(), StatusCode::OK);
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2);
        assert!(asked.iter().all(|(prefix, padded)| prefix.len() == 5 && *padded), "only a 5-digit prefix leaves, padded: {asked:?}");
    }

    async fn an_unreachable_have_i_been_pwned_lets_the_password_through(backend: Backend) {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/range/", dead.local_addr().unwrap());
        drop(dead);
        let app = TestApp::spawn_with(backend, &[("password_pwned_url", &url), ("password_pwned_timeout", "500ms")]).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }
}

fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A local server speaking the range API of Pwned Passwords: `GET
/// /range/{5 hex}` answers `SUFFIX:COUNT` lines for `breached`, plus padding
/// lines of count 0. Records each prefix asked and whether padding was asked for.
async fn pwned_range_server(breached: &[&str]) -> (String, Arc<Mutex<Vec<(String, bool)>>>) {
    use sha1::{Digest, Sha1};
    let hashes: Vec<String> = breached.iter().map(|p| Sha1::digest(p.as_bytes()).iter().map(|b| format!("{b:02X}")).collect()).collect();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let app = axum::Router::new().route(
        "/range/{prefix}",
        axum::routing::get(move |axum::extract::Path(prefix): axum::extract::Path<String>, headers: axum::http::HeaderMap| {
            let (hashes, seen) = (hashes.clone(), seen.clone());
            async move {
                seen.lock().unwrap().push((prefix.clone(), headers.get("add-padding").is_some_and(|v| v == "true")));
                let mut lines: Vec<String> = hashes.iter().filter(|h| h.starts_with(&prefix)).map(|h| format!("{}:42", &h[5..])).collect();
                lines.push("0000000000000000000000000000000000A:0".to_owned());
                lines.join("\r\n")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/range/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, asked)
}

on_each_backend! {
    // Pages: CSRF.
    async fn a_page_form_needs_a_server_bound_token_and_a_same_site_origin(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let (cookie, csrf) = form_with_cookie(&app, &format!("/signup?token={token}")).await;
        assert_ne!(cookie, format!("usher_csrf={csrf}"), "the cookie is not the form's token itself");
        let form = [("token", token.as_str()), ("csrf", csrf.as_str()), ("password", STRONG_PASSWORD)];
        let post = |cookie: String, headers: &'static [(&'static str, &'static str)]| {
            let mut req = app.client.post(app.url("/signup")).header("cookie", cookie).form(&form);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send()
        };
        // The old double submit: a cookie the attacker planted, equal to the form's token.
        let planted = post(format!("usher_csrf={csrf}"), &[]).await.unwrap();
        assert_eq!(planted.status(), StatusCode::FORBIDDEN);
        for headers in [&[("origin", "https://evil.example")][..], &[("sec-fetch-site", "cross-site")], &[("origin", "null")]] {
            let r = post(cookie.clone(), headers).await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        }
        let origin = app.address.clone();
        let r = app.client.post(app.url("/signup")).header("cookie", &cookie).header("origin", origin).header("sec-fetch-site", "same-origin").form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    // Pages: headers.
    async fn pages_carry_a_content_security_policy_nosniff_and_no_inline_script_or_style(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        for path in [format!("/signup?token={token}"), "/password?token=x".to_owned(), "/dev/mail".to_owned()] {
            let r = app.get(&path).await;
            let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
            assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
            let html = r.text().await.unwrap();
            assert!(!html.contains("<script") && !html.contains("<style") && !html.contains("style="), "{path}: {html}");
            assert!(html.contains("/assets/usher.css"));
        }
        let css = app.get("/assets/usher.css").await;
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    }

    async fn every_answer_that_names_an_address_or_a_token_is_not_stored_by_caches(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        for path in [format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}"), "/dev/mail".into(), "/dev/mail.json".into()] {
            let r = app.get(&path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        }
        let r = app.post_json(SEND_PASSWORD, &json!({ "cname": "acme", "email": "nobody@" })).await;
        assert_eq!(r.headers()["cache-control"], "no-store", "errors too");
    }

    async fn a_wrong_method_is_405_naming_the_methods_the_path_answers(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (method, path, allow) in [
            (reqwest::Method::POST, "/healthz", "GET,HEAD"),
            (reqwest::Method::DELETE, "/signup", "GET,HEAD,POST"),
            (reqwest::Method::POST, "/no_auth/namespaces/system/f5xc-saas/signup/registration_details", "GET,HEAD"),
            (reqwest::Method::GET, SEND_PASSWORD, "POST"),
        ] {
            let r = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
            assert_eq!(r.headers()["allow"], allow, "{method} {path}");
            let (status, answer) = body(r).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(answer["code"], "METHOD_NOT_ALLOWED");
            assert!(answer["message"].as_str().unwrap().contains(allow), "{answer}");
        }
    }
}

/// `usher serve` as operators run it, its standard error in a file. Killed when dropped.
struct Serving {
    address: String,
    child: std::process::Child,
    log: std::path::PathBuf,
    dir: tempfile::TempDir,
    _db: Option<FreshDatabase>,
}

impl Serving {
    /// `configure` may change the command (umask, environment) or the data directory before it starts.
    async fn start(backend: Backend, env: &[(&str, &str)], configure: impl FnOnce(&mut std::process::Command, &std::path::Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, db) = fresh_database(&backend, dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("usher.log");
        let out = std::fs::File::create(&log).unwrap();
        let keys = usher::tokens::KeyRing::generate_entry("k1").unwrap();
        let mut cmd = serve_command(port, &database_url, &keys, dir.path());
        cmd.env("USHER_MAIL_POLL_INTERVAL", "100ms").envs(env.iter().copied());
        configure(&mut cmd, dir.path());
        let child = cmd.stdin(std::process::Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
        let mut serving = Self { address: format!("http://127.0.0.1:{port}"), child, log, dir, _db: db };
        wait_until_serving(&mut serving.child, &serving.address, &serving.log).await;
        serving
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn post(&self, path: &str, body: &Value) -> StatusCode {
        reqwest::Client::new().post(format!("{}{path}", self.address)).json(body).send().await.unwrap().status()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- usher's log ---\n{}", self.log());
        }
    }
}

/// A relay that asks for `AUTH PLAIN` over plain TCP (mailin offers AUTH only
/// after STARTTLS), accepts every message and keeps what it was sent: each
/// AUTH line and each message as the client wrote it.
async fn relay_with_auth() -> (u16, Arc<Mutex<Vec<String>>>, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (auths, messages) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let (auth_log, message_log) = (auths.clone(), messages.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (auths, messages) = (auth_log.clone(), message_log.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 relay.test ESMTP\r\n").await?;
                while let Some(line) = lines.next_line().await? {
                    let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n",
                        "AUTH" => {
                            auths.lock().unwrap().push(line.clone());
                            b"235 2.7.0 accepted\r\n"
                        }
                        "DATA" => {
                            write.write_all(b"354 go on\r\n").await?;
                            let mut message = String::new();
                            while let Some(l) = lines.next_line().await? {
                                if l == "." {
                                    break;
                                }
                                message.push_str(&l);
                                message.push_str("\r\n");
                            }
                            messages.lock().unwrap().push(message);
                            b"250 2.0.0 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await?;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(answer).await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    (port, auths, messages)
}

/// The token of the link in a raw message's text, quoted-printable undone.
fn token_in_raw(raw: &str) -> String {
    let text = raw.replace("=\r\n", "").replace("=3D", "=");
    let at = text.find("token=").expect("a link with a token") + "token=".len();
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect()
}

on_each_backend! {
    async fn at_trace_level_the_log_holds_no_token_password_or_smtp_credential(backend: Backend) {
        use base64::Engine;
        let (relay, auths, messages) = relay_with_auth().await;
        let smtp_url = format!("smtp://usher-relay:Relay-secret-8842@127.0.0.1:{relay}?tls=none");
        let env = [("RUST_LOG", "trace"), ("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", smtp_url.as_str())];
        let usher = Serving::start(backend, &env, |_, _| {}).await;
        let delivered = async |n: usize| {
            eventually(&format!("the relay has {n} messages"), Duration::from_secs(15), async || {
                let got = messages.lock().unwrap().clone();
                (got.len() >= n).then_some(got)
            })
            .await
        };

        assert_eq!(usher.post("/no_auth/namespaces/system/f5xc-saas/signup", &signup_body("acme", "jane@example.com")).await, StatusCode::OK);
        let signup_token = token_in_raw(&delivered(1).await[0]);
        let r = reqwest::get(format!("{}/signup?token={signup_token}", usher.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the link's page is served, with the token in its address");
        let complete = json!({ "token": signup_token, "password": STRONG_PASSWORD });
        assert_eq!(usher.post("/no_auth/namespaces/system/f5xc-saas/signup/complete", &complete).await, StatusCode::OK);

        assert_eq!(usher.post(SEND_PASSWORD, &json!({ "cname": "acme", "email": "jane@example.com" })).await, StatusCode::OK);
        let password_token = token_in_raw(&delivered(2).await[1]);
        let set = json!({ "token": password_token, "password": "another-Lantern-quarry-44" });
        assert_eq!(usher.post("/no_auth/password/set", &set).await, StatusCode::OK);

        assert!(!auths.lock().unwrap().is_empty(), "usher logged in to the relay");
        let auth_plain = base64::engine::general_purpose::STANDARD.encode("\0usher-relay\0Relay-secret-8842");
        let log = usher.log();
        assert!(log.contains("TRACE") || log.contains("DEBUG"), "the log is at trace level: {log}");
        for (what, secret) in [
            ("the signup token", signup_token.as_str()),
            ("the password token", password_token.as_str()),
            ("the first password", STRONG_PASSWORD),
            ("the second password", "another-Lantern-quarry-44"),
            ("the relay's password", "Relay-secret-8842"),
            ("the AUTH PLAIN exchange", auth_plain.as_str()),
        ] {
            assert!(!log.contains(secret), "the log holds {what}");
        }
        assert!(!log.contains("SMTP credentials are sent unencrypted"), "a relay on this machine is not warned about");
    }
}

/// Mode bits of a file or folder.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The child runs under `umask`, whatever the test runner's.
fn with_umask(cmd: &mut std::process::Command, umask: libc::mode_t) {
    // SAFETY: umask is async-signal-safe and touches nothing the parent shares.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            libc::umask(umask);
            Ok(())
        });
    }
}

on_each_backend! {
    async fn under_umask_022_the_database_the_mail_files_and_the_development_key_are_private(backend: Backend) {
        let sqlite = matches!(backend, Backend::Sqlite);
        let usher = Serving::start(backend, &[("USHER_MAIL_TRANSPORT", "file")], |cmd, dir| {
            with_umask(cmd, 0o022);
            cmd.env("USHER_MAIL_FILE_DIR", dir.join("mail/outgoing")).env_remove("USHER_KEYS");
        })
        .await;
        assert_eq!(usher.post("/no_auth/namespaces/system/f5xc-saas/signup", &signup_body("acme", "jane@example.com")).await, StatusCode::OK);
        let outgoing = usher.dir.path().join("mail/outgoing");
        let eml = eventually("a message is written", Duration::from_secs(15), async || {
            std::fs::read_dir(&outgoing).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "eml"))
        })
        .await;
        assert_eq!(mode(&eml), 0o600, "a message holds a live link");
        assert_eq!((mode(&usher.dir.path().join("mail")), mode(&outgoing)), (0o700, 0o700), "and so do the folders usher made for them");
        assert_eq!(mode(&usher.dir.path().join("usher-dev.keys")), 0o600, "the development key signs every token");
        if sqlite {
            for file in ["usher.db", "usher.db-wal", "usher.db-shm"] {
                assert_eq!(mode(&usher.dir.path().join(file)), 0o600, "{file}");
            }
        }
    }
}

#[tokio::test]
async fn a_database_file_open_to_others_is_closed_to_them_at_start_with_a_warning() {
    let usher = Serving::start(Backend::Sqlite, &[], |cmd, dir| {
        use std::os::unix::fs::PermissionsExt;
        with_umask(cmd, 0o022);
        for (file, bits) in [("usher.db", 0o644), ("usher.db-wal", 0o666)] {
            std::fs::write(dir.join(file), b"").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(bits)).unwrap();
        }
    })
    .await;
    // The group's bits are the operator's choice (a backup user's group); others' are not.
    assert_eq!(mode(&usher.dir.path().join("usher.db")), 0o640);
    // SQLite may have made the log afresh, with the database file's mode.
    assert!([0o640, 0o660].contains(&mode(&usher.dir.path().join("usher.db-wal"))));
    assert!(usher.log().contains("a database file was open to others"), "{}", usher.log());
}

on_each_backend! {
    async fn names_that_a_mail_client_would_link_through_other_dots_ports_or_line_breaks_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for name in [
            "Jane evil.example:443/login",
            "Jane evil\u{3002}example",
            "Jane evil\u{FF0E}example",
            "Jane evil\u{FF61}example",
            "Jane 1.2.3.4:80",
            "Jane\u{2028}Your account is suspended",
        ] {
            let mut req = signup_body("acme", "jane@example.com");
            req["user_details"]["last_name"] = json!(name);
            let (status, answer) = body(app.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &req).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("last_name")), "{name:?}: {answer}");
        }
        let mut req = signup_body("acme", "jane@example.com");
        req["user_details"]["last_name"] = json!("J.R.R. Tolkien");
        assert_eq!(app.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &req).await.status(), StatusCode::OK, "initials are a name");
    }
}

on_each_backend! {
    async fn punycode_tenant_names_are_refused_unless_allowed_and_then_must_be_valid(backend: Backend) {
        let app = TestApp::spawn(backend.clone()).await;
        // `аcme` with a Cyrillic а, `dеfault` with a Cyrillic е, a valid IDN, and IDNA's other reserved forms.
        for cname in ["xn--cme-5cd", "xn--dfault-3of", "xn--mnchen-3ya", "ab--cd"] {
            let (status, answer) = body(app.signup(cname, &format!("{}@example.com", &cname[..2])).await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("domain")), "{cname}: {answer}");
        }
        // Names are refused only to new tenants: requests about existing ones still parse.
        assert_eq!(app.post_json(SEND_PASSWORD, &json!({ "cname": "xn--cme-5cd", "email": "jane@example.com" })).await.status(), StatusCode::OK);

        let app = TestApp::spawn_with(backend, &[("allow_idn_tenant_names", "true")]).await;
        assert_eq!(app.signup("xn--mnchen-3ya", "jane@example.com").await.status(), StatusCode::OK, "münchen");
        for cname in ["xn--acme", "xn--99999999", "ab--cd"] {
            let (status, answer) = body(app.signup(cname, "eve@example.com").await).await;
            assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("domain")), "{cname}: {answer}");
        }
    }
}

on_each_backend! {
    async fn addresses_of_one_ipv6_64_share_one_request_budget(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_client_per_minute", "3"), ("trusted_proxies", "127.0.0.1/32")]).await;
        let probe = json!({ "email": "jane@example.com", "token": "x" });
        let from = |address: &'static str| {
            app.client.post(app.url("/no_auth/login/validate_registration")).header("x-forwarded-for", address).json(&probe).send()
        };
        for address in ["2001:db8::1", "2001:db8::2", "2001:db8::3:4"] {
            assert_eq!(from(address).await.unwrap().status(), StatusCode::OK, "{address}");
        }
        assert_eq!(from("2001:db8::ffff").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "a new address in the same /64 is the same client");
        assert_eq!(from("2001:db8:0:1::1").await.unwrap().status(), StatusCode::OK, "the next /64 is another client");
        for address in ["192.0.2.1", "192.0.2.1", "::ffff:192.0.2.1"] {
            assert_eq!(from(address).await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(from("192.0.2.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "an IPv4-mapped address is its IPv4 address");
    }

    async fn wrong_tries_from_new_addresses_of_one_ipv6_64_lock_out_that_64(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let secret = acme_with_jane(&app).await;
        for i in 1..=10 {
            let address = format!("2001:db8:5:6::{i:x}");
            assert!(!verifies(&app, &secret, "not-her-password-at-all", Some(&address)).await);
        }
        assert!(!verifies(&app, &secret, STRONG_PASSWORD, Some("2001:db8:5:6::beef")).await, "a fresh address of that /64 is locked");
        assert!(verifies(&app, &secret, STRONG_PASSWORD, Some("2001:db8:5:7::1")).await, "the owner, in another /64, is not");
    }
}
