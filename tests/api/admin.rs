//! Admin API tokens, F5's deprecated admin `SendPasswordEmail` and its
//! successor `ResetPasswordByAdmin`, and verify_password.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const SEND: &str = "/api/web/custom/namespaces/system/send_password_email";
const RESET: &str = "/api/web/custom/namespaces/system/reset_password_by_admin";
/// F5's `ResetPasswordByAdmin`, the successor F5's deprecated admin `SendPasswordEmail` names.
const ADMIN_RESET: &str = "/api/web/custom/password/admin_reset";
const VERIFY: &str = "/api/web/custom/namespaces/system/verify_password";

/// Tenant `acme` with active user jane, and tenant `other` with active user kim.
async fn two_tenants(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    for (cname, email) in [("acme", "jane@example.com"), ("other", "kim@example.com")] {
        let token = app.signup_token(cname, email).await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    }
    app
}

async fn token(app: &TestApp, cname: &str, role: Role) -> String {
    create_token(&app.ctx.store, app.clock.now_ms(), &Cname::parse("t", cname).unwrap(), role).await.unwrap().1
}

async fn admin_post(app: &TestApp, path: &str, auth: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

async fn verify(app: &TestApp, secret: &str, password: &str) -> bool {
    let r =
        admin_post(app, VERIFY, Some(&format!("APIToken {secret}")), &json!({ "email": "jane@example.com", "password": password })).await;
    let (status, answer) = body(r).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["valid"].as_bool().unwrap()
}

on_each_backend! {
    async fn seed_002_mails_a_working_password_link_and_names_its_successor(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        let r = admin_post(&app, SEND, Some(&format!("APIToken {secret}")), &json!({ "email": "jane@example.com", "namespace": "system" })).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["deprecation"], "true");
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(link, "</api/web/custom/password/admin_reset>; rel=\"successor-version\"");
        assert_eq!(body(r).await.1, json!({}));

        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let password_token = token_in(&mail[1]["text"]);
        let set = json!({ "token": password_token, "password": "another-Lantern-quarry-44" });
        assert_eq!(app.post_json("/no_auth/password/set", &set).await.status(), StatusCode::OK);
        assert!(verify(&app, &secret, "another-Lantern-quarry-44").await);
    }

    async fn both_authorization_header_forms_are_accepted(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        for auth in [format!("APIToken {secret}"), format!("Bearer {secret}")] {
            let r = admin_post(&app, VERIFY, Some(&auth), &json!({ "email": "jane@example.com", "password": STRONG_PASSWORD })).await;
            assert_eq!(body(r).await, (StatusCode::OK, json!({ "valid": true })), "{auth}");
        }
    }

    async fn every_refusal_has_its_status(backend: Backend) {
        let app = two_tenants(backend).await;
        let admin = token(&app, "acme", Role::Admin).await;
        let user = token(&app, "acme", Role::User).await;
        let revoked = token(&app, "acme", Role::Admin).await;
        let revoked_id = revoked.split('.').nth(1).unwrap().to_owned();
        let now = app.clock.now_ms();
        let revoked_now = app.ctx.store.write(move |conn| Box::pin(async move { usher::store::api_tokens::revoke(conn, &revoked_id, now).await }));
        assert!(revoked_now.await.map_err(|e: usher::store::StoreError| e).unwrap());
        let jane = json!({ "email": "jane@example.com", "namespace": "system" });
        let forged = format!("{}x", &admin[..admin.len() - 1]);
        let cases: Vec<(&str, Option<String>, Value, StatusCode, &str)> = vec![
            (RESET, None, jane.clone(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (RESET, Some("APIToken nonsense".into()), jane.clone(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (RESET, Some(format!("APIToken {forged}")), jane.clone(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (RESET, Some(format!("Basic {admin}")), jane.clone(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (RESET, Some(format!("APIToken {revoked}")), jane.clone(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (RESET, Some(format!("APIToken {user}")), jane.clone(), StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            (SEND, Some(format!("Bearer {user}")), jane.clone(), StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            ("/api/web/custom/namespaces/default/reset_password_by_admin", Some(format!("APIToken {admin}")), json!({ "email": "jane@example.com", "namespace": "default" }), StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            (RESET, Some(format!("APIToken {admin}")), json!({ "email": "jane@example.com", "namespace": "example" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (RESET, Some(format!("APIToken {admin}")), json!({ "email": "jane@example.com", "namespace": "sys" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (RESET, Some(format!("APIToken {admin}")), json!({ "email": "jane@", "namespace": "system" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (RESET, Some(format!("APIToken {admin}")), json!({ "email": "kim@example.com", "namespace": "system" }), StatusCode::NOT_FOUND, "NOT_FOUND"),
            (SEND, Some(format!("APIToken {admin}")), json!({ "email": "nobody@example.com", "namespace": "system" }), StatusCode::NOT_FOUND, "NOT_FOUND"),
            // The body's namespace must equal the path's, so it must be there.
            (SEND, Some(format!("APIToken {admin}")), json!({ "email": "jane@example.com" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (RESET, Some(format!("APIToken {admin}")), json!({ "email": "jane@example.com" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
        ];
        for (path, auth, req, status, code) in cases {
            let (got, answer) = body(admin_post(&app, path, auth.as_deref(), &req).await).await;
            assert_eq!((got, answer["code"].as_str().unwrap()), (status, code), "{path} {auth:?} {req}: {answer}");
        }
        app.drain_outbox().await;
        assert_eq!(app.mail_to("jane@example.com").await.len(), 1, "no refused request sent mail");
    }

    async fn reset_password_by_admin_makes_the_old_password_stop_working(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        assert!(verify(&app, &secret, STRONG_PASSWORD).await);
        let r = admin_post(&app, RESET, Some(&format!("Bearer {secret}")), &json!({ "email": "jane@example.com", "namespace": "system" })).await;
        assert_eq!(body(r).await, (StatusCode::OK, json!({})));
        assert!(!verify(&app, &secret, STRONG_PASSWORD).await, "the old password no longer verifies");

        let mail = app.wait_for_mail("jane@example.com", 2).await;
        let set = json!({ "token": token_in(&mail[1]["text"]), "password": "another-Lantern-quarry-44" });
        assert_eq!(app.post_json("/no_auth/password/set", &set).await.status(), StatusCode::OK);
        assert!(verify(&app, &secret, "another-Lantern-quarry-44").await);
    }

    async fn the_successor_f5_documents_mails_a_password_link_and_the_old_password_stops_working(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        assert!(verify(&app, &secret, STRONG_PASSWORD).await);
        let r = admin_post(&app, ADMIN_RESET, Some(&format!("APIToken {secret}")), &json!({ "email": "jane@example.com" })).await;
        assert_eq!(body(r).await, (StatusCode::OK, json!({})));
        assert!(!verify(&app, &secret, STRONG_PASSWORD).await, "the old password is refused");

        let mail = app.wait_for_mail("jane@example.com", 2).await;
        assert!(link_in(&mail[1]["text"]).contains("/password?token="));
        let set = json!({ "token": token_in(&mail[1]["text"]), "password": "another-Lantern-quarry-44" });
        assert_eq!(app.post_json("/no_auth/password/set", &set).await.status(), StatusCode::OK);
        assert!(verify(&app, &secret, "another-Lantern-quarry-44").await);

        let mut conn = app.ctx.store.acquire().await.unwrap();
        let audit = usher::store::audit::list(&mut conn, 100).await.unwrap();
        let reset = audit.iter().find(|e| e.action == "admin.reset_password").expect("the reset is audited");
        assert_eq!((reset.actor.starts_with("api-token:"), reset.outcome.as_str()), (true, "ok"));
    }

    async fn the_successor_refuses_as_the_alias_does(backend: Backend) {
        let app = two_tenants(backend).await;
        let admin = token(&app, "acme", Role::Admin).await;
        let user = token(&app, "acme", Role::User).await;
        let cases: Vec<(Option<String>, Value, StatusCode, &str)> = vec![
            (None, json!({ "email": "jane@example.com" }), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (Some(format!("APIToken {user}")), json!({ "email": "jane@example.com" }), StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            (Some(format!("APIToken {admin}")), json!({}), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (Some(format!("APIToken {admin}")), json!({ "email": "jane@" }), StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            (Some(format!("APIToken {admin}")), json!({ "email": "kim@example.com" }), StatusCode::NOT_FOUND, "NOT_FOUND"),
        ];
        for (auth, req, status, code) in cases {
            let (got, answer) = body(admin_post(&app, ADMIN_RESET, auth.as_deref(), &req).await).await;
            assert_eq!((got, answer["code"].as_str().unwrap()), (status, code), "{auth:?} {req}: {answer}");
        }
        let r = app.client.get(app.url(ADMIN_RESET)).send().await.unwrap();
        assert_eq!((r.status(), r.headers()["allow"].to_str().unwrap()), (StatusCode::METHOD_NOT_ALLOWED, "POST"));
        assert!(verify(&app, &admin, STRONG_PASSWORD).await, "no refused request touched the password");
    }

    async fn under_a_base_path_the_link_names_the_successor_there_and_it_works(backend: Backend) {
        const BASE: &str = "/api/v1/api/production/us-east-1/namespaces/default";
        let app = TestApp::spawn_with(backend, &[("base_path", BASE)]).await;
        let token_ = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token_, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        let secret = token(&app, "acme", Role::Admin).await;
        let jane = json!({ "email": "jane@example.com", "namespace": "system" });
        let r = admin_post(&app, &format!("{BASE}{SEND}"), Some(&format!("APIToken {secret}")), &jane).await;
        assert_eq!(r.status(), StatusCode::OK);
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(link, format!("<{BASE}{ADMIN_RESET}>; rel=\"successor-version\""));
        let successor = link.trim_start_matches('<').split('>').next().unwrap().to_owned();

        app.clock.advance(Duration::from_secs(61));
        let r = admin_post(&app, &successor, Some(&format!("Bearer {secret}")), &json!({ "email": "jane@example.com" })).await;
        assert_eq!(body(r).await, (StatusCode::OK, json!({})));
        assert!(!verify(&app, &secret, STRONG_PASSWORD).await);
        app.wait_for_mail("jane@example.com", 3).await;
    }

    async fn ten_wrong_passwords_lock_the_user_for_fifteen_minutes(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        for _ in 0..10 {
            assert!(!verify(&app, &secret, "wrong-password-guess").await);
        }
        assert!(!verify(&app, &secret, STRONG_PASSWORD).await, "locked: even the right password is refused");
        app.clock.advance(Duration::from_secs(15 * 60 + 1));
        assert!(verify(&app, &secret, STRONG_PASSWORD).await, "unlocked after 15 minutes");
    }

    async fn wrong_tries_spread_over_more_than_fifteen_minutes_do_not_lock(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        for _ in 0..9 {
            assert!(!verify(&app, &secret, "wrong-password-guess").await);
        }
        app.clock.advance(Duration::from_secs(16 * 60));
        assert!(!verify(&app, &secret, "wrong-password-guess").await);
        assert!(verify(&app, &secret, STRONG_PASSWORD).await);
    }

    async fn an_unknown_user_simply_does_not_verify(backend: Backend) {
        let app = two_tenants(backend).await;
        let secret = token(&app, "acme", Role::Admin).await;
        let r = admin_post(&app, VERIFY, Some(&format!("APIToken {secret}")), &json!({ "email": "kim@example.com", "password": STRONG_PASSWORD })).await;
        assert_eq!(body(r).await, (StatusCode::OK, json!({ "valid": false })), "kim is in another tenant");
    }
}

/// A child process that dies with the test, even when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn usher(db: &str, dir: &std::path::Path, args: &[&str]) -> String {
    let out = usher_command(args, db, dir).output().unwrap();
    assert!(out.status.success(), "usher {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The token CLI, end to end, and what the admin actions leave in the audit
/// trail; and not one log line of a real `usher serve` at trace level holds
/// an API secret, a password or a link's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_tokens_the_audit_trail_shows_admin_actions_and_no_log_line_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("usher.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("serve.log");
    // No USHER_KEYS: the development key of the data directory.
    let mut server = KillOnDrop(
        serve_command(port, &db, "", dir.path())
            .env("USHER_MAIL_POLL_INTERVAL", "50ms")
            .env("RUST_LOG", "trace")
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    wait_until_serving(&mut server.0, &url, &log_path).await;

    let r = client
        .post(format!("{url}/no_auth/namespaces/system/f5xc-saas/signup"))
        .json(&signup_body("acme", "jane@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let signup_token = eventually("the signup email arrives", Duration::from_secs(10), async || {
        let mail: Vec<Value> = client.get(format!("{url}/dev/mail.json")).send().await.ok()?.json().await.ok()?;
        mail.first().map(|m| token_in(&m["text"]))
    })
    .await;
    let r = client
        .post(format!("{url}/no_auth/namespaces/system/f5xc-saas/signup/complete"))
        .json(&json!({ "token": signup_token, "password": STRONG_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let created = usher(&db, dir.path(), &["api-token", "create", "--tenant", "acme", "--role", "admin"]);
    let secret = created.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("usher.") && secret.len() > 50, "{created}");
    let listed: Vec<Value> = serde_json::from_str(&usher(&db, dir.path(), &["api-token", "list", "--json"])).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["tenant"], "acme");
    assert_eq!(listed[0]["role"], "admin");
    assert!(listed[0]["last_used_at"].is_null());
    assert!(!listed[0].to_string().contains(&secret[20..]), "no secret in the listing");
    let id = listed[0]["id"].as_str().unwrap().to_owned();

    let verify = |auth: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post(format!("{url}{VERIFY}"))
                .header("authorization", auth)
                .json(&json!({ "email": "jane@example.com", "password": STRONG_PASSWORD }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = verify(format!("APIToken {secret}")).await;
    assert_eq!(body(r).await, (StatusCode::OK, json!({ "valid": true })));
    let r = client
        .post(format!("{url}{SEND}"))
        .header("authorization", format!("Bearer {secret}"))
        .json(&json!({ "email": "jane@example.com", "namespace": "system" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Vec<Value> = serde_json::from_str(&usher(&db, dir.path(), &["api-token", "list", "--json"])).unwrap();
    assert!(listed[0]["last_used_at"].is_i64());

    usher(&db, dir.path(), &["api-token", "revoke", &id]);
    assert_eq!(verify(format!("APIToken {secret}")).await.status(), StatusCode::UNAUTHORIZED);

    let audit: Vec<Value> = serde_json::from_str(&usher(&db, dir.path(), &["audit", "list", "--json"])).unwrap();
    let sent = audit.iter().find(|e| e["action"] == "admin.send_password_email").expect("audited");
    assert_eq!(sent["actor"], format!("api-token:{id}"));
    assert_eq!(sent["client_addr"], "127.0.0.1");
    assert_eq!(sent["outcome"], "ok");
    assert!(audit.iter().any(|e| e["action"] == "admin.verify_password" && e["outcome"] == "ok"));

    let password_token = eventually("the password email arrives", Duration::from_secs(10), async || {
        let mail: Vec<Value> = client.get(format!("{url}/dev/mail.json")).send().await.ok()?.json().await.ok()?;
        (mail.len() >= 2).then(|| token_in(&mail[0]["text"]))
    })
    .await;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("usher is listening") && log.lines().count() > 20, "the log was captured");
    for (what, secret) in [
        ("API token", secret.as_str()),
        ("password", STRONG_PASSWORD),
        ("signup token", &signup_token),
        ("password token", &password_token),
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "the {what} appears in the log");
    }
}
