use crate::domain::{Cname, EmailAddress};
use anyhow::{Context, bail};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::IpNet;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***SECRET***")
    }
}

pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***PASSWORD***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MailTransport {
    Dev,
    File,
    Smtp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HomePage {
    On,
    Off,
    Redirect(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub(crate) listen: SocketAddr,
    #[serde(deserialize_with = "secret")]
    pub(crate) database_url: Secret,
    pub(crate) database_max_connections: u32,
    #[serde(deserialize_with = "duration")]
    pub(crate) database_acquire_timeout: Duration,
    pub(crate) public_url: String,
    pub(crate) base_path: String,
    pub(crate) data_dir: PathBuf,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) keys: Option<Secret>,

    pub(crate) mail_transport: MailTransport,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) smtp_url: Option<Secret>,
    #[serde(deserialize_with = "duration")]
    pub(crate) smtp_timeout: Duration,
    pub(crate) smtp_pool_size: u32,
    #[serde(deserialize_with = "email")]
    pub(crate) mail_from: EmailAddress,
    pub(crate) mail_file_dir: PathBuf,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) mail_templates_dir: Option<PathBuf>,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) dkim_selector: Option<String>,
    pub(crate) dkim_domain: String,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) dkim_private_key: Option<PathBuf>,
    #[serde(deserialize_with = "duration")]
    pub(crate) mail_retry_min: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) mail_retry_max: Duration,
    pub(crate) mail_max_attempts: u32,
    #[serde(deserialize_with = "duration")]
    pub(crate) mail_poll_interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) mail_lease: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) shutdown_grace: Duration,
    #[serde(skip)]
    pub(crate) dev_mailbox: bool,
    #[serde(rename = "dev_mailbox", deserialize_with = "switch")]
    dev_mailbox_asked: Option<bool>,

    #[serde(deserialize_with = "duration")]
    pub(crate) signup_link_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) password_link_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) activation_code_ttl: Duration,

    #[serde(deserialize_with = "duration")]
    pub(crate) limit_email_interval: Duration,
    pub(crate) limit_email_daily: u32,
    pub(crate) limit_client_per_minute: u32,
    #[serde(deserialize_with = "cidrs")]
    pub(crate) trusted_proxies: Vec<IpNet>,
    #[serde(deserialize_with = "origins")]
    pub(crate) allowed_origins: Vec<String>,

    #[serde(deserialize_with = "cname")]
    pub(crate) default_tenant: Cname,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) tenancy_base_domain: Option<String>,
    pub(crate) console_url: String,

    #[serde(deserialize_with = "home_page")]
    pub(crate) home_page: HomePage,
    pub(crate) terms_version: String,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) terms_url: Option<String>,

    pub(crate) password_min_score: u8,
    pub(crate) password_hash_workers: usize,
    pub(crate) password_hash_queue: usize,

    #[serde(deserialize_with = "duration")]
    pub(crate) http_header_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) http_body_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub(crate) http_keepalive_timeout: Duration,
    pub(crate) http_max_connections: usize,
    pub(crate) http_max_connections_per_client: usize,

    #[serde(deserialize_with = "list")]
    pub(crate) reserved_cnames: Vec<String>,
    #[serde(deserialize_with = "flag")]
    pub(crate) allow_idn_tenant_names: bool,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) password_pwned_url: Option<String>,
    #[serde(deserialize_with = "duration")]
    pub(crate) password_pwned_timeout: Duration,

    #[serde(deserialize_with = "retention")]
    pub(crate) retention: Retention,

    #[serde(deserialize_with = "webhook_urls")]
    pub(crate) webhook_urls: Vec<String>,
    #[serde(deserialize_with = "webhook_secret")]
    pub(crate) webhook_secret: Option<WebhookKey>,
    #[serde(deserialize_with = "duration")]
    pub(crate) webhook_timeout: Duration,

    pub(crate) log_format: String,
}

/// Every key usher knows, with its default, in `check-config`'s order.
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
    ("allowed_origins", ""),
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
    ("allow_idn_tenant_names", "false"),
    ("password_pwned_url", ""),
    ("password_pwned_timeout", "2s"),
    ("retention_sent_mail", "30d"),
    ("retention_dropped_requests", "7d"),
    ("retention_dev_mailbox", "7d"),
    ("retention_tokens", "1d"),
    ("retention_limits", "1d"),
    ("retention_audit", "off"),
    ("retention_unverified", "30d"),
    ("webhook_urls", ""),
    ("webhook_secret", ""),
    ("webhook_timeout", "10s"),
    ("log_format", "text"),
];

#[derive(Clone, Default)]
pub struct Layers {
    figment: Figment,
}

impl Layers {
    pub(crate) fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let path = path.or_else(|| env.iter().find(|(k, _)| k == "USHER_CONFIG").map(|(_, v)| PathBuf::from(v)));
        let toml = match &path {
            Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading config file {}", p.display()))?),
            None => None,
        };
        Self::from_sources(toml.as_deref(), env)
    }

    pub fn from_sources(toml: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Layer::new("the defaults", DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string()))));
        if let Some(text) = toml {
            let table: toml::Table = text.parse().context("the config file is not valid TOML")?;
            let mut flat = Vec::new();
            flatten("", &toml::Value::Table(table), &mut flat)?;
            if let Some((k, _)) = flat.iter().find(|(k, _)| !is_known(k)) {
                bail!("unknown setting `{k}` in the config file");
            }
            figment = figment.merge(Layer::new("the config file", flat));
        }
        // Other programs' USHER_* variables (USHER_CONFIG, TEST_LOG, a test
        // suite's) are not settings: only known names are taken.
        let env =
            env.into_iter().filter_map(|(k, v)| Some((k.strip_prefix("USHER_")?.to_ascii_lowercase(), v))).filter(|(k, _)| is_known(k));
        figment = figment.merge(Layer::new("USHER_* environment variables", env));
        Ok(Self { figment })
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let layer = Layer::new("a setting made in code", [(key.to_owned(), value.into())]);
        self.figment = std::mem::take(&mut self.figment).merge(layer);
        self
    }

    pub fn parse(&self) -> anyhow::Result<Settings> {
        self.figment.extract_lossy::<Settings>()?.finish()
    }

    pub(crate) fn describe(&self) -> Vec<String> {
        DEFAULTS
            .iter()
            .map(|(k, _)| {
                let v = self.figment.find_value(&path(k)).ok().and_then(Value::into_string).unwrap_or_default();
                let shown = match *k {
                    "keys" | "webhook_secret" if !v.is_empty() => "***SECRET***".to_owned(),
                    "database_url" | "smtp_url" => redact_url(&v),
                    "webhook_urls" => v.split(',').map(|u| redact_url(u.trim())).collect::<Vec<_>>().join(","),
                    _ => v,
                };
                format!("{k} = {shown:?}")
            })
            .collect()
    }
}

impl fmt::Debug for Layers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.describe()).finish()
    }
}

fn is_known(key: &str) -> bool {
    DEFAULTS.iter().any(|(k, _)| *k == key)
}

fn path(key: &str) -> String {
    match key.strip_prefix("retention_") {
        Some(period) => format!("retention.{period}"),
        None => key.to_owned(),
    }
}

struct Layer {
    name: &'static str,
    values: Dict,
}

impl Layer {
    fn new(name: &'static str, values: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut dict = Dict::new();
        for (key, value) in values {
            let value = Value::from(value.trim());
            match key.strip_prefix("retention_") {
                Some(period) => {
                    if let Value::Dict(_, group) = dict.entry("retention".to_owned()).or_insert_with(|| Dict::new().into()) {
                        group.insert(period.to_owned(), value);
                    }
                }
                None => {
                    dict.insert(key, value);
                }
            }
        }
        Self { name, values: dict }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        // Errors name a setting by its flat name, as `check-config` does.
        Metadata::named(self.name).interpolater(|_: &Profile, keys: &[&str]| keys.join("_"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

impl Settings {
    #[cfg(test)]
    pub(crate) fn defaults() -> anyhow::Result<Self> {
        Layers::from_sources(None, Vec::new())?.parse()
    }

    fn finish(mut self) -> anyhow::Result<Self> {
        let listen = self.listen;
        if self.mail_transport == MailTransport::Smtp && self.smtp_url.is_none() {
            bail!("mail_transport is smtp but smtp_url (USHER_SMTP_URL) is not set");
        }
        self.public_url = match self.public_url.trim_end_matches('/') {
            "" => format!("http://{listen}"),
            url => url.to_owned(),
        };
        url::Url::parse(&self.public_url).context("public_url must be an absolute URL")?;
        if !self.base_path.is_empty() && !self.base_path.starts_with('/') {
            bail!("base_path must start with '/'");
        }
        self.base_path = self.base_path.trim_end_matches('/').to_owned();
        // The dev mailbox shows every link usher mails: by default only a
        // loopback listener serves it, whatever the transport.
        self.dev_mailbox = self.dev_mailbox_asked.unwrap_or(self.mail_transport == MailTransport::Dev && listen.ip().is_loopback());
        if self.console_url.is_empty() {
            self.console_url = format!("{}/console/{{cname}}", self.public_url);
        }
        if self.dkim_selector.is_some() != self.dkim_private_key.is_some() {
            bail!("DKIM signing needs both dkim_selector and dkim_private_key, or neither");
        }
        self.dkim_domain = match self.dkim_domain.as_str() {
            "" => self.mail_from.as_str().rsplit('@').next().unwrap_or_default(),
            d => d.trim_end_matches('.'),
        }
        .to_ascii_lowercase();
        for (key, value) in [("dkim_selector", self.dkim_selector.as_deref().unwrap_or("s")), ("dkim_domain", self.dkim_domain.as_str())] {
            let ok = !value.is_empty()
                && value
                    .split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            if !ok {
                bail!("{key} must be a DNS name such as mail2026 or example.com, not `{value}`");
            }
        }
        if self.password_min_score > 4 {
            bail!("password_min_score must be 0 to 4");
        }
        if self.terms_version.is_empty() || self.terms_version.len() > 64 {
            bail!("terms_version must be 1 to 64 characters");
        }
        self.tenancy_base_domain = self.tenancy_base_domain.map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        self.reserved_cnames.iter_mut().for_each(|c| c.make_ascii_lowercase());
        self.mail_max_attempts = self.mail_max_attempts.max(1);
        self.password_hash_workers = self.password_hash_workers.max(1);
        self.http_max_connections = self.http_max_connections.max(1);
        for (key, d) in [("http_header_timeout", self.http_header_timeout), ("http_body_timeout", self.http_body_timeout)] {
            if d.is_zero() {
                bail!("{key} must be longer than 0s: without it one client can hold connections open for ever");
            }
        }
        if self.mail_retry_max < self.mail_retry_min {
            bail!("mail_retry_max must not be shorter than mail_retry_min");
        }
        if !self.webhook_urls.is_empty() && self.webhook_secret.is_none() {
            bail!("webhook_urls is set but webhook_secret (USHER_WEBHOOK_SECRET) is not: usher sends no unsigned webhook");
        }
        if self.mail_lease.is_zero() {
            bail!("mail_lease must be longer than 0s");
        }
        if self.webhook_timeout.is_zero() {
            bail!("webhook_timeout must be longer than 0s");
        }
        Ok(self)
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|_| D::Error::custom(format!("`{text}` is not a duration such as 90s, 15m or 24h")))
}

fn period<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match String::deserialize(d)?.as_str() {
        "" | "off" => Ok(None),
        text => humantime::parse_duration(text)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{text}` is not a duration such as 30d, or off"))),
    }
}

fn retention<'de, D: Deserializer<'de>>(d: D) -> Result<Retention, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Periods {
        #[serde(deserialize_with = "period")]
        sent_mail: Option<Duration>,
        #[serde(deserialize_with = "period")]
        dropped_requests: Option<Duration>,
        #[serde(deserialize_with = "period")]
        dev_mailbox: Option<Duration>,
        #[serde(deserialize_with = "period")]
        tokens: Option<Duration>,
        #[serde(deserialize_with = "period")]
        limits: Option<Duration>,
        #[serde(deserialize_with = "period")]
        audit: Option<Duration>,
        #[serde(deserialize_with = "period")]
        unverified: Option<Duration>,
    }
    let p = Periods::deserialize(d)?;
    Ok(Retention {
        sent_mail: p.sent_mail,
        dropped_requests: p.dropped_requests,
        dev_mailbox: p.dev_mailbox,
        tokens: p.tokens,
        limits: p.limits,
        audit: p.audit,
        unverified: p.unverified,
    })
}

fn blank_is_none<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(String::deserialize(d)?).filter(|s| !s.is_empty()).map(T::from))
}

fn switch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match String::deserialize(d)?.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        other => Err(D::Error::custom(format!("`{other}` is not true or false"))),
    }
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    switch(d).map(|on| on.unwrap_or(false))
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(String::deserialize(d)?.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    list(d)?
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| D::Error::custom(format!("`{s}` is not a CIDR")))
        })
        .collect()
}

/// Compared with a browser's `Origin` header, so kept in its serialisation: scheme, host, port if not the default.
fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list(d)?
        .into_iter()
        .map(|o| match url::Url::parse(&o) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() && parsed.path() == "/" => {
                Ok(parsed.origin().ascii_serialization())
            }
            _ => Err(D::Error::custom(format!("`{o}` is not an origin such as https://portal.example.com"))),
        })
        .collect()
}

fn webhook_urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list(d)?
        .into_iter()
        .map(|u| match url::Url::parse(&u) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(u),
            _ => Err(D::Error::custom(format!("`{}` is not an http(s) URL", redact_url(&u)))),
        })
        .collect()
}

// Checked here, so that a typo stops the start instead of every delivery.
fn webhook_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WebhookKey>, D::Error> {
    let Some(secret) = blank_is_none::<D, String>(d)? else { return Ok(None) };
    WebhookKey::decode(&secret).map(Some).map_err(|reason| D::Error::custom(format!("webhook_secret {reason}")))
}

/// Periods after which rows are deleted; `None` keeps them.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    pub sent_mail: Option<Duration>,
    pub dropped_requests: Option<Duration>,
    pub dev_mailbox: Option<Duration>,
    pub tokens: Option<Duration>,
    pub limits: Option<Duration>,
    pub audit: Option<Duration>,
    /// Developers who never activated and signups never completed: nobody proved the mailbox.
    pub unverified: Option<Duration>,
}

/// The key webhooks are signed with, decoded from Standard Webhooks' `whsec_<base64>` form.
#[derive(Clone)]
pub(crate) struct WebhookKey(Vec<u8>);

impl WebhookKey {
    pub(crate) fn decode(secret: &str) -> Result<Self, &'static str> {
        use base64::Engine as _;
        let encoded = secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim());
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "must be `whsec_` followed by base64, e.g. `whsec_$(openssl rand -base64 32)`")?;
        if key.len() < 24 {
            return Err("must hold at least 24 random bytes (Standard Webhooks asks for 24 to 64): `whsec_$(openssl rand -base64 32)`");
        }
        Ok(Self(key))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***SECRET***")
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret)
}

fn email<'de, D: Deserializer<'de>>(d: D) -> Result<EmailAddress, D::Error> {
    EmailAddress::parse("mail_from", &String::deserialize(d)?).map_err(|e| D::Error::custom(e.message))
}

fn cname<'de, D: Deserializer<'de>>(d: D) -> Result<Cname, D::Error> {
    Cname::parse("default_tenant", &String::deserialize(d)?).map_err(|e| D::Error::custom(e.message))
}

fn home_page<'de, D: Deserializer<'de>>(d: D) -> Result<HomePage, D::Error> {
    Ok(match String::deserialize(d)?.as_str() {
        "on" | "" => HomePage::On,
        "off" => HomePage::Off,
        url if url.starts_with('/') || url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) => {
            HomePage::Redirect(url.to_owned())
        }
        url => return Err(D::Error::custom(format!("must be on, off, a path or an http(s) URL, not `{url}`"))),
    })
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
    fn a_bad_value_names_its_setting_and_the_source_it_came_from() {
        let err = Layers::from_sources(Some("[limit]\nemail_daily = \"many\""), Vec::new()).unwrap().parse().unwrap_err();
        assert!(format!("{err:#}").contains("\"limit_email_daily\" in the config file"), "{err:#}");
        let err = Layers::from_sources(None, env(&[("USHER_MAIL_LEASE", "a while")])).unwrap().parse().unwrap_err();
        assert!(format!("{err:#}").contains("\"mail_lease\" in USHER_* environment variables"), "{err:#}");
        let s = Layers::from_sources(Some("trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]"), env(&[("USHER_DEV_MAILBOX", " On ")]))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(s.dev_mailbox);
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
