//! Every page a person can reach, in each of its states, checked by axe-core for WCAG 2.1 AA in
//! Debian's headless Chromium at a phone's width (390 px) and a laptop's (1000 px), and for
//! content wider than the screen. The walk names pages by `main[data-page]` and fields by id, not
//! by their words, so that it runs unchanged in every language the pages are written in.

use crate::browser::{Driver, axe_script, axe_violations, wait_for_page, widths};
use crate::helpers::*;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use std::path::PathBuf;
use std::time::Duration;

const WIDTHS: [u32; 2] = [390, 1000];

/// The pages checked so far and what was found on them.
struct Audit<'a> {
    browser: &'a Client,
    lang: &'a str,
    script: &'static str,
    checked: Vec<String>,
    found: Vec<String>,
    /// Where to save a picture of each page as checked, if anywhere.
    shots: Option<PathBuf>,
}

/// What a page for people never says: the protocol's words, status codes, a JSON body, a token.
const HTTP_WORDS: [&str; 14] =
    ["Retry-After", "CSRF", "JSON", "HTTP", "{\"", "400", "403", "404", "409", "429", "500", "503", "token", "Content-Type"];

/// Pages also pictured at the phone's width.
const PHONE_SHOTS: [&str; 4] = ["home", "tenant-form-every-field-wrong", "signup-ready", "devmail"];

/// The pages pictured in the other languages (`de-home.png`): English shows every one.
const TRANSLATED_SHOTS: [&str; 6] =
    ["home", "tenant-form-every-field-wrong", "signup-ready-password-refused", "signup-done", "forgot-sent", "forgot-form-rate-limited"];

impl<'a> Audit<'a> {
    /// Checks the page shown once it is `page`; `state` tells two views of one page apart.
    async fn check(&mut self, page: &str, state: &str) {
        wait_for_page(self.browser, page).await;
        let name = if state.is_empty() { page.to_owned() } else { format!("{page} ({state})") };
        let (text, lang) = self.text_and_lang(page).await;
        // The development mailbox is the operator's, and shows the mail's links and a JSON view.
        for word in HTTP_WORDS.iter().filter(|_| page != "devmail") {
            if text.contains(word) {
                self.found.push(format!("{name}: says {word:?}, a word of HTTP's rather than people's"));
            }
        }
        if lang != self.lang {
            self.found.push(format!("{name}: <html lang={lang:?}>, asked for {:?}", self.lang));
        }
        for width in WIDTHS {
            self.browser.set_window_size(width, 900).await.unwrap();
            let (inner, content) = widths(self.browser).await;
            assert_eq!(inner, u64::from(width), "the window is {width} px wide inside");
            if content > inner {
                self.found.push(format!("{name} at {width} px: content {content} px wide, wider than the screen"));
            }
            for violation in axe_violations(self.browser, self.script).await {
                self.found.push(format!("{name} at {width} px: {violation}"));
            }
            if let Some(dir) = &self.shots {
                let file = picture_name(page, state);
                let phone = width == WIDTHS[0];
                let english = self.lang == "en";
                if (!phone || PHONE_SHOTS.contains(&file.as_str())) && (english || TRANSLATED_SHOTS.contains(&file.as_str())) {
                    let prefix = if english { String::new() } else { format!("{}-", self.lang) };
                    let suffix = if phone { "-phone" } else { "" };
                    self.picture(width, &dir.join(format!("{prefix}{file}{suffix}.png"))).await;
                }
            }
        }
        self.checked.push(name);
    }

    /// The page's text and `<html lang>`, read once the page stays `page` while they are read: a
    /// lookup that meets the document being replaced is "not yet", not a failure.
    async fn text_and_lang(&self, page: &str) -> (String, String) {
        let css = format!("main[data-page='{page}']");
        for _ in 0..200 {
            let read = async {
                let text = self.browser.find(Locator::Css("body")).await?.text().await?;
                let lang = self.browser.find(Locator::Css("html")).await?.attr("lang").await?.unwrap_or_default();
                self.browser.find(Locator::Css(&css)).await?;
                Ok::<_, fantoccini::error::CmdError>((text, lang))
            };
            if let Ok(found) = read.await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page {page} could not be read");
    }

    /// The whole page, however long, at `width`.
    async fn picture(&self, width: u32, path: &std::path::Path) {
        let height = self.browser.execute("return document.documentElement.scrollHeight;", vec![]).await.unwrap();
        self.browser.set_window_size(width, height.as_u64().unwrap_or(900) as u32).await.unwrap();
        std::fs::write(path, self.browser.screenshot().await.unwrap()).unwrap();
        self.browser.set_window_size(width, 900).await.unwrap();
    }
}

/// `signup:ready` and `password refused` make `signup-ready-password-refused`.
fn picture_name(page: &str, state: &str) -> String {
    let words = format!("{page} {state}").to_lowercase();
    words.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-")
}

async fn fill(browser: &Client, id: &str, text: &str) {
    browser.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Sends the page's form and waits for the answer: a new document, even when it is the same page
/// again (a form with its problems), so that nothing is read from the one that was left.
async fn submit(browser: &Client) {
    browser.execute("document.documentElement.dataset.left = 'yes';", vec![]).await.unwrap();
    click(browser, "main form button[type=submit]:not(.refresh)").await;
    for _ in 0..400 {
        if browser.find(Locator::Css("html:not([data-left])")).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the form was sent and no answer came");
}

/// Walks every page in `lang` and fails with each violation found, naming page and width; with
/// `shots`, saves a picture of each page there too.
pub(crate) async fn every_page_passes_axe_in(lang: &str, shots: Option<PathBuf>) {
    let Some(script) = axe_script() else { return };
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser_in(lang).await;
    let mut audit = Audit { browser: &browser, lang, script, checked: Vec::new(), found: Vec::new(), shots };
    let go = |path: &str| {
        let (browser, url) = (browser.clone(), app.url(path));
        async move { browser.goto(&url).await.unwrap() }
    };

    go("/").await;
    audit.check("home", "").await;

    // The tenant form: empty, every problem at once, then sent.
    go("/signup/tenant").await;
    audit.check("tenant:form", "").await;
    fill(&browser, "domain", "Not A Name").await;
    submit(&browser).await;
    wait_for_page(&browser, "tenant:form").await;
    browser.find(Locator::Css(".error-summary")).await.expect("the summary of problems");
    audit.check("tenant:form", "every field wrong").await;
    go("/signup/tenant").await;
    wait_for_page(&browser, "tenant:form").await;
    fill(&browser, "company_name", "Acme Inc").await;
    fill(&browser, "domain", "acme").await;
    browser.find(Locator::Id("country")).await.unwrap().select_by_value("DE").await.unwrap();
    fill(&browser, "zip_code", "10115").await;
    fill(&browser, "first_name", "Jane").await;
    fill(&browser, "last_name", "Saoirse").await;
    fill(&browser, "email", "jane@example.com").await;
    click(&browser, "#tos").await;
    submit(&browser).await;
    audit.check("tenant:sent", "").await;

    // The signup link: its form, a refused password, done, and opened again.
    let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
    browser.goto(&link).await.unwrap();
    audit.check("signup:ready", "").await;
    fill(&browser, "password", "password123").await;
    submit(&browser).await;
    wait_for_page(&browser, "signup:ready").await;
    browser.find(Locator::Id("password-error")).await.expect("the password's problem");
    audit.check("signup:ready", "password refused").await;
    fill(&browser, "password", STRONG_PASSWORD).await;
    submit(&browser).await;
    audit.check("signup:done", "").await;
    browser.goto(&link).await.unwrap();
    audit.check("signup:completed", "").await;
    go("/signup?token=nonsense").await;
    audit.check("signup:invalid", "").await;

    // The forgotten password: the form, its problems, sent, and asked again too soon.
    go("/password/forgot").await;
    audit.check("forgot:form", "").await;
    submit(&browser).await;
    wait_for_page(&browser, "forgot:form").await;
    browser.find(Locator::Css(".error-summary")).await.expect("the summary of problems");
    audit.check("forgot:form", "both fields missing").await;
    fill(&browser, "cname", "acme").await;
    fill(&browser, "email", "jane@example.com").await;
    submit(&browser).await;
    audit.check("forgot:sent", "").await;
    go("/password/forgot?cname=acme&email=jane%40example.com").await;
    wait_for_page(&browser, "forgot:form").await;
    submit(&browser).await;
    wait_for_page(&browser, "forgot:form").await;
    browser.find(Locator::Css(".notice")).await.expect("the wait, said at the top");
    audit.check("forgot:form", "rate limited").await;

    // The password link: its form, a refused password, done, used, and no link at all.
    let mail = app.wait_for_mail("jane@example.com", 2).await;
    let link = link_in(&mail[1]["text"]);
    browser.goto(&link).await.unwrap();
    audit.check("password:ready", "").await;
    fill(&browser, "password", "password123").await;
    submit(&browser).await;
    wait_for_page(&browser, "password:ready").await;
    audit.check("password:ready", "password refused").await;
    fill(&browser, "password", "another-Violet-harbour-92").await;
    submit(&browser).await;
    audit.check("password:done", "").await;
    browser.goto(&link).await.unwrap();
    audit.check("password:dead", "used").await;
    go("/password?token=nonsense").await;
    audit.check("password:dead", "not a link").await;

    // The developer form and its activation link.
    go("/signup/developer").await;
    audit.check("developer:form", "").await;
    submit(&browser).await;
    wait_for_page(&browser, "developer:form").await;
    audit.check("developer:form", "every field missing").await;
    fill(&browser, "first_name", "Dev").await;
    fill(&browser, "last_name", "Eloper").await;
    fill(&browser, "email", "dev@example.com").await;
    submit(&browser).await;
    audit.check("developer:sent", "").await;
    let link = link_in(&app.wait_for_mail("dev@example.com", 1).await[0]["text"]);
    browser.goto(&link).await.unwrap();
    audit.check("activation:ready", "").await;
    fill(&browser, "password", STRONG_PASSWORD).await;
    submit(&browser).await;
    audit.check("activation:done", "").await;
    go("/activate?signupCode=nonsense").await;
    audit.check("activation:dead", "").await;

    // The code page, empty and sent empty.
    go("/code").await;
    audit.check("code", "").await;
    submit(&browser).await;
    wait_for_page(&browser, "code").await;
    browser.find(Locator::Css(".error-summary")).await.expect("the summary of problems");
    audit.check("code", "both fields missing").await;

    // An expired signup link, and the new one it asks for.
    assert_eq!(app.signup("globex", "kim@example.com").await.status(), StatusCode::OK);
    let link = link_in(&app.wait_for_mail("kim@example.com", 1).await[0]["text"]);
    app.clock.advance(Duration::from_secs(25 * 3600));
    browser.goto(&link).await.unwrap();
    audit.check("signup:expired", "").await;
    submit(&browser).await;
    audit.check("signup:resent", "").await;

    go("/dev/mail").await;
    audit.check("devmail", "").await;

    // The per-client limit, as a page.
    let limited = TestApp::spawn_with(Backend::Sqlite, &[("limit_client_per_minute", "2")]).await;
    for _ in 0..3 {
        browser.goto(&limited.url("/")).await.unwrap();
    }
    audit.check("error:rate_limited", "").await;
    let (checked, found) = (audit.checked, audit.found);
    browser.close().await.unwrap();

    eprintln!("{} page views checked in {lang}, at {WIDTHS:?} px", checked.len());
    assert!(found.is_empty(), "{} problems:\n{}", found.len(), found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_english_has_no_wcag_2_1_aa_violation_at_phone_and_laptop_widths() {
    every_page_passes_axe_in("en", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_german_has_no_wcag_2_1_aa_violation_at_phone_and_laptop_widths() {
    every_page_passes_axe_in("de", None).await;
}
