use super::signup::NewSignupRecord;
use super::{Caller, Context, Ctx, FlowError, MailFlow, audit};
use crate::domain::{EmailAddress, Locale, UserState};
use crate::mail::{self, Intent};
use crate::store::outbox::{Envelope, Queued, Unless};
use crate::store::{self, Backend, Conn};
use crate::{tokens, webhooks};
use serde::{Deserialize, Serialize};

/// Versioned like [`Intent`]: rows written by an older usher stay readable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum Request {
    PasswordEmailV1 { cname: String, email: String, caller: Caller },
    TenantSignupV1 { signup: Box<NewSignupRecord>, caller: Caller },
    DeveloperSignupV1 { cname: String, email: String, first_name: String, last_name: String, phone: Option<String>, caller: Caller },
    ActivationResendV1 { cname: String, email: String, caller: Caller },
}

impl Request {
    /// Every kind ends in `request`: that is how `outbox retry` knows to resolve it again.
    fn kind(&self) -> &'static str {
        match self {
            Self::PasswordEmailV1 { .. } => "password_email_request",
            Self::TenantSignupV1 { .. } => "tenant_signup_request",
            Self::DeveloperSignupV1 { .. } => "developer_signup_request",
            Self::ActivationResendV1 { .. } => "activation_resend_request",
        }
    }

    fn envelope(&self) -> (&str, Option<&str>, &str) {
        match self {
            Self::PasswordEmailV1 { cname, email, .. }
            | Self::DeveloperSignupV1 { cname, email, .. }
            | Self::ActivationResendV1 { cname, email, .. } => (email, Some(cname), "en"),
            Self::TenantSignupV1 { signup, .. } => (&signup.email, None, &signup.locale),
        }
    }
}

/// Queues `request` for the worker to resolve, unless `unless` is so: then nothing is written
/// and the answer is `false`. One statement on PostgreSQL, so one round trip: the worker does
/// the reading and the writing that the answer must not depend on.
pub(crate) async fn submit(ctx: &Ctx, flow: MailFlow, request: &Request, unless: Unless) -> Result<bool, FlowError> {
    let (to, tenant, locale) = request.envelope();
    let key = ctx.email_slot_key(flow, &EmailAddress::from_trusted(to.to_owned()));
    let payload = serde_json::to_string(request).context("encoding the request")?;
    let (to, tenant, locale, kind) = (to.to_owned(), tenant.map(str::to_owned), locale.to_owned(), request.kind());
    let (message_id, backend) = (mail::new_message_id(ctx.mail_domain()), ctx.store.backend());
    let (interval, daily) = (ctx.settings.limit_email_interval, ctx.settings.limit_email_daily);
    let queued = ctx
        .write_statement(move |_, conn, now| {
            Box::pin(async move {
                let envelope = Envelope { kind, recipient: &to, tenant: tenant.as_deref(), locale: &locale, payload: &payload };
                let slot = store::limits::EmailSlot { key: &key, interval, daily };
                store::outbox::request(conn, backend, &unless, &slot, &message_id, &envelope, now).await.context("queueing the request")
            })
        })
        .await?;
    match queued {
        Queued::Yes => Ok(true),
        Queued::Stopped => Ok(false),
        Queued::Limited(retry_after) => {
            crate::metrics::refused("email");
            Err(FlowError::RateLimited { retry_after })
        }
    }
}

struct Mail {
    intent: Intent,
    to: String,
    tenant: Option<String>,
    locale: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Care {
    /// No savepoints: one failing request fails the batch, which is then resolved again `Careful`ly.
    Fast,
    /// A savepoint per request: a failing one is rolled back alone and recorded.
    Careful,
}

pub(crate) async fn resolve_batch(
    conn: &mut Conn,
    backend: Backend,
    limit: i64,
    max_attempts: i64,
    care: Care,
    webhook_urls: &[String],
) -> Result<usize, store::StoreError> {
    let rows = store::outbox::take_requested(conn, backend, limit).await?;
    for row in &rows {
        if care == Care::Careful {
            conn.batch("SAVEPOINT resolve").await?;
        }
        let outcome = match serde_json::from_str::<Request>(&row.payload) {
            Ok(request) => resolve(conn, &request, row.created_at, webhook_urls).await,
            Err(e) => Err(FlowError::Internal(anyhow::Error::new(e).context("the stored request is unreadable"))),
        };
        match outcome {
            Ok(Some(send)) => {
                let payload =
                    serde_json::to_string(&send.intent).map_err(|e| store::StoreError::Aborted(format!("encoding an intent: {e}")))?;
                let resolved = Envelope {
                    kind: send.intent.kind(),
                    recipient: &send.to,
                    tenant: send.tenant.as_deref(),
                    locale: &send.locale,
                    payload: &payload,
                };
                store::outbox::resolve(conn, row.id, &resolved).await?;
            }
            Ok(None) => store::outbox::drop_request(conn, row.id, "no account to write to").await?,
            Err(e) if care == Care::Fast => {
                return Err(store::StoreError::Aborted(format!("resolving request {} failed: {e:#}", row.id)));
            }
            Err(e) => {
                conn.batch("ROLLBACK TO resolve").await?;
                tracing::warn!(outbox_id = row.id, error = format!("{e:#}"), "resolving a request failed; it will be tried again");
                store::outbox::resolution_failed(conn, row.id, "resolving the request failed; see the log", max_attempts).await?;
            }
        }
        if care == Care::Careful {
            conn.batch("RELEASE resolve").await?;
        }
    }
    Ok(rows.len())
}

/// `at` is when it was asked, which is when the audit trail says it happened. `None`: there is
/// nobody to write to.
async fn resolve(conn: &mut Conn, request: &Request, at: i64, webhook_urls: &[String]) -> Result<Option<Mail>, FlowError> {
    match request {
        Request::PasswordEmailV1 { cname, email, caller } => password_email(conn, cname, email, caller, at).await,
        Request::TenantSignupV1 { signup, caller } => tenant_signup(conn, signup, caller, at, webhook_urls).await,
        Request::DeveloperSignupV1 { cname, email, first_name, last_name, phone, caller } => {
            let developer = Developer { first_name, last_name, phone: phone.as_deref() };
            developer_signup(conn, cname, email, &developer, caller, at).await
        }
        Request::ActivationResendV1 { cname, email, caller } => activation_resend(conn, cname, email, caller, at).await,
    }
}

async fn password_email(conn: &mut Conn, cname: &str, email: &str, caller: &Caller, at: i64) -> Result<Option<Mail>, FlowError> {
    let norm = EmailAddress::from_trusted(email.to_owned());
    let user = store::users::user_by_cname_and_email(conn, cname, norm.normalized()).await.context("looking the user up")?;
    // A developer who never activated has no password to reset: the activation code is theirs.
    let Some(user) = user.filter(|u| u.state != UserState::Disabled && u.verified) else { return Ok(None) };
    audit(conn, at, caller, "password_email.queued", &user.id, None).await?;
    Ok(Some(password_link(user)))
}

/// An address that already has an account is told so instead of getting a second one.
async fn tenant_signup(
    conn: &mut Conn,
    signup: &NewSignupRecord,
    caller: &Caller,
    at: i64,
    webhook_urls: &[String],
) -> Result<Option<Mail>, FlowError> {
    if store::users::email_has_account(conn, &signup.email_norm).await.context("looking the address up")? {
        audit(conn, at, caller, "signup.refused_existing_account", &signup.cname, None).await?;
        let to = signup.email.clone();
        return Ok(Some(Mail { intent: Intent::AccountExistsV1 {}, to, tenant: None, locale: signup.locale.clone() }));
    }
    let id = tokens::random_id();
    let details = serde_json::to_string(&signup.details).context("encoding the signup's details")?;
    let row = store::signups::NewSignup {
        id: &id,
        cname: &signup.cname,
        email: &signup.email,
        email_norm: &signup.email_norm,
        tenant_type: signup.tenant_type.as_str(),
        locale: &signup.locale,
        details: &details,
    };
    store::signups::insert(conn, &row, at).await.context("creating the signup")?;
    audit(conn, at, caller, "signup.created", &id, Some(&signup.cname)).await?;
    let event = webhooks::Event::SignupCreated {
        signup_id: id.clone(),
        cname: signup.cname.clone(),
        email: signup.email.clone(),
        tenant_type: signup.tenant_type.as_str().to_owned(),
    };
    webhooks::queue(conn, webhook_urls, at, &event).await.context("queueing signup.created")?;
    let intent = Intent::SignupLinkV2 { signup_id: id, cname: signup.cname.clone(), first_name: signup.details.first_name.clone() };
    Ok(Some(Mail { intent, to: signup.email.clone(), tenant: None, locale: signup.locale.clone() }))
}

/// Who a developer signup says the person is.
struct Developer<'a> {
    first_name: &'a str,
    last_name: &'a str,
    phone: Option<&'a str>,
}

/// A new developer waits for activation; one waiting already gets a fresh code (under the newest
/// request's name while nobody has proven the mailbox); an account gets "you already have one".
async fn developer_signup(
    conn: &mut Conn,
    cname: &str,
    email: &str,
    developer: &Developer<'_>,
    caller: &Caller,
    at: i64,
) -> Result<Option<Mail>, FlowError> {
    let email = EmailAddress::from_trusted(email.to_owned());
    let locale = Locale::default();
    let mut new = store::users::NewUser {
        id: "",
        tenant_id: "",
        email: email.as_str(),
        email_norm: email.normalized(),
        first_name: developer.first_name,
        last_name: developer.last_name,
        contact_number: developer.phone,
        locale: locale.as_str(),
        state: UserState::Pending,
        password_hash: None,
        // Nobody has shown this mailbox is theirs yet: the activation code will.
        verified: false,
        now: at,
    };
    match store::users::user_by_cname_and_email(conn, cname, email.normalized()).await.context("looking the developer up")? {
        Some(mut user) if user.state == UserState::Pending => {
            if !user.verified {
                new.id = &user.id;
                store::users::rename_unverified(conn, &new).await.context("renaming the developer")?;
                user.first_name = developer.first_name.to_owned();
            }
            audit(conn, at, caller, "developer.signup_repeated", &user.id, None).await?;
            Ok(Some(activation_code(user)))
        }
        Some(user) => {
            audit(conn, at, caller, "developer.signup_refused_existing_account", &user.id, None).await?;
            Ok(Some(account_exists(user)))
        }
        None => {
            let Some(tenant) = store::users::tenant_by_cname(conn, cname).await.context("reading the portal's tenant")? else {
                return Ok(None);
            };
            let id = tokens::random_id();
            new.id = &id;
            new.tenant_id = &tenant.id;
            store::users::insert_user(conn, &new).await.context("creating the developer")?;
            audit(conn, at, caller, "developer.signed_up", &id, Some(cname)).await?;
            let intent = Intent::ActivationCodeV2 { user_id: id, tenant: cname.to_owned(), first_name: developer.first_name.to_owned() };
            Ok(Some(Mail { intent, to: email.as_str().to_owned(), tenant: Some(cname.to_owned()), locale: locale.as_str().to_owned() }))
        }
    }
}

async fn activation_resend(conn: &mut Conn, cname: &str, email: &str, caller: &Caller, at: i64) -> Result<Option<Mail>, FlowError> {
    let norm = EmailAddress::from_trusted(email.to_owned());
    match store::users::user_by_cname_and_email(conn, cname, norm.normalized()).await.context("looking the developer up")? {
        Some(user) if user.state == UserState::Pending => {
            audit(conn, at, caller, "developer.activation_resent", &user.id, None).await?;
            Ok(Some(activation_code(user)))
        }
        Some(user) => Ok(Some(account_exists(user))),
        None => Ok(None),
    }
}

fn password_link(user: store::users::User) -> Mail {
    let intent = Intent::PasswordLinkV2 { user_id: user.id, cname: user.tenant_cname.clone(), first_name: user.first_name };
    Mail { intent, to: user.email, tenant: Some(user.tenant_cname), locale: user.locale }
}

fn activation_code(user: store::users::User) -> Mail {
    let intent = Intent::ActivationCodeV2 { user_id: user.id, tenant: user.tenant_cname.clone(), first_name: user.first_name };
    Mail { intent, to: user.email, tenant: Some(user.tenant_cname), locale: user.locale }
}

fn account_exists(user: store::users::User) -> Mail {
    Mail { intent: Intent::AccountExistsV1 {}, to: user.email, tenant: Some(user.tenant_cname), locale: user.locale }
}

pub(crate) async fn queue_password_link(ctx: &Ctx, conn: &mut Conn, user: store::users::User, now: i64) -> Result<(), FlowError> {
    enqueue(ctx, conn, password_link(user), now).await
}

pub(crate) async fn queue_activation_code(ctx: &Ctx, conn: &mut Conn, user: store::users::User, now: i64) -> Result<(), FlowError> {
    enqueue(ctx, conn, activation_code(user), now).await
}

async fn enqueue(ctx: &Ctx, conn: &mut Conn, send: Mail, now: i64) -> Result<(), FlowError> {
    let out = mail::Outgoing { intent: send.intent, to: &send.to, tenant: send.tenant.as_deref(), locale: &send.locale };
    mail::enqueue(conn, now, ctx.mail_domain(), out).await.context("queueing the email")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantType;
    use crate::flows::signup::{MailingAddress, SignupDetails};
    use crate::store::outbox::previous_release;

    fn caller() -> Caller {
        Caller { actor: "anonymous".into(), addr: "203.0.113.7".into() }
    }

    /// One of each variant, with the values of its frozen row.
    fn one_of_each() -> Vec<Request> {
        let details = SignupDetails {
            company_name: "Globex Corp".into(),
            mailing_address: MailingAddress {
                address1: Some("1 Main St".into()),
                city: Some("Seattle".into()),
                country: Some("US".into()),
                state: Some("Washington".into()),
                state_code: Some("WA".into()),
                zip_code: Some("98101".into()),
                ..MailingAddress::default()
            },
            first_name: "Kim".into(),
            last_name: "Lee".into(),
            contact_number: Some("+1 206 555 0100".into()),
            tos_version: "2026-01".into(),
            tos_accepted_at: Some("2026-11-24T10:00:00Z".into()),
        };
        let signup = NewSignupRecord {
            cname: "globex".into(),
            email: "kim@example.com".into(),
            email_norm: "kim@example.com".into(),
            tenant_type: TenantType::Freemium,
            locale: "en-US".into(),
            details,
        };
        let all = vec![
            Request::PasswordEmailV1 { cname: "acme".into(), email: "jane@example.com".into(), caller: caller() },
            Request::TenantSignupV1 { signup: Box::new(signup), caller: caller() },
            Request::DeveloperSignupV1 {
                cname: "acme".into(),
                email: "dev@example.com".into(),
                first_name: "Dev".into(),
                last_name: "Loper".into(),
                phone: Some("+1 206 555 0101".into()),
                caller: caller(),
            },
            Request::ActivationResendV1 { cname: "acme".into(), email: "dev@example.com".into(), caller: caller() },
        ];
        // A new variant does not compile here until it has a sample, and then a frozen row.
        for request in &all {
            match request {
                Request::PasswordEmailV1 { .. }
                | Request::TenantSignupV1 { .. }
                | Request::DeveloperSignupV1 { .. }
                | Request::ActivationResendV1 { .. } => {}
            }
        }
        all
    }

    fn tag(request: &Request) -> String {
        serde_json::to_value(request).unwrap()["type"].as_str().unwrap().to_owned()
    }

    #[test]
    fn requests_are_written_exactly_as_the_previous_release_wrote_them() {
        for request in one_of_each() {
            let tag = tag(&request);
            let frozen = previous_release::row(&tag);
            let (recipient, tenant, locale) = request.envelope();
            let written = serde_json::to_string(&request).unwrap();
            assert_eq!(written, frozen.payload, "{}", previous_release::changed(&format!("a {tag} payload"), &written, frozen.payload));
            let columns = (frozen.status, request.kind(), recipient, tenant, locale);
            let frozen_columns = ("requested", frozen.kind, frozen.recipient, frozen.tenant, frozen.locale);
            assert_eq!(
                columns,
                frozen_columns,
                "{}",
                previous_release::changed(
                    &format!("a {tag} row's kind, recipient, tenant or locale"),
                    &format!("{columns:?}"),
                    &format!("{frozen_columns:?}")
                )
            );
        }
    }

    #[test]
    fn every_frozen_request_row_is_still_read() {
        let rows: Vec<_> = previous_release::rows().into_iter().filter(|r| r.kind.ends_with("request")).collect();
        let samples = one_of_each();
        assert_eq!(rows.len(), samples.len(), "one frozen row for each variant, and no row without its variant");
        for row in rows {
            let read: Request = serde_json::from_str(row.payload)
                .unwrap_or_else(|e| panic!("a {} row of the previous release is unreadable ({e}): {}", row.kind, row.payload));
            assert_eq!(read.kind(), row.kind, "{}", row.payload);
            assert_eq!(row.status, "requested");
        }
    }
}
