//! Flow 1 (tenant signup), flow 2 (resend the signup email) and
//! `validate_registration` (seed 003).

use super::{Caller, Ctx, MailFlow, audit};
use crate::domain::{Cname, EmailAddress, Locale, TenantType, UserState};
use crate::error::Error;
use crate::mail::{self, Intent, Outgoing};
use crate::store::{self, Tx, signups::Signup, tokens::TokenState};
use crate::tokens::{self, Purpose};
use serde::{Deserialize, Serialize};

/// A signup request that passed every check of the edge.
#[derive(Debug, Clone)]
pub struct NewSignup {
    pub cname: Cname,
    pub email: EmailAddress,
    pub tenant_type: TenantType,
    pub locale: Locale,
    pub details: SignupDetails,
}

/// What the signup keeps beyond its columns, stored as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignupDetails {
    pub company_name: String,
    pub mailing_address: serde_json::Value,
    pub first_name: String,
    pub last_name: String,
    pub contact_number: Option<String>,
    pub tos_version: String,
    pub tos_accepted_at: Option<String>,
}

/// The `err` codes of seed 003 that `validate_registration` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum RegistrationErr {
    ETOKEN_OK,
    ETOKEN_FAILED,
    ETOKEN_NOTFOUND,
    ETOKEN_USED,
    ETOKEN_EXPIRED,
    EUSER_EXISTS,
}

pub struct RegistrationDetails {
    pub email: String,
    pub cname: String,
    pub tenant_type: TenantType,
    pub console_url: Option<String>,
    /// F5's `error_message`: for a person, when this link cannot go on.
    pub error_message: Option<&'static str>,
}

/// F5's own wording for a completed signup (its `GetRegistrationDetailsResponse` example).
pub const ALREADY_ACTIVE: &str = "Your account is already active. Please log in to continue.";

pub struct Completed {
    pub cname: String,
    pub email: String,
}

fn token_invalid() -> Error {
    Error::Token { code: "TOKEN_INVALID", message: "The link is not valid. Check that it was copied whole, or ask for a new one." }
}

fn signup_completed() -> Error {
    Error::Conflict { code: "SIGNUP_COMPLETED", message: "This signup is already completed; sign in instead.".into() }
}

fn cname_taken() -> Error {
    Error::Conflict { code: "CNAME_TAKEN", message: "That domain is already taken; choose another.".into() }
}

/// Refusal for a signup token the database says cannot be spent.
fn refused(state: TokenState) -> Error {
    match state {
        TokenState::Used => signup_completed(),
        TokenState::Superseded => {
            Error::Token { code: "TOKEN_SUPERSEDED", message: "A newer link was sent for this signup; use the most recent email." }
        }
        TokenState::Expired => Error::Token { code: "TOKEN_EXPIRED", message: "The link has expired; ask for a new one." },
        TokenState::Missing | TokenState::Live => token_invalid(),
    }
}

/// Queues a signup link for `signup`, superseding its earlier links.
async fn queue_signup_link(ctx: &Ctx, tx: &mut Tx, signup: &Signup, first_name: &str, now: i64) -> Result<(), Error> {
    let issued = ctx.keys.issue(&ctx.clock, Purpose::Signup, &signup.id, ctx.settings.signup_link_ttl)?;
    store::tokens::insert(tx, Purpose::Signup, &signup.id, &issued).await?;
    let intent = Intent::SignupLinkV1 {
        token: issued.token,
        cname: signup.cname.clone(),
        first_name: first_name.to_owned(),
        expires_at: issued.expires_at_ms,
    };
    mail::enqueue(tx, now, ctx.mail_domain(), Outgoing { intent, to: &signup.email, tenant: None, locale: &signup.locale }).await?;
    Ok(())
}

/// Flow 1, first step. The answer is the same whether or not the address
/// already has an account; only the email differs.
pub async fn create(ctx: &Ctx, caller: &Caller, new: NewSignup) -> Result<(), Error> {
    let now = ctx.clock.now_ms();
    let mut tx = ctx.store.begin().await?;
    if store::users::tenant_by_cname(&mut tx, new.cname.as_str()).await?.is_some() {
        return Err(cname_taken());
    }
    ctx.take_email_slot(&mut tx, MailFlow::Signup, new.email.normalized(), now).await?;
    if store::users::email_has_account(&mut tx, new.email.normalized()).await? {
        let out = Outgoing { intent: Intent::AccountExistsV1 {}, to: new.email.as_str(), tenant: None, locale: new.locale.as_str() };
        mail::enqueue(&mut tx, now, ctx.mail_domain(), out).await?;
        audit(&mut tx, now, caller, "signup.refused_existing_account", new.cname.as_str(), None).await?;
    } else {
        let signup = Signup {
            id: tokens::random_id(),
            cname: new.cname.as_str().to_owned(),
            email: new.email.as_str().to_owned(),
            tenant_type: new.tenant_type.as_str().to_owned(),
            locale: new.locale.as_str().to_owned(),
            details: serde_json::to_string(&new.details).map_err(anyhow::Error::from)?,
            state: "pending".to_owned(),
            tenant_id: None,
        };
        store::signups::insert(&mut tx, &signup, new.email.normalized(), now).await?;
        queue_signup_link(ctx, &mut tx, &signup, &new.details.first_name, now).await?;
        audit(&mut tx, now, caller, "signup.created", &signup.id, Some(new.cname.as_str())).await?;
    }
    ctx.commit(tx, true).await
}

/// Flow 2: mail a fresh link for the signup an old (possibly expired or
/// superseded) link belongs to. The link goes to the signup's own address,
/// never to the caller, so an old token grants nothing but a new email.
pub async fn resend(ctx: &Ctx, caller: &Caller, token: &str) -> Result<(), Error> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let now = ctx.clock.now_ms();
    let mut tx = ctx.store.begin().await?;
    let signup = store::signups::get(&mut tx, &claims.sub).await?.ok_or_else(token_invalid)?;
    if signup.state == "completed" {
        return Err(signup_completed());
    }
    let email = EmailAddress::from_trusted(signup.email.clone());
    ctx.take_email_slot(&mut tx, MailFlow::Signup, email.normalized(), now).await?;
    let details: SignupDetails = serde_json::from_str(&signup.details).map_err(anyhow::Error::from)?;
    queue_signup_link(ctx, &mut tx, &signup, &details.first_name, now).await?;
    audit(&mut tx, now, caller, "signup.resent", &signup.id, None).await?;
    ctx.commit(tx, true).await
}

/// Seed 003's checks, in SPEC §3.3's order. Reads only: never spends the token.
pub async fn validate(ctx: &Ctx, email: &EmailAddress, tenant_type: TenantType, token: &str) -> Result<RegistrationErr, Error> {
    use RegistrationErr::*;
    let Ok(claims) = ctx.keys.open(Purpose::Signup, token) else {
        return Ok(ETOKEN_FAILED);
    };
    let now = ctx.clock.now_ms();
    let mut conn = ctx.store.acquire().await?;
    let Some(signup) = store::signups::get(&mut conn, &claims.sub).await? else {
        return Ok(ETOKEN_NOTFOUND);
    };
    let stored_type = TenantType::from_stored(&signup.tenant_type);
    if EmailAddress::from_trusted(signup.email.clone()).normalized() != email.normalized() || !tenant_type.matches(stored_type) {
        return Ok(ETOKEN_FAILED);
    }
    if signup.state == "completed" {
        return Ok(ETOKEN_USED);
    }
    match store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, now).await? {
        TokenState::Used => return Ok(ETOKEN_USED),
        TokenState::Live => {}
        TokenState::Expired | TokenState::Superseded | TokenState::Missing => return Ok(ETOKEN_EXPIRED),
    }
    if store::users::email_has_account(&mut conn, email.normalized()).await? {
        return Ok(EUSER_EXISTS);
    }
    Ok(ETOKEN_OK)
}

/// What the page behind a signup link shows. Reads only.
pub async fn details(ctx: &Ctx, token: &str) -> Result<RegistrationDetails, Error> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let mut conn = ctx.store.acquire().await?;
    let signup =
        store::signups::get(&mut conn, &claims.sub).await?.ok_or_else(|| Error::NotFound("No signup matches this link.".into()))?;
    let console_url = if signup.tenant_id.is_some() { Some(ctx.console_url(&signup.cname)) } else { None };
    let error_message = if signup.state == "completed" {
        Some(ALREADY_ACTIVE)
    } else {
        match store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, ctx.clock.now_ms()).await? {
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

/// Flow 1, last step: creates the tenant and its first user and spends the
/// token, all in one transaction. With a password the user is active at
/// once; without one a password link is mailed.
pub async fn complete(ctx: &Ctx, caller: &Caller, token: &str, password: Option<String>) -> Result<Completed, Error> {
    let claims = ctx.keys.open(Purpose::Signup, token).map_err(|_| token_invalid())?;
    let signup = {
        let mut conn = ctx.store.acquire().await?;
        let signup = store::signups::get(&mut conn, &claims.sub).await?.ok_or_else(token_invalid)?;
        if signup.state == "completed" {
            return Err(signup_completed());
        }
        // Refuse a dead token before paying for a password hash.
        let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, ctx.clock.now_ms()).await?;
        if state != TokenState::Live {
            return Err(refused(state));
        }
        signup
    };
    let details: SignupDetails = serde_json::from_str(&signup.details).map_err(anyhow::Error::from)?;
    let email = EmailAddress::from_trusted(signup.email.clone());
    let password_hash = match password {
        Some(pw) => {
            let personal = vec![details.first_name.clone(), details.last_name.clone(), signup.cname.clone()];
            Some(ctx.hasher.check_and_hash("password", pw, email.local_part(), personal).await?)
        }
        None => None,
    };

    let now = ctx.clock.now_ms();
    let mut tx = ctx.store.begin().await?;
    match store::tokens::spend(&mut tx, &claims.id_hash(), Purpose::Signup, now).await? {
        TokenState::Live => {}
        other => return Err(refused(other)),
    }
    if store::users::tenant_by_cname(&mut tx, &signup.cname).await?.is_some() {
        return Err(cname_taken());
    }
    if store::users::email_has_account(&mut tx, email.normalized()).await? {
        return Err(Error::Conflict { code: "USER_EXISTS", message: "This email address already has an account; sign in instead.".into() });
    }
    let tenant = store::users::Tenant {
        id: tokens::random_id(),
        cname: signup.cname.clone(),
        name: details.company_name.clone(),
        tenant_type: TenantType::from_stored(&signup.tenant_type).for_new_tenant().as_str().to_owned(),
    };
    store::users::insert_tenant(&mut tx, &tenant, now)
        .await
        .map_err(|e| if store::is_unique_violation(&e) { cname_taken() } else { e.into() })?;
    let user_id = tokens::random_id();
    let state = if password_hash.is_some() { UserState::Active } else { UserState::Pending };
    store::users::insert_user(
        &mut tx,
        &store::users::NewUser {
            id: &user_id,
            tenant_id: &tenant.id,
            email: email.as_str(),
            email_norm: email.normalized(),
            first_name: &details.first_name,
            last_name: &details.last_name,
            contact_number: details.contact_number.as_deref(),
            locale: &signup.locale,
            state: state.as_str(),
            password_hash: password_hash.as_deref(),
            now,
        },
    )
    .await?;
    if !store::signups::complete(&mut tx, &signup.id, &tenant.id, now).await? {
        return Err(signup_completed());
    }
    audit(&mut tx, now, caller, "tenant.created", &tenant.cname, Some(&user_id)).await?;
    let queued = password_hash.is_none();
    if queued {
        let user =
            store::users::user_by_id(&mut tx, &user_id).await?.ok_or_else(|| Error::Internal(anyhow::anyhow!("the new user vanished")))?;
        super::password::queue_password_link(ctx, &mut tx, &user, now).await?;
    } else {
        audit(&mut tx, now, caller, "password.set", &user_id, None).await?;
    }
    ctx.commit(tx, queued).await?;
    Ok(Completed { cname: tenant.cname, email: email.as_str().to_owned() })
}

/// What the page behind a signup link should offer. Reads only.
pub enum LinkState {
    Ready { email: String, cname: String },
    Expired,
    Completed { console_url: String },
    Invalid,
}

pub async fn link_state(ctx: &Ctx, token: &str) -> Result<LinkState, Error> {
    let Ok(claims) = ctx.keys.open(Purpose::Signup, token) else {
        return Ok(LinkState::Invalid);
    };
    let mut conn = ctx.store.acquire().await?;
    let Some(signup) = store::signups::get(&mut conn, &claims.sub).await? else {
        return Ok(LinkState::Invalid);
    };
    if signup.state == "completed" {
        return Ok(LinkState::Completed { console_url: ctx.console_url(&signup.cname) });
    }
    Ok(match store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Signup, ctx.clock.now_ms()).await? {
        TokenState::Live => LinkState::Ready { email: signup.email, cname: signup.cname },
        _ => LinkState::Expired,
    })
}
