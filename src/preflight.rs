//! `usher check-config`: what would stop or surprise `usher serve`, found before it runs.
//! Each finding names the setting to look at; only problems make the command fail.

use crate::config::{MailTransport, Settings};
use crate::mail::transport::Transport;
use crate::startup::database_location;
use crate::tokens::KeyRing;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Ok,
    Warning,
    Problem,
}

pub(crate) struct Finding {
    pub(crate) level: Level,
    pub(crate) text: String,
}

impl Finding {
    fn ok(text: impl Into<String>) -> Self {
        Self { level: Level::Ok, text: text.into() }
    }
    fn warning(text: impl Into<String>) -> Self {
        Self { level: Level::Warning, text: text.into() }
    }
    fn problem(text: impl Into<String>) -> Self {
        Self { level: Level::Problem, text: text.into() }
    }
}

/// A webhook receiver or SMTP server that takes longer than this to answer a check is as good as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Every check; with `connect`, the SMTP server and each webhook receiver are reached too.
pub(crate) async fn check(settings: &Settings, connect: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Some(refusal) = settings.unsafe_to_serve() {
        found.push(Finding::problem(format!("public_url: {refusal}")));
    }
    found.push(database(settings).await);
    found.push(keys(settings));
    found.extend(mail(settings, connect).await);
    found.extend(messages(settings));
    found.push(match crate::http::pages::check(settings) {
        Ok(()) => Finding::ok(format!("pages: {:?}{}", settings.product_name, branding(settings))),
        Err(e) => Finding::problem(format!("{e:#}")),
    });
    if connect {
        for url in &settings.webhook_urls {
            let shown = crate::config::redact_url(url);
            found.push(match crate::webhooks::reachable(url, settings.webhook_timeout.min(CONNECT_TIMEOUT)).await {
                Ok(status) => Finding::ok(format!("webhook_urls: {shown} answers (HTTP {status})")),
                Err(why) => Finding::problem(format!("webhook_urls: {shown} cannot be reached: {why}")),
            });
        }
    }
    found
}

/// What the pages take from the operator besides the name, for the line that says they load.
fn branding(settings: &Settings) -> String {
    let mut own = Vec::new();
    if let Some(path) = &settings.pages_stylesheet {
        own.push(format!("stylesheet {}", path.display()));
    }
    if let Some(dir) = &settings.pages_templates_dir {
        own.push(format!("templates from {}", dir.display()));
    }
    if own.is_empty() { String::new() } else { format!(", with {}", own.join(" and ")) }
}

async fn database(settings: &Settings) -> Finding {
    let location = database_location(settings);
    let shown = crate::config::redact_url(&location.url);
    let status = crate::store::migration_status(&location.url, settings.database_acquire_timeout.min(CONNECT_TIMEOUT)).await;
    let finding = match status {
        Err(e) => return Finding::problem(format!("database_url: cannot open {shown}: {e:#}")),
        Ok(None) => Finding::ok(format!("database_url: {shown} does not exist yet; `usher migrate` or `usher serve` creates it")),
        Ok(Some(s)) if !s.foreign.is_empty() => {
            return Finding::problem(format!(
                "database_url: {shown} has migrations this release does not carry: {}; run the release that applied them",
                s.foreign.join(", ")
            ));
        }
        Ok(Some(s)) if !s.pending.is_empty() => Finding::ok(format!(
            "database_url: {shown}, {} migrations applied, {} pending ({}); `usher migrate` or `usher serve` applies them",
            s.applied,
            s.pending.len(),
            s.pending.join(", ")
        )),
        Ok(Some(s)) => Finding::ok(format!("database_url: {shown}, {} migrations applied, none pending", s.applied)),
    };
    match location.legacy {
        Some(advice) => Finding::warning(format!("database_url: {advice}")),
        None => finding,
    }
}

fn keys(settings: &Settings) -> Finding {
    if let Some(keys) = &settings.keys {
        return match KeyRing::parse(keys.expose()) {
            Ok(ring) => Finding::ok(format!("keys: {} keys load; {} signs", ring.ids().count(), ring.ids().next().unwrap_or_default())),
            Err(e) => Finding::problem(format!("keys: USHER_KEYS does not load: {e:#}")),
        };
    }
    let path = settings.data_dir.join("usher-dev.keys");
    match std::fs::read_to_string(&path) {
        Ok(spec) => match KeyRing::parse(spec.trim()) {
            Ok(_) => Finding::warning(format!("keys: the development key in {} loads; set USHER_KEYS in production", path.display())),
            Err(e) => Finding::problem(format!("keys: the development key file {} does not load: {e:#}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Finding::warning(format!(
            "keys: USHER_KEYS is not set; a development key would be generated into {}; set USHER_KEYS in production",
            path.display()
        )),
        Err(e) => Finding::problem(format!("keys: cannot read {} ({e}); set USHER_KEYS, or USHER_DATA_DIR", path.display())),
    }
}

/// The catalogues as `serve` would load them: a broken one stops it, a language that lacks
/// messages says them in English.
fn messages(settings: &Settings) -> Vec<Finding> {
    match crate::i18n::Catalogue::load(settings.messages_dir.as_deref()) {
        Err(e) => vec![Finding::problem(format!("messages_dir: {e:#}"))],
        Ok(catalogue) => {
            let languages = catalogue.languages().collect::<Vec<_>>().join(", ");
            let mut found = vec![Finding::ok(format!("messages_dir: the message catalogues load ({languages})"))];
            found.extend(catalogue.fallbacks().iter().map(|f| Finding::warning(format!("messages_dir: {f}"))));
            found
        }
    }
}

async fn mail(settings: &Settings, connect: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Err(e) = Transport::check(settings) {
        found.push(Finding::problem(format!("mail: {e:#}")));
        return found;
    }
    if settings.mail_transport == MailTransport::Dev && !settings.listen.ip().is_loopback() {
        found.push(Finding::warning(format!(
            "mail_transport: dev on {}, not loopback: no email leaves this machine{}",
            settings.listen,
            if settings.dev_mailbox { ", and /dev/mail shows every link to anyone who can reach it (dev_mailbox)" } else { "" }
        )));
    }
    if let Some(host) = crate::mail::transport::credentials_in_clear(settings) {
        found.push(Finding::warning(format!("smtp_url: the user name and password go to {host} unencrypted (tls=none)")));
    }
    if connect && settings.mail_transport == MailTransport::Smtp {
        let tested = match Transport::from_settings(settings) {
            Ok(transport) => transport.test_connection().await.map_err(|e| e.hint),
            Err(e) => Err(format!("{e:#}")),
        };
        found.push(match tested {
            Ok(()) => Finding::ok(format!("smtp_url: {} answers EHLO", Transport::describe(settings))),
            Err(hint) => Finding::problem(format!("smtp_url: {hint}")),
        });
    }
    found
}
