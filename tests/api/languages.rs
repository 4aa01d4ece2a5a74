//! The pages in the language the browser asks for (`Accept-Language`), among those the message
//! catalogues have, and the mail of a signup made on them in the same language.

use crate::browser::{Driver, wait_for_page, wait_for_text};
use crate::helpers::*;
use crate::on_each_backend;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;

async fn page_in(app: &TestApp, path: &str, accept_language: Option<&str>) -> (String, Option<String>, Option<String>) {
    let mut request = app.client.get(app.url(path));
    if let Some(asked) = accept_language {
        request = request.header("accept-language", asked);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (language, vary) = (header("content-language"), header("vary"));
    (unescape(r.text().await.unwrap()), language, vary)
}

on_each_backend! {
    async fn a_page_is_in_the_first_language_the_browser_asks_for_that_usher_has_and_says_it_varies_by_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (asked, lang, welcome) in [
            (Some("de-AT,de;q=0.9,en;q=0.8"), "de", "<h1>Willkommen bei usher</h1>"),
            (Some("fr-FR, fr;q=0.9, de;q=0.5"), "de", "<h1>Willkommen bei usher</h1>"),
            (Some("fr, it"), "en", "<h1>Welcome to usher</h1>"),
            (Some("de;q=0, en"), "en", "<h1>Welcome to usher</h1>"),
            (None, "en", "<h1>Welcome to usher</h1>"),
        ] {
            let (html, language, vary) = page_in(&app, "/", asked).await;
            assert!(html.contains(&format!("<html lang=\"{lang}\">")) && html.contains(welcome), "{asked:?}: {html}");
            assert_eq!((language.as_deref(), vary.as_deref()), (Some(lang), Some("Accept-Language")), "{asked:?}");
        }
        let (form, _, _) = page_in(&app, "/signup/tenant", Some("de")).await;
        for words in ["<title>Ihr Unternehmen registrieren · usher</title>", "<legend>Postanschrift</legend>", "(Version 2026-01)"] {
            assert!(form.contains(words), "{words}: {form}");
        }
    }

    async fn a_tenant_form_sent_in_german_is_answered_in_german_beside_each_field_while_the_api_keeps_its_english(backend: Backend) {
        let app = onboarded(backend).await;
        let r = app.client.get(app.url("/signup/tenant")).header("accept-language", "de-DE").send().await.unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = r.text().await.unwrap();
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let form = [("csrf", csrf.as_str()), ("domain", "acme"), ("country", "DE"), ("zip_code", "1011"), ("email", "not-an-address")];
        let r = app.client.post(app.url("/signup/tenant")).header("cookie", &cookie).header("accept-language", "de-DE").form(&form);
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = unescape(r.text().await.unwrap());
        for words in [
            "<title>Fehler: Ihr Unternehmen registrieren · usher</title>",
            "Das Formular enthält 7 Fehler",
            "Bitte geben Sie „Name des Unternehmens“ an.",
            "„Domain“: Dieser Name ist bereits vergeben; bitte wählen Sie einen anderen.",
            "„Postleitzahl“ passt nicht zu den Postleitzahlen des gewählten Landes (zum Beispiel 26133).",
            "„E-Mail-Adresse“ ist keine gültige E-Mail-Adresse.",
            "Bitte akzeptieren Sie die Nutzungsbedingungen, um sich zu registrieren.",
        ] {
            assert!(html.contains(words), "{words}: {html}");
        }
        assert!(!html.contains("is required") && !html.contains("must be"), "no English: {html}");

        let mut body = signup_body("globex", "not-an-address");
        body["account_details"]["locale"] = serde_json::json!("de");
        let (status, answer) = body_of(app.client.post(app.url("/no_auth/namespaces/system/f5xc-saas/signup")).header("accept-language", "de").json(&body)).await;
        assert_eq!((status, answer["message"].as_str()), (StatusCode::BAD_REQUEST, Some("email is not a valid email address")), "{answer}");
    }

    async fn an_operators_catalogue_rewords_a_page_in_one_language_and_leaves_the_others(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de/ours.ftl"), "home-welcome = Servus bei { $product }\n").unwrap();
        let app = TestApp::spawn_with(backend, &[("messages_dir", dir.path().to_str().unwrap())]).await;
        let (german, _, _) = page_in(&app, "/", Some("de")).await;
        assert!(german.contains("<h1>Servus bei usher</h1>") && german.contains("Schon registriert?"), "{german}");
        let (english, _, _) = page_in(&app, "/", Some("en")).await;
        assert!(english.contains("<h1>Welcome to usher</h1>"), "{english}");
    }
}

async fn body_of(request: reqwest::RequestBuilder) -> (StatusCode, serde_json::Value) {
    body(request.send().await.unwrap()).await
}

async fn fill(browser: &Client, id: &str, text: &str) {
    browser.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn submit(browser: &Client) {
    click(browser, "main form button[type=submit]:not(.refresh)").await;
}

async fn error_of(browser: &Client, id: &str) -> String {
    browser.find(Locator::Id(&format!("{id}-error"))).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_browser_signs_up_in_german_from_its_mistakes_to_the_welcome_and_the_password_email_and_gets_german_mail() {
    let Some(driver) = Driver::start().await else { return };
    let app = onboarded(Backend::Sqlite).await;
    let browser = driver.browser_in("de").await;
    browser.goto(&app.url("/")).await.unwrap();
    wait_for_text(&browser, "Willkommen bei usher").await;
    click(&browser, "a[href='/signup/tenant']").await;
    wait_for_text(&browser, "Ihr Unternehmen registrieren").await;

    // A taken domain and a bad address; nothing else.
    fill(&browser, "domain", "acme").await;
    fill(&browser, "email", "keine-adresse").await;
    submit(&browser).await;
    wait_for_page(&browser, "tenant:form").await;
    let summary = browser.find(Locator::Css(".error-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.starts_with("Das Formular enthält 7 Fehler"), "{summary}");
    assert!(error_of(&browser, "company_name").await.ends_with("Bitte geben Sie „Name des Unternehmens“ an."));
    assert!(error_of(&browser, "domain").await.contains("bereits vergeben"));
    assert!(error_of(&browser, "email").await.contains("keine gültige E-Mail-Adresse"));
    assert!(error_of(&browser, "tos").await.contains("Nutzungsbedingungen"));
    assert!(browser.title().await.unwrap().starts_with("Fehler: "));

    browser.goto(&app.url("/signup/tenant")).await.unwrap();
    wait_for_page(&browser, "tenant:form").await;
    fill(&browser, "company_name", "Globex GmbH").await;
    fill(&browser, "domain", "globex").await;
    browser.find(Locator::Id("country")).await.unwrap().select_by_value("DE").await.unwrap();
    fill(&browser, "zip_code", "10115").await;
    fill(&browser, "first_name", "Kim").await;
    fill(&browser, "last_name", "Weber").await;
    fill(&browser, "email", "kim@example.com").await;
    click(&browser, "#tos").await;
    submit(&browser).await;
    wait_for_text(&browser, "Bitte prüfen Sie Ihr Postfach").await;

    let mail = app.wait_for_mail("kim@example.com", 1).await.remove(0);
    assert_eq!(mail["subject"], "Bestätigen Sie Ihre Registrierung für globex");
    browser.goto(&link_in(&mail["text"])).await.unwrap();
    wait_for_text(&browser, "Registrierung abschließen").await;
    fill(&browser, "password", "password123").await;
    submit(&browser).await;
    wait_for_page(&browser, "signup:ready").await;
    assert!(error_of(&browser, "password").await.contains("zu leicht zu erraten"));
    fill(&browser, "password", STRONG_PASSWORD).await;
    submit(&browser).await;
    let welcome = wait_for_text(&browser, "Willkommen an Bord").await;
    assert!(welcome.contains("Der Mandant globex ist bereit, mit kim@example.com als erstem Benutzer."), "{welcome}");

    browser.goto(&app.url("/password/forgot")).await.unwrap();
    wait_for_text(&browser, "Passwort-E-Mail anfordern").await;
    submit(&browser).await;
    wait_for_page(&browser, "forgot:form").await;
    assert!(error_of(&browser, "cname").await.ends_with("Bitte geben Sie „Name des Mandanten“ an."));
    fill(&browser, "cname", "globex").await;
    fill(&browser, "email", "kim@example.com").await;
    submit(&browser).await;
    let sent = wait_for_text(&browser, "Bitte prüfen Sie Ihr Postfach").await;
    assert!(sent.contains("Der Link gilt eine Stunde."), "{sent}");
    browser.close().await.unwrap();

    let mail = app.wait_for_mail("kim@example.com", 2).await.remove(1);
    assert_eq!(mail["subject"], "Legen Sie Ihr Passwort für globex fest", "the signup kept the page's language for later mail");
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let (locale,): (String,) = conn.fetch_one("SELECT locale FROM signups WHERE cname = 'globex'", &[]).await.unwrap();
    assert_eq!(locale, "de");
}
