use crate::i18n::Catalogue;
use anyhow::Context;
use minijinja::{AutoEscape, Environment, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EMBEDDED: &[(&str, &str)] = &[
    ("signup_link.subject", include_str!("../../templates/mail/signup_link.subject")),
    ("signup_link.txt", include_str!("../../templates/mail/signup_link.txt")),
    ("signup_link.html", include_str!("../../templates/mail/signup_link.html")),
    ("account_exists.subject", include_str!("../../templates/mail/account_exists.subject")),
    ("account_exists.txt", include_str!("../../templates/mail/account_exists.txt")),
    ("account_exists.html", include_str!("../../templates/mail/account_exists.html")),
    ("password_link.subject", include_str!("../../templates/mail/password_link.subject")),
    ("password_link.txt", include_str!("../../templates/mail/password_link.txt")),
    ("password_link.html", include_str!("../../templates/mail/password_link.html")),
    ("activation_code.subject", include_str!("../../templates/mail/activation_code.subject")),
    ("activation_code.txt", include_str!("../../templates/mail/activation_code.txt")),
    ("activation_code.html", include_str!("../../templates/mail/activation_code.html")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

pub struct Templates {
    env: Environment<'static>,
    dir: Option<PathBuf>,
    catalogue: Arc<Catalogue>,
}

impl Templates {
    /// The embedded templates are compiled here, once; an override is read and compiled at each
    /// send, so an edited one applies to mail already queued without a restart.
    /// Templates speak through `catalogue` (`t("id", …)` in the language of the context's `lang`).
    pub(crate) fn new(dir: Option<PathBuf>, catalogue: Arc<Catalogue>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        env.set_keep_trailing_newline(true);
        crate::i18n::add_to(&mut env, catalogue.clone());
        for (name, source) in EMBEDDED {
            env.add_template(name, source).with_context(|| format!("compiling the embedded template {name}"))?;
        }
        Ok(Self { env, dir, catalogue })
    }

    pub(crate) fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub(crate) fn render(&self, kind: &str, tenant: Option<&str>, locale: &str, ctx: &Value) -> anyhow::Result<Rendered> {
        let subject = self.render_one(&format!("{kind}.subject"), tenant, locale, ctx)?;
        Ok(Rendered {
            // A header must be one line.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: self.render_one(&format!("{kind}.txt"), tenant, locale, ctx)?,
            html: self.render_one(&format!("{kind}.html"), tenant, locale, ctx)?,
        })
    }

    fn render_one(&self, name: &str, tenant: Option<&str>, locale: &str, ctx: &Value) -> anyhow::Result<String> {
        let rendered = match self.find_override(name, tenant, locale)? {
            Some(source) => self.env.render_named_str(name, &source, ctx),
            None => self.env.get_template(name).and_then(|t| t.render(ctx)),
        };
        rendered.with_context(|| format!("rendering template {name}"))
    }

    fn find_override(&self, name: &str, tenant: Option<&str>, locale: &str) -> anyhow::Result<Option<String>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(t) = tenant {
            candidates.push(Path::new(t).join(locale).join(name));
            candidates.push(Path::new(t).join(name));
        }
        candidates.push(Path::new("default").join(locale).join(name));
        candidates.push(Path::new("default").join(name));
        for rel in candidates {
            let path = dir.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(s) => return Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("reading template {}", path.display()));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Intent;

    fn templates(dir: Option<PathBuf>) -> Templates {
        Templates::new(dir, Arc::new(Catalogue::built_in().unwrap())).unwrap()
    }

    fn signup_ctx(t: &Templates, first_name: &str, locale: &str) -> Value {
        let expires_at = 1_796_690_945_000; // 2026-12-08T00:49:05Z
        Intent::SignupLinkV1 { token: "TKN".into(), cname: "acme".into(), first_name: first_name.into(), expires_at }.context(
            "https://usher.example",
            locale,
            t.catalogue().negotiate(locale),
            None,
        )
    }

    #[test]
    fn every_default_email_carries_the_full_link_in_its_text_part() {
        let t = templates(None);
        let r = t.render("signup_link", None, "en", &signup_ctx(&t, "Jo", "en")).unwrap();
        assert!(r.text.contains("https://usher.example/signup?token=TKN"), "{}", r.text);
        assert_eq!(r.subject, "Confirm your signup for acme");
    }

    #[test]
    fn the_text_parts_keep_one_blank_line_between_paragraphs_with_or_without_a_code() {
        let t = templates(None);
        let intents = [
            Intent::SignupLinkV2 { signup_id: "s".into(), cname: "acme".into(), first_name: "Jo".into() },
            Intent::PasswordLinkV2 { user_id: "u".into(), cname: "acme".into(), first_name: "Jo".into() },
            Intent::ActivationCodeV2 { user_id: "u".into(), tenant: "acme".into(), first_name: "Jo".into() },
            Intent::AccountExistsV1 {},
        ];
        for code in [None, Some("7K3D-Q9XM".to_owned())] {
            let minted = crate::mail::Minted { token: "v4.local.TKN".into(), expires_at_ms: 0, code };
            for locale in ["en", "de"] {
                for intent in &intents {
                    let ctx = intent.context("https://usher.example", locale, t.catalogue().negotiate(locale), Some(&minted));
                    let text = t.render(intent.kind(), None, locale, &ctx).unwrap().text;
                    assert!(!text.contains("\n\n\n") && text.ends_with(".\n"), "{locale} {}: {text:?}", intent.kind());
                }
            }
        }
    }

    #[test]
    fn names_are_escaped_in_html_but_not_in_text() {
        let t = templates(None);
        let r = t.render("signup_link", None, "en", &signup_ctx(&t, "<b>Jo</b>", "en")).unwrap();
        assert!(
            r.html.contains("<p>Hello &lt;b&gt;Jo&lt;&#x2f;b&gt;,</p>") || r.html.contains("<p>Hello &lt;b&gt;Jo&lt;/b&gt;,</p>"),
            "{}",
            r.html
        );
        assert!(r.text.starts_with("Hello <b>Jo</b>,\n"), "{}", r.text);
    }

    #[test]
    fn the_mail_speaks_the_language_of_its_locale_with_a_date_for_people() {
        let t = templates(None);
        let de = t.render("signup_link", None, "de-AT", &signup_ctx(&t, "Jo", "de-AT")).unwrap();
        assert_eq!(de.subject, "Bestätigen Sie Ihre Registrierung für acme");
        assert!(de.text.starts_with("Hallo Jo,\n"), "{}", de.text);
        assert!(de.text.contains("Der Link gilt bis 8. Dezember 2026, 00:49 UTC."), "{}", de.text);
        assert!(de.html.contains("<html lang=\"de\">") && de.html.contains("<strong>acme</strong>"), "{}", de.html);
        let en = t.render("signup_link", None, "fr", &signup_ctx(&t, "Jo", "fr")).unwrap();
        assert!(en.text.starts_with("Hello Jo,\n"), "{}", en.text);
        assert!(en.text.contains("The link works until 8 December 2026, 00:49 UTC."), "{}", en.text);
        assert!(en.html.contains("<html lang=\"en\">"), "the body's language, not the one asked for: {}", en.html);
    }

    #[test]
    fn a_tenant_and_locale_override_wins_and_the_rest_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("acme/de")).unwrap();
        std::fs::write(dir.path().join("acme/de/signup_link.subject"), "Willkommen bei {{ cname }}").unwrap();
        let t = templates(Some(dir.path().to_owned()));
        let de = t.render("signup_link", Some("acme"), "de", &signup_ctx(&t, "Jo", "de")).unwrap();
        assert_eq!(de.subject, "Willkommen bei acme");
        assert!(de.text.contains("Vielen Dank für Ihre Registrierung"), "{}", de.text);
        let en = t.render("signup_link", Some("acme"), "en", &signup_ctx(&t, "Jo", "en")).unwrap();
        assert_eq!(en.subject, "Confirm your signup for acme");
    }
}
