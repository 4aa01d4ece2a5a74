//! Flow 5: developer self-signup in the Akana dialect (seed 004 and its
//! siblings). The user is created `pending` at `signupUser`; the activation
//! code is a one-time token of purpose `activation` whose subject is the
//! user; `completeSignup` spends it and sets the password.
//!
//! The codes are links, not something a person types: at ~250 characters
//! they cannot be guessed, so the "5 wrong tries" rule for typed codes
//! (SPEC §4) has nothing to count.

use super::deferred::{self, Request};
use super::{Caller, Context, Ctx, Error, MailFlow, Missing, audit};
use crate::domain::{Cname, EmailAddress, UserState};
use crate::store::{self, Conn, tokens::TokenState, users::User};
use crate::tokens::{self, Purpose};

pub struct NewDeveloper {
    pub first_name: String,
    pub last_name: String,
    pub email: EmailAddress,
    pub phone: Option<String>,
}

/// What `verifySignup` tells of a live code: usher's `status` and the
/// fields of Akana's `SignupResponse` that usher knows.
pub struct Verified {
    pub email: String,
    pub status: &'static str,
    pub first_name: String,
    pub last_name: String,
    /// The developer portal (tenant) the code belongs to.
    pub domain_name: String,
    pub expired: bool,
    pub state: UserState,
}

fn code_invalid() -> Error {
    Error::invalid_token(Purpose::Activation)
}

/// The tenant the Akana users belong to, created on first use; none when
/// it does not exist or takes no developer self-signup (tenants made by an
/// F5 signup do not, unless an operator allows it: `usher tenant
/// developer-signup`). The default tenant always does.
pub async fn tenant_id(ctx: &Ctx, tx: &mut Conn, cname: &Cname, now: i64) -> Result<Option<String>, Error> {
    if let Some(t) = store::users::tenant_by_cname(tx, cname.as_str()).await.context("reading the portal's tenant")? {
        let open = t.developer_signup || *cname == ctx.settings.default_tenant;
        return Ok(open.then_some(t.id));
    }
    if *cname != ctx.settings.default_tenant {
        return Ok(None);
    }
    let tenant = store::users::Tenant {
        id: tokens::random_id(),
        cname: cname.as_str().to_owned(),
        name: cname.as_str().to_owned(),
        tenant_type: "FREEMIUM".to_owned(),
        developer_signup: true,
    };
    store::users::insert_tenant(tx, &tenant, now).await.context("creating the default tenant")?;
    Ok(Some(tenant.id))
}

/// `signupUser`: the same request path for new, pending and registered
/// addresses; the worker decides between a code and "you already have an
/// account".
pub async fn signup_user(ctx: &Ctx, caller: &Caller, cname: &Cname, new: NewDeveloper) -> Result<(), Error> {
    let request = Request::DeveloperSignupV1 {
        cname: cname.as_str().to_owned(),
        email: new.email.as_str().to_owned(),
        first_name: new.first_name,
        last_name: new.last_name,
        phone: new.phone,
        caller: caller.clone(),
    };
    submit(ctx, cname, request).await
}

/// `resendActivation`: a fresh code for a pending user, the "you already have
/// an account" email for a registered one, nothing for a stranger; the same
/// request path for all three.
pub async fn resend_activation(ctx: &Ctx, caller: &Caller, cname: &Cname, email: &EmailAddress) -> Result<(), Error> {
    let request =
        Request::ActivationResendV1 { cname: cname.as_str().to_owned(), email: email.as_str().to_owned(), caller: caller.clone() };
    submit(ctx, cname, request).await
}

/// The portal must exist (404 otherwise: portals are public addresses, not
/// accounts); the rest is deferred.
async fn submit(ctx: &Ctx, cname: &Cname, request: Request) -> Result<(), Error> {
    let (ctx2, cname) = (ctx.clone(), cname.clone());
    ctx.write(move |conn, now| {
        Box::pin(async move {
            if tenant_id(&ctx2, conn, &cname, now).await?.is_none() {
                return Err(Error::NotFound(Missing::Portal));
            }
            deferred::submit(&ctx2, conn, now, MailFlow::Activation, &request).await
        })
    })
    .await?;
    ctx.mail_queued();
    Ok(())
}

/// Opens a code and finds its user, refusing codes of another portal.
async fn user_of(ctx: &Ctx, cname: &Cname, code: &str) -> Result<(crate::tokens::Claims, User), Error> {
    let claims = ctx.keys.open(Purpose::Activation, code).map_err(|_| code_invalid())?;
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let user = store::users::user_by_id(&mut conn, &claims.sub).await.context("reading the code's user")?.ok_or_else(code_invalid)?;
    if user.tenant_cname != cname.as_str() {
        return Err(code_invalid());
    }
    Ok((claims, user))
}

/// `verifySignup`: reads only, except that an expired code mails a fresh one.
pub async fn verify_signup(ctx: &Ctx, caller: &Caller, cname: &Cname, code: &str) -> Result<Verified, Error> {
    let (claims, user) = user_of(ctx, cname, code).await?;
    let state = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Activation, ctx.clock.now_ms())
            .await
            .context("reading the code's state")?
    };
    match state {
        TokenState::Live => Ok(Verified {
            email: user.email,
            status: "PENDING_COMPLETION",
            first_name: user.first_name,
            last_name: user.last_name,
            domain_name: user.tenant_cname,
            expired: false,
            state: user.state,
        }),
        TokenState::Expired if user.state == UserState::Pending => {
            let (ctx2, caller) = (ctx.clone(), caller.clone());
            ctx.write(move |conn, now| {
                Box::pin(async move {
                    let email = EmailAddress::from_trusted(user.email.clone());
                    ctx2.take_email_slot(conn, MailFlow::Activation, &email, now).await?;
                    audit(conn, now, &caller, "developer.activation_resent", &user.id, Some("expired code")).await?;
                    deferred::queue_activation_code(&ctx2, conn, user, now).await
                })
            })
            .await?;
            ctx.mail_queued();
            Err(Error::token(Purpose::Activation, TokenState::Expired))
        }
        other => Err(Error::token(Purpose::Activation, other)),
    }
}

/// `completeSignup`: spends the code, sets the password, activates the user.
pub async fn complete_signup(ctx: &Ctx, caller: &Caller, cname: &Cname, code: &str, password: String) -> Result<(), Error> {
    let (claims, user) = user_of(ctx, cname, code).await?;
    super::password::set_with_token(ctx, caller, Purpose::Activation, &claims.id_hash(), &user, password).await
}

/// The address a live activation code belongs to, for the activation page:
/// none for a code that cannot be used. Reads only: opening the link spends
/// nothing. A database that cannot answer is an error, not a dead code.
pub async fn pending_email(ctx: &Ctx, cname: &Cname, code: &str) -> Result<Option<String>, Error> {
    let (claims, user) = match user_of(ctx, cname, code).await {
        Ok(found) => found,
        Err(Error::Token { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Activation, ctx.clock.now_ms())
        .await
        .context("reading the code's state")?;
    Ok((state == TokenState::Live).then_some(user.email))
}
