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
    #[serde(deserialize_with = "optional_address")]
    pub(crate) management_listen: Option<SocketAddr>,
    #[serde(deserialize_with = "secret")]
    pub(crate) database_url: Secret,
    /// Whether `database_url` was given, or is the default file in `data_dir`.
    #[serde(skip)]
    pub(crate) database_url_given: bool,
    pub(crate) database_max_connections: u32,
    #[serde(deserialize_with = "duration")]
    pub(crate) database_acquire_timeout: Duration,
    pub(crate) public_url: String,
    /// Whether `public_url` was given, or derived from `listen` (which only a loopback listener may do).
    #[serde(skip)]
    pub(crate) public_url_given: bool,
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
    pub(crate) messages_dir: Option<PathBuf>,
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
    /// Whether `console_url` was given: the derived one is a path of usher's that serves nothing,
    /// which the API still answers (F5's clients expect one) and the pages never link to.
    #[serde(skip)]
    pub(crate) console_url_given: bool,

    #[serde(deserialize_with = "home_page")]
    pub(crate) home_page: HomePage,
    pub(crate) terms_version: String,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) terms_url: Option<String>,
    pub(crate) product_name: String,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) logo_url: Option<String>,
    #[serde(deserialize_with = "accent_color")]
    pub(crate) accent_color: AccentColor,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) pages_stylesheet: Option<PathBuf>,
    #[serde(deserialize_with = "blank_is_none")]
    pub(crate) pages_templates_dir: Option<PathBuf>,

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

    #[serde(skip)]
    pub(crate) retention: Retention,
    #[serde(deserialize_with = "period")]
    retention_sent_mail: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_dropped_requests: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_dev_mailbox: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_tokens: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_limits: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_audit: Option<Duration>,
    #[serde(deserialize_with = "period")]
    retention_unverified: Option<Duration>,

    #[serde(deserialize_with = "webhook_urls")]
    pub(crate) webhook_urls: Vec<String>,
    #[serde(deserialize_with = "webhook_secret")]
    pub(crate) webhook_secret: Option<WebhookKey>,
    #[serde(deserialize_with = "duration")]
    pub(crate) webhook_timeout: Duration,

    pub(crate) log_format: String,
}

/// One setting, declared once: its flat name (`USHER_` and the name in upper
/// case in the environment), its default as text (the defaults layer, read by
/// the same reader as every other source), how `check-config` shows it, and its
/// row of README.md's settings table (written from here by a test).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting {
    pub(crate) name: &'static str,
    pub(crate) default: &'static str,
    shown: Shown,
    /// The README's description, in Markdown.
    #[cfg_attr(not(test), allow(dead_code))]
    doc: &'static str,
    /// The README's default when `default` is blank: what blank means.
    #[cfg_attr(not(test), allow(dead_code))]
    when_blank: &'static str,
    /// Said after a default that is not blank.
    #[cfg_attr(not(test), allow(dead_code))]
    note: &'static str,
}

/// How `check-config` prints a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    AsIs,
    /// Masked whole unless blank.
    Secret,
    /// A URL whose password is masked.
    Url,
    /// Comma-separated URLs whose passwords are masked.
    Urls,
}

const fn setting(name: &'static str, default: &'static str, doc: &'static str) -> Setting {
    Setting { name, default, shown: Shown::AsIs, doc, when_blank: "none", note: "" }
}

impl Setting {
    const fn secret(self) -> Self {
        Self { shown: Shown::Secret, ..self }
    }
    const fn url(self) -> Self {
        Self { shown: Shown::Url, ..self }
    }
    const fn urls(self) -> Self {
        Self { shown: Shown::Urls, ..self }
    }
    const fn when_blank(self, meaning: &'static str) -> Self {
        Self { when_blank: meaning, ..self }
    }
    const fn note(self, note: &'static str) -> Self {
        Self { note, ..self }
    }

    fn show(&self, value: &str) -> String {
        match self.shown {
            Shown::Secret if !value.is_empty() => "***SECRET***".to_owned(),
            Shown::Url => redact_url(value),
            Shown::Urls => value.split(',').map(|u| redact_url(u.trim())).collect::<Vec<_>>().join(","),
            Shown::AsIs | Shown::Secret => value.to_owned(),
        }
    }
}

/// Every setting usher knows, in `check-config`'s order. Each is a field of
/// `Settings` (`dev_mailbox` and `retention_*` private ones that `finish`
/// reads) with no serde default of its own, so `Settings` reads from these
/// defaults alone only when the two name the same settings.
const SETTINGS: &[Setting] = &[
    setting("listen", "127.0.0.1:8080", "address to listen on"),
    setting(
        "management_listen",
        "",
        "a second address that serves `/metrics`, `/healthz`, `/readyz` and the dev mailbox, and nothing else; they are then not \
         served on `USHER_LISTEN`, and answer every client that reaches this address (bind it to a private network or loopback)",
    )
    .when_blank("off: they are served on `USHER_LISTEN`, `/metrics` and the dev mailbox to this host only"),
    setting("database_url", "", "`sqlite://PATH` or `postgres://…`")
        .url()
        .when_blank("`usher.db` in `USHER_DATA_DIR` (`./usher.db` of older releases is still read, with a warning)"),
    setting(
        "database_max_connections",
        "10",
        "pool size (reads; on PostgreSQL writes too — on SQLite one writer thread applies every write, batched, and reads run on the calling thread)",
    ),
    setting("database_acquire_timeout", "5s", "how long a request waits for a connection (and SQLite for its lock) before answering 503"),
    setting("public_url", "", "base of the links put in emails, as people reach usher (`https://signup.example.com`)")
        .when_blank("`http://` + listen address, on a loopback listener only: `usher serve` refuses to start without it on any other"),
    setting("base_path", "", "optional prefix for every API path").when_blank("empty"),
    setting(
        "data_dir",
        ".",
        "where usher keeps its files: the SQLite database (unless `USHER_DATABASE_URL` says otherwise) and the development key; \
         created, private (0700), if missing",
    ),
    setting("keys", "", "token key ring, `ID:KEY,ID:KEY` (first signs, all verify); make one with `usher keys generate`")
        .secret()
        .when_blank("generated into the data directory, with a warning"),
    setting("mail_transport", "dev", "`dev`, `file` or `smtp`"),
    setting("smtp_url", "", "`smtp://user:pass@host:587?tls=starttls` (`tls=none|starttls|tls`)").url(),
    setting(
        "smtp_timeout",
        "30s",
        "connect timeout, and half the time one whole SMTP conversation may take before the message is deferred",
    ),
    setting("smtp_pool_size", "4", "pooled SMTP connections"),
    setting("mail_from", "usher@localhost.localdomain", "the From address (its domain names Message-IDs)"),
    setting("mail_file_dir", "usher-mail", "where the `file` transport writes `.eml` files"),
    setting("mail_templates_dir", "", "template overrides, `<tenant>/<locale>/<kind>.{subject,txt,html}`"),
    setting("messages_dir", "", "message catalogues over the built-in ones, `<language>/*.ftl`: a new language, or any message reworded (docs/languages.md)")
        .when_blank("the built-in catalogues (English, German)"),
    setting("dkim_selector", "", "DKIM signing of `smtp` and `file` mail: the selector (with `USHER_DKIM_PRIVATE_KEY`)").when_blank("off"),
    setting("dkim_domain", "", "DKIM signing: the signing domain").when_blank("domain of `USHER_MAIL_FROM`"),
    setting("dkim_private_key", "", "DKIM signing: the PEM key file (RSA or Ed25519)").when_blank("off"),
    setting("mail_retry_min", "30s", "backoff bounds of a message: the wait before its first retry"),
    setting("mail_retry_max", "1h", "backoff bounds of a message: the longest wait between two tries"),
    setting("mail_max_attempts", "10", "tries of a message"),
    setting("mail_poll_interval", "2s", "how often idle workers look for due mail (and webhooks)"),
    setting(
        "mail_lease",
        "15s",
        "how long a claim lasts unless renewed: a worker renews the lease of what it is sending every third of it, so a send may take \
         longer than the lease, and mail held by a killed instance is taken over by another within about lease + poll interval (17 s \
         with the defaults). Keep it above 1.5 × `USHER_DATABASE_ACQUIRE_TIMEOUT` (a renewal may wait that long for a connection; \
         usher warns at start otherwise)",
    ),
    setting(
        "shutdown_grace",
        "20s",
        "after SIGTERM or Ctrl-C usher stops claiming mail and lets the batch being sent finish for this long; what is still claimed \
         then goes back to the queue (`pending`, due at once), so no message waits for its lease",
    )
    .note("(inside the 30 s a container is given)"),
    setting("dev_mailbox", "", "serve `/dev/mail`, which shows every link usher mails").when_blank(
        "on with the `dev` transport on a loopback `USHER_LISTEN` (or `USHER_MANAGEMENT_LISTEN`, when set) only; `true` serves it on any address (the `dev` transport on a \
         network address logs a warning at start)",
    ),
    setting("signup_link_ttl", "24h", "lifetime of a signup link"),
    setting("password_link_ttl", "1h", "lifetime of a password link"),
    setting("activation_code_ttl", "24h", "lifetime of an activation code"),
    setting("limit_email_interval", "60s", "per recipient and flow: the least time between two emails"),
    setting("limit_email_daily", "10", "per recipient and flow: emails a day at most"),
    setting(
        "limit_client_per_minute",
        "60",
        "unauthenticated requests per client address, counted in memory (on PostgreSQL shared between instances every 250 ms: with N \
         instances a client may get up to N × this in the worst case); `0` turns it off",
    ),
    setting("trusted_proxies", "", "CIDRs whose `X-Forwarded-For` is believed"),
    setting(
        "allowed_origins",
        "",
        "web origins (`https://portal.example.com`, comma-separated) whose pages may post to the unauthenticated endpoints from a \
         browser, such as the Akana developer portal's signup form. A browser post from any other site is refused with 403; clients \
         that are not browsers (no `Origin` or `Sec-Fetch-Site`) are not affected",
    ),
    setting(
        "default_tenant",
        "default",
        "tenancy of the Akana dialect: the tenant without `USHER_TENANCY_BASE_DOMAIN` (or on the bare base domain), created on first use",
    ),
    setting("tenancy_base_domain", "", "tenancy of the Akana dialect: with a base domain, the `Host` subdomain names the tenant"),
    setting("console_url", "", "where a tenant's console is, `{cname}` replaced; the pages link to it only when it is set")
        .when_blank("`{public_url}/console/{cname}` in the API's answers (F5's clients expect one); the pages link to no console"),
    setting("home_page", "on", "`/`: `on`, `off` (404), or a path or URL to redirect to"),
    setting("terms_version", "2026-01", "the terms of service version the tenant form asks to accept: 1 to 12 characters, F5's limit on `tos_version`"),
    setting("terms_url", "", "where to read the terms of service"),
    setting("product_name", "usher", "the name the pages go by: in every title, the header and the home page's welcome"),
    setting(
        "logo_url",
        "",
        "an image shown beside the product name in the pages' header: an `https://` (or `http://`) URL, whose origin the pages' \
         Content-Security-Policy then allows for images, or a path on usher's own host (`/static/logo.svg`, served by your proxy)",
    )
    .when_blank("none"),
    setting(
        "accent_color",
        "#1a5fb4",
        "the pages' colour for links, buttons and focus rings, `#rrggbb`; refused at start unless white text on it (and it on white) \
         has a contrast of at least 4.5:1, as WCAG AA asks of text",
    ),
    setting(
        "pages_stylesheet",
        "",
        "a CSS file of your own, served after usher's stylesheet (at `/assets/brand.css`, after the accent colour) so that its rules \
         win; read at each request, so edits apply without a restart, and checked at start",
    )
    .when_blank("none"),
    setting(
        "pages_templates_dir",
        "",
        "page template overrides, `<language>/<page>.html` (`de/home.html`, for the pages written in German) or `<page>.html` \
         (`layout.html`, `home.html`, …; the embedded ones are in `templates/pages/`); read at each page view, checked at start (each \
         override must compile); their words come from the message catalogues (`t(…)`, docs/languages.md)",
    )
    .when_blank("none"),
    setting("password_min_score", "3", "least zxcvbn score (0–4)"),
    setting(
        "password_hash_workers",
        "2",
        "Argon2id hashes at once (the password policy has a pool of its own: half the workers, at least one, and the same queue)",
    ),
    setting("password_hash_queue", "32", "more Argon2id hashes waiting before 503"),
    setting(
        "http_header_timeout",
        "10s",
        "a connection must send a request's whole headers within this (also how long a new connection may stay silent)",
    ),
    setting("http_body_timeout", "10s", "a request's whole body must arrive within this of its headers (400, then the connection closes)"),
    setting(
        "http_keepalive_timeout",
        "5s",
        "an idle keep-alive connection is closed after this, or after `USHER_HTTP_HEADER_TIMEOUT` if that is shorter (hyper times the \
         wait for the next request's headers too); keep a proxy's upstream keep-alive below it; `0s` turns keep-alive off",
    ),
    setting(
        "http_max_connections",
        "4096",
        "open connections at most; more are accepted and closed at once, with a log line. Lowered to the open-file limit less 64 (usher \
         raises its soft limit to the hard one at start)",
    ),
    setting(
        "http_max_connections_per_client",
        "64",
        "open connections from one peer address at most (`0`: no cap; peers in `USHER_TRUSTED_PROXIES` are exempt)",
    ),
    setting(
        "reserved_cnames",
        "",
        "cnames no signup may claim, besides the built-in `default`, `www`, `api`, `admin`, `ves`, `volterra`, `f5`, `ves-io`, `f5xc` \
         and `USHER_DEFAULT_TENANT`",
    ),
    setting(
        "allow_idn_tenant_names",
        "false",
        "let new tenants take internationalised names in their ASCII form (`xn--mnchen-3ya`, shown as `münchen`); each must be valid \
         punycode. Off, no new tenant name may have `--` as its third and fourth characters (IDNA's reserved form: `xn--cme-5cd` shows \
         as `аcme` with a Cyrillic `а`). Existing tenants keep their names either way",
    ),
    setting(
        "password_pwned_url",
        "",
        "Have I Been Pwned range API to refuse breached passwords (e.g. `https://api.pwnedpasswords.com/range/`; only 5 hex digits of \
         the SHA-1 leave usher)",
    )
    .url()
    .when_blank("off"),
    setting("password_pwned_timeout", "2s", "how long to wait for the Have I Been Pwned API before letting the password through"),
    setting(
        "retention_sent_mail",
        "30d",
        "how long sent outbox rows are kept (from sending); `off` keeps them. `pending`, `sending` and `failed` rows are never pruned",
    ),
    setting("retention_dropped_requests", "7d", "how long `dropped` request rows (nobody to write to) are kept; `off` keeps them"),
    setting("retention_dev_mailbox", "7d", "how long dev-mailbox messages are kept; `off` keeps them"),
    setting(
        "retention_tokens",
        "1d",
        "how long a token's row is kept after it was spent, superseded or expired (a spent token stays unusable without it); `off` \
         keeps them",
    ),
    setting(
        "retention_limits",
        "1d",
        "how long idle rate-limit and lock-out rows are kept (never less than they still count: a day for the per-recipient and \
         lock-out rows); `off` keeps them",
    ),
    setting("retention_audit", "off", "how long audit events are kept").note("(for ever)"),
    setting(
        "retention_unverified",
        "30d",
        "how long a developer who signed up but never activated, and a tenant signup whose link was never completed, are kept (from \
         when they were made). Neither counts as an account meanwhile; `off` keeps them",
    ),
    setting(
        "webhook_urls",
        "",
        "comma-separated `http(s)` endpoints that receive every event (`signup.created`, `tenant.created`, `user.activated`, \
         `password.set`), each signed as [Standard Webhooks](https://www.standardwebhooks.com/) says; see \
         [docs/webhooks.md](docs/webhooks.md). Retried like mail (`USHER_MAIL_RETRY_MIN`, `…_MAX`, `USHER_MAIL_MAX_ATTEMPTS`), shown by \
         `usher outbox list`",
    )
    .urls()
    .when_blank("none (no webhooks)"),
    setting(
        "webhook_secret",
        "",
        "the signing secret, `whsec_` + base64 of 24–64 random bytes (`echo whsec_$(openssl rand -base64 32)`); required with \
         `USHER_WEBHOOK_URLS`; masked by `check-config`",
    )
    .secret(),
    setting("webhook_timeout", "10s", "how long one delivery (connect, send, answer) may take before it is retried"),
    setting("log_format", "text", "`text` or `json` (level from `RUST_LOG`)"),
];

/// The name of every setting, for the defaults layer, `check-config` and
/// telling a known name from a typo.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.name)
}

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
        let mut figment = Figment::from(Layer::new("the defaults", SETTINGS.iter().map(|s| (s.name.to_owned(), s.default.to_owned()))));
        if let Some(text) = toml {
            let table: toml::Table = text.parse().context("the config file is not valid TOML")?;
            let mut flat = Vec::new();
            flatten("", &toml::Value::Table(table), &mut flat)?;
            if let Some((k, _)) = flat.iter().find(|(k, _)| !is_known(k)) {
                bail!("unknown setting `{k}` in the config file");
            }
            figment = figment.merge(Layer::new("the config file", flat));
        }
        let env: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| k.starts_with("USHER_") && !OTHER_VARIABLES.contains(&k.as_str())).collect();
        // A misspelt variable would otherwise leave its setting at the default without a word.
        if let Some((unknown, _)) =
            env.iter().find(|(k, _)| !k.strip_prefix("USHER_").is_some_and(|name| is_known(&name.to_ascii_lowercase())))
        {
            bail!("{unknown} is not a setting of usher: did you mean USHER_{}?", nearest_setting(unknown).to_ascii_uppercase());
        }
        let env = env.into_iter().filter_map(|(k, v)| Some((k.strip_prefix("USHER_")?.to_ascii_lowercase(), v)));
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
        SETTINGS
            .iter()
            .map(|s| {
                let v = self.figment.find_value(s.name).ok().and_then(Value::into_string).unwrap_or_default();
                format!("{} = {:?}", s.name, s.show(&v))
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
    names().any(|name| name == key)
}

/// `USHER_*` variables that are not settings but read elsewhere: the config
/// file's path, and the test suite's own.
const OTHER_VARIABLES: &[&str] = &["USHER_CONFIG", "USHER_TEST_POSTGRES_URL", "USHER_BLESS", "USHER_SCREENSHOTS"];

/// The setting whose name is the fewest edits away from `variable`'s.
fn nearest_setting(variable: &str) -> &'static str {
    let name = variable.strip_prefix("USHER_").unwrap_or(variable).to_ascii_lowercase();
    names().min_by_key(|candidate| edit_distance(&name, candidate)).unwrap_or("listen")
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

struct Layer {
    name: &'static str,
    values: Dict,
}

impl Layer {
    fn new(name: &'static str, values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { name, values: values.into_iter().map(|(key, value)| (key, Value::from(value.trim()))).collect() }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        // Errors name a setting as `check-config` does, without figment's `default.` profile prefix.
        Metadata::named(self.name).interpolater(|_: &Profile, keys: &[&str]| keys.join("_"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

impl Settings {
    /// Where the SQLite database is when `database_url` is not given.
    pub(crate) fn default_database(&self) -> PathBuf {
        self.data_dir.join("usher.db")
    }

    /// Why `usher serve` must not start with these settings, naming the setting to fix.
    pub(crate) fn unsafe_to_serve(&self) -> Option<String> {
        (!self.public_url_given && !self.listen.ip().is_loopback()).then(|| {
            format!(
                "USHER_PUBLIC_URL is not set, and usher listens on {listen}, not on loopback: every link it mails would point at \
                 http://{listen}, which is not where people reach it. Set the address they use, e.g. \
                 USHER_PUBLIC_URL=https://signup.example.com",
                listen = self.listen
            )
        })
    }

    #[cfg(test)]
    pub(crate) fn defaults() -> anyhow::Result<Self> {
        Layers::from_sources(None, Vec::new())?.parse()
    }

    fn finish(mut self) -> anyhow::Result<Self> {
        let listen = self.listen;
        if self.mail_transport == MailTransport::Smtp && self.smtp_url.is_none() {
            bail!("mail_transport is smtp but smtp_url (USHER_SMTP_URL) is not set");
        }
        self.database_url_given = !self.database_url.expose().is_empty();
        if !self.database_url_given {
            self.database_url = Secret::new(format!("sqlite://{}", self.default_database().display()));
        }
        self.public_url_given = !self.public_url.trim().is_empty();
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
        // loopback listener serves it, whatever the transport. The management
        // listener, when there is one, is where it would be served.
        let served_on = self.management_listen.unwrap_or(listen);
        self.dev_mailbox = self.dev_mailbox_asked.unwrap_or(self.mail_transport == MailTransport::Dev && served_on.ip().is_loopback());
        self.console_url_given = !self.console_url.is_empty();
        if !self.console_url_given {
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
        // The tenant form sends it as F5's `tos_version`, which takes no more.
        let max = crate::domain::TOS_VERSION_MAX;
        if self.terms_version.is_empty() || self.terms_version.chars().count() > max {
            bail!("terms_version must be 1 to {max} characters");
        }
        self.product_name = self.product_name.trim().to_owned();
        if self.product_name.is_empty() || self.product_name.chars().count() > 64 || self.product_name.chars().any(char::is_control) {
            bail!("product_name must be 1 to 64 characters, without control characters");
        }
        if let Some(logo) = &self.logo_url {
            check_logo_url(logo)?;
        }
        self.tenancy_base_domain = self.tenancy_base_domain.map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        self.reserved_cnames.iter_mut().for_each(|c| c.make_ascii_lowercase());
        self.retention = Retention {
            sent_mail: self.retention_sent_mail,
            dropped_requests: self.retention_dropped_requests,
            dev_mailbox: self.retention_dev_mailbox,
            tokens: self.retention_tokens,
            limits: self.retention_limits,
            audit: self.retention_audit,
            unverified: self.retention_unverified,
        };
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

/// The pages' accent colour, `#rrggbb`, dark enough that white text on it and it as text on white
/// are readable (WCAG AA's 4.5:1 for text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AccentColor([u8; 3]);

/// WCAG 2.1's contrast minimum for text (1.4.3, level AA).
const TEXT_CONTRAST: f64 = 4.5;

impl AccentColor {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let hex = text.trim().strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(hex) = hex else {
            return Err(format!("`{text}` is not a colour written #rrggbb, such as #1a5fb4"));
        };
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default();
        let color = Self([channel(0), channel(2), channel(4)]);
        let contrast = color.contrast_with_white();
        if contrast < TEXT_CONTRAST {
            return Err(format!(
                "{} has a contrast of {contrast:.1}:1 with white, below the 4.5:1 that links and button labels need; choose a darker colour",
                color.css()
            ));
        }
        Ok(color)
    }

    pub(crate) fn css(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// WCAG's contrast ratio against white, from the colour's relative luminance.
    fn contrast_with_white(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        let [r, g, b] = self.0;
        let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
        1.05 / (luminance + 0.05)
    }
}

fn accent_color<'de, D: Deserializer<'de>>(d: D) -> Result<AccentColor, D::Error> {
    AccentColor::parse(&String::deserialize(d)?).map_err(D::Error::custom)
}

/// An absolute `http(s)` URL, or a path on usher's own host; nothing that could carry script.
fn check_logo_url(logo: &str) -> anyhow::Result<()> {
    if logo.starts_with('/') && !logo.starts_with("//") {
        return Ok(());
    }
    match url::Url::parse(logo) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => bail!("logo_url must be an https:// URL or a path starting with /, not `{logo}`"),
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

fn optional_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    match String::deserialize(d)?.trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| D::Error::custom(format!("`{text}` is not an address such as 127.0.0.1:9090"))),
    }
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
        assert_eq!(s.database_url.expose(), "sqlite://./usher.db");
        assert!(!s.database_url_given);
        let s = Layers::from_sources(None, env(&[("USHER_DATA_DIR", "/var/lib/usher")])).unwrap().parse().unwrap();
        assert_eq!(s.database_url.expose(), "sqlite:///var/lib/usher/usher.db", "the database is in the data directory");
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
    fn the_terms_version_fits_f5s_tos_version() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse();
        assert_eq!(parse(&[("USHER_TERMS_VERSION", "v2026.12.31a")]).unwrap().terms_version, "v2026.12.31a");
        let long = parse(&[("USHER_TERMS_VERSION", "v2026.12.31ab")]).unwrap_err();
        assert!(long.to_string().contains("terms_version must be 1 to 12 characters"), "{long}");
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
        assert!(!parse(&[("USHER_MANAGEMENT_LISTEN", "10.0.0.5:9090")]).dev_mailbox, "the management listener would serve it");
        assert!(parse(&[("USHER_LISTEN", "0.0.0.0:8080"), ("USHER_MANAGEMENT_LISTEN", "127.0.0.1:9090")]).dev_mailbox);
        assert!(Layers::from_sources(None, env(&[("USHER_MANAGEMENT_LISTEN", "localhost")])).unwrap().parse().is_err());
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
    fn every_declared_setting_is_a_field_and_every_field_is_declared() {
        // deny_unknown_fields refuses a declared name that is no field, and a
        // field has no default of its own, so one left undeclared is missing.
        Settings::defaults().unwrap();
        let mut seen = std::collections::HashSet::new();
        for s in SETTINGS {
            assert!(seen.insert(s.name), "{} is declared twice", s.name);
            assert!(s.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{} is no flat name", s.name);
            assert!(!s.doc.is_empty(), "{} has no description", s.name);
            assert!(s.note.is_empty() || !s.default.is_empty(), "{} has a note on a blank default: say it in when_blank", s.name);
        }
    }

    #[test]
    fn check_config_lists_every_setting_once_in_declared_order() {
        let shown = Layers::from_sources(None, Vec::new()).unwrap().describe();
        let keys: Vec<&str> = shown.iter().filter_map(|line| line.split(" = ").next()).collect();
        assert_eq!(keys, names().collect::<Vec<_>>());
        assert!(shown.contains(&"retention_audit = \"off\"".to_owned()), "{shown:?}");
    }

    /// README.md's settings table, one row per declared setting.
    fn readme_table() -> String {
        let cell = |text: &str| text.replace('|', "\\|");
        let mut table = String::from("| environment | meaning | default |\n|---|---|---|\n");
        for s in SETTINGS {
            let default = match (s.default, s.note) {
                ("", _) => s.when_blank.to_owned(),
                (default, "") => format!("`{default}`"),
                (default, note) => format!("`{default}` {note}"),
            };
            table += &format!("| `USHER_{}` | {} | {} |\n", s.name.to_ascii_uppercase(), cell(s.doc), cell(&default));
        }
        table
    }

    #[test]
    fn the_readme_lists_every_setting_with_its_declared_default() {
        let (begin, end) = ("<!-- settings:begin -->\n", "<!-- settings:end -->");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let start = readme.find(begin).map(|i| i + begin.len()).expect("README.md has a `<!-- settings:begin -->` line");
        let stop = readme[start..].find(end).map(|i| i + start).expect("README.md has a `<!-- settings:end -->` line");
        let table = format!("\n{}\n", readme_table());
        if readme[start..stop] == table {
            return;
        }
        if std::env::var("USHER_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[stop..])).unwrap();
            return;
        }
        let (was, is): (Vec<_>, Vec<_>) = (readme[start..stop].lines().collect(), table.lines().collect());
        let line = (0..was.len().max(is.len())).find(|&i| was.get(i) != is.get(i)).unwrap_or(0);
        let (was, is) = (was.get(line).unwrap_or(&"(no line)"), is.get(line).unwrap_or(&"(no line)"));
        panic!(
            "README.md's settings table is not the one config::SETTINGS declares; first difference:\n  README: {was}\n  wanted: {is}\n\
             run `USHER_BLESS=1 cargo test --lib config::tests::the_readme_lists_every_setting_with_its_declared_default` to rewrite it"
        );
    }

    #[test]
    fn a_misspelt_environment_variable_is_an_error_that_names_the_setting_meant() {
        let err = Layers::from_sources(None, env(&[("USHER_LISTN", "0.0.0.0:80")])).unwrap_err();
        assert!(err.to_string().contains("USHER_LISTN") && err.to_string().contains("did you mean USHER_LISTEN?"), "{err}");
        let err = Layers::from_sources(None, env(&[("USHER_SMTP_URI", "smtp://mail")])).unwrap_err();
        assert!(err.to_string().contains("did you mean USHER_SMTP_URL?"), "{err}");
        let others =
            env(&[("USHER_CONFIG", "/etc/usher.toml"), ("USHER_TEST_POSTGRES_URL", "postgres://"), ("USHER_BLESS", "1"), ("PATH", "/bin")]);
        Layers::from_sources(None, others).unwrap().parse().unwrap();
        assert_eq!((edit_distance("kitten", "sitting"), edit_distance("", "abc"), edit_distance("same", "same")), (3, 3, 0));
    }

    #[test]
    fn a_network_listener_without_a_public_url_is_unsafe_to_serve() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse().unwrap();
        let refusal = parse(&[("USHER_LISTEN", "0.0.0.0:8080")]).unsafe_to_serve().unwrap();
        assert!(refusal.contains("USHER_PUBLIC_URL=https://signup.example.com"), "{refusal}");
        assert!(parse(&[("USHER_LISTEN", "0.0.0.0:8080"), ("USHER_PUBLIC_URL", "https://signup.example.com")]).unsafe_to_serve().is_none());
        assert!(parse(&[]).unsafe_to_serve().is_none(), "a loopback listener may derive its links from its address");
        assert!(parse(&[("USHER_LISTEN", "[::1]:9000")]).unsafe_to_serve().is_none());
    }

    #[test]
    fn the_accent_colour_is_hex_and_readable_as_text_on_white_and_under_white_text() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse();
        let s = Settings::defaults().unwrap();
        assert_eq!((s.product_name.as_str(), s.accent_color.css(), s.logo_url.as_deref()), ("usher", "#1a5fb4".to_owned(), None));
        assert_eq!(parse(&[("USHER_ACCENT_COLOR", "#7A1FA2")]).unwrap().accent_color.css(), "#7a1fa2");
        for bad in ["blue", "#12345", "1a5fb4", "#1a5fb4ff", "#gg0000"] {
            let err = parse(&[("USHER_ACCENT_COLOR", bad)]).unwrap_err();
            assert!(format!("{err:#}").contains("accent_color") && format!("{err:#}").contains("#rrggbb"), "{bad}: {err:#}");
        }
        // Yellow on white is unreadable: 1.5:1.
        let err = parse(&[("USHER_ACCENT_COLOR", "#ffcc00")]).unwrap_err();
        assert!(format!("{err:#}").contains("contrast of 1.5:1"), "{err:#}");
        assert!(parse(&[("USHER_ACCENT_COLOR", "#767676")]).is_ok(), "#767676 is the lightest grey that passes (4.54:1)");
        assert!(parse(&[("USHER_ACCENT_COLOR", "#777777")]).is_err(), "#777777 does not (4.48:1)");
    }

    #[test]
    fn the_logo_is_an_http_url_or_a_path_of_this_host_and_the_product_name_is_one_line() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse();
        for good in ["https://cdn.example.com/logo.svg", "http://localhost:9000/l.png", "/static/logo.svg"] {
            assert_eq!(parse(&[("USHER_LOGO_URL", good)]).unwrap().logo_url.as_deref(), Some(good));
        }
        for bad in ["javascript:alert(1)", "data:image/svg+xml,<svg/>", "//cdn.example.com/logo.svg", "logo.svg", "ftp://x/l.png"] {
            let err = parse(&[("USHER_LOGO_URL", bad)]).unwrap_err();
            assert!(err.to_string().contains("logo_url"), "{bad}: {err}");
        }
        assert_eq!(parse(&[("USHER_PRODUCT_NAME", "  Acme Cloud ")]).unwrap().product_name, "Acme Cloud");
        assert!(parse(&[("USHER_PRODUCT_NAME", " ")]).unwrap_err().to_string().contains("product_name"));
    }

    #[test]
    fn pages_link_to_a_console_only_when_one_is_configured() {
        let parse = |pairs: &[(&str, &str)]| Layers::from_sources(None, env(pairs)).unwrap().parse().unwrap();
        let derived = parse(&[]);
        assert!(!derived.console_url_given);
        assert_eq!(derived.console_url, "http://127.0.0.1:8080/console/{cname}", "the API's answer keeps its derived default");
        assert!(parse(&[("USHER_CONSOLE_URL", "https://{cname}.console.example.com")]).console_url_given);
    }

    #[test]
    fn smtp_transport_needs_a_url() {
        let err = Layers::from_sources(None, env(&[("USHER_MAIL_TRANSPORT", "smtp")])).unwrap().parse().unwrap_err();
        assert!(err.to_string().contains("USHER_SMTP_URL"));
    }
}
