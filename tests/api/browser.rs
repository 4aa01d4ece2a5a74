//! The pages as a person uses them: Debian's headless Chromium, driven over
//! WebDriver (chromedriver) by fantoccini, with no JavaScript of usher's.

use crate::helpers::*;
use fantoccini::{ClientBuilder, Locator};
use reqwest::StatusCode;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, stopped when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// None where no browser is installed, except in CI, where it must be.
    pub(crate) async fn start() -> Option<Self> {
        if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(!in_ci, "CI=true but Chromium is missing: .ci/run installs it");
            eprintln!("chromium or chromedriver is not installed; the browser test was skipped (.ci/run installs them)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..400 {
            if reqwest::get(format!("{}/status", driver.url)).await.is_ok_and(|r| r.status().is_success()) {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("chromedriver did not start");
    }

    pub(crate) async fn browser(&self) -> fantoccini::Client {
        self.session(true, "en").await
    }

    /// A browser that runs no JavaScript at all, as some people browse.
    pub(crate) async fn browser_without_js(&self) -> fantoccini::Client {
        self.session(false, "en").await
    }

    /// A browser whose person reads `lang` (`en`, `de`): its interface and its `Accept-Language`.
    pub(crate) async fn browser_in(&self, lang: &str) -> fantoccini::Client {
        self.session(true, lang).await
    }

    async fn session(&self, javascript: bool, lang: &str) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--lang={lang}"));
        let mut prefs = serde_json::json!({ "intl.accept_languages": lang });
        if !javascript {
            prefs["profile.managed_default_content_settings.javascript"] = serde_json::json!(2);
        }
        let options = serde_json::json!({ "binary": CHROMIUM, "args": args, "prefs": prefs });
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(caps).connect(&self.url).await.expect("a Chromium session")
    }
}

pub(crate) async fn wait_for_text(browser: &fantoccini::Client, text: &str) -> String {
    let mut body = String::new();
    for _ in 0..200 {
        // While a form submits, the old body can vanish under the lookup:
        // that is "not yet", not a failure.
        if let Ok(element) = browser.find(Locator::Css("body")).await
            && let Ok(text_now) = element.text().await
        {
            body = text_now;
        }
        if body.contains(text) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the page never showed {text:?}; it shows: {body}");
}

/// Waits until the page that `main[data-page]` names is shown: a name that does not depend on the
/// page's language, so the same steps run in every language.
pub(crate) async fn wait_for_page(browser: &fantoccini::Client, page: &str) {
    let css = format!("main[data-page='{page}']");
    for _ in 0..200 {
        if browser.find(Locator::Css(&css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let shown = match browser.find(Locator::Css("main")).await {
        Ok(main) => main.attr("data-page").await.ok().flatten().unwrap_or_default(),
        Err(_) => browser.source().await.unwrap_or_default(),
    };
    panic!("the page {page} never showed; the browser shows {shown}");
}

/// axe-core's script, which .ci/run installs with `npm ci --prefix tests/axe` (the version pinned
/// in tests/axe/package-lock.json): None where it is not installed, except in CI, where it must be.
pub(crate) fn axe_script() -> Option<&'static str> {
    static SCRIPT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js");
            let found = std::fs::read_to_string(&path).ok();
            if found.is_none() {
                let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
                assert!(!in_ci, "CI=true but {} is missing: .ci/run installs it", path.display());
                eprintln!("axe-core is not installed; `npm ci --prefix tests/axe` installs it. The accessibility checks were skipped");
            }
            found
        })
        .as_deref()
}

/// WCAG 2.1 A and AA, as axe-core tags its rules.
const WCAG_21_AA: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Every WCAG 2.1 AA violation axe-core finds on the page shown, one line per element: the rule,
/// its impact, the element and what to fix.
pub(crate) async fn axe_violations(browser: &fantoccini::Client, script: &str) -> Vec<String> {
    // Run by WebDriver, not by the page: the pages' Content-Security-Policy allows no inline script.
    browser.execute(script, vec![]).await.expect("axe-core loads");
    let run = r#"
        const [tags, done] = arguments;
        axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] })
          .then((r) => done(r.violations.flatMap((v) => v.nodes.map((n) =>
              `${v.id} (${v.impact}) at ${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")} [${n.html.slice(0, 160)}]`))))
          .catch((e) => done([`axe failed: ${e}`]));
    "#;
    let found = browser.execute_async(run, vec![serde_json::json!(WCAG_21_AA)]).await.expect("axe-core runs");
    serde_json::from_value(found).expect("a list of violations")
}

/// The page's width in CSS pixels as laid out, and the widest its content goes: wider is a page
/// a person must scroll sideways.
pub(crate) async fn widths(browser: &fantoccini::Client) -> (u64, u64) {
    let found =
        browser.execute("return [window.innerWidth, document.documentElement.scrollWidth];", vec![]).await.expect("the page's widths");
    serde_json::from_value(found).expect("two widths")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_follows_the_signup_link_in_a_browser_and_creates_the_account() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
    let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);

    let browser = driver.browser().await;
    browser.goto(&link).await.unwrap();
    let page = wait_for_text(&browser, "Complete your signup").await;
    assert!(page.contains("acme") && page.contains("jane@example.com"), "{page}");

    // A guessable password: the form comes back with the reason and still works.
    browser.find(Locator::Id("password")).await.unwrap().send_keys("password123").await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "too easy to guess").await;

    browser.find(Locator::Id("password")).await.unwrap().send_keys(STRONG_PASSWORD).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let page = wait_for_text(&browser, "Welcome aboard").await;
    assert!(page.contains("Your account is ready"), "{page}");
    // No console URL is configured: no link to one, and the next step instead.
    assert!(browser.find(Locator::Css("a[href*='/console/']")).await.is_err());
    browser
        .find(Locator::Css("a[href='/password/forgot?cname=acme&email=jane%40example.com']"))
        .await
        .expect("the password email, filled in");
    browser.close().await.unwrap();

    let mut conn = app.ctx.store.acquire().await.unwrap();
    let user = usher::store::users::user_by_cname_and_email(&mut conn, "acme", "jane@example.com").await.unwrap().unwrap();
    assert_eq!(user.state, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_wear_the_configured_product_name_logo_and_accent_colour_in_a_browser() {
    let Some(driver) = Driver::start().await else { return };
    let settings = [("product_name", "Acme Cloud"), ("accent_color", "#7a1fa2"), ("logo_url", "/static/acme.svg")];
    let app = TestApp::spawn_with(Backend::Sqlite, &settings).await;
    let browser = driver.browser().await;
    browser.goto(&app.url("/")).await.unwrap();
    wait_for_text(&browser, "Welcome to Acme Cloud").await;
    assert_eq!(browser.title().await.unwrap(), "Sign up · Acme Cloud");
    let logo = browser.find(Locator::Css("header .logo")).await.unwrap();
    assert_eq!(logo.attr("src").await.unwrap().as_deref(), Some("/static/acme.svg"));
    let colour = browser.execute("return getComputedStyle(document.querySelector('main a')).color;", vec![]).await.unwrap();
    assert_eq!(colour, "rgb(122, 31, 162)", "links take the accent colour");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_an_expired_link_asks_for_a_new_one_in_a_browser() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
    let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
    app.clock.advance(Duration::from_secs(25 * 3600));

    let browser = driver.browser().await;
    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "This link has expired").await;
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "Check your email").await;
    browser.close().await.unwrap();

    let fresh = link_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
    assert_ne!(fresh, link);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_typed_in_a_browser_open_the_emails_link() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.signup("acme", "jane@example.com").await.status(), StatusCode::OK);
    let mail = app.wait_for_mail("jane@example.com", 1).await.remove(0);
    let text = mail["text"].as_str().unwrap();
    let code = text.split_whitespace().find(|w| w.len() == 9 && w.as_bytes()[4] == b'-').expect("a code in the email").to_owned();

    let browser = driver.browser_without_js().await;
    browser.goto(&app.url("/code")).await.unwrap();
    wait_for_text(&browser, "Type the code from your email").await;
    browser.find(Locator::Id("email")).await.unwrap().send_keys("jane@example.com").await.unwrap();
    // As a person types it from a phone's screen.
    browser.find(Locator::Id("code")).await.unwrap().send_keys(&code.replace('-', " ").to_lowercase()).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let page = wait_for_text(&browser, "Complete your signup").await;
    assert!(page.contains("acme") && page.contains("jane@example.com"), "{page}");
    assert_eq!(browser.current_url().await.unwrap().as_str(), link_in(&mail["text"]));
    browser.close().await.unwrap();
}
