//! Email delivery an operator can trust, against a real SMTP server
//! (mailin-embedded): retries that keep the Message-ID, permanent refusals
//! seen and retried through the real `usher` CLI, per-tenant and per-locale
//! templates, mail in the signup's language with dates for people, DKIM
//! signatures checked by an independent verifier (mail-auth), and no link
//! secret left in any table after delivery.

use crate::helpers::*;
use crate::on_each_backend;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;
use usher::store::outbox::Listed;

on_each_backend! {
    async fn a_deferred_message_is_delivered_on_a_later_try_with_the_same_message_id(backend: Backend) {
        let (sink, port) = SmtpSink::start();
        sink.refuse_next(451, "4.7.1 greylisted, try again later");
        let app = smtp_app(backend, port, &[]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);

        let got = app.wait_for_smtp(&sink, 1).await;
        app.drain_outbox().await;
        let row = only_row(&app).await;
        assert_eq!(row.status, "sent", "{row:#?}");
        assert!(row.attempts >= 2, "the first try was deferred: {row:#?}");
        assert_eq!(got[0].header("message-id").as_deref(), Some(row.message_id.as_str()));

        let tries = sink.tries();
        assert_eq!(tries.iter().map(|t| t.code).collect::<Vec<_>>(), [451, 250], "deferred once, then accepted");
        for t in &tries {
            assert_eq!(t.header("message-id").as_deref(), Some(row.message_id.as_str()), "every try carries the outbox's Message-ID");
        }
        assert_eq!(sink.messages().len(), 1, "accepted once");
    }

    async fn a_refused_message_fails_at_once_shows_in_the_cli_and_is_delivered_after_outbox_retry(backend: Backend) {
        let (sink, port) = SmtpSink::start();
        sink.refuse_next(550, "5.1.1 mailbox unavailable");
        let app = smtp_app(backend, port, &[]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);

        let failed = wait_for_row(&app, |m| m.status == "failed").await;
        assert_eq!(failed.attempts, 1, "a 5xx is not retried: {failed:#?}");
        assert_eq!(sink.tries().len(), 1);
        assert!(sink.messages().is_empty());

        let listed = outbox_json(&app, &["--status", "failed"]).await;
        assert_eq!(listed.len(), 1, "{listed:#?}");
        let row = &listed[0];
        let mut fields: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["attempts", "created_at", "id", "kind", "last_error", "message_id", "sent_at", "status", "to"]);
        assert_eq!(row["id"], json!(failed.id));
        assert_eq!(row["to"], "jane@example.com");
        assert_eq!(row["kind"], "signup_link");
        assert_eq!(row["status"], "failed");
        assert_eq!(row["attempts"], 1);
        assert_eq!(row["message_id"], json!(failed.message_id));
        assert_eq!(row["sent_at"], Value::Null);
        let error = row["last_error"].as_str().unwrap();
        assert!(error.contains("550") && error.contains("will not be retried"), "{error}");

        let (ok, out, err) = usher_cli(&app, &["outbox", "retry", &failed.id.to_string()]).await;
        assert!(ok, "outbox retry failed: {err}");
        assert!(out.contains("queued again"), "{out}");

        let got = app.wait_for_smtp(&sink, 1).await;
        assert_eq!(got[0].header("message-id").as_deref(), Some(failed.message_id.as_str()), "the same message, not a new one");
        let token = token_in(&Value::String(got[0].text()));
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK, "the retried email's link works");

        let sent = outbox_json(&app, &["--status", "sent"]).await;
        let row = sent.iter().find(|r| r["id"] == json!(failed.id)).unwrap_or_else(|| panic!("{sent:#?}"));
        assert_eq!(row["attempts"], 1, "retry starts a new round of tries");
        assert!(row["sent_at"].is_i64(), "{row:#?}");
        assert_eq!(row["last_error"], Value::Null);
    }

    async fn a_tenant_and_locale_template_override_is_used_and_other_tenants_get_the_embedded_one(backend: Backend) {
        let templates = tempfile::tempdir().unwrap();
        let t = templates.path();
        write(&t.join("acme/de-DE/password_link.subject"), "Passwort fuer {{ cname }} festlegen\n");
        write(&t.join("acme/de-DE/password_link.txt"), "Hallo {{ first_name }},\n\nlegen Sie Ihr Passwort fest:\n\n{{ link }}\n");
        write(&t.join("acme/password_link.html"), "<p lang=\"{{ locale }}\">Hallo {{ first_name }}: <a href=\"{{ link }}\">Passwort festlegen</a></p>\n");
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend, port, &[("mail_templates_dir", t.to_str().unwrap())]).await;

        let acme = password_email(&app, &sink, "acme", "jane@acme.example", "de-DE").await;
        assert_eq!(acme.header("subject").as_deref(), Some("Passwort fuer acme festlegen"), "acme/de-DE/ wins");
        let text = acme.text();
        assert!(text.starts_with("Hallo Jane,"), "{text}");
        let link = link_in(&Value::String(text.clone()));
        assert!(link.contains("/password?token=v4.local."), "{link}");
        assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::OK, "the overridden email's link opens its page");
        assert!(decoded(&acme.raw).contains("<p lang=\"de-DE\">Hallo Jane: <a href="), "acme/ is used when acme/de-DE/ has no html: {}", acme.raw);

        let globex = password_email(&app, &sink, "globex", "jane@globex.example", "de-DE").await;
        assert_eq!(globex.subject(), "Legen Sie Ihr Passwort für globex fest", "no override: the embedded template, in German");
        assert!(globex.text().contains("Um das Passwort Ihres Kontos in „globex“ festzulegen"), "{}", globex.text());
        assert!(!globex.text().contains("legen Sie Ihr Passwort fest:") && !globex.html().contains("<p lang="), "nothing of acme's");
    }

    async fn a_german_signup_gets_german_mail_with_the_date_written_in_german(backend: Backend) {
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend, port, &[]).await;
        let mut body = signup_body("acme", "jane@example.com");
        body["account_details"]["locale"] = json!("de-AT");
        assert_eq!(app.post_json(SIGNUP_PATH, &body).await.status(), StatusCode::OK);

        let mail = app.wait_for_smtp(&sink, 1).await.remove(0);
        assert_eq!(mail.subject(), "Bestätigen Sie Ihre Registrierung für acme");
        let (text, html) = (mail.text(), mail.html());
        let until = format!("Der Link gilt bis {}.", in_words(only_link_expiry(&app).await, Language::German));
        assert!(text.starts_with("Hallo Jane,"), "{text}");
        assert!(text.contains("Vielen Dank für Ihre Registrierung. Um den Mandanten „acme“ anzulegen"), "{text}");
        assert!(text.contains(&until), "{until:?} in {text}");
        assert!(html.contains("<html lang=\"de\">") && html.contains("<p>Hallo Jane,</p>") && html.contains(&until), "{html}");
        assert!(html.contains("Um den Mandanten <strong>acme</strong> anzulegen"), "{html}");
        assert!(!text.contains("Hello") && !text.contains("UTC)"), "nothing left in English: {text}");

        // The person's language is kept with the account: the password email that follows is German too.
        let password = password_email(&app, &sink, "initech", "ann@example.com", "de-DE").await;
        assert_eq!(password.subject(), "Legen Sie Ihr Passwort für initech fest");
        assert!(password.text().starts_with("Hallo Jane,") && password.text().contains(" und nur einmal."), "{}", password.text());
    }

    async fn an_english_signup_gets_english_mail_that_greets_the_person_without_quotes(backend: Backend) {
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend, port, &[]).await;
        let mut body = signup_body("acme", "sean@example.com");
        body["user_details"]["first_name"] = json!("Seán O'Brien");
        assert_eq!(app.post_json(SIGNUP_PATH, &body).await.status(), StatusCode::OK);

        let mail = app.wait_for_smtp(&sink, 1).await.remove(0);
        assert_eq!(mail.subject(), "Confirm your signup for acme");
        let (text, html) = (mail.text(), mail.html());
        assert!(text.starts_with("Hello Seán O'Brien,"), "{text}");
        assert!(html.contains("<p>Hello Seán O&#x27;Brien,</p>"), "escaped as HTML, and unquoted: {html}");
        assert!(!text.contains("\"Seán") && !html.contains("&ldquo;"), "no quotes around the name");
        let until = format!("The link works until {}.", in_words(only_link_expiry(&app).await, Language::English));
        assert!(text.contains(&until) && html.contains(&until), "{until:?} in {text}");

        // A language usher has no catalogue for gets English.
        body["account_details"]["locale"] = json!("fr-FR");
        body["account_details"]["domain"] = json!("globex");
        body["user_details"]["email"] = json!("amelie@example.com");
        assert_eq!(app.post_json(SIGNUP_PATH, &body).await.status(), StatusCode::OK);
        let french = app.wait_for_smtp(&sink, 2).await.remove(1);
        assert_eq!(french.subject(), "Confirm your signup for globex");
        assert!(french.html().contains("<html lang=\"en\">"), "the language it is written in");
    }

    async fn an_operator_catalogue_rewords_a_message_and_adds_a_language_that_falls_back_to_english(backend: Backend) {
        let messages = tempfile::tempdir().unwrap();
        write(&messages.path().join("en/ours.ftl"), "mail-signup-subject = Welcome to { $cname }: confirm your signup\n");
        write(&messages.path().join("fr/mail.ftl"), "mail-hello = Bonjour { $name },\nmail-signup-subject = Confirmez votre inscription à { $cname }\n");
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend, port, &[("messages_dir", messages.path().to_str().unwrap())]).await;

        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        let english = app.wait_for_smtp(&sink, 1).await.remove(0);
        assert_eq!(english.subject(), "Welcome to acme: confirm your signup", "the operator's wording");
        assert!(english.text().starts_with("Hello Jane,"), "the rest is built in: {}", english.text());

        let mut body = signup_body("globex", "amelie@example.com");
        body["account_details"]["locale"] = json!("fr-CA");
        assert_eq!(app.post_json(SIGNUP_PATH, &body).await.status(), StatusCode::OK);
        let french = app.wait_for_smtp(&sink, 2).await.remove(1);
        assert_eq!(french.subject(), "Confirmez votre inscription à globex");
        assert!(french.text().starts_with("Bonjour Jane,"), "{}", french.text());
        assert!(french.text().contains("Thank you for signing up."), "what French lacks is in English: {}", french.text());
    }

    async fn an_rsa_dkim_signature_on_smtp_mail_verifies_against_the_published_key(backend: Backend) {
        let keys = tempfile::tempdir().unwrap();
        let (key, record) = dkim_key(keys.path(), KeyKind::Rsa);
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend, port, &[("dkim_selector", "mail2026"), ("dkim_private_key", key.to_str().unwrap())]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);

        let mail = app.wait_for_smtp(&sink, 1).await.remove(0);
        let signature = mail.header("dkim-signature").unwrap_or_else(|| panic!("not signed: {}", mail.raw));
        assert!(signature.contains("a=rsa-sha256") && signature.contains("d=usher.test") && signature.contains("s=mail2026"), "d= is the mail_from domain: {signature}");
        assert_eq!(dkim_verdicts(mail.raw.as_bytes(), "mail2026._domainkey.usher.test", &record).await, [DkimResult::Pass]);

        // The verifier is no rubber stamp: a changed body or signed header fails.
        for (from, to) in [("Hello Jane,", "Hello Joan,"), ("Subject: Confirm your signup for acme", "Subject: Confirm your signup for evil")] {
            let tampered = mail.raw.replace(from, to);
            assert_ne!(tampered, mail.raw, "{from} is in the message");
            let verdicts = dkim_verdicts(tampered.as_bytes(), "mail2026._domainkey.usher.test", &record).await;
            assert!(verdicts.len() == 1 && verdicts[0] != DkimResult::Pass, "{from}: {verdicts:?}");
        }
    }

    async fn an_ed25519_dkim_signature_on_file_mail_verifies_against_the_published_key(backend: Backend) {
        let keys = tempfile::tempdir().unwrap();
        let (key, record) = dkim_key(keys.path(), KeyKind::Ed25519);
        let mail_dir = tempfile::tempdir().unwrap();
        let app = TestApp::spawn_with(backend, &[
            ("mail_transport", "file"),
            ("mail_file_dir", mail_dir.path().to_str().unwrap()),
            ("mail_from", "signup@usher.test"),
            ("dkim_selector", "ed1"),
            ("dkim_domain", "mail.example.org"),
            ("dkim_private_key", key.to_str().unwrap()),
        ]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        app.drain_outbox().await;

        let eml = std::fs::read_dir(mail_dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "eml")).expect("an .eml file");
        let raw = std::fs::read(&eml).unwrap();
        let signature = Received { to: vec![], raw: String::from_utf8_lossy(&raw).into_owned() }.header("dkim-signature").expect("signed");
        assert!(signature.contains("a=ed25519-sha256") && signature.contains("d=mail.example.org") && signature.contains("s=ed1"), "{signature}");
        assert_eq!(dkim_verdicts(&raw, "ed1._domainkey.mail.example.org", &record).await, [DkimResult::Pass]);
    }

    async fn after_smtp_delivery_no_table_holds_a_mailed_link_secret(backend: Backend) {
        let (sink, port) = SmtpSink::start();
        let app = smtp_app(backend.clone(), port, &[]).await;
        assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
        let signup_mail = app.wait_for_smtp(&sink, 1).await.remove(0);
        let signup_token = token_in(&Value::String(signup_mail.text()));
        assert_eq!(app.complete(&signup_token, None).await.status(), StatusCode::OK);
        let password_mail = app.wait_for_smtp(&sink, 2).await.remove(1);
        let password_token = token_in(&Value::String(password_mail.text()));
        assert!(signup_token.starts_with("v4.local.") && password_token.starts_with("v4.local."));
        app.drain_outbox().await;

        let cells = text_cells(&app, &backend).await;
        assert!(cells.iter().any(|(t, _, v)| t == "outbox" && v == "jane@example.com"), "the scan reads real rows");
        assert!(cells.iter().any(|(t, _, _)| t == "one_time_tokens"));
        for needle in [signup_token.as_str(), password_token.as_str(), "v4.local"] {
            let found: Vec<_> = cells.iter().filter(|(_, _, v)| v.contains(needle)).map(|(t, c, _)| format!("{t}.{c}")).collect();
            assert!(found.is_empty(), "{needle} is still stored in {found:?}");
        }
    }
}

const SIGNUP_PATH: &str = "/no_auth/namespaces/system/f5xc-saas/signup";

/// When the only link token minted so far expires.
async fn only_link_expiry(app: &TestApp) -> i64 {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let rows: Vec<(i64,)> = conn.fetch_all("SELECT expires_at FROM one_time_tokens", &[]).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].0
}

enum Language {
    English,
    German,
}

/// `at_ms` as a person reads it, in UTC: "8 December 2026, 00:49 UTC", "8. Dezember 2026, 00:49 UTC".
fn in_words(at_ms: i64, language: Language) -> String {
    const ENGLISH: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    const GERMAN: [&str; 12] =
        ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"];
    let at = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::from_millisecond(at_ms).unwrap());
    let (day, year, time) = (at.day(), at.year(), format!("{:02}:{:02} UTC", at.hour(), at.minute()));
    let month = usize::try_from(at.month() - 1).unwrap();
    match language {
        Language::English => format!("{day} {} {year}, {time}", ENGLISH[month]),
        Language::German => format!("{day}. {} {year}, {time}", GERMAN[month]),
    }
}

/// Starts usher with the SMTP transport pointed at the sink on `port`.
async fn smtp_app(backend: Backend, port: u16, extra: &[(&str, &str)]) -> TestApp {
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    let mut settings = vec![("mail_transport", "smtp"), ("smtp_url", url.as_str()), ("mail_from", "signup@usher.test")];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(backend, &settings).await
}

async fn only_row(app: &TestApp) -> Listed {
    let rows = app.outbox().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    rows.into_iter().next().unwrap()
}

/// Delivers what is due until an outbox row matches.
async fn wait_for_row(app: &TestApp, matches: impl Fn(&Listed) -> bool) -> Listed {
    app.deliver_until("an outbox row matches", async || app.outbox().await.into_iter().find(&matches)).await
}

/// Runs the built `usher` binary against the test's database; returns
/// whether it succeeded, its standard output and its standard error.
pub(crate) async fn usher_cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = app.usher(args).await;
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `usher outbox list --json` with `extra` arguments, parsed.
pub(crate) async fn outbox_json(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["outbox", "list", "--json"];
    args.extend_from_slice(extra);
    let (ok, out, err) = usher_cli(app, &args).await;
    assert!(ok, "usher outbox list failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON array ({e}): {out}"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Signs `cname` up in `locale`, completes the signup without a password
/// and returns the password email that follows.
async fn password_email(app: &TestApp, smtp: &SmtpSink, cname: &str, email: &str, locale: &str) -> Received {
    let mut body = signup_body(cname, email);
    body["account_details"]["locale"] = json!(locale);
    let before = smtp.messages().len();
    let signup = app.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &body).await;
    assert_eq!(signup.status(), StatusCode::OK);
    let link_mail = app.wait_for_smtp(smtp, before + 1).await.remove(before);
    let token = token_in(&Value::String(link_mail.text()));
    assert_eq!(app.complete(&token, None).await.status(), StatusCode::OK);
    let mail = app.wait_for_smtp(smtp, before + 2).await.remove(before + 1);
    assert_eq!(mail.to, [email]);
    mail
}

/// The raw message with quoted-printable soft breaks and `=3D` undone.
fn decoded(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

enum KeyKind {
    Rsa,
    Ed25519,
}

/// Generates a private key with the openssl CLI into `dir`; returns its path
/// and the DNS TXT record that publishes its public half (RFC 6376, 8463).
fn dkim_key(dir: &Path, kind: KeyKind) -> (PathBuf, String) {
    let path = dir.join("dkim.pem");
    let generate: &[&str] = match kind {
        KeyKind::Rsa => &["genrsa", "-out"],
        KeyKind::Ed25519 => &["genpkey", "-algorithm", "ed25519", "-out"],
    };
    let mut args: Vec<&str> = generate.to_vec();
    args.push(path.to_str().unwrap());
    if matches!(kind, KeyKind::Rsa) {
        args.push("2048");
    }
    openssl(&args);
    let spki = openssl(&["pkey", "-in", path.to_str().unwrap(), "-pubout", "-outform", "DER"]);
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let record = match kind {
        KeyKind::Rsa => format!("v=DKIM1; k=rsa; p={}", b64(&spki)),
        // An Ed25519 record holds the bare 32-byte key, the end of its SPKI.
        KeyKind::Ed25519 => format!("v=DKIM1; k=ed25519; p={}", b64(&spki[spki.len() - 32..])),
    };
    (path, record)
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl").args(args).output().expect("the openssl command line tool");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// DNS for the verifier: only the records the test publishes.
#[derive(Default)]
struct Dns(Mutex<HashMap<String, Txt>>);

impl ResolverCache<String, Txt> for Dns {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: String, value: Txt, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// mail-auth's verdict on each DKIM signature of `raw`, with `record`
/// published at `name` and no other DNS.
async fn dkim_verdicts(raw: &[u8], name: &str, record: &str) -> Vec<DkimResult> {
    let dns = Dns::default();
    let key = DomainKey::parse(record.as_bytes()).expect("a valid DKIM record");
    dns.insert(format!("{name}."), key.into(), Instant::now());
    let verifier = MessageAuthenticator::new_cloudflare().expect("verifier");
    let message = AuthenticatedMessage::parse(raw).expect("a parsable message");
    verifier.verify_dkim(Parameters::new(&message).with_txt_cache(&dns)).await.iter().map(|out| out.result().clone()).collect()
}

/// Every value of every text column of every table: (table, column, value).
async fn text_cells(app: &TestApp, backend: &Backend) -> Vec<(String, String, String)> {
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let columns: Vec<(String, String)> = match backend {
        Backend::Sqlite => {
            conn.fetch_all(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND (upper(p.type) LIKE '%TEXT%' OR upper(p.type) LIKE '%CHAR%' OR upper(p.type) LIKE '%CLOB%' OR p.type = '')",
                &[],
            )
            .await
        }
        Backend::Postgres(_) => {
            conn.fetch_all(
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')",
                &[],
            )
            .await
        }
    }
    .unwrap();
    assert!(columns.len() > 20, "{columns:?}");
    let mut cells = Vec::new();
    for (table, column) in columns {
        let sql = format!("SELECT CAST(\"{column}\" AS TEXT) FROM \"{table}\"");
        let values: Vec<(Option<String>,)> = conn.fetch_all(&sql, &[]).await.unwrap();
        for (value,) in values {
            if let Some(v) = value {
                cells.push((table.clone(), column.clone(), v));
            }
        }
    }
    cells
}
