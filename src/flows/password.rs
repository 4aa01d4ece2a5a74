use super::deferred::{self, Request};
use super::{Caller, Context, Ctx, FlowError, MailFlow, audit};
use crate::domain::{Cname, EmailAddress};
use crate::store::{self, outbox::Unless, tokens::Try, users::User};
use crate::tokens::Purpose;
use crate::tokens::TokenState;
use crate::webhooks;
use std::time::Duration;

pub(crate) async fn send_email(ctx: &Ctx, caller: &Caller, cname: &Cname, email: &EmailAddress) -> Result<(), FlowError> {
    let request = Request::PasswordEmailV1 { cname: cname.as_str().to_owned(), email: email.as_str().to_owned(), caller: caller.clone() };
    deferred::submit(ctx, MailFlow::Password, &request, Unless::Nothing).await?;
    Ok(())
}

pub(crate) async fn set(ctx: &Ctx, caller: &Caller, token: &str, password: String) -> Result<(), FlowError> {
    let token_invalid = || FlowError::invalid_token(Purpose::Password);
    let claims = ctx.keys.open(Purpose::Password, token).map_err(|_| token_invalid())?;
    let user = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::users::user_by_id(&mut conn, &claims.sub).await.context("reading the link's user")?.ok_or_else(token_invalid)?
    };
    set_with_token(ctx, caller, Purpose::Password, &claims.id_hash(), &user, password).await
}

/// A dead token, or one whose tries are spent, is refused before paying for the policy or a hash; the spend and the password are one transaction,
/// so two concurrent uses cannot both succeed.
pub(crate) async fn set_with_token(
    ctx: &Ctx,
    caller: &Caller,
    purpose: Purpose,
    id_hash: &str,
    user: &User,
    password: String,
) -> Result<(), FlowError> {
    let action = if purpose == Purpose::Activation { "user.activated" } else { "password.set" };
    take_try(ctx, purpose, id_hash).await?;
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
    transaction!(ctx, |_, conn, now| {
        FlowError::token_tried(purpose, store::tokens::spend(conn, &id_hash, purpose, now).await.context("spending the token")?)?;
        store::users::set_password(conn, &user_id, &hash, now).await.context("setting the password")?;
        // The owner proved the mailbox: whatever locked them out is over.
        store::users::clear_lockouts(conn, &user_id).await.context("clearing lock-outs")?;
        audit(conn, now, &caller, action, &user_id, None).await?;
        webhooks::queue(conn, &hooks.webhook_urls, now, &event).await.context("queueing the webhook")?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Whose a password link is, as far as the link proves it (it decrypts under usher's key), and where it stands.
pub(crate) struct LinkState {
    /// The user's address and tenant; none when the link is no link of usher's or its user is gone.
    pub(crate) account: Option<(String, String)>,
    pub(crate) state: TokenState,
}

/// Reads only: opening the page never spends the link.
pub(crate) async fn link_state(ctx: &Ctx, token: &str) -> Result<LinkState, FlowError> {
    let Ok(claims) = ctx.keys.open(Purpose::Password, token) else {
        return Ok(LinkState { account: None, state: TokenState::Missing });
    };
    let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
    let Some(user) = store::users::user_by_id(&mut conn, &claims.sub).await.context("reading the link's user")? else {
        return Ok(LinkState { account: None, state: TokenState::Missing });
    };
    let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Password, ctx.clock.now_ms())
        .await
        .context("reading the token's state")?;
    Ok(LinkState { account: Some((user.email, user.tenant_cname)), state })
}

/// A password the policy refuses does not spend the token, and each try costs the policy's work and maybe a
/// hash: a token gets this many tries a minute, whoever sends them.
const TRIES: store::tokens::TryCap = store::tokens::TryCap { tries: 10, window_ms: store::limits::MINUTE_MS };

/// Counts a try at a token's password before any work, in the database so that every instance shares the
/// count. A flood past the cap is refused by a read; the count itself is one atomic statement.
pub(crate) async fn take_try(ctx: &Ctx, purpose: Purpose, id_hash: &str) -> Result<(), FlowError> {
    let answer = |found: Try| match found {
        Try::Admitted => Ok(()),
        Try::Refused { retry_after_ms } => {
            crate::metrics::refused("token_tries");
            Err(FlowError::RateLimited { retry_after: Duration::from_millis(retry_after_ms.max(1000) as u64) })
        }
        Try::Dead(state) => FlowError::token_tried(purpose, state),
    };
    {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        let seen =
            store::tokens::peek_try(&mut conn, id_hash, purpose, ctx.clock.now_ms(), TRIES).await.context("reading the token's tries")?;
        if seen != Try::Admitted {
            return answer(seen);
        }
    }
    let id_hash = id_hash.to_owned();
    let counted = transaction!(ctx, |_, conn, now| {
        store::tokens::take_try(conn, &id_hash, purpose, now, TRIES).await.context("counting a try of the token")
    })
    .await?;
    answer(counted)
}
