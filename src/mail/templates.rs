use anyhow::Context;
use minijinja::{AutoEscape, Environment, Value};
use std::path::{Path, PathBuf};

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
}

impl Templates {
    /// The embedded templates are compiled here, once; an override is read and compiled at each
    /// send, so an edited one applies to mail already queued without a restart.
    pub(crate) fn new(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        env.set_keep_trailing_newline(true);
        for (name, source) in EMBEDDED {
            env.add_template(name, source).with_context(|| format!("compiling the embedded template {name}"))?;
        }
        Ok(Self { env, dir })
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

    fn signup_ctx(first_name: &str) -> Value {
        Intent::SignupLinkV1 { token: "TKN".into(), cname: "acme".into(), first_name: first_name.into(), expires_at: 0 }.context(
            "https://usher.example",
            "en",
            None,
        )
    }

    #[test]
    fn every_default_email_carries_the_full_link_in_its_text_part() {
        let r = Templates::new(None).unwrap().render("signup_link", None, "en", &signup_ctx("Jo")).unwrap();
        assert!(r.text.contains("https://usher.example/signup?token=TKN"), "{}", r.text);
        assert_eq!(r.subject, "Confirm your signup for acme");
    }

    #[test]
    fn names_are_escaped_in_html_but_not_in_text() {
        let r = Templates::new(None).unwrap().render("signup_link", None, "en", &signup_ctx("<b>Jo</b>")).unwrap();
        assert!(r.html.contains("&lt;b&gt;Jo&lt;&#x2f;b&gt;") || r.html.contains("&lt;b&gt;Jo&lt;/b&gt;"), "{}", r.html);
        assert!(r.text.contains("<b>Jo</b>"));
    }

    #[test]
    fn a_tenant_and_locale_override_wins_and_the_rest_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("acme/de")).unwrap();
        std::fs::write(dir.path().join("acme/de/signup_link.subject"), "Willkommen bei {{ cname }}").unwrap();
        let t = Templates::new(Some(dir.path().to_owned())).unwrap();
        let de = t.render("signup_link", Some("acme"), "de", &signup_ctx("Jo")).unwrap();
        assert_eq!(de.subject, "Willkommen bei acme");
        assert!(de.text.contains("Thank you for signing up"));
        let en = t.render("signup_link", Some("acme"), "en", &signup_ctx("Jo")).unwrap();
        assert_eq!(en.subject, "Confirm your signup for acme");
    }
}
