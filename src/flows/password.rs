use super::deferred::{self, Request};
use super::{Caller, Context, Ctx, Error, MailFlow, audit};
use crate::domain::{Cname, EmailAddress};
use crate::store::{self, tokens::TokenState, users::User};
use crate::tokens::Purpose;
use crate::webhooks;

pub(crate) async fn send_email(ctx: &Ctx, caller: &Caller, cname: &Cname, email: &EmailAddress) -> Result<(), Error> {
    let request = Request::PasswordEmailV1 { cname: cname.as_str().to_owned(), email: email.as_str().to_owned(), caller: caller.clone() };
    let ctx2 = ctx.clone();
    ctx.write(move |conn, now| Box::pin(async move { deferred::submit(&ctx2, conn, now, MailFlow::Password, &request).await })).await?;
    ctx.mail_queued();
    Ok(())
}

pub(crate) async fn set(ctx: &Ctx, caller: &Caller, token: &str, password: String) -> Result<(), Error> {
    let token_invalid = || Error::invalid_token(Purpose::Password);
    let claims = ctx.keys.open(Purpose::Password, token).map_err(|_| token_invalid())?;
    let user = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::users::user_by_id(&mut conn, &claims.sub).await.context("reading the link's user")?.ok_or_else(token_invalid)?
    };
    set_with_token(ctx, caller, Purpose::Password, &claims.id_hash(), &user, password).await
}

/// A dead token is refused before paying for a hash; the spend and the password are one transaction,
/// so two concurrent uses cannot both succeed.
pub(crate) async fn set_with_token(
    ctx: &Ctx,
    caller: &Caller,
    purpose: Purpose,
    id_hash: &str,
    user: &User,
    password: String,
) -> Result<(), Error> {
    let action = if purpose == Purpose::Activation { "user.activated" } else { "password.set" };
    {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        let state = store::tokens::state(&mut conn, id_hash, purpose, ctx.clock.now_ms()).await.context("reading the token's state")?;
        if state != TokenState::Live {
            crate::metrics::token_spend(state);
            return Err(Error::token(purpose, state));
        }
    }
    let email = EmailAddress::from_trusted(user.email.clone());
    let personal = vec![user.first_name.clone(), user.last_name.clone(), user.tenant_cname.clone()];
    let hash = ctx.hasher.check_and_hash("password", password, email.local_part(), personal).await?;

    let (caller, id_hash, user_id) = (caller.clone(), id_hash.to_owned(), user.id.clone());
    let tenant = webhooks::TenantRef { id: user.tenant_id.clone(), cname: user.tenant_cname.clone() };
    let who = webhooks::UserRef { id: user.id.clone(), email: user.email.clone() };
    let event = if purpose == Purpose::Activation {
        webhooks::Event::UserActivated { tenant, user: who }
    } else {
        webhooks::Event::PasswordSet { tenant, user: who }
    };
    let hooks = ctx.settings.clone();
    ctx.write(move |conn, now| {
        Box::pin(async move {
            match store::tokens::spend(conn, &id_hash, purpose, now).await.context("spending the token")? {
                TokenState::Live => {}
                other => return Err(Error::token(purpose, other)),
            }
            store::users::set_password(conn, &user_id, &hash, now).await.context("setting the password")?;
            // The owner proved the mailbox: whatever locked them out is over.
            store::users::clear_lockouts(conn, &user_id).await.context("clearing lock-outs")?;
            audit(conn, now, &caller, action, &user_id, None).await?;
            webhooks::queue(conn, &hooks.webhook_urls, now, &event).await.context("queueing the webhook")?;
            Ok(())
        })
    })
    .await?;
    if !ctx.settings.webhook_urls.is_empty() {
        ctx.mail_queued();
    }
    Ok(())
}

pub(crate) async fn link_is_live(ctx: &Ctx, token: &str) -> Result<bool, Error> {
    let Ok(claims) = ctx.keys.open(Purpose::Password, token) else {
        return Ok(false);
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Password, ctx.clock.now_ms())
        .await
        .context("reading the token's state")?;
    Ok(state == TokenState::Live)
}
