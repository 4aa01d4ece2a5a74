use crate::store::{self, Conn, outbox::Envelope, outbox::Status};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::time::Duration;

pub const KIND_PREFIX: &str = "webhook:";

#[derive(Debug, Clone, Serialize)]
pub struct TenantRef {
    pub id: String,
    pub cname: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRef {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    #[serde(rename = "signup.created")]
    SignupCreated { signup_id: String, cname: String, email: String, tenant_type: String },
    #[serde(rename = "tenant.created")]
    TenantCreated { tenant: NewTenant, user: NewUser },
    #[serde(rename = "user.activated")]
    UserActivated { tenant: TenantRef, user: UserRef },
    #[serde(rename = "password.set")]
    PasswordSet { tenant: TenantRef, user: UserRef },
}

#[derive(Debug, Clone, Serialize)]
pub struct NewTenant {
    pub id: String,
    pub cname: String,
    pub name: String,
    #[serde(rename = "type")]
    pub tenant_type: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub state: String,
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Self::SignupCreated { .. } => "signup.created",
            Self::TenantCreated { .. } => "tenant.created",
            Self::UserActivated { .. } => "user.activated",
            Self::PasswordSet { .. } => "password.set",
        }
    }

    fn tenant_cname(&self) -> &str {
        match self {
            Self::SignupCreated { cname, .. } => cname,
            Self::TenantCreated { tenant, .. } => &tenant.cname,
            Self::UserActivated { tenant, .. } | Self::PasswordSet { tenant, .. } => &tenant.cname,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    event: &'a Event,
    timestamp: String,
}

/// A metrics label: one of the four names, never a value read from a row.
pub fn event_label(kind: &str) -> &'static str {
    match kind.strip_prefix(KIND_PREFIX) {
        Some("signup.created") => "signup.created",
        Some("tenant.created") => "tenant.created",
        Some("user.activated") => "user.activated",
        Some("password.set") => "password.set",
        _ => "other",
    }
}

pub fn is_webhook(kind: &str) -> bool {
    kind.starts_with(KIND_PREFIX)
}

pub async fn queue(conn: &mut Conn, urls: &[String], now: i64, event: &Event) -> Result<(), store::StoreError> {
    if urls.is_empty() {
        return Ok(());
    }
    let timestamp = humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(now.max(0) as u64)).to_string();
    let body = serde_json::to_string(&Body { event, timestamp })
        .map_err(|e| store::StoreError::Aborted(format!("encoding a webhook's body: {e}")))?;
    let kind = format!("{KIND_PREFIX}{}", event.name());
    for url in urls {
        let envelope = Envelope { kind: &kind, recipient: url, tenant: Some(event.tenant_cname()), locale: "", payload: &body };
        // Standard Webhooks' ids look like `msg_…`; one per endpoint, kept across retries.
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        store::outbox::enqueue(conn, &id, &envelope, Status::Pending, now).await?;
    }
    Ok(())
}

/// The `whsec_` prefix is optional, as in the specification's libraries.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

pub struct Failure {
    pub give_up: bool,
    pub hint: String,
}

pub struct Sender {
    client: reqwest::Client,
    key: Vec<u8>,
}

impl Sender {
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Option<Self>> {
        let Some(secret) = &settings.webhook_secret else { return Ok(None) };
        let key = secret.expose().to_vec();
        let client = reqwest::Client::builder()
            .timeout(settings.webhook_timeout)
            .connect_timeout(settings.webhook_timeout)
            // A redirect would carry the signed body to an address nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("usher/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the webhook client: {e}"))?;
        Ok(Some(Self { client, key }))
    }

    pub async fn send(&self, url: &str, id: &str, now_ms: i64, body: &str) -> Result<u16, Failure> {
        let timestamp = now_ms.div_euclid(1000);
        let answer = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign(&self.key, id, timestamp, body))
            .body(body.to_owned())
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) if r.status() == reqwest::StatusCode::GONE => {
                Err(Failure { give_up: true, hint: "the receiver answered 410 Gone: it asks for no more deliveries".into() })
            }
            Ok(r) => Err(Failure { give_up: false, hint: format!("the receiver answered {}", r.status()) }),
            Err(e) if e.is_timeout() => {
                Err(Failure { give_up: false, hint: "the receiver did not answer in time (webhook_timeout)".into() })
            }
            Err(e) if e.is_connect() => Err(Failure { give_up: false, hint: "could not connect to the receiver".into() }),
            Err(e) => Err(Failure { give_up: false, hint: format!("sending failed: {}", without_url(&e)) }),
        }
    }
}

/// Whether a receiver answers at all (a HEAD, no body, nothing signed): any HTTP status
/// counts, since a receiver may well refuse what it was not sent. Gives the status, or why not.
pub(crate) async fn reachable(url: &str, timeout: std::time::Duration) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("usher/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the client: {}", without_url(&e)))?;
    match client.head(url).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) if e.is_timeout() => Err("no answer in time".to_owned()),
        Err(e) if e.is_connect() => Err(format!("could not connect ({})", without_url(&e))),
        Err(e) => Err(without_url(&e)),
    }
}

/// reqwest's errors name the URL, which may carry credentials.
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut text = String::from("request error");
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_counted_from_zero_in_the_metrics() {
        for event in crate::metrics::WEBHOOK_EVENTS {
            assert_eq!(event_label(&format!("{KIND_PREFIX}{event}")), *event);
        }
        assert_eq!(crate::metrics::WEBHOOK_EVENTS.len(), 4, "a new event is added to metrics::WEBHOOK_EVENTS too");
    }

    #[test]
    fn signatures_match_the_specifications_reference_library() {
        // The vector of the Rust reference library's own test.
        let key = crate::config::WebhookKey::decode("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let key = key.expose();
        let body = r#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(sign(key, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body), "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    /// One of each event, with the values of its frozen row.
    fn one_of_each() -> Vec<Event> {
        let acme = || TenantRef { id: "Zr0zEnTenAntQm7bTg4kwA".into(), cname: "acme".into() };
        vec![
            Event::SignupCreated {
                signup_id: "Zr0zEnS1gnUpXw4kQm7bTg".into(),
                cname: "globex".into(),
                email: "kim@example.com".into(),
                tenant_type: "FREEMIUM".into(),
            },
            Event::TenantCreated {
                tenant: NewTenant {
                    id: "Zr0zEnTenAntQm7bTg4kwA".into(),
                    cname: "acme".into(),
                    name: "Example Corp".into(),
                    tenant_type: "FREEMIUM".into(),
                },
                user: NewUser {
                    id: "Zr0zEnUs3rJaneQm7bTg4k".into(),
                    email: "jane@example.com".into(),
                    first_name: "Jane".into(),
                    last_name: "Saoirse".into(),
                    state: "pending".into(),
                },
            },
            Event::UserActivated { tenant: acme(), user: UserRef { id: "Zr0zEnUs3rGusQm7bTg4kw".into(), email: "gus@example.com".into() } },
            Event::PasswordSet { tenant: acme(), user: UserRef { id: "Zr0zEnUs3rJaneQm7bTg4k".into(), email: "jane@example.com".into() } },
        ]
    }

    #[test]
    fn webhook_rows_are_written_exactly_as_the_previous_release_wrote_them() {
        use crate::store::outbox::previous_release;
        let events = one_of_each();
        let frozen_rows = previous_release::rows().into_iter().filter(|r| is_webhook(r.kind)).count();
        assert_eq!(frozen_rows, events.len(), "one frozen row for each event, and no row without its event");
        for event in events {
            let frozen = previous_release::row(event.name());
            let written = serde_json::to_string(&Body { event: &event, timestamp: "2026-11-24T10:00:00.000Z".into() }).unwrap();
            let what = format!("a {} webhook body (what receivers get, too)", event.name());
            assert_eq!(written, frozen.payload, "{}", previous_release::changed(&what, &written, frozen.payload));
            let columns = (frozen.status, format!("{KIND_PREFIX}{}", event.name()), Some(event.tenant_cname()), "");
            let frozen_columns = ("pending", frozen.kind.to_owned(), frozen.tenant, frozen.locale);
            let what = format!("a {} row's kind, tenant or locale", event.name());
            assert_eq!(
                columns,
                frozen_columns,
                "{}",
                previous_release::changed(&what, &format!("{columns:?}"), &format!("{frozen_columns:?}"))
            );
            assert_eq!(event_label(frozen.kind), event.name());
        }
    }

    #[test]
    fn a_body_has_type_timestamp_and_data() {
        let event = Event::PasswordSet {
            tenant: TenantRef { id: "t1".into(), cname: "acme".into() },
            user: UserRef { id: "u1".into(), email: "jo@example.com".into() },
        };
        let body = serde_json::to_value(Body { event: &event, timestamp: "2026-01-01T00:00:00.000Z".into() }).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "password.set",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "data": { "tenant": { "id": "t1", "cname": "acme" }, "user": { "id": "u1", "email": "jo@example.com" } }
            })
        );
        assert_eq!(event_label("webhook:password.set"), "password.set");
        assert_eq!(event_label("webhook:https://evil"), "other");
    }
}
