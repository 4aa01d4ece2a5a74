//! The pages in the operator's colours: product name, logo, accent colour, a stylesheet and page
//! templates of their own, each checked before usher starts.

use crate::helpers::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_name_logo_and_accent_colour_brand_every_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app.get("/signup/developer").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(html.contains("<title>Sign up as a developer · usher</title>") && !html.contains("<img"), "{html}");
    assert!(csp.contains("img-src 'self';"), "{csp}");
    assert!(app.get("/assets/brand.css").await.text().await.unwrap().contains("--accent: #1a5fb4;"));

    let settings = [("product_name", "Acme Cloud"), ("logo_url", "https://cdn.example.com/acme/logo.svg"), ("accent_color", "#7A1FA2")];
    let app = TestApp::spawn_with(Backend::Sqlite, &settings).await;
    let r = app.get("/").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = unescape(r.text().await.unwrap());
    assert!(html.contains("<title>Sign up · Acme Cloud</title>") && html.contains("<h1>Welcome to Acme Cloud</h1>"), "{html}");
    assert!(html.contains("<img class=\"logo\" src=\"https://cdn.example.com/acme/logo.svg\" alt=\"\">"), "{html}");
    assert!(csp.contains("img-src 'self' https://cdn.example.com;"), "the logo's origin, and only for images: {csp}");
    let css = app.get("/assets/brand.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("--accent: #7a1fa2;"));
    let (status, answer) = body(app.post_json("/no_auth/send_password_email", &serde_json::json!({})).await).await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("cname")), "the API is not branded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_stylesheet_and_page_templates_apply_as_soon_as_they_are_edited() {
    let dir = tempfile::tempdir().unwrap();
    let (css, templates) = (dir.path().join("brand.css"), dir.path().join("pages"));
    std::fs::write(&css, "main { max-width: 50em; }\n").unwrap();
    std::fs::create_dir_all(templates.join("en")).unwrap();
    let home = |words: &str| {
        format!(
            "{{% extends \"layout.html\" %}}{{% block page %}}home{{% endblock %}}{{% block title %}}Hi{{% endblock %}}\
             {{% block body %}}<h1>{words}</h1>{{% endblock %}}"
        )
    };
    std::fs::write(templates.join("home.html"), home("Ours, in any language")).unwrap();
    std::fs::write(templates.join("en").join("home.html"), home("Ours, in English")).unwrap();
    std::fs::write(
        templates.join("layout.html"),
        include_str!("../../templates/pages/layout.html").replace("<main", "<p>Our banner</p><main"),
    )
    .unwrap();
    let settings = [("pages_stylesheet", css.to_str().unwrap()), ("pages_templates_dir", templates.to_str().unwrap())];
    let app = TestApp::spawn_with(Backend::Sqlite, &settings).await;

    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("<h1>Ours, in English</h1>") && html.contains("<title>Hi · usher</title>"), "{html}");
    assert!(html.contains("<p>Our banner</p>"), "an overridden layout serves the overridden page: {html}");
    let form = app.get("/signup/tenant").await.text().await.unwrap();
    assert!(form.contains("<p>Our banner</p>") && form.contains("Sign up your company"), "the pages not overridden keep theirs");
    let brand = app.get("/assets/brand.css").await.text().await.unwrap();
    assert!(brand.contains("--accent: #1a5fb4;") && brand.ends_with("main { max-width: 50em; }\n"), "after the accent: {brand}");

    std::fs::remove_file(templates.join("en").join("home.html")).unwrap();
    std::fs::write(&css, "main { max-width: 60em; }\n").unwrap();
    assert!(app.get("/").await.text().await.unwrap().contains("<h1>Ours, in any language</h1>"));
    assert!(app.get("/assets/brand.css").await.text().await.unwrap().contains("60em"));

    // Compiles, fails as it renders: the embedded error page answers, and the cause is logged.
    std::fs::write(templates.join("home.html"), "{% extends \"layout.html\" %}{% block body %}{{ no_such_function() }}{% endblock %}")
        .unwrap();
    let r = app.get("/").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().await.unwrap().contains("Something went wrong on our side"));
    assert!(failures_logged("/").iter().any(|(_, line)| line.contains("rendering the page home.html")), "{:?}", failures_logged("/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_and_serve_refuse_a_stylesheet_they_cannot_read_a_page_override_that_does_not_compile_and_an_unreadable_colour() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("usher.db").display());
    let templates = dir.path().join("pages");
    std::fs::create_dir_all(&templates).unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = usher_command(args, &db, dir.path());
        cmd.env("USHER_LISTEN", "127.0.0.1:0").envs(env.iter().copied());
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };

    let (ok, out) = run(&["check-config"], &[("USHER_PRODUCT_NAME", "Acme Cloud")]);
    assert!(ok && out.contains("# ok: pages: \"Acme Cloud\""), "{out}");

    let missing = dir.path().join("missing.css");
    let (ok, out) = run(&["check-config"], &[("USHER_PAGES_STYLESHEET", missing.to_str().unwrap())]);
    assert!(!ok && out.contains("# problem: pages_stylesheet: cannot read"), "{out}");
    let (ok, out) = run(&["serve"], &[("USHER_PAGES_STYLESHEET", missing.to_str().unwrap())]);
    assert!(!ok && out.contains("pages_stylesheet: cannot read"), "serve does not start: {out}");

    std::fs::write(templates.join("home.html"), "{% if %}").unwrap();
    let (ok, out) = run(&["check-config"], &[("USHER_PAGES_TEMPLATES_DIR", templates.to_str().unwrap())]);
    assert!(!ok && out.contains("home.html does not compile"), "{out}");
    std::fs::remove_file(templates.join("home.html")).unwrap();
    std::fs::write(templates.join("welcome.html"), "hello").unwrap();
    let (ok, out) = run(&["check-config"], &[("USHER_PAGES_TEMPLATES_DIR", templates.to_str().unwrap())]);
    assert!(!ok && out.contains("welcome.html is no page of usher's"), "a misnamed override would be ignored for ever: {out}");

    let (ok, out) = run(&["check-config"], &[("USHER_ACCENT_COLOR", "#ffcc00")]);
    assert!(!ok && out.contains("accent_color") && out.contains("contrast of 1.5:1"), "{out}");
}
