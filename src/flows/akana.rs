use super::deferred::{self, Request};
use super::{Caller, Context, Ctx, FlowError, MailFlow, Missing, audit};
use crate::domain::{Cname, EmailAddress, UserState};
use crate::store::{self, Conn, outbox::Unless, users::User};
use crate::tokens::TokenState;
use crate::tokens::{self, Purpose};

pub(crate) struct NewDeveloper {
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: EmailAddress,
    pub(crate) phone: Option<String>,
}

pub(crate) struct Verified {
    pub(crate) email: String,
    pub(crate) status: &'static str,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) domain_name: String,
    pub(crate) expired: bool,
    pub(crate) state: UserState,
}

fn code_invalid() -> FlowError {
    FlowError::invalid_token(Purpose::Activation)
}

pub(crate) async fn tenant_id(ctx: &Ctx, tx: &mut Conn, cname: &Cname, now: i64) -> Result<Option<String>, FlowError> {
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

pub(crate) async fn signup_user(ctx: &Ctx, caller: &Caller, cname: &Cname, new: NewDeveloper) -> Result<(), FlowError> {
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

pub(crate) async fn resend_activation(ctx: &Ctx, caller: &Caller, cname: &Cname, email: &EmailAddress) -> Result<(), FlowError> {
    let request =
        Request::ActivationResendV1 { cname: cname.as_str().to_owned(), email: email.as_str().to_owned(), caller: caller.clone() };
    submit(ctx, cname, request).await
}

/// 404 without a portal: portals are public addresses, not accounts. The default tenant is made
/// on its first request, which is then queued in the transaction that makes it.
async fn submit(ctx: &Ctx, cname: &Cname, request: Request) -> Result<(), FlowError> {
    let unless = Unless::PortalClosed { cname: cname.as_str().to_owned(), default_tenant: ctx.settings.default_tenant.as_str().to_owned() };
    if deferred::submit(ctx, MailFlow::Activation, &request, unless).await? {
        return Ok(());
    }
    if *cname != ctx.settings.default_tenant {
        return Err(FlowError::NotFound(Missing::Portal));
    }
    let default = cname.clone();
    transaction!(ctx, |ctx, conn, now| { tenant_id(&ctx, conn, &default, now).await.map(|_| ()) }).await?;
    Box::pin(submit(ctx, cname, request)).await
}

async fn user_of(ctx: &Ctx, cname: &Cname, code: &str) -> Result<(crate::tokens::Claims, User), FlowError> {
    let claims = ctx.keys.open(Purpose::Activation, code).map_err(|_| code_invalid())?;
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let user = store::users::user_by_id(&mut conn, &claims.sub).await.context("reading the code's user")?.ok_or_else(code_invalid)?;
    if user.tenant_cname != cname.as_str() {
        return Err(code_invalid());
    }
    Ok((claims, user))
}

pub(crate) async fn verify_signup(ctx: &Ctx, caller: &Caller, cname: &Cname, code: &str) -> Result<Verified, FlowError> {
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
            let caller = caller.clone();
            transaction!(ctx, |ctx, conn, now| {
                let email = EmailAddress::from_trusted(user.email.clone());
                ctx.take_email_slot(conn, MailFlow::Activation, &email, now).await?;
                audit(conn, now, &caller, "developer.activation_resent", &user.id, Some("expired code")).await?;
                deferred::queue_activation_code(&ctx, conn, user, now).await
            })
            .await?;
            Err(FlowError::token(Purpose::Activation, TokenState::Expired))
        }
        other => Err(FlowError::token(Purpose::Activation, other)),
    }
}

pub(crate) async fn complete_signup(ctx: &Ctx, caller: &Caller, cname: &Cname, code: &str, password: String) -> Result<(), FlowError> {
    let (claims, user) = user_of(ctx, cname, code).await?;
    super::password::set_with_token(ctx, caller, Purpose::Activation, &claims.id_hash(), &user, password).await
}

/// Reads only. A database that cannot answer is an error, not a dead code.
pub(crate) async fn pending_email(ctx: &Ctx, cname: &Cname, code: &str) -> Result<Option<String>, FlowError> {
    let (claims, user) = match user_of(ctx, cname, code).await {
        Ok(found) => found,
        Err(FlowError::Token { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Activation, ctx.clock.now_ms())
        .await
        .context("reading the code's state")?;
    Ok((state == TokenState::Live).then_some(user.email))
}
