//! How a rendered message leaves usher: `smtp` (lettre), `file` (one `.eml`
//! per message) or `dev` (kept in the database for `/dev/mail`).
//!
//! Every transport is idempotent per Message-ID as far as it can be: the file
//! and dev transports overwrite or ignore a repeat; SMTP cannot, so a retry
//! after an ambiguous failure carries the same Message-ID and the recipient's
//! mail system can recognise it.

use super::templates::Rendered;
use crate::config::{MailTransport, Settings};
use crate::store::{self, Store};
use anyhow::{Context, bail};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    /// A sentence an operator can act on; shown by `outbox list`.
    pub hint: String,
}

impl SendError {
    fn permanent(hint: impl Into<String>) -> Self {
        Self {
            permanent: true,
            hint: hint.into(),
        }
    }
    fn transient(hint: impl Into<String>) -> Self {
        Self {
            permanent: false,
            hint: hint.into(),
        }
    }
}

pub enum Transport {
    Dev(Store),
    File(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Envelope<'a> {
    pub message_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub now: i64,
}

impl Transport {
    pub fn from_settings(s: &Settings, store: &Store) -> anyhow::Result<Self> {
        Ok(match s.mail_transport {
            MailTransport::Dev => Self::Dev(store.clone()),
            MailTransport::File => {
                std::fs::create_dir_all(&s.mail_file_dir).with_context(|| {
                    format!("creating mail directory {}", s.mail_file_dir.display())
                })?;
                Self::File(s.mail_file_dir.clone())
            }
            MailTransport::Smtp => {
                let url = s.smtp_url.as_ref().context("smtp_url is not set")?;
                Self::Smtp(smtp_from_url(url.expose(), s)?)
            }
        })
    }

    pub async fn send(&self, env: &Envelope<'_>, body: &Rendered) -> Result<(), SendError> {
        match self {
            Self::Dev(store) => {
                let message = store::devmail::DevMessage {
                    id: 0,
                    message_id: env.message_id.to_owned(),
                    to: env.to.to_owned(),
                    subject: body.subject.clone(),
                    text: body.text.clone(),
                    html: body.html.clone(),
                    created_at: env.now,
                };
                let mut conn = store
                    .acquire()
                    .await
                    .map_err(|e| SendError::transient(format!("dev mailbox: {e}")))?;
                store::devmail::insert(&mut conn, &message)
                    .await
                    .map_err(|e| SendError::transient(format!("dev mailbox: {e}")))
            }
            Self::File(dir) => {
                let bytes = build(env, body)?.formatted();
                let name: String = env
                    .message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.tmp"));
                // Write then rename, so a reader never sees half a message.
                let write = async {
                    tokio::fs::write(&tmp, &bytes).await?;
                    tokio::fs::rename(&tmp, &path).await
                };
                write
                    .await
                    .map_err(|e| SendError::transient(format!("writing {}: {e}", path.display())))
            }
            Self::Smtp(smtp) => {
                let message = build(env, body)?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(&e))
            }
        }
    }
}

fn build(env: &Envelope<'_>, body: &Rendered) -> Result<Message, SendError> {
    let from: Mailbox = env
        .from
        .parse()
        .map_err(|_| SendError::permanent("mail_from is not a valid address"))?;
    let to: Mailbox = env.to.parse().map_err(|_| {
        SendError::permanent(format!("recipient {} is not a valid address", env.to))
    })?;
    Message::builder()
        .message_id(Some(env.message_id.to_owned()))
        .from(from)
        .to(to)
        .subject(body.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            body.text.clone(),
            body.html.clone(),
        ))
        .map_err(|e| SendError::permanent(format!("building the message: {e}")))
}

/// Turns lettre's error into a decision and a hint an operator can act on.
fn classify(e: &smtp::Error) -> SendError {
    if e.is_permanent() {
        return SendError::permanent(format!(
            "the SMTP server refused the message permanently ({e}); it will not be retried"
        ));
    }
    if e.is_transient() {
        return SendError::transient(format!(
            "the SMTP server deferred the message ({e}); it will be retried"
        ));
    }
    if e.is_tls() {
        return SendError::transient(format!(
            "TLS with the SMTP server failed ({e}); this usually means the tls= setting of USHER_SMTP_URL does not match the port (tls for 465, starttls for 587)"
        ));
    }
    if e.is_timeout() {
        return SendError::transient(format!("the SMTP server did not answer in time ({e})"));
    }
    SendError::transient(format!(
        "could not talk to the SMTP server ({e}); check the host and port of USHER_SMTP_URL and that the server is up"
    ))
}

/// `smtp://[user:pass@]host[:port][?tls=none|starttls|tls]`. Without `tls`,
/// port 465 means implicit TLS, port 25 and local relays are expected to be
/// named explicitly, and everything else gets STARTTLS.
fn smtp_from_url(raw: &str, s: &Settings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = url::Url::parse(raw).context("USHER_SMTP_URL is not a URL")?;
    if url.scheme() != "smtp" && url.scheme() != "smtps" {
        bail!("USHER_SMTP_URL must start with smtp:// or smtps://");
    }
    let host = url
        .host_str()
        .context("USHER_SMTP_URL has no host")?
        .to_owned();
    let tls_mode = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let tls_mode = match (tls_mode.as_deref(), url.scheme(), url.port()) {
        (Some(m), _, _) => m.to_owned(),
        (None, "smtps", _) | (None, _, Some(465)) => "tls".to_owned(),
        _ => "starttls".to_owned(),
    };
    let (tls, default_port) = match tls_mode.as_str() {
        "none" => (Tls::None, 25),
        "starttls" => (
            Tls::Required(TlsParameters::new(host.clone()).context("TLS parameters")?),
            587,
        ),
        "tls" => (
            Tls::Wrapper(TlsParameters::new(host.clone()).context("TLS parameters")?),
            465,
        ),
        other => bail!("tls={other} in USHER_SMTP_URL: use none, starttls or tls"),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(url.port().unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(s.smtp_timeout))
        .pool_config(PoolConfig::new().max_size(s.smtp_pool_size.max(1)));
    if !url.username().is_empty() {
        let user = percent_decode(url.username());
        let pass = percent_decode(url.password().unwrap_or_default());
        builder = builder.credentials(Credentials::new(user, pass));
    }
    Ok(builder.build())
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
