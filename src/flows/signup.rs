use super::deferred::{self, Request};
use super::{Caller, Conflict, Context, Ctx, FlowError, MailFlow, Missing, audit};
use crate::domain::{Cname, EmailAddress, Invalid, Locale, SignupState, TenantType, UserState};
use crate::mail::{self, Intent, Outgoing};
use crate::store;
use crate::store::Conn;
use crate::store::outbox::Unless;
use crate::tokens::TokenState;
use crate::tokens::{self, Purpose};
use crate::webhooks;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub(crate) struct NewSignup {
    pub(crate) cname: Cname,
    pub(crate) email: EmailAddress,
    pub(crate) tenant_type: TenantType,
    pub(crate) locale: Locale,
    pub(crate) details: SignupDetails,
}

/// Written by the worker when it resolves the request; it travels in the request's outbox row until then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NewSignupRecord {
    pub(crate) cname: String,
    pub(crate) email: String,
    pub(crate) email_norm: String,
    pub(crate) tenant_type: TenantType,
    pub(crate) locale: String,
    pub(crate) details: SignupDetails,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignupDetails {
    pub(crate) company_name: String,
    pub(crate) mailing_address: MailingAddress,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) contact_number: Option<String>,
    pub(crate) tos_version: String,
    pub(crate) tos_accepted_at: Option<String>,
}

/// F5's `ContactMeta`, each field trimmed and present only when given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MailingAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) address1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) address2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) county: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) zip_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub(crate) enum RegistrationErr {
    ETOKEN_OK,
    ETOKEN_FAILED,
    ETOKEN_NOTFOUND,
    ETOKEN_USED,
    ETOKEN_EXPIRED,
    EUSER_EXISTS,
}

pub(crate) struct RegistrationDetails {
    pub(crate) email: String,
    pub(crate) cname: String,
    pub(crate) tenant_type: TenantType,
    pub(crate) console_url: Option<String>,
    pub(crate) error_message: Option<&'static str>,
}

/// F5's own wording for a completed signup (its `GetRegistrationDetailsResponse` example).
pub(crate) const ALREADY_ACTIVE: &str = "Your account is already active. Please log in to continue.";

pub(crate) struct Completed {
    pub(crate) cname: String,
    pub(crate) email: String,
}

fn token_invalid() -> FlowError {
    FlowError::invalid_token(Purpose::Signup)
}

pub(crate) async fn create(ctx: &Ctx, caller: &Caller, new: NewSignup) -> Result<(), FlowError> {
    if let Some(why) = ctx.cname_refusal(new.cname.as_str()) {
        return Err(Invalid::new("domain", why).into());
    }
    let signup = NewSignupRecord {
        cname: new.cname.as_str().to_owned(),
        email: new.email.as_str().to_owned(),
        email_norm: new.email.normalized().to_owned(),
        tenant_type: new.tenant_type,
        locale: new.locale.as_str().to_owned(),
        details: new.details,
    };
    let request = Request::TenantSignupV1 { signup: Box::new(signup), caller: caller.clone() };
    // Tenant names are public DNS labels: refusing a taken one reveals no account.
    if !deferred::submit(ctx, MailFlow::Signup, &request, Unless::CnameTaken(new.cname.as_str().to_owned())).await? {
        return Err(FlowError::Conflict(Conflict::CnameTaken));
    }
    Ok(())
}

/// What `create` would refuse about the name, read without writing: the tenant form shows it beside
/// the field, with the form's other problems. `create` checks again in its transaction.
pub(crate) async fn cname_available(ctx: &Ctx, cname: &Cname) -> Result<(), FlowError> {
    if let Some(why) = ctx.cname_refusal(cname.as_str()) {
        return Err(Invalid::new("domain", why).into());
    }
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    match store::users::tenant_by_cname(&mut conn, cname.as_str()).await.context("looking the cname up")? {
        Some(_) => Err(FlowError::Conflict(Conflict::CnameTaken)),
        None => Ok(()),
    }
}

/// The link goes to the signup's own address, never the caller's: an old token grants nothing but a new email.
pub(crate) async fn resend(ctx: &Ctx, caller: &Caller, token: &str) -> Result<(), FlowError> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let signup = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::signups::get(&mut conn, &claims.sub).await.context("reading the signup")?.ok_or_else(token_invalid)?
    };
    if signup.state == SignupState::Completed {
        return Err(FlowError::Conflict(Conflict::SignupCompleted));
    }
    let details: SignupDetails = serde_json::from_str(&signup.details).context("reading the signup's details")?;
    let caller = caller.clone();
    transaction!(ctx, |ctx, conn, now| {
        let email = EmailAddress::from_trusted(signup.email.clone());
        ctx.take_email_slot(conn, MailFlow::Signup, &email, now).await?;
        let intent = Intent::SignupLinkV2 { signup_id: signup.id.clone(), cname: signup.cname.clone(), first_name: details.first_name };
        let out = Outgoing { intent, to: &signup.email, tenant: None, locale: &signup.locale };
        mail::enqueue(conn, now, ctx.mail_domain(), out).await.context("queueing the signup link")?;
        audit(conn, now, &caller, "signup.resent", &signup.id, None).await
    })
    .await?;
    Ok(())
}

/// F5's `ValidateRegistration` checks, in the order docs/f5xc.md lists. Reads only: never spends the token.
pub(crate) async fn validate(ctx: &Ctx, email: &EmailAddress, tenant_type: TenantType, token: &str) -> Result<RegistrationErr, FlowError> {
    use RegistrationErr::*;
    let Ok(claims) = ctx.keys.open(Purpose::Signup, token) else {
        return Ok(ETOKEN_FAILED);
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let Some(found) = store::signups::registration(&mut conn, &claims.sub, &claims.id_hash(), email.normalized(), ctx.clock.now_ms())
        .await
        .context("reading the signup")?
    else {
        return Ok(ETOKEN_NOTFOUND);
    };
    if found.email_norm != email.normalized() || !tenant_type.matches(TenantType::from_stored(&found.tenant_type)) {
        return Ok(ETOKEN_FAILED);
    }
    if found.state == SignupState::Completed {
        return Ok(ETOKEN_USED);
    }
    Ok(match found.token {
        TokenState::Used => ETOKEN_USED,
        TokenState::Expired | TokenState::Superseded | TokenState::Missing => ETOKEN_EXPIRED,
        TokenState::Live if found.email_has_account => EUSER_EXISTS,
        TokenState::Live => ETOKEN_OK,
    })
}

pub(crate) async fn details(ctx: &Ctx, token: &str) -> Result<RegistrationDetails, FlowError> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let signup =
        store::signups::get(&mut conn, &claims.sub).await.context("reading the signup")?.ok_or(FlowError::NotFound(Missing::Signup))?;
    let console_url = if signup.tenant_id.is_some() { Some(ctx.console_url(&signup.cname)) } else { None };
    let error_message = if signup.state == SignupState::Completed {
        Some(ALREADY_ACTIVE)
    } else {
        match store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, ctx.clock.now_ms())
            .await
            .context("reading the token's state")?
        {
            TokenState::Live => None,
            TokenState::Superseded => Some("A newer signup link was sent. Please use the link in the most recent email."),
            // A pruned token (Missing) died long ago; a used one belongs to a completed signup.
            TokenState::Expired | TokenState::Missing | TokenState::Used => {
                Some("This signup link has expired. Please ask for a new one to continue.")
            }
        }
    };
    Ok(RegistrationDetails {
        email: signup.email,
        tenant_type: TenantType::from_stored(&signup.tenant_type).for_new_tenant(),
        cname: signup.cname,
        console_url,
        error_message,
    })
}

pub(crate) async fn complete(ctx: &Ctx, caller: &Caller, token: &str, password: Option<String>) -> Result<Completed, FlowError> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let signup = signup_to_complete(ctx, &claims.sub).await?;
    // Refuse a dead token, or one whose tries are spent, before paying for the policy or a hash.
    super::password::take_try(ctx, Purpose::Signup, &claims.id_hash()).await?;
    let first = FirstUser::of(ctx, &signup, password).await?;
    let (caller, id_hash) = (caller.clone(), claims.id_hash());
    transaction!(ctx, |ctx, conn, now| {
        let spent = store::tokens::spend(conn, &id_hash, Purpose::Signup, now).await.context("spending the token")?;
        FlowError::token_tried(Purpose::Signup, spent)?;
        refuse_if_taken(&ctx, conn, &signup, &first.email).await?;
        let tenant = create_tenant(conn, &signup, &first, now).await?;
        let user_id = create_first_user(conn, &signup, &tenant, &first, now).await?;
        if !store::signups::complete(conn, &signup.id, &tenant.id, now).await.context("completing the signup")? {
            return Err(FlowError::Conflict(Conflict::SignupCompleted));
        }
        announce(&ctx, conn, &caller, &tenant, &user_id, &first, now).await?;
        Ok(Completed { cname: tenant.cname, email: first.email.as_str().to_owned() })
    })
    .await
}

/// A completed signup answers as its spent link would.
async fn signup_to_complete(ctx: &Ctx, signup_id: &str) -> Result<store::signups::Signup, FlowError> {
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let signup = store::signups::get(&mut conn, signup_id).await.context("reading the signup")?.ok_or_else(token_invalid)?;
    if signup.state == SignupState::Completed {
        FlowError::token_tried(Purpose::Signup, TokenState::Used)?;
    }
    Ok(signup)
}

/// Who the tenant's first user is, checked and (with a password) hashed before the transaction.
struct FirstUser {
    details: SignupDetails,
    email: EmailAddress,
    password_hash: Option<String>,
}

impl FirstUser {
    async fn of(ctx: &Ctx, signup: &store::signups::Signup, password: Option<String>) -> Result<Self, FlowError> {
        let details: SignupDetails = serde_json::from_str(&signup.details).context("reading the signup's details")?;
        let email = EmailAddress::from_trusted(signup.email.clone());
        let password_hash = match password {
            Some(pw) => {
                let personal = vec![details.first_name.clone(), details.last_name.clone(), signup.cname.clone()];
                Some(ctx.hasher.check_and_hash("password", pw, email.local_part(), personal).await?)
            }
            None => None,
        };
        Ok(Self { details, email, password_hash })
    }

    /// Without a password the user is mailed a link to set one.
    fn state(&self) -> UserState {
        if self.password_hash.is_some() { UserState::Active } else { UserState::Pending }
    }
}

/// A signup made before its cname was reserved (or refused) must not complete either.
async fn refuse_if_taken(ctx: &Ctx, conn: &mut Conn, signup: &store::signups::Signup, email: &EmailAddress) -> Result<(), FlowError> {
    if ctx.cname_refusal(&signup.cname).is_some()
        || store::users::tenant_by_cname(conn, &signup.cname).await.context("looking the cname up")?.is_some()
    {
        return Err(FlowError::Conflict(Conflict::CnameTaken));
    }
    if store::users::email_has_account(conn, email.normalized()).await.context("looking the address up")? {
        return Err(FlowError::Conflict(Conflict::UserExists));
    }
    Ok(())
}

async fn create_tenant(
    conn: &mut Conn,
    signup: &store::signups::Signup,
    first: &FirstUser,
    now: i64,
) -> Result<store::users::Tenant, FlowError> {
    let tenant = store::users::Tenant {
        id: tokens::random_id(),
        cname: signup.cname.clone(),
        name: first.details.company_name.clone(),
        tenant_type: TenantType::from_stored(&signup.tenant_type).for_new_tenant().as_str().to_owned(),
        // Its users are the signer's colleagues, not strangers.
        developer_signup: false,
    };
    store::users::insert_tenant(conn, &tenant, now).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            FlowError::Conflict(Conflict::CnameTaken)
        } else {
            FlowError::from(e).context("creating the tenant")
        }
    })?;
    Ok(tenant)
}

async fn create_first_user(
    conn: &mut Conn,
    signup: &store::signups::Signup,
    tenant: &store::users::Tenant,
    first: &FirstUser,
    now: i64,
) -> Result<String, FlowError> {
    let user_id = tokens::random_id();
    let new = store::users::NewUser {
        id: &user_id,
        tenant_id: &tenant.id,
        email: first.email.as_str(),
        email_norm: first.email.normalized(),
        first_name: &first.details.first_name,
        last_name: &first.details.last_name,
        contact_number: first.details.contact_number.as_deref(),
        locale: &signup.locale,
        state: first.state(),
        password_hash: first.password_hash.as_deref(),
        // The signup link came to this mailbox.
        verified: true,
        now,
    };
    store::users::insert_user(conn, &new).await.context("creating the first user")?;
    Ok(user_id)
}

/// The audit trail and webhooks say what happened; without a password the user is mailed a link to set one.
async fn announce(
    ctx: &Ctx,
    conn: &mut Conn,
    caller: &Caller,
    tenant: &store::users::Tenant,
    user_id: &str,
    first: &FirstUser,
    now: i64,
) -> Result<(), FlowError> {
    audit(conn, now, caller, "tenant.created", &tenant.cname, Some(user_id)).await?;
    let hooks = &ctx.settings.webhook_urls;
    let created = webhooks::Event::TenantCreated {
        tenant: webhooks::NewTenant {
            id: tenant.id.clone(),
            cname: tenant.cname.clone(),
            name: tenant.name.clone(),
            tenant_type: tenant.tenant_type.clone(),
        },
        user: webhooks::NewUser {
            id: user_id.to_owned(),
            email: first.email.as_str().to_owned(),
            first_name: first.details.first_name.clone(),
            last_name: first.details.last_name.clone(),
            state: first.state().as_str().to_owned(),
        },
    };
    webhooks::queue(conn, hooks, now, &created).await.context("queueing tenant.created")?;
    if first.password_hash.is_none() {
        let user = store::users::user_by_id(conn, user_id)
            .await
            .context("reading the new user")?
            .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("the new user vanished")))?;
        return deferred::queue_password_link(ctx, conn, user, now).await;
    }
    audit(conn, now, caller, "password.set", user_id, None).await?;
    let set = webhooks::Event::PasswordSet {
        tenant: webhooks::TenantRef { id: tenant.id.clone(), cname: tenant.cname.clone() },
        user: webhooks::UserRef { id: user_id.to_owned(), email: first.email.as_str().to_owned() },
    };
    webhooks::queue(conn, hooks, now, &set).await.context("queueing password.set")
}

pub(crate) enum LinkState {
    Ready { email: String, cname: String },
    Expired,
    Completed { email: String, cname: String },
    Invalid,
}

pub(crate) async fn link_state(ctx: &Ctx, token: &str) -> Result<LinkState, FlowError> {
    let Ok(claims) = ctx.keys.open(Purpose::Signup, token) else {
        return Ok(LinkState::Invalid);
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let Some(signup) = store::signups::get(&mut conn, &claims.sub).await.context("reading the signup")? else {
        return Ok(LinkState::Invalid);
    };
    if signup.state == SignupState::Completed {
        return Ok(LinkState::Completed { email: signup.email, cname: signup.cname });
    }
    Ok(
        match store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, ctx.clock.now_ms())
            .await
            .context("reading the token's state")?
        {
            TokenState::Live => LinkState::Ready { email: signup.email, cname: signup.cname },
            _ => LinkState::Expired,
        },
    )
}
