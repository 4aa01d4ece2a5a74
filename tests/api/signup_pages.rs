//! The pages a person signs up with: `/`, the tenant form and the developer
//! form, over HTTP and in Debian's headless Chromium with JavaScript off
//! and on.

use crate::browser::{Driver, wait_for_text};
use crate::helpers::*;
use crate::on_each_backend;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use std::time::Duration;

const TENANT_FORM: &str = "/signup/tenant";
const DEVELOPER_FORM: &str = "/signup/developer";

/// The form page's CSRF cookie and token.
async fn open_form(app: &TestApp, path: &str) -> (String, String, String) {
    let r = app.get(path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = unescape(r.text().await.unwrap());
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (cookie, csrf, html)
}

fn tenant_fields<'a>(csrf: &'a str, zip: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("company_name", "Acme & Sons <Inc>"),
        ("domain", "acme"),
        ("address1", "1 Pike St"),
        ("country", "US"),
        ("state_code", "WA"),
        ("city", "Seattle"),
        ("zip_code", zip),
        ("first_name", "Jane"),
        ("last_name", "Saoirse"),
        ("email", "jane@example.com"),
        ("tos", "accepted"),
        ("step", "submit"),
    ]
}

on_each_backend! {
    async fn the_home_page_says_what_usher_is_and_links_both_forms(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = app.get("/").await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = unescape(r.text().await.unwrap());
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains(&format!("href=\"{TENANT_FORM}\"")) && html.contains(&format!("href=\"{DEVELOPER_FORM}\"")), "{html}");
        assert!(html.contains("<h1>Welcome to usher</h1>") && html.contains("<title>Sign up · usher</title>"), "the product's name: {html}");
        assert!(html.contains("href=\"/password/forgot\""), "the way to a password email: {html}");
    }

    async fn an_operator_can_turn_the_home_page_off_or_point_it_elsewhere(backend: Backend) {
        let off = TestApp::spawn_with(backend.clone(), &[("home_page", "off")]).await;
        let (status, answer) = body(off.get("/").await).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
        assert_eq!(off.get(TENANT_FORM).await.status(), StatusCode::OK, "the forms stay");

        let elsewhere = TestApp::spawn_with(backend, &[("home_page", "https://www.example.com/join")]).await;
        let r = elsewhere.get("/").await;
        assert!(r.status().is_redirection());
        assert_eq!(r.headers()["location"], "https://www.example.com/join");
    }

    async fn without_javascript_choosing_a_country_brings_the_form_back_with_its_states_and_the_values_kept(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (cookie, csrf, html) = open_form(&app, TENANT_FORM).await;
        for attr in ["autocomplete=\"organization\"", "autocomplete=\"country\"", "autocomplete=\"postal-code\"", "autocomplete=\"email\"", "for=\"domain\""] {
            assert!(html.contains(attr), "{attr}");
        }
        assert!(html.contains("version 2026-01"), "the configured terms version is shown");
        let form = [("csrf", csrf.as_str()), ("company_name", "Acme & Sons"), ("country", "US"), ("step", "country")];
        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("<option value=\"WA\">Washington</option>"));
        assert!(html.contains("value=\"Acme &amp; Sons\""), "escaped and kept");

        let (cookie, csrf, _) = open_form(&app, TENANT_FORM).await;
        let form = [("csrf", csrf.as_str()), ("country", "US"), ("state_code", "WA"), ("step", "state")];
        let html = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&form).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("<option value=\"WA\" selected>Washington</option>"));
        assert!(html.contains("<option value=\"Seattle\">"));
        assert!(app.outbox().await.is_empty(), "choosing from the lists sends nothing");
    }

    async fn the_tenant_form_signs_up_through_the_api_flow_and_refuses_a_forged_post(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (cookie, csrf, _) = open_form(&app, TENANT_FORM).await;
        let fields = tenant_fields(&csrf, "98101");
        let forged = app.client.post(app.url(TENANT_FORM)).form(&fields).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);

        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&fields).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Check your email"));
        let token = token_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
        let (_, details) = body(app.get(&format!("/no_auth/namespaces/system/f5xc-saas/signup/registration_details?token={token}")).await).await;
        assert_eq!(details["domain"], "acme");
    }

    async fn a_bad_zip_in_the_tenant_form_is_shown_beside_the_field_with_the_other_values_kept(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (cookie, csrf, _) = open_form(&app, TENANT_FORM).await;
        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&tenant_fields(&csrf, "9810")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"zip_code-error\""), "{html}");
        assert!(html.contains("aria-describedby=\"zip_code-hint zip_code-error\" aria-invalid=\"true\""), "{html}");
        assert!(html.contains("value=\"Acme &amp; Sons &lt;Inc&gt;\"") && html.contains("value=\"jane@example.com\""));
        assert!(html.contains("<option value=\"US\" selected>"));
        assert!(app.outbox().await.is_empty());
    }

    async fn the_developer_form_queues_an_activation_code_like_signup_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (cookie, csrf, _) = open_form(&app, DEVELOPER_FORM).await;
        let bad = [("csrf", csrf.as_str()), ("first_name", "Dev"), ("last_name", "Eloper"), ("email", "not-an-address")];
        let r = app.client.post(app.url(DEVELOPER_FORM)).header("cookie", &cookie).form(&bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("id=\"email-error\""));

        let form = [("csrf", csrf.as_str()), ("first_name", "Dev"), ("last_name", "Eloper"), ("email", "dev@example.com")];
        let r = app.client.post(app.url(DEVELOPER_FORM)).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Check your email"));
        let link = link_in(&app.wait_for_mail("dev@example.com", 1).await[0]["text"]);
        assert!(link.contains("/activate?signupCode="), "{link}");
    }

    async fn the_api_answers_the_first_problem_of_a_signup_in_form_order_and_the_form_every_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut request = signup_body("acme", "not-an-address");
        request["company_details"]["mailing_address"]["country"] = serde_json::json!("");
        request["user_details"]["first_name"] = serde_json::json!("");
        let (status, answer) = body(app.post_json("/no_auth/namespaces/system/f5xc-saas/signup", &request).await).await;
        assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("email")), "{answer}");

        let (cookie, csrf, _) = open_form(&app, TENANT_FORM).await;
        let mut fields = tenant_fields(&csrf, "98101");
        fields.retain(|(k, _)| !matches!(*k, "country" | "first_name" | "email"));
        fields.extend([("country", ""), ("first_name", ""), ("email", "not-an-address")]);
        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&fields).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        for id in ["country", "first_name", "email"] {
            assert!(html.contains(&format!("id=\"{id}-error\"")) && html.contains(&format!("href=\"#{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("There are 3 problems with the form"), "{html}");
        assert!(app.outbox().await.is_empty());
    }

    async fn the_forgotten_password_page_answers_a_known_and_an_unknown_address_alike(backend: Backend) {
        let app = onboarded(backend).await;
        let ask = async |cname: &str, email: &str| {
            let (cookie, csrf) = form_with_cookie(&app, "/password/forgot").await;
            let form = [("csrf", csrf.as_str()), ("cname", cname), ("email", email)];
            observable(app.client.post(app.url("/password/forgot")).header("cookie", &cookie).form(&form).send().await.unwrap()).await
        };
        // Addresses of one length, so that only the address itself differs where the page repeats it.
        let (status, headers, known) = ask("acme", "jane@example.com").await;
        let unknown = ask("acme", "june@example.com").await;
        assert_eq!(status, StatusCode::OK);
        assert!(known.contains("jane@example.com") && known.contains("acme"), "the page repeats what was typed: {known}");
        assert_eq!((status, headers, known.replace("jane@", "ADDRESS")), (unknown.0, unknown.1, unknown.2.replace("june@", "ADDRESS")));
        app.drain_outbox().await;
        assert!(token_in(&app.mail_to("jane@example.com").await[1]["text"]).len() > 20, "jane gets a password link");
        assert!(app.mail_to("june@example.com").await.is_empty(), "nobody writes to june");
    }

    async fn the_forgotten_password_page_shares_send_password_emails_limits(backend: Backend) {
        let app = onboarded(backend).await;
        for email in ["jane@example.com", "nobody@example.com"] {
            let r = app.post_json("/no_auth/send_password_email", &serde_json::json!({ "cname": "acme", "email": email })).await;
            assert_eq!(r.status(), StatusCode::OK);
            let (cookie, csrf) = form_with_cookie(&app, "/password/forgot").await;
            let form = [("csrf", csrf.as_str()), ("cname", "acme"), ("email", email)];
            let r = app.client.post(app.url("/password/forgot")).header("cookie", &cookie).form(&form).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{email}: one email a minute, by the API or the page");
            assert!(r.headers().contains_key("retry-after"));
            let html = r.text().await.unwrap();
            assert!(html.contains("Try again in "), "{html}");
            assert!(!html.contains("Retry-After") && html.contains(&format!("value=\"{email}\"")), "{html}");
        }
    }

    async fn a_tenant_form_whose_token_went_stale_comes_back_with_its_values_and_goes_through_when_sent_again(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (cookie, csrf, _) = open_form(&app, TENANT_FORM).await;
        app.clock.advance(Duration::from_secs(3 * 3600));
        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &cookie).form(&tenant_fields(&csrf, "98101")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let fresh_cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = r.text().await.unwrap();
        assert!(html.contains("send the form again") && !html.contains("CSRF"), "{html}");
        assert!(html.contains("value=\"Acme &amp; Sons &lt;Inc&gt;\"") && html.contains("value=\"jane@example.com\""), "values kept: {html}");
        assert!(app.outbox().await.is_empty(), "a stale form does nothing");
        let fresh = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let r = app.client.post(app.url(TENANT_FORM)).header("cookie", &fresh_cookie).form(&tenant_fields(&fresh, "98101")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Check your email"));
    }

    async fn dead_links_point_back_to_the_right_form(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let signup = unescape(app.get("/signup?token=nonsense").await.text().await.unwrap());
        assert!(signup.contains(&format!("href=\"{TENANT_FORM}\"")), "{signup}");
        let activation = unescape(app.get("/activate?signupCode=nonsense").await.text().await.unwrap());
        assert!(activation.contains(&format!("href=\"{DEVELOPER_FORM}\"")), "{activation}");
    }
}

async fn fill(browser: &Client, id: &str, text: &str) {
    browser.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap();
}

async fn choose(browser: &Client, id: &str, value: &str) {
    browser.find(Locator::Id(id)).await.unwrap().select_by_value(value).await.unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Waits until the element matching `css` exists.
async fn wait_for(browser: &Client, css: &str) {
    for _ in 0..200 {
        if browser.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{css} never appeared");
}

async fn fill_the_company(browser: &Client) {
    fill(browser, "company_name", "Acme Inc").await;
    fill(browser, "domain", "acme").await;
}

/// With US and WA chosen: the rest of the form, submitted, then the emailed link followed.
async fn submit_seattle_and_complete(app: &TestApp, browser: &Client) {
    fill(browser, "city", "Seattle").await;
    fill(browser, "zip_code", "98101").await;
    fill_the_person(browser).await;
    click(browser, "#tos").await;
    click(browser, "button[value=submit]").await;
    wait_for_text(browser, "Check your email").await;
    complete_from_the_email(app, browser).await;
}

async fn fill_the_person(browser: &Client) {
    fill(browser, "first_name", "Jane").await;
    fill(browser, "last_name", "Saoirse").await;
    fill(browser, "email", "jane@example.com").await;
}

/// Follows the emailed signup link and completes the signup with a password.
async fn complete_from_the_email(app: &TestApp, browser: &Client) {
    let link = link_in(&app.wait_for_mail("jane@example.com", 1).await[0]["text"]);
    browser.goto(&link).await.unwrap();
    wait_for_text(browser, "Complete your signup").await;
    fill(browser, "password", STRONG_PASSWORD).await;
    click(browser, "button[type=submit]").await;
    wait_for_text(browser, "Welcome aboard").await;
    let mut conn = app.ctx.store.acquire().await.unwrap();
    let user = usher::store::users::user_by_cname_and_email(&mut conn, "acme", "jane@example.com").await.unwrap().unwrap();
    assert_eq!(user.state, "active");
    let (details,): (String,) = conn.fetch_one("SELECT details FROM signups", &[]).await.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(
        (stored["mailing_address"]["state_code"].as_str(), stored["mailing_address"]["city"].as_str()),
        (Some("WA"), Some("Seattle"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_without_javascript_signs_up_a_tenant_choosing_country_then_state_then_city() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser_without_js().await;
    browser.goto(&app.url("/")).await.unwrap();
    click(&browser, &format!("a[href='{TENANT_FORM}']")).await;
    wait_for_text(&browser, "Sign up your company").await;
    fill_the_company(&browser).await;
    fill(&browser, "address1", "1 Pike St").await;
    assert!(!browser.find(Locator::Id("state-row")).await.unwrap().is_displayed().await.unwrap(), "no states before a country");

    choose(&browser, "country", "US").await;
    click(&browser, "button[value=country]").await;
    wait_for(&browser, "#state_code option[value=WA]").await;
    assert_eq!(browser.find(Locator::Id("company_name")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("Acme Inc"));
    choose(&browser, "state_code", "WA").await;
    click(&browser, "button[value=state]").await;
    wait_for(&browser, "#city-list option[value=Seattle]").await;

    submit_seattle_and_complete(&app, &browser).await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_javascript_signs_up_a_tenant_with_the_lists_filled_in_place() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser().await;
    browser.goto(&app.url(TENANT_FORM)).await.unwrap();
    wait_for_text(&browser, "Sign up your company").await;
    assert!(
        !browser.find(Locator::Css("button[value=country]")).await.unwrap().is_displayed().await.unwrap(),
        "the script hides the buttons"
    );
    fill_the_company(&browser).await;

    choose(&browser, "country", "US").await;
    wait_for(&browser, "#tenant-form[data-states=loaded] #state_code option[value=WA]").await;
    choose(&browser, "state_code", "WA").await;
    wait_for(&browser, "#tenant-form[data-cities=loaded] #city-list option[value=Seattle]").await;
    submit_seattle_and_complete(&app, &browser).await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_zip_shows_its_error_beside_the_field_in_a_browser_with_the_other_values_kept() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser().await;
    browser.goto(&app.url(TENANT_FORM)).await.unwrap();
    fill_the_company(&browser).await;
    choose(&browser, "country", "US").await;
    fill(&browser, "zip_code", "9810").await;
    fill_the_person(&browser).await;
    click(&browser, "#tos").await;
    click(&browser, "button[value=submit]").await;
    wait_for(&browser, "#zip_code-error").await;
    let error = browser.find(Locator::Id("zip_code-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("United States"), "{error}");
    let value = |id: &'static str| {
        let browser = browser.clone();
        async move { browser.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default() }
    };
    assert_eq!(value("company_name").await, "Acme Inc");
    assert_eq!(value("email").await, "jane@example.com");
    assert_eq!(value("country").await, "US");
    assert_eq!(value("zip_code").await, "9810");
    assert!(browser.find(Locator::Id("tos")).await.unwrap().prop("checked").await.unwrap().as_deref() == Some("true"));
    browser.close().await.unwrap();
    assert!(app.outbox().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_signs_up_in_a_browser_and_activates_the_account() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser().await;
    browser.goto(&app.url("/")).await.unwrap();
    click(&browser, &format!("a[href='{DEVELOPER_FORM}']")).await;
    wait_for_text(&browser, "Sign up as a developer").await;
    fill(&browser, "first_name", "Dev").await;
    fill(&browser, "last_name", "Eloper").await;
    fill(&browser, "email", "dev@example.com").await;
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Check your email").await;

    let link = link_in(&app.wait_for_mail("dev@example.com", 1).await[0]["text"]);
    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "Activate your account").await;
    fill(&browser, "password", STRONG_PASSWORD).await;
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Your account is active").await;
    browser.close().await.unwrap();

    let mut conn = app.ctx.store.acquire().await.unwrap();
    let user = usher::store::users::user_by_cname_and_email(&mut conn, "default", "dev@example.com").await.unwrap().unwrap();
    assert_eq!(user.state, "active");
}

/// The value of `name` on the element with id `id`.
async fn attr(browser: &Client, id: &str, name: &str) -> String {
    browser.find(Locator::Id(id)).await.unwrap().attr(name).await.unwrap().unwrap_or_default()
}

async fn value(browser: &Client, id: &str) -> String {
    browser.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
}

async fn focused(browser: &Client) -> String {
    browser.execute("return document.activeElement.id;", vec![]).await.unwrap().as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_form_with_many_mistakes_shows_every_one_at_once_beside_its_field_and_in_a_summary_linking_to_each() {
    let Some(driver) = Driver::start().await else { return };
    let app = onboarded(Backend::Sqlite).await;
    let mails = app.outbox().await.len();
    let browser = driver.browser().await;
    browser.goto(&app.url(TENANT_FORM)).await.unwrap();
    wait_for_text(&browser, "Sign up your company").await;
    // A taken domain and a bad address; no company, country, names or terms.
    fill(&browser, "domain", "acme").await;
    fill(&browser, "email", "not-an-address").await;
    click(&browser, "button[value=submit]").await;
    wait_for(&browser, ".error-summary[role=alert]").await;

    let mut linked = Vec::new();
    for link in browser.find_all(Locator::Css(".error-summary a")).await.unwrap() {
        linked.push(link.attr("href").await.unwrap().unwrap_or_default());
    }
    let fields = ["company_name", "domain", "country", "first_name", "last_name", "email", "tos"];
    assert_eq!(linked, fields.map(|f| format!("#{f}")), "every problem, in the form's order");
    for id in fields {
        assert_eq!(attr(&browser, id, "aria-invalid").await, "true", "{id}");
        let error = format!("{id}-error");
        assert!(attr(&browser, id, "aria-describedby").await.split(' ').any(|d| d == error), "{id} points at its error");
        assert!(!browser.find(Locator::Id(&error)).await.unwrap().text().await.unwrap().is_empty(), "{id}'s error says something");
    }
    let taken = browser.find(Locator::Id("domain-error")).await.unwrap().text().await.unwrap();
    assert!(taken.contains("already taken"), "the taken domain is among the rest: {taken}");
    assert_eq!((value(&browser, "domain").await, value(&browser, "email").await), ("acme".into(), "not-an-address".into()), "values kept");

    click(&browser, ".error-summary a[href='#email']").await;
    assert_eq!(focused(&browser).await, "email", "the summary's link takes the person to the field");
    browser.close().await.unwrap();
    assert_eq!(app.outbox().await.len(), mails, "nothing is queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_left_open_for_hours_comes_back_with_its_values_and_goes_through_when_sent_again_in_a_browser() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = driver.browser().await;
    browser.goto(&app.url(DEVELOPER_FORM)).await.unwrap();
    wait_for_text(&browser, "Sign up as a developer").await;
    fill(&browser, "first_name", "Dev").await;
    fill(&browser, "last_name", "Eloper").await;
    fill(&browser, "email", "dev@example.com").await;
    app.clock.advance(Duration::from_secs(3 * 3600));
    click(&browser, "button[type=submit]").await;
    let page = wait_for_text(&browser, "Please send the form again").await;
    assert!(!page.contains("CSRF") && !page.contains("email again"), "{page}");
    assert_eq!(value(&browser, "email").await, "dev@example.com");
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Check your email").await;
    browser.close().await.unwrap();
    app.wait_for_mail("dev@example.com", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_forgot_the_password_asks_for_an_email_sets_it_for_the_named_account_and_a_used_link_leads_to_a_new_one() {
    let Some(driver) = Driver::start().await else { return };
    let app = onboarded(Backend::Sqlite).await;
    let browser = driver.browser_without_js().await;
    browser.goto(&app.url("/")).await.unwrap();
    click(&browser, "a[href='/password/forgot']").await;
    wait_for_text(&browser, "Ask for a password email").await;
    fill(&browser, "cname", "acme").await;
    fill(&browser, "email", "jane@example.com").await;
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Check your email").await;

    let link = link_in(&app.wait_for_mail("jane@example.com", 2).await[1]["text"]);
    browser.goto(&link).await.unwrap();
    let page = wait_for_text(&browser, "Set your password").await;
    assert!(page.contains("For jane@example.com at acme"), "the page names the account: {page}");
    fill(&browser, "password", "another-Violet-harbour-92").await;
    click(&browser, "button[type=submit]").await;
    let page = wait_for_text(&browser, "Password set").await;
    assert!(page.contains("jane@example.com") && page.contains("acme") && !page.contains("console"), "{page}");

    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "already used").await;
    click(&browser, "a.button").await;
    wait_for_text(&browser, "Ask for a password email").await;
    assert_eq!((value(&browser, "cname").await, value(&browser, "email").await), ("acme".into(), "jane@example.com".into()));
    app.clock.advance(Duration::from_secs(61));
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Check your email").await;
    browser.close().await.unwrap();
    app.wait_for_mail("jane@example.com", 3).await;
}

/// Not a check: saves docs/screenshots/*.png of each page a person sees, as the accessibility walk
/// shows it, and `de-*.png` of a few in German. `USHER_SCREENSHOTS=$PWD/docs/screenshots cargo
/// nextest run --run-ignored only -E 'test(screenshots)'`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn screenshots_of_each_page() {
    let Some(dir) = std::env::var_os("USHER_SCREENSHOTS") else { return };
    crate::accessibility::every_page_passes_axe_in("en", Some(dir.clone().into())).await;
    crate::accessibility::every_page_passes_axe_in("de", Some(dir.into())).await;
}
