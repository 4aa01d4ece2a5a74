//! Settings: built-in defaults, then a TOML file, then `USHER_*` variables.
//!
//! Every setting has one flat name, the environment name without `USHER_`
//! and lower-cased (`USHER_MAIL_RETRY_MIN` ⇔ `mail_retry_min`). In the TOML
//! file it may be written flat or nested (`[mail] retry_min = "30s"`); both
//! flatten to the same name, so there is a single parser for both sources and
//! an unknown key is an error instead of a silently ignored typo.

use crate::domain::{Cname, EmailAddress};
use anyhow::{Context, bail};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A secret string: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***SECRET***")
    }
}

/// Prints a URL with its password replaced, for logs and `check-config`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***PASSWORD***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTransport {
    Dev,
    File,
    Smtp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomePage {
    On,
    Off,
    Redirect(String),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub database_acquire_timeout: Duration,
    pub public_url: String,
    pub base_path: String,
    pub data_dir: PathBuf,
    pub keys: Option<Secret>,

    pub mail_transport: MailTransport,
    pub smtp_url: Option<Secret>,
    pub smtp_timeout: Duration,
    pub smtp_pool_size: u32,
    pub mail_from: EmailAddress,
    pub mail_file_dir: PathBuf,
    pub mail_templates_dir: Option<PathBuf>,
    /// DKIM: the selector (`SELECTOR._domainkey.DOMAIN` holds the public key),
    /// the signing domain (`d=`, by default the domain of `mail_from`) and a
    /// PEM private key file. Signing is on when selector and key are set.
    pub dkim_selector: Option<String>,
    pub dkim_domain: String,
    pub dkim_private_key: Option<PathBuf>,
    pub mail_retry_min: Duration,
    pub mail_retry_max: Duration,
    pub mail_max_attempts: u32,
    pub mail_poll_interval: Duration,
    pub mail_lease: Duration,
    /// After SIGTERM, how long the batch being sent may take before the
    /// rest is handed back to the queue.
    pub shutdown_grace: Duration,
    pub dev_mailbox: bool,

    pub signup_link_ttl: Duration,
    pub password_link_ttl: Duration,
    pub activation_code_ttl: Duration,

    pub limit_email_interval: Duration,
    pub limit_email_daily: u32,
    pub limit_client_per_minute: u32,
    pub trusted_proxies: Vec<IpNet>,

    pub default_tenant: Cname,
    pub tenancy_base_domain: Option<String>,
    pub console_url: String,

    /// What `/` shows: usher's own page, nothing (404), or a redirect.
    pub home_page: HomePage,
    /// The terms of service version the signup form asks a person to
    /// accept, and where to read them.
    pub terms_version: String,
    pub terms_url: Option<String>,

    pub password_min_score: u8,
    pub password_hash_workers: usize,
    pub password_hash_queue: usize,

    /// Connections (src/server.rs): how long a client may take to send a
    /// request's headers, its body, and how long an idle keep-alive
    /// connection is kept; how many connections are open at once, in all
    /// and per client address (0 = no per-client cap).
    pub http_header_timeout: Duration,
    pub http_body_timeout: Duration,
    pub http_keepalive_timeout: Duration,
    pub http_max_connections: usize,
    pub http_max_connections_per_client: usize,

    /// Cnames no signup may claim, beyond the built-in ones (domain::RESERVED_CNAMES).
    pub reserved_cnames: Vec<String>,
    /// The Have I Been Pwned range API (`…/range/`); none = not asked.
    pub password_pwned_url: Option<String>,
    pub password_pwned_timeout: Duration,

    /// How long rows that no longer matter are kept (src/store/retention.rs).
    pub retention: crate::store::retention::Retention,

    /// Webhooks (src/webhooks.rs): where each event is POSTed, the
    /// Standard Webhooks secret (`whsec_…`) that signs it, and how long one
    /// delivery may take.
    pub webhook_urls: Vec<String>,
    pub webhook_secret: Option<Secret>,
    pub webhook_timeout: Duration,

    pub log_format: String,
}

/// Every key usher knows, with its default. The order is the order of
/// `check-config`'s output.
const DEFAULTS: &[(&str, &str)] = &[
    ("listen", "127.0.0.1:8080"),
    ("database_url", "sqlite://usher.db"),
    ("database_max_connections", "10"),
    ("database_acquire_timeout", "5s"),
    ("public_url", ""),
    ("base_path", ""),
    ("data_dir", "."),
    ("keys", ""),
    ("mail_transport", "dev"),
    ("smtp_url", ""),
    ("smtp_timeout", "30s"),
    ("smtp_pool_size", "4"),
    ("mail_from", "usher@localhost.localdomain"),
    ("mail_file_dir", "usher-mail"),
    ("mail_templates_dir", ""),
    ("dkim_selector", ""),
    ("dkim_domain", ""),
    ("dkim_private_key", ""),
    ("mail_retry_min", "30s"),
    ("mail_retry_max", "1h"),
    ("mail_max_attempts", "10"),
    ("mail_poll_interval", "2s"),
    ("mail_lease", "15s"),
    ("shutdown_grace", "20s"),
    ("dev_mailbox", ""),
    ("signup_link_ttl", "24h"),
    ("password_link_ttl", "1h"),
    ("activation_code_ttl", "24h"),
    ("limit_email_interval", "60s"),
    ("limit_email_daily", "10"),
    ("limit_client_per_minute", "60"),
    ("trusted_proxies", ""),
    ("default_tenant", "default"),
    ("tenancy_base_domain", ""),
    ("console_url", ""),
    ("home_page", "on"),
    ("terms_version", "2026-01"),
    ("terms_url", ""),
    ("password_min_score", "3"),
    ("password_hash_workers", "2"),
    ("password_hash_queue", "32"),
    ("http_header_timeout", "10s"),
    ("http_body_timeout", "10s"),
    ("http_keepalive_timeout", "5s"),
    ("http_max_connections", "4096"),
    ("http_max_connections_per_client", "64"),
    ("reserved_cnames", ""),
    ("password_pwned_url", ""),
    ("password_pwned_timeout", "2s"),
    ("retention_sent_mail", "30d"),
    ("retention_dropped_requests", "7d"),
    ("retention_dev_mailbox", "7d"),
    ("retention_tokens", "1d"),
    ("retention_limits", "1d"),
    ("retention_audit", "off"),
    ("webhook_urls", ""),
    ("webhook_secret", ""),
    ("webhook_timeout", "10s"),
    ("log_format", "text"),
];

/// The raw layered values, before parsing.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    values: BTreeMap<String, String>,
}

impl Layers {
    /// Defaults, then the TOML file (`path`, else `USHER_CONFIG`), then the environment.
    pub fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let path = path.or_else(|| env.iter().find(|(k, _)| k == "USHER_CONFIG").map(|(_, v)| PathBuf::from(v)));
        let toml = match &path {
            Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading config file {}", p.display()))?),
            None => None,
        };
        Self::from_sources(toml.as_deref(), env)
    }

    pub fn from_sources(toml: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut values: BTreeMap<String, String> = DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(text) = toml {
            let table: toml::Table = text.parse().context("the config file is not valid TOML")?;
            let mut flat = Vec::new();
            flatten("", &toml::Value::Table(table), &mut flat)?;
            for (k, v) in flat {
                if !values.contains_key(&k) {
                    bail!("unknown setting `{k}` in the config file");
                }
                values.insert(k, v);
            }
        }
        for (k, v) in env {
            let Some(name) = k.strip_prefix("USHER_") else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if name == "config" || name == "test_log" {
                continue;
            }
            if values.contains_key(&name) {
                values.insert(name, v);
            }
        }
        Ok(Self { values })
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert(key.to_owned(), value.into());
        self
    }

    fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or_default()
    }

    fn opt(&self, key: &str) -> Option<&str> {
        Some(self.get(key).trim()).filter(|v| !v.is_empty())
    }

    /// A comma-separated list, blanks dropped.
    fn list(&self, key: &str) -> impl Iterator<Item = &str> {
        self.get(key).split(',').map(str::trim).filter(|s| !s.is_empty())
    }

    fn duration(&self, key: &str) -> anyhow::Result<Duration> {
        humantime::parse_duration(self.get(key).trim()).with_context(|| format!("{key} must be a duration such as 90s, 15m or 24h"))
    }

    /// A retention period: a duration, or `off` (or empty) to keep for ever.
    fn retention(&self, key: &str) -> anyhow::Result<Option<Duration>> {
        match self.get(key).trim() {
            "" | "off" => Ok(None),
            _ => self.duration(key).map(Some).with_context(|| format!("{key} must be a duration such as 30d, or off")),
        }
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> anyhow::Result<T> {
        self.get(key).trim().parse().map_err(|_| anyhow::anyhow!("{key} must be a whole number"))
    }

    pub fn parse(&self) -> anyhow::Result<Settings> {
        let listen: SocketAddr = self.get("listen").trim().parse().context("listen must be an address such as 127.0.0.1:8080")?;
        let mail_transport = match self.get("mail_transport").trim() {
            "dev" => MailTransport::Dev,
            "file" => MailTransport::File,
            "smtp" => MailTransport::Smtp,
            other => bail!("mail_transport must be dev, file or smtp, not `{other}`"),
        };
        let smtp_url = self.opt("smtp_url").map(Secret::new);
        if mail_transport == MailTransport::Smtp && smtp_url.is_none() {
            bail!("mail_transport is smtp but smtp_url (USHER_SMTP_URL) is not set");
        }
        let public_url = self.opt("public_url").map(|u| u.trim_end_matches('/').to_owned()).unwrap_or_else(|| format!("http://{listen}"));
        url::Url::parse(&public_url).context("public_url must be an absolute URL")?;
        let base_path = match self.opt("base_path") {
            None => String::new(),
            Some(p) if p.starts_with('/') => p.trim_end_matches('/').to_owned(),
            Some(_) => bail!("base_path must start with '/'"),
        };
        let trusted_proxies = self
            .list("trusted_proxies")
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .with_context(|| format!("trusted_proxies: `{s}` is not a CIDR"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The dev mailbox shows every link usher mails: by default only a
        // loopback listener serves it, whatever the transport.
        let dev_mailbox = match self.opt("dev_mailbox") {
            None => mail_transport == MailTransport::Dev && listen.ip().is_loopback(),
            Some(v) => parse_bool("dev_mailbox", v)?,
        };
        let console_url = self.opt("console_url").map(str::to_owned).unwrap_or_else(|| format!("{public_url}/console/{{cname}}"));
        let mail_from = EmailAddress::parse("mail_from", self.get("mail_from")).map_err(|e| anyhow::anyhow!("mail_from {}", e.message))?;
        let dkim_selector = self.opt("dkim_selector").map(str::to_owned);
        let dkim_private_key = self.opt("dkim_private_key").map(PathBuf::from);
        if dkim_selector.is_some() != dkim_private_key.is_some() {
            bail!("DKIM signing needs both dkim_selector and dkim_private_key, or neither");
        }
        let dkim_domain = match self.opt("dkim_domain") {
            Some(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            None => mail_from.as_str().rsplit('@').next().unwrap_or_default().to_ascii_lowercase(),
        };
        for (key, value) in [("dkim_selector", dkim_selector.as_deref().unwrap_or("s")), ("dkim_domain", dkim_domain.as_str())] {
            let ok = !value.is_empty()
                && value
                    .split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            if !ok {
                bail!("{key} must be a DNS name such as mail2026 or example.com, not `{value}`");
            }
        }
        let password_min_score: u8 = self.number("password_min_score")?;
        if password_min_score > 4 {
            bail!("password_min_score must be 0 to 4");
        }
        let home_page = match self.get("home_page").trim() {
            "on" | "" => HomePage::On,
            "off" => HomePage::Off,
            url => {
                let ok = url.starts_with('/') || url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    bail!("home_page must be on, off, a path or an http(s) URL, not `{url}`");
                }
                HomePage::Redirect(url.to_owned())
            }
        };
        let terms_version = self.get("terms_version").trim().to_owned();
        if terms_version.is_empty() || terms_version.len() > 64 {
            bail!("terms_version must be 1 to 64 characters");
        }
        let settings = Settings {
            listen,
            database_url: Secret::new(self.get("database_url").trim()),
            database_max_connections: self.number("database_max_connections")?,
            database_acquire_timeout: self.duration("database_acquire_timeout")?,
            public_url,
            base_path,
            data_dir: PathBuf::from(self.get("data_dir").trim()),
            keys: self.opt("keys").map(Secret::new),
            mail_transport,
            smtp_url,
            smtp_timeout: self.duration("smtp_timeout")?,
            smtp_pool_size: self.number("smtp_pool_size")?,
            mail_from,
            mail_file_dir: PathBuf::from(self.get("mail_file_dir").trim()),
            mail_templates_dir: self.opt("mail_templates_dir").map(PathBuf::from),
            dkim_selector,
            dkim_domain,
            dkim_private_key,
            mail_retry_min: self.duration("mail_retry_min")?,
            mail_retry_max: self.duration("mail_retry_max")?,
            mail_max_attempts: self.number::<u32>("mail_max_attempts")?.max(1),
            mail_poll_interval: self.duration("mail_poll_interval")?,
            mail_lease: self.duration("mail_lease")?,
            shutdown_grace: self.duration("shutdown_grace")?,
            dev_mailbox,
            signup_link_ttl: self.duration("signup_link_ttl")?,
            password_link_ttl: self.duration("password_link_ttl")?,
            activation_code_ttl: self.duration("activation_code_ttl")?,
            limit_email_interval: self.duration("limit_email_interval")?,
            limit_email_daily: self.number("limit_email_daily")?,
            limit_client_per_minute: self.number("limit_client_per_minute")?,
            trusted_proxies,
            default_tenant: Cname::parse("default_tenant", self.get("default_tenant"))
                .map_err(|e| anyhow::anyhow!("default_tenant {}", e.message))?,
            tenancy_base_domain: self.opt("tenancy_base_domain").map(|d| d.trim_start_matches('.').to_ascii_lowercase()),
            console_url,
            home_page,
            terms_version,
            terms_url: self.opt("terms_url").map(str::to_owned),
            password_min_score,
            password_hash_workers: self.number::<usize>("password_hash_workers")?.max(1),
            password_hash_queue: self.number("password_hash_queue")?,
            http_header_timeout: self.duration("http_header_timeout")?,
            http_body_timeout: self.duration("http_body_timeout")?,
            http_keepalive_timeout: self.duration("http_keepalive_timeout")?,
            http_max_connections: self.number::<usize>("http_max_connections")?.max(1),
            http_max_connections_per_client: self.number("http_max_connections_per_client")?,
            reserved_cnames: self.list("reserved_cnames").map(|c| c.to_ascii_lowercase()).collect(),
            password_pwned_url: self.opt("password_pwned_url").map(str::to_owned),
            password_pwned_timeout: self.duration("password_pwned_timeout")?,
            retention: crate::store::retention::Retention {
                sent_mail: self.retention("retention_sent_mail")?,
                dropped_requests: self.retention("retention_dropped_requests")?,
                dev_mailbox: self.retention("retention_dev_mailbox")?,
                tokens: self.retention("retention_tokens")?,
                limits: self.retention("retention_limits")?,
                audit: self.retention("retention_audit")?,
            },
            webhook_urls: self.webhook_urls()?,
            webhook_secret: self.webhook_secret()?,
            webhook_timeout: self.duration("webhook_timeout")?,
            log_format: self.get("log_format").trim().to_owned(),
        };
        if !settings.webhook_urls.is_empty() && settings.webhook_secret.is_none() {
            bail!("webhook_urls is set but webhook_secret (USHER_WEBHOOK_SECRET) is not: usher sends no unsigned webhook");
        }
        if settings.mail_lease.is_zero() {
            bail!("mail_lease must be longer than 0s");
        }
        if settings.webhook_timeout.is_zero() {
            bail!("webhook_timeout must be longer than 0s");
        }
        for (key, d) in [("http_header_timeout", settings.http_header_timeout), ("http_body_timeout", settings.http_body_timeout)] {
            if d.is_zero() {
                bail!("{key} must be longer than 0s: without it one client can hold connections open for ever");
            }
        }
        if settings.mail_retry_max < settings.mail_retry_min {
            bail!("mail_retry_max must not be shorter than mail_retry_min");
        }
        Ok(settings)
    }

    fn webhook_urls(&self) -> anyhow::Result<Vec<String>> {
        self.list("webhook_urls")
            .map(|u| match url::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(u.to_owned()),
                _ => bail!("webhook_urls: `{}` is not an http(s) URL", redact_url(u)),
            })
            .collect()
    }

    /// Standard Webhooks' secret: `whsec_` and the base64 of the key. The
    /// key is checked here, so a typo stops the start instead of every delivery.
    fn webhook_secret(&self) -> anyhow::Result<Option<Secret>> {
        let Some(secret) = self.opt("webhook_secret") else { return Ok(None) };
        match crate::webhooks::decode_secret(secret) {
            Ok(_) => Ok(Some(Secret::new(secret))),
            Err(reason) => bail!("webhook_secret {reason}"),
        }
    }

    /// `key = value` lines with secrets masked, for `usher check-config`.
    pub fn describe(&self) -> Vec<String> {
        DEFAULTS
            .iter()
            .map(|(k, _)| {
                let v = self.get(k);
                let shown = match *k {
                    "keys" | "webhook_secret" if !v.is_empty() => "***SECRET***".to_owned(),
                    "database_url" | "smtp_url" => redact_url(v),
                    "webhook_urls" => v.split(',').map(|u| redact_url(u.trim())).collect::<Vec<_>>().join(","),
                    _ => v.to_owned(),
                };
                format!("{k} = {shown:?}")
            })
            .collect()
    }
}

fn parse_bool(key: &str, v: &str) -> anyhow::Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{key} must be true or false"),
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let text = match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
                flatten(&key, v, out)?;
            }
            return Ok(());
        }
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("{prefix}: lists may hold only strings")))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(","),
        toml::Value::Datetime(d) => d.to_string(),
    };
    out.push((prefix.to_owned(), text));
    Ok(())
}

impl Settings {
    /// The settings of a machine with no configuration at all.
    pub fn defaults() -> anyhow::Result<Self> {
        Layers::from_sources(None, Vec::new())?.parse()
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn with_no_configuration_usher_runs_on_sqlite_on_localhost_with_the_dev_mailbox() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url.expose(), "sqlite://usher.db");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.mail_transport, MailTransport::Dev);
        assert!(s.dev_mailbox);
        assert_eq!(s.signup_link_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(s.password_link_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let toml = "listen = \"0.0.0.0:9000\"\n[mail]\nretry_min = \"5s\"\n[limit]\nemail_daily = 3\n";
        let layers = Layers::from_sources(Some(toml), env(&[("USHER_LIMIT_EMAIL_DAILY", "7"), ("HOME", "/root")])).unwrap();
        let s = layers.parse().unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.mail_retry_min, Duration::from_secs(5));
        assert_eq!(s.limit_email_daily, 7);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_not_a_silent_typo() {
        let err = Layers::from_sources(Some("mail_tranport = \"smtp\""), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("mail_tranport"));
    }

    #[test]
    fn secrets_never_print() {
        let layers = Layers::from_sources(None, env(&[("USHER_SMTP_URL", "smtp://u:hunter2@mail:587"), ("USHER_KEYS", "k1:abc")])).unwrap();
        let shown = layers.describe().join("\n");
        assert!(!shown.contains("hunter2") && !shown.contains("abc"), "{shown}");
        let s = layers.parse().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn dkim_signs_for_the_mail_from_domain_unless_told_otherwise() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse();
        let s = parse(&[
            ("USHER_MAIL_FROM", "signup@Mail.Example.com"),
            ("USHER_DKIM_SELECTOR", "mail2026"),
            ("USHER_DKIM_PRIVATE_KEY", "/etc/usher/dkim.pem"),
        ])
        .unwrap();
        assert_eq!(s.dkim_domain, "mail.example.com");
        assert_eq!(s.dkim_selector.as_deref(), Some("mail2026"));
        let s = parse(&[("USHER_DKIM_SELECTOR", "s1"), ("USHER_DKIM_PRIVATE_KEY", "k.pem"), ("USHER_DKIM_DOMAIN", "example.org")]).unwrap();
        assert_eq!(s.dkim_domain, "example.org");
        assert!(Settings::defaults().unwrap().dkim_selector.is_none());

        let half = parse(&[("USHER_DKIM_SELECTOR", "s1")]).unwrap_err();
        assert!(half.to_string().contains("dkim_private_key"), "{half}");
        let bad = parse(&[("USHER_DKIM_SELECTOR", "s 1"), ("USHER_DKIM_PRIVATE_KEY", "k.pem")]).unwrap_err();
        assert!(bad.to_string().contains("dkim_selector"), "{bad}");
    }

    #[test]
    fn connection_limits_have_safe_defaults_and_no_timeout_can_be_switched_off() {
        let s = Settings::defaults().unwrap();
        assert_eq!((s.http_header_timeout, s.http_body_timeout), (Duration::from_secs(10), Duration::from_secs(10)));
        assert_eq!((s.http_max_connections, s.http_max_connections_per_client), (4096, 64));
        assert!(s.password_pwned_url.is_none(), "the Have I Been Pwned check is off unless asked for");
        let err = Layers::from_sources(None, env(&[("USHER_HTTP_HEADER_TIMEOUT", "0s")])).unwrap().parse().unwrap_err();
        assert!(err.to_string().contains("http_header_timeout"), "{err}");
        let s = Layers::from_sources(None, env(&[("USHER_RESERVED_CNAMES", " Staff, billing ,")])).unwrap().parse().unwrap();
        assert_eq!(s.reserved_cnames, ["staff", "billing"]);
        let shown = Layers::from_sources(None, Vec::new()).unwrap().describe().join("\n");
        assert!(shown.contains("http_max_connections_per_client = \"64\""), "check-config shows the new settings: {shown}");
    }

    #[test]
    fn the_dev_mailbox_is_served_on_a_network_address_only_when_asked_for() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse().unwrap();
        assert!(!parse(&[("USHER_LISTEN", "0.0.0.0:8080")]).dev_mailbox);
        assert!(!parse(&[("USHER_LISTEN", "192.0.2.7:8080")]).dev_mailbox);
        assert!(parse(&[("USHER_LISTEN", "[::1]:8080")]).dev_mailbox);
        assert!(parse(&[("USHER_LISTEN", "0.0.0.0:8080"), ("USHER_DEV_MAILBOX", "true")]).dev_mailbox);
        assert!(!parse(&[("USHER_DEV_MAILBOX", "false")]).dev_mailbox);
    }

    #[test]
    fn retention_has_documented_defaults_and_keeps_the_audit_trail_unless_told() {
        let r = Settings::defaults().unwrap().retention;
        let days = |d: u64| Some(Duration::from_secs(d * 24 * 3600));
        assert_eq!((r.sent_mail, r.dropped_requests, r.dev_mailbox), (days(30), days(7), days(7)));
        assert_eq!((r.tokens, r.limits, r.audit), (days(1), days(1), None));
        let r = Layers::from_sources(Some("[retention]\naudit = \"400d\"\nsent_mail = \"off\"\n"), Vec::new())
            .unwrap()
            .parse()
            .unwrap()
            .retention;
        assert_eq!((r.audit, r.sent_mail), (days(400), None));
        let err = Layers::from_sources(None, env(&[("USHER_RETENTION_TOKENS", "soon")])).unwrap().parse().unwrap_err();
        assert!(format!("{err:#}").contains("retention_tokens"), "{err:#}");
    }

    #[test]
    fn webhooks_need_a_standard_webhooks_secret_which_check_config_masks() {
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let layers = Layers::from_sources(
            None,
            env(&[("USHER_WEBHOOK_URLS", "https://a.example/hook, http://u:pw@b.example/x"), ("USHER_WEBHOOK_SECRET", secret)]),
        )
        .unwrap();
        let s = layers.parse().unwrap();
        assert_eq!(s.webhook_urls, ["https://a.example/hook", "http://u:pw@b.example/x"]);
        assert_eq!(s.webhook_timeout, Duration::from_secs(10));
        let shown = layers.describe().join("\n");
        assert!(!shown.contains("C2FVsBQ") && !shown.contains(":pw@"), "{shown}");
        assert!(!format!("{s:?}").contains("C2FVsBQ"));

        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse();
        let unsigned = parse(&[("USHER_WEBHOOK_URLS", "https://a.example/hook")]).unwrap_err();
        assert!(unsigned.to_string().contains("USHER_WEBHOOK_SECRET"), "{unsigned}");
        let short = parse(&[("USHER_WEBHOOK_SECRET", "whsec_c2hvcnQ=")]).unwrap_err();
        assert!(short.to_string().contains("webhook_secret"), "{short}");
        let not_base64 = parse(&[("USHER_WEBHOOK_SECRET", "whsec_not base64!")]).unwrap_err();
        assert!(not_base64.to_string().contains("webhook_secret"), "{not_base64}");
        let ftp = parse(&[("USHER_WEBHOOK_URLS", "ftp://a.example/"), ("USHER_WEBHOOK_SECRET", secret)]).unwrap_err();
        assert!(ftp.to_string().contains("webhook_urls"), "{ftp}");
        assert!(Settings::defaults().unwrap().webhook_urls.is_empty(), "no webhook unless asked for");
    }

    #[test]
    fn the_mail_lease_is_short_because_workers_renew_it() {
        assert_eq!(Settings::defaults().unwrap().mail_lease, Duration::from_secs(15));
    }

    #[test]
    fn smtp_transport_needs_a_url() {
        let err = Layers::from_sources(None, env(&[("USHER_MAIL_TRANSPORT", "smtp")])).unwrap().parse().unwrap_err();
        assert!(err.to_string().contains("USHER_SMTP_URL"));
    }
}
