use super::templates::Rendered;
use crate::config::{MailTransport, Settings};
use crate::store::devmail::DevMessage;
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pkcs8::der::Decode;
use pkcs8::der::asn1::OctetStringRef;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) permanent: bool,
    pub(crate) hint: String,
}

impl SendError {
    fn permanent(hint: impl Into<String>) -> Self {
        Self { permanent: true, hint: hint.into() }
    }
    fn transient(hint: impl Into<String>) -> Self {
        Self { permanent: false, hint: hint.into() }
    }
}

pub struct Transport {
    kind: Kind,
    dkim: Option<DkimConfig>,
}

/// What a send leaves for the worker to write with the message's sent mark.
pub(crate) enum Sent {
    /// With a server or in a file: nothing more to write.
    Away,
    /// The dev mailbox's row goes in the transaction that marks the message sent: one
    /// write a message instead of two, and the mailbox holds a message exactly when the
    /// outbox says it was sent.
    ToDevMailbox(DevMessage),
}

enum Kind {
    Dev,
    File(PathBuf),
    /// lettre's timeout bounds only the connect (https://github.com/lettre/lettre/issues/1027): the `Duration` is the deadline of the
    /// whole conversation, so a server that accepts and then says nothing cannot hold a batch for ever.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Duration),
}

pub(crate) struct Envelope<'a> {
    pub(crate) message_id: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) now: i64,
}

impl Transport {
    pub(crate) fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        let kind = match s.mail_transport {
            MailTransport::Dev => Kind::Dev,
            MailTransport::File => {
                crate::private::create_dir_all(&s.mail_file_dir)
                    .with_context(|| format!("creating mail directory {}", s.mail_file_dir.display()))?;
                if crate::private::open_to_others(&s.mail_file_dir) {
                    tracing::warn!(
                        mail_file_dir = %s.mail_file_dir.display(),
                        "others may list the mail directory; the messages are private, but their names (Message-IDs) show"
                    );
                }
                Kind::File(s.mail_file_dir.clone())
            }
            MailTransport::Smtp => {
                let url = s.smtp_url.as_ref().context("smtp_url is not set")?;
                Kind::Smtp(smtp_from_url(url.expose(), s)?, s.smtp_timeout * 2)
            }
        };
        let dkim = match (&s.dkim_selector, &s.dkim_private_key) {
            (Some(selector), Some(key)) => Some(dkim_config(selector, &s.dkim_domain, key)?),
            _ => None,
        };
        Ok(Self { kind, dkim })
    }

    /// Where mail goes, for the start-up log line (no password).
    pub(crate) fn describe(s: &Settings) -> String {
        match (s.mail_transport, &s.smtp_url) {
            (MailTransport::Smtp, Some(url)) => format!("smtp to {}", crate::config::redact_url(url.expose())),
            (MailTransport::File, _) => format!("file, into {}", s.mail_file_dir.display()),
            (MailTransport::Dev, _) if s.dev_mailbox => "dev (nothing leaves this machine; shown at /dev/mail)".to_owned(),
            _ => "dev (nothing leaves this machine; /dev/mail is off)".to_owned(),
        }
    }

    pub(crate) fn check(s: &Settings) -> anyhow::Result<()> {
        if let (Some(selector), Some(key)) = (&s.dkim_selector, &s.dkim_private_key) {
            dkim_config(selector, &s.dkim_domain, key)?;
        }
        if let (MailTransport::Smtp, Some(url)) = (s.mail_transport, &s.smtp_url) {
            smtp_from_url(url.expose(), s)?;
        }
        Ok(())
    }

    /// Connects to the SMTP server, greets it (EHLO, TLS, login as configured) and checks it
    /// answers; other transports have no server to reach.
    pub(crate) async fn test_connection(&self) -> Result<(), SendError> {
        let Kind::Smtp(smtp, deadline) = &self.kind else { return Ok(()) };
        match tokio::time::timeout(*deadline, smtp.test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(SendError::transient("the SMTP server took the connection but did not answer NOOP")),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::transient(format!(
                "the SMTP server did not finish greeting within {} (twice USHER_SMTP_TIMEOUT)",
                humantime::format_duration(*deadline)
            ))),
        }
    }

    pub(crate) async fn send(&self, env: &Envelope<'_>, body: &Rendered) -> Result<Sent, SendError> {
        self.send_answered(env, body).await.map(|(sent, _)| sent)
    }

    /// [`Transport::send`], with what the transport said: the SMTP server's answer, the file written.
    pub(crate) async fn send_answered(&self, env: &Envelope<'_>, body: &Rendered) -> Result<(Sent, String), SendError> {
        match &self.kind {
            Kind::Dev => Ok((
                Sent::ToDevMailbox(DevMessage {
                    id: 0,
                    message_id: env.message_id.to_owned(),
                    to: env.to.to_owned(),
                    subject: body.subject.clone(),
                    text: body.text.clone(),
                    html: body.html.clone(),
                    created_at: env.now,
                }),
                "kept in the development mailbox (/dev/mail); nothing left this machine".to_owned(),
            )),
            Kind::File(dir) => {
                let bytes = self.build(env, body)?.formatted();
                let name: String =
                    env.message_id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')).collect();
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.tmp"));
                // Write then rename, so a reader never sees half a message. The links in it are live:
                // private from the first byte (a crash's leftover is removed, not reused with its mode).
                let write = async {
                    use tokio::io::AsyncWriteExt;
                    let _ = tokio::fs::remove_file(&tmp).await;
                    let mut file = crate::private::new_file_async().open(&tmp).await?;
                    file.write_all(&bytes).await?;
                    file.flush().await?;
                    drop(file);
                    tokio::fs::rename(&tmp, &path).await
                };
                match write.await {
                    Ok(()) => Ok((Sent::Away, format!("written to {}", path.display()))),
                    Err(e) => Err(SendError::transient(format!("writing {}: {e}", path.display()))),
                }
            }
            Kind::Smtp(smtp, deadline) => {
                let message = self.build(env, body)?;
                match tokio::time::timeout(*deadline, smtp.send(message)).await {
                    Ok(Ok(answer)) => {
                        let text = answer.message().collect::<Vec<_>>().join(" ");
                        Ok((Sent::Away, format!("the SMTP server answered {} {text}", answer.code())))
                    }
                    Ok(Err(e)) => Err(classify(&e)),
                    Err(_) => Err(SendError::transient(format!(
                        "the SMTP server did not finish the conversation within {} (twice USHER_SMTP_TIMEOUT); it will be retried",
                        humantime::format_duration(*deadline)
                    ))),
                }
            }
        }
    }

    fn build(&self, env: &Envelope<'_>, body: &Rendered) -> Result<Message, SendError> {
        let from: Mailbox = env.from.parse().map_err(|_| SendError::permanent("mail_from is not a valid address"))?;
        let to: Mailbox = env.to.parse().map_err(|_| SendError::permanent(format!("recipient {} is not a valid address", env.to)))?;
        let mut message = Message::builder()
            .message_id(Some(env.message_id.to_owned()))
            .from(from)
            .to(to)
            .subject(body.subject.clone())
            .multipart(MultiPart::alternative_plain_html(body.text.clone(), body.html.clone()))
            .map_err(|e| SendError::permanent(format!("building the message: {e}")))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(message)
    }
}

/// Not `Content-Type`: lettre keeps a multipart's `Content-Type` with the body, out of its signer's
/// sight, so naming it would make every signature fail.
const DKIM_SIGNED_HEADERS: &[&str] = &["From", "To", "Subject", "Date", "Message-ID", "MIME-Version"];

fn dkim_config(selector: &str, domain: &str, key_path: &Path) -> anyhow::Result<DkimConfig> {
    let pem = std::fs::read_to_string(key_path).with_context(|| format!("reading dkim_private_key {}", key_path.display()))?;
    let key = dkim_signing_key(&pem).with_context(|| format!("dkim_private_key {}", key_path.display()))?;
    let headers = DKIM_SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
    // relaxed/relaxed survives the re-folding and whitespace changes of relays.
    let canonicalization = DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    Ok(DkimConfig::new(selector.to_owned(), domain.to_owned(), key, headers, canonicalization))
}

const RSA_ENCRYPTION: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

pub(crate) fn dkim_signing_key(pem: &str) -> anyhow::Result<DkimSigningKey> {
    const HELP: &str = "give an unencrypted RSA or Ed25519 private key in PEM";
    let pem = pem.trim();
    let (label, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(|e| anyhow!("the file is not a PEM private key ({e}); {HELP}"))?;
    if label == "RSA PRIVATE KEY" {
        return DkimSigningKey::new(pem, DkimSigningAlgorithm::Rsa).map_err(|e| anyhow!("not a valid RSA private key ({e})"));
    }
    if label != "PRIVATE KEY" {
        bail!("a PEM `{label}` cannot sign; {HELP}");
    }
    let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes()).map_err(|e| anyhow!("not a valid PKCS#8 private key ({e})"))?;
    match info.algorithm.oid {
        RSA_ENCRYPTION => {
            // A PKCS#8 RSA key wraps the PKCS#1 one, which is what lettre reads.
            let pkcs1 = pkcs8::der::pem::encode_string("RSA PRIVATE KEY", pkcs8::LineEnding::LF, info.private_key)
                .map_err(|e| anyhow!("re-encoding the RSA key ({e})"))?;
            DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa).map_err(|e| anyhow!("not a valid RSA private key ({e})"))
        }
        ED25519 => {
            // RFC 8410: the private key is an OCTET STRING holding the 32-byte seed.
            let seed = OctetStringRef::from_der(info.private_key).map_err(|e| anyhow!("not a valid Ed25519 private key ({e})"))?;
            if seed.as_bytes().len() != 32 {
                bail!("not a valid Ed25519 private key (its seed is not 32 bytes)");
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(seed.as_bytes());
            DkimSigningKey::new(&encoded, DkimSigningAlgorithm::Ed25519).map_err(|e| anyhow!("not a valid Ed25519 private key ({e})"))
        }
        other => bail!("a key of algorithm {other} cannot sign DKIM; {HELP}"),
    }
}

fn classify(e: &smtp::Error) -> SendError {
    if e.is_permanent() {
        return SendError::permanent(format!("the SMTP server refused the message permanently ({e}); it will not be retried"));
    }
    if e.is_transient() {
        return SendError::transient(format!("the SMTP server deferred the message ({e}); it will be retried"));
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

/// Without `tls=`, port 465 (or `smtps://`) means implicit TLS and anything else STARTTLS.
fn tls_mode(url: &url::Url) -> String {
    match (url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()), url.scheme(), url.port()) {
        (Some(m), _, _) => m,
        (None, "smtps", _) | (None, _, Some(465)) => "tls".to_owned(),
        _ => "starttls".to_owned(),
    }
}

/// The host that `smtp_url` would send its user name and password to unencrypted (`tls=none` with
/// credentials, to a host that is not this machine), for a warning at start: anyone on the path
/// reads them, and the relay then sends mail as the platform for whoever has them.
pub(crate) fn credentials_in_clear(s: &Settings) -> Option<String> {
    if s.mail_transport != MailTransport::Smtp {
        return None;
    }
    let url = url::Url::parse(s.smtp_url.as_ref()?.expose()).ok()?;
    if url.username().is_empty() || tls_mode(&url) != "none" {
        return None;
    }
    let loopback = match url.host()? {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        // `smtp:` is not a scheme the URL standard knows, so an IPv4 address stays text.
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) || name == "localhost" || name.ends_with(".localhost")
        }
    };
    (!loopback).then(|| url.host_str().unwrap_or_default().to_owned())
}

fn smtp_from_url(raw: &str, s: &Settings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = url::Url::parse(raw).context("USHER_SMTP_URL is not a URL")?;
    if url.scheme() != "smtp" && url.scheme() != "smtps" {
        bail!("USHER_SMTP_URL must start with smtp:// or smtps://");
    }
    let host = url.host_str().context("USHER_SMTP_URL has no host")?.to_owned();
    let (tls, default_port) = match tls_mode(&url).as_str() {
        "none" => (Tls::None, 25),
        "starttls" => (Tls::Required(TlsParameters::new(host.clone()).context("TLS parameters")?), 587),
        "tls" => (Tls::Wrapper(TlsParameters::new(host.clone()).context("TLS parameters")?), 465),
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
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl_key(args: &[&str]) -> String {
        let out = std::process::Command::new("openssl").args(args).output().expect("the openssl command line tool");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn credentials_sent_without_tls_to_another_machine_are_named_for_a_warning() {
        let in_clear = |url: &str| {
            let s = crate::config::Layers::from_sources(
                None,
                [("USHER_MAIL_TRANSPORT", "smtp"), ("USHER_SMTP_URL", url)].map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
            .unwrap()
            .parse()
            .unwrap();
            credentials_in_clear(&s)
        };
        assert_eq!(in_clear("smtp://relay:pw@mail.example:25?tls=none").as_deref(), Some("mail.example"));
        assert_eq!(in_clear("smtp://relay:pw@[2001:db8::25]?tls=none").as_deref(), Some("[2001:db8::25]"));
        for quiet in [
            "smtp://relay:pw@mail.example:587",
            "smtp://relay:pw@mail.example:465?tls=tls",
            "smtp://mail.example:25?tls=none",
            "smtp://relay:pw@127.0.0.1:25?tls=none",
            "smtp://relay:pw@[::1]:25?tls=none",
            "smtp://relay:pw@localhost:25?tls=none",
        ] {
            assert_eq!(in_clear(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn dkim_keys_load_from_the_pem_files_openssl_writes() {
        let pkcs1 = openssl_key(&["genrsa", "-traditional", "2048"]);
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let pkcs8 = openssl_key(&["genrsa", "2048"]);
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let ed25519 = openssl_key(&["genpkey", "-algorithm", "ed25519"]);
        for pem in [&pkcs1, &pkcs8, &ed25519] {
            if let Err(e) = dkim_signing_key(pem) {
                panic!("{e:#}: {pem}");
            }
        }
    }

    #[test]
    fn an_unusable_dkim_key_is_refused_with_the_reason() {
        let ec = openssl_key(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        let refused = |pem: &str| match dkim_signing_key(pem) {
            Ok(_) => panic!("accepted {pem}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(refused(&ec).contains("cannot sign DKIM"));
        assert!(refused("not a key").contains("not a PEM private key"));
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(refused(encrypted).contains("ENCRYPTED PRIVATE KEY"));
    }
}
