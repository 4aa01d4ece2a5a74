use super::signup::NewSignupRecord;
use super::{Caller, Context, Ctx, FlowError, MailFlow};
use crate::domain::{EmailAddress, Locale, UserState};
use crate::mail::{self, Intent};
use crate::store::outbox::{Envelope, Queued, Unless};
use crate::store::{self, Backend, Conn};
use crate::{tokens, webhooks};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

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
    /// The batch as a set: one failing request fails the batch, which is then resolved again `Careful`ly.
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
    if care == Care::Fast {
        resolve_set(conn, backend, &rows, webhook_urls)
            .await
            .map_err(|e| store::StoreError::Aborted(format!("resolving a batch of {} requests failed: {e:#}", rows.len())))?;
        return Ok(rows.len());
    }
    for row in &rows {
        conn.batch("SAVEPOINT resolve").await?;
        if let Err(e) = resolve_set(conn, backend, std::slice::from_ref(row), webhook_urls).await {
            conn.batch("ROLLBACK TO resolve").await?;
            tracing::warn!(outbox_id = row.id, error = format!("{e:#}"), "resolving a request failed; it will be tried again");
            store::outbox::resolution_failed(conn, row.id, "resolving the request failed; see the log", max_attempts).await?;
        }
        conn.batch("RELEASE resolve").await?;
    }
    Ok(rows.len())
}

/// Resolves `rows` in a few statements whatever their number: what the batch must read, read
/// for all of it; each request decided in memory; what they write, written for all of them. A
/// request's `created_at` is when it was asked, which is when the audit trail says it happened.
/// A developer signup and another request for the same address would each have to see what the
/// other wrote: a batch holding such a pair is resolved one request at a time, in order.
async fn resolve_set(
    conn: &mut Conn,
    backend: Backend,
    rows: &[store::outbox::Requested],
    webhook_urls: &[String],
) -> Result<(), FlowError> {
    let requests = rows
        .iter()
        .map(|row| serde_json::from_str::<Request>(&row.payload).map(|request| (row, request)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FlowError::Internal(anyhow::Error::new(e).context("a stored request is unreadable")))?;
    if requests.len() > 1 && one_address_is_written_and_read(&requests) {
        for row in rows {
            Box::pin(resolve_set(conn, backend, std::slice::from_ref(row), webhook_urls)).await?;
        }
        return Ok(());
    }
    let found = Found::read(conn, backend, &requests).await?;
    let mut writes = Writes::default();
    for (row, request) in &requests {
        writes.decide(row.id, row.created_at, request, &found);
    }
    writes.apply(conn, backend, webhook_urls).await
}

/// The `(cname, email_norm)` a request names, if it reads or writes a user.
fn user_key(request: &Request) -> Option<(&str, String)> {
    match request {
        Request::PasswordEmailV1 { cname, email, .. }
        | Request::DeveloperSignupV1 { cname, email, .. }
        | Request::ActivationResendV1 { cname, email, .. } => {
            Some((cname.as_str(), EmailAddress::from_trusted(email.clone()).normalized().to_owned()))
        }
        Request::TenantSignupV1 { .. } => None,
    }
}

fn one_address_is_written_and_read(requests: &[(&store::outbox::Requested, Request)]) -> bool {
    // For each address: how many requests name it, and whether one of them writes it.
    let mut named: HashMap<(&str, String), (usize, bool)> = HashMap::new();
    for (_, request) in requests {
        if let Some(key) = user_key(request) {
            let (count, written) = named.entry(key).or_default();
            *count += 1;
            *written |= matches!(request, Request::DeveloperSignupV1 { .. });
        }
    }
    named.values().any(|&(count, written)| written && count > 1)
}

/// What a batch of requests reads, read for the whole batch.
struct Found {
    users: HashMap<(String, String), store::users::User>,
    with_accounts: HashSet<String>,
    tenants: HashMap<String, store::users::Tenant>,
}

impl Found {
    async fn read(conn: &mut Conn, backend: Backend, requests: &[(&store::outbox::Requested, Request)]) -> Result<Self, FlowError> {
        let keys: Vec<(&str, String)> = requests.iter().filter_map(|(_, r)| user_key(r)).collect();
        let keys: Vec<(&str, &str)> = keys.iter().map(|(cname, email)| (*cname, email.as_str())).collect();
        let users = store::users::users_by_cname_and_email(conn, backend, &keys).await.context("looking the users up")?;
        let emails: Vec<&str> = requests
            .iter()
            .filter_map(|(_, r)| match r {
                Request::TenantSignupV1 { signup, .. } => Some(signup.email_norm.as_str()),
                _ => None,
            })
            .collect();
        let with_accounts = store::users::emails_with_accounts(conn, backend, &emails).await.context("looking the addresses up")?;
        let portals: Vec<&str> = requests
            .iter()
            .filter_map(|(_, r)| match r {
                Request::DeveloperSignupV1 { cname, .. } => Some(cname.as_str()),
                _ => None,
            })
            .collect();
        let tenants = store::users::tenants_by_cname(conn, backend, &portals).await.context("reading the portals' tenants")?;
        Ok(Self {
            users: users.into_iter().collect(),
            with_accounts: with_accounts.into_iter().collect(),
            tenants: tenants.into_iter().map(|t| (t.cname.clone(), t)).collect(),
        })
    }

    fn user(&self, request: &Request) -> Option<store::users::User> {
        let (cname, email_norm) = user_key(request)?;
        self.users.get(&(cname.to_owned(), email_norm)).cloned()
    }
}

/// What a batch of requests writes, gathered while each is decided and written at the end.
#[derive(Default)]
struct Writes {
    audit: Vec<AuditRow>,
    signups: Vec<(store::signups::NewSignupOwned, i64)>,
    users: Vec<NewDeveloper>,
    renames: Vec<NewDeveloper>,
    events: Vec<(i64, webhooks::Event)>,
    mail: Vec<(i64, Mail)>,
    dropped: Vec<i64>,
}

struct AuditRow {
    at: i64,
    caller: Caller,
    action: &'static str,
    target: String,
    detail: Option<String>,
}

/// A developer as stored: a new one, or a renamed one (`id` names it).
struct NewDeveloper {
    id: String,
    tenant_id: String,
    email: EmailAddress,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    locale: Locale,
    at: i64,
}

impl NewDeveloper {
    fn row(&self) -> store::users::NewUser<'_> {
        store::users::NewUser {
            id: &self.id,
            tenant_id: &self.tenant_id,
            email: self.email.as_str(),
            email_norm: self.email.normalized(),
            first_name: &self.first_name,
            last_name: &self.last_name,
            contact_number: self.phone.as_deref(),
            locale: self.locale.as_str(),
            state: UserState::Pending,
            password_hash: None,
            // Nobody has shown this mailbox is theirs yet: the activation code will.
            verified: false,
            now: self.at,
        }
    }
}

impl Writes {
    fn audit(&mut self, at: i64, caller: &Caller, action: &'static str, target: &str, detail: Option<&str>) {
        self.audit.push(AuditRow { at, caller: caller.clone(), action, target: target.to_owned(), detail: detail.map(str::to_owned) });
    }

    fn decide(&mut self, id: i64, at: i64, request: &Request, found: &Found) {
        let mail = match request {
            Request::PasswordEmailV1 { caller, .. } => {
                // A developer who never activated has no password to reset: the activation code is theirs.
                match found.user(request).filter(|u| u.state != UserState::Disabled && u.verified) {
                    Some(user) => {
                        self.audit(at, caller, "password_email.queued", &user.id, None);
                        Some(password_link(user))
                    }
                    None => None,
                }
            }
            Request::TenantSignupV1 { signup, caller } => Some(self.tenant_signup(at, signup, caller, found)),
            Request::DeveloperSignupV1 { cname, email, first_name, last_name, phone, caller } => {
                let developer = Developer { cname, email, first_name, last_name, phone: phone.as_deref(), caller };
                self.developer_signup(at, request, &developer, found)
            }
            Request::ActivationResendV1 { caller, .. } => match found.user(request) {
                Some(user) if user.state == UserState::Pending => {
                    self.audit(at, caller, "developer.activation_resent", &user.id, None);
                    Some(activation_code(user))
                }
                Some(user) => Some(account_exists(user)),
                None => None,
            },
        };
        match mail {
            Some(mail) => self.mail.push((id, mail)),
            None => self.dropped.push(id),
        }
    }

    /// An address that already has an account is told so instead of getting a second one.
    fn tenant_signup(&mut self, at: i64, signup: &NewSignupRecord, caller: &Caller, found: &Found) -> Mail {
        if found.with_accounts.contains(&signup.email_norm) {
            self.audit(at, caller, "signup.refused_existing_account", &signup.cname, None);
            return Mail { intent: Intent::AccountExistsV1 {}, to: signup.email.clone(), tenant: None, locale: signup.locale.clone() };
        }
        let id = tokens::random_id();
        let row = store::signups::NewSignupOwned {
            id: id.clone(),
            cname: signup.cname.clone(),
            email: signup.email.clone(),
            email_norm: signup.email_norm.clone(),
            tenant_type: signup.tenant_type.as_str().to_owned(),
            locale: signup.locale.clone(),
            details: serde_json::to_string(&signup.details).unwrap_or_else(|_| unreachable!("signup details are plain strings")),
        };
        self.signups.push((row, at));
        self.audit(at, caller, "signup.created", &id, Some(&signup.cname));
        let event = webhooks::Event::SignupCreated {
            signup_id: id.clone(),
            cname: signup.cname.clone(),
            email: signup.email.clone(),
            tenant_type: signup.tenant_type.as_str().to_owned(),
        };
        self.events.push((at, event));
        let intent = Intent::SignupLinkV2 { signup_id: id, cname: signup.cname.clone(), first_name: signup.details.first_name.clone() };
        Mail { intent, to: signup.email.clone(), tenant: None, locale: signup.locale.clone() }
    }

    /// A new developer waits for activation; one waiting already gets a fresh code (under the newest
    /// request's name while nobody has proven the mailbox); an account gets "you already have one".
    fn developer_signup(&mut self, at: i64, request: &Request, developer: &Developer<'_>, found: &Found) -> Option<Mail> {
        let (cname, caller) = (developer.cname, developer.caller);
        let email = EmailAddress::from_trusted(developer.email.to_owned());
        let new = |id: &str, tenant_id: &str| NewDeveloper {
            id: id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            email: email.clone(),
            first_name: developer.first_name.to_owned(),
            last_name: developer.last_name.to_owned(),
            phone: developer.phone.map(str::to_owned),
            locale: Locale::default(),
            at,
        };
        match found.user(request) {
            Some(mut user) if user.state == UserState::Pending => {
                if !user.verified {
                    self.renames.push(new(&user.id, &user.tenant_id));
                    user.first_name = developer.first_name.to_owned();
                }
                self.audit(at, caller, "developer.signup_repeated", &user.id, None);
                Some(activation_code(user))
            }
            Some(user) => {
                self.audit(at, caller, "developer.signup_refused_existing_account", &user.id, None);
                Some(account_exists(user))
            }
            None => {
                let tenant = found.tenants.get(cname)?;
                let id = tokens::random_id();
                self.users.push(new(&id, &tenant.id));
                self.audit(at, caller, "developer.signed_up", &id, Some(cname));
                let intent =
                    Intent::ActivationCodeV2 { user_id: id, tenant: cname.to_owned(), first_name: developer.first_name.to_owned() };
                Some(Mail {
                    intent,
                    to: email.as_str().to_owned(),
                    tenant: Some(cname.to_owned()),
                    locale: Locale::default().as_str().to_owned(),
                })
            }
        }
    }

    async fn apply(self, conn: &mut Conn, backend: Backend, webhook_urls: &[String]) -> Result<(), FlowError> {
        let signups: Vec<_> = self.signups.iter().map(|(s, at)| (s.borrowed(), *at)).collect();
        store::signups::insert_many(conn, backend, &signups).await.context("creating the signups")?;
        let users: Vec<_> = self.users.iter().map(NewDeveloper::row).collect();
        store::users::insert_users(conn, backend, &users).await.context("creating the developers")?;
        for renamed in &self.renames {
            store::users::rename_unverified(conn, &renamed.row()).await.context("renaming the developer")?;
        }
        let audit: Vec<_> = self
            .audit
            .iter()
            .map(|a| {
                let event = store::audit::Event {
                    actor: &a.caller.actor,
                    action: a.action,
                    target: &a.target,
                    client_addr: Some(&a.caller.addr),
                    outcome: "ok",
                    detail: a.detail.as_deref(),
                };
                (a.at, event)
            })
            .collect();
        store::audit::record_many(conn, backend, &audit).await.context("recording the audit events")?;
        for (at, event) in &self.events {
            webhooks::queue(conn, webhook_urls, *at, event).await.context("queueing the webhook")?;
        }
        let payloads =
            self.mail.iter().map(|(_, m)| serde_json::to_string(&m.intent)).collect::<Result<Vec<_>, _>>().context("encoding an intent")?;
        let resolved: Vec<_> = self
            .mail
            .iter()
            .zip(&payloads)
            .map(|((id, m), payload)| {
                let envelope =
                    Envelope { kind: m.intent.kind(), recipient: &m.to, tenant: m.tenant.as_deref(), locale: &m.locale, payload };
                (*id, envelope)
            })
            .collect();
        store::outbox::resolve_many(conn, backend, &resolved).await.context("resolving the requests")?;
        store::outbox::drop_requests(conn, backend, &self.dropped, "no account to write to").await.context("dropping the requests")?;
        Ok(())
    }
}

/// Who a developer signup says the person is, and who asked.
struct Developer<'a> {
    cname: &'a str,
    email: &'a str,
    caller: &'a Caller,
    first_name: &'a str,
    last_name: &'a str,
    phone: Option<&'a str>,
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
