//! The short code every email with a link carries: typed at `/code` or posted to `/no_auth/code`,
//! it gives back the email's own link, and spends nothing.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const REDEEM: &str = "/no_auth/code";

/// The `XXXX-XXXX` code an email's text prints, and the place it says to type it.
fn code_in(mail: &Value) -> String {
    let text = mail["text"].as_str().expect("text part");
    assert!(text.contains("/code"), "the email says where to type its code: {text}");
    let code = text
        .split_whitespace()
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-' && w.chars().all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned();
    let html = mail["html"].as_str().expect("html part");
    assert!(html.contains(&code), "the HTML part carries the code too: {html}");
    code
}

async fn redeem(app: &TestApp, email: &str, code: &str) -> (StatusCode, Value) {
    body(app.post_json(REDEEM, &json!({ "email": email, "code": code })).await).await
}

fn refused() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({ "code": "CODE_INVALID", "field": "code",
            "message": "That code does not work. Check the email address and the code from the most recent email, or follow the email's link." }),
    )
}

/// A code of the same shape that is not `code`.
fn another(code: &str) -> String {
    let first = if code.starts_with('2') { '3' } else { '2' };
    format!("{first}{}", &code[1..])
}

on_each_backend! {
    async fn codes_of_every_email_kind_redeem_to_their_own_link(backend: Backend) {
        let app = onboarded(backend).await;
        let signup = &app.mail_to("jane@example.com").await[0];
        // Self-service and admin-triggered password emails.
        let r = app.post_json("/no_auth/send_password_email", &json!({ "cname": "acme", "email": "jane@example.com" })).await;
        assert_eq!(r.status(), StatusCode::OK);
        let own = app.wait_for_mail("jane@example.com", 2).await[1].clone();
        app.clock.advance(Duration::from_secs(61));
        let (_, secret) = create_token(&app.ctx.store, app.clock.now_ms(), &Cname::parse("t", "acme").unwrap(), Role::Admin).await.unwrap();
        let r = app
            .client
            .post(app.url("/api/web/custom/password/admin_reset"))
            .header("authorization", format!("APIToken {secret}"))
            .json(&json!({ "email": "jane@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let admin = app.wait_for_mail("jane@example.com", 3).await[2].clone();
        // The Akana activation email.
        let r = app
            .client
            .post(app.url("/api/users/signupUser"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("firstName=Dev&lastName=Eloper&emailAddress=dev%40example.com")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let activation = app.wait_for_mail("dev@example.com", 1).await[0].clone();

        // The signup's token is spent; the admin's password email superseded the self-service one.
        let (status, answer) = redeem(&app, "jane@example.com", &code_in(signup)).await;
        assert_eq!((status, answer), refused(), "a spent link's code is dead");
        let (status, answer) = redeem(&app, "jane@example.com", &code_in(&own)).await;
        assert_eq!((status, answer), refused(), "a superseded link's code is dead");
        for (to, mail) in [("jane@example.com", &admin), ("dev@example.com", &activation)] {
            let (status, answer) = redeem(&app, to, &code_in(mail)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer, json!({ "link": link_in(&mail["text"]) }));
        }
        // Redeeming spends nothing: the link still sets the password.
        let set = json!({ "token": token_in(&admin["text"]), "password": "another-Lantern-quarry-44" });
        assert_eq!(app.post_json("/no_auth/password/set", &set).await.status(), StatusCode::OK);
    }

    async fn codes_forgive_case_spaces_hyphens_and_look_alike_letters(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.signup("acme", "Jane@Example.com").await.status(), StatusCode::OK);
        let mail = app.wait_for_mail("Jane@Example.com", 1).await[0].clone();
        let code = code_in(&mail);
        let sloppy: String = code
            .chars()
            .filter(|c| *c != '-')
            .enumerate()
            .flat_map(|(i, c)| {
                let c = match c {
                    '1' => 'l',
                    '0' => 'O',
                    c => c.to_ascii_lowercase(),
                };
                if i == 4 { vec![' ', c] } else { vec![c] }
            })
            .collect();
        let (status, answer) = redeem(&app, " jane@example.COM ", &format!(" {sloppy} ")).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({ "link": link_in(&mail["text"]) })), "{sloppy}");
        let with_i = code.replace('1', "i");
        assert_eq!(redeem(&app, "jane@example.com", &with_i).await.0, StatusCode::OK, "{with_i}");
    }

    async fn five_wrong_codes_kill_the_code_but_not_the_link(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let mail = app.mail_to("jane@example.com").await[0].clone();
        let code = code_in(&mail);
        // A right code in between costs no try.
        assert_eq!(redeem(&app, "jane@example.com", &code).await.0, StatusCode::OK);
        for _ in 0..4 {
            assert_eq!(redeem(&app, "jane@example.com", &another(&code)).await, refused());
        }
        assert_eq!(redeem(&app, "jane@example.com", &code).await.0, StatusCode::OK, "four wrong codes leave it alive");
        assert_eq!(redeem(&app, "jane@example.com", &another(&code)).await, refused());
        assert_eq!(redeem(&app, "jane@example.com", &code).await, refused(), "the fifth wrong code killed it");
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK, "the link still works");
    }

    async fn a_resent_emails_code_works_and_the_old_codes_do_not(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let old_token = app.signup_token("acme", "jane@example.com").await;
        let old = app.mail_to("jane@example.com").await[0].clone();
        app.clock.advance(Duration::from_secs(61));
        let r = app.post_json("/no_auth/namespaces/system/f5xc-saas/signup/send_email", &json!({ "token": old_token })).await;
        assert_eq!(r.status(), StatusCode::OK);
        let new = app.wait_for_mail("jane@example.com", 2).await[1].clone();
        assert_ne!(code_in(&old), code_in(&new));
        assert_eq!(redeem(&app, "jane@example.com", &code_in(&old)).await, refused());
        let (status, answer) = redeem(&app, "jane@example.com", &code_in(&new)).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({ "link": link_in(&new["text"]) })));
    }

    async fn unknown_wrong_dead_and_spent_codes_are_answered_alike(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // Spent: jane's signup is completed through its link.
        let token = app.signup_token("acme", "jane@example.com").await;
        let spent = code_in(&app.mail_to("jane@example.com").await[0]);
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        // Dead: kim types five wrong codes.
        assert_eq!(app.signup("kimco", "kim@example.com").await.status(), StatusCode::OK);
        let dead = code_in(&app.wait_for_mail("kim@example.com", 1).await[0]);
        for _ in 0..5 {
            redeem(&app, "kim@example.com", &another(&dead)).await;
        }
        // Wrong: lee's code, mistyped.
        assert_eq!(app.signup("leeco", "lee@example.com").await.status(), StatusCode::OK);
        let wrong = another(&code_in(&app.wait_for_mail("lee@example.com", 1).await[0]));

        let mut answers = Vec::new();
        for (email, code) in
            [("nobody@example.com", "ABCD-EFGH"), ("lee@example.com", wrong.as_str()), ("kim@example.com", dead.as_str()), ("jane@example.com", spent.as_str())]
        {
            let r = app.post_json(REDEEM, &json!({ "email": email, "code": code })).await;
            answers.push(observable(r).await);
        }
        assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    }

    async fn codes_expire_with_their_link(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        let code = code_in(&app.wait_for_mail("jane@example.com", 1).await[0]);
        assert_eq!(redeem(&app, "jane@example.com", &code).await.0, StatusCode::OK);
        app.clock.advance(Duration::from_secs(25 * 3600));
        assert_eq!(redeem(&app, "jane@example.com", &code).await, refused());
    }

    async fn codes_for_known_and_unknown_addresses_run_the_same_statements(backend: Backend) {
        // Paths of its own, so that its statements are told apart from those of tests beside it.
        let base = format!("/probe{}", &uuid_like()[..12]);
        let app = TestApp::spawn_with(backend, &[("base_path", base.as_str())]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        let code = code_in(&app.wait_for_mail("jane@example.com", 1).await[0]);
        let path = format!("{base}{REDEEM}");
        let mut ran = Vec::new();
        for email in ["jane@example.com", "nobody@example.com"] {
            take_statements(&path);
            let r = app.post_json(&path, &json!({ "email": email, "code": another(&code) })).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            ran.push(take_statements(&path));
        }
        assert!(!ran[0].is_empty(), "the statement log saw nothing for {path}");
        assert_eq!(ran[0], ran[1]);
    }

    async fn codes_and_links_are_not_in_the_database_in_plain_text(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        let code = code_in(&app.mail_to("jane@example.com").await[0]);
        let plain = code.replace('-', "");
        let text = database_text(&app).await;
        assert!(text.contains("jane@example.com"), "the scan reads the tables");
        for secret in [code.as_str(), plain.as_str(), &plain.to_lowercase(), token.as_str()] {
            assert!(!text.contains(secret), "{secret} is stored in plain text");
        }
    }

    async fn the_code_page_takes_the_code_and_sends_the_browser_to_the_link(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        let mail = app.wait_for_mail("jane@example.com", 1).await[0].clone();
        let home = app.get("/").await.text().await.unwrap().replace("&#x2f;", "/");
        assert!(home.contains("href=\"/code\""), "the home page links to the code page");

        let (cookie, csrf) = form_with_cookie(&app, "/code").await;
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let submit = |code: String| {
            no_redirects
                .post(app.url("/code"))
                .header("cookie", &cookie)
                .form(&[("csrf", csrf.as_str()), ("email", "jane@example.com"), ("code", code.as_str())])
                .send()
        };
        let wrong = submit(another(&code_in(&mail))).await.unwrap();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert!(wrong.text().await.unwrap().contains("That code does not work with that address"));

        let r = submit(code_in(&mail).to_lowercase()).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let link = link_in(&mail["text"]);
        assert_eq!(r.headers()["location"], link.as_str());
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("jane@example.com"), "the link's page, ready");
    }
}

/// The `dev` transport's mailbox keeps delivered messages whole: that is its purpose.
const DEV_MAILBOX: &str = "dev_mailbox";

/// Every row of every table but the dev mailbox, as text.
async fn database_text(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut text = String::new();
        for table in tables.into_iter().filter(|t| t != DEV_MAILBOX) {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for i in 0..columns {
                    if let Ok(rusqlite::types::ValueRef::Text(t)) = row.get_ref(i) {
                        text.push_str(&String::from_utf8_lossy(t));
                        text.push('\n');
                    }
                }
            }
        }
        text
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut text = String::new();
        for (table,) in tables.into_iter().filter(|(t,)| t != DEV_MAILBOX) {
            let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT t::text FROM \"{table}\" t")).fetch_all(&pool).await.unwrap();
            for (row,) in rows {
                text.push_str(&row);
                text.push('\n');
            }
        }
        pool.close().await;
        text
    }
}
