//! Flow 3 (the onboarding password email, seed 001) and setting a password
//! through a `password` link.

use super::{Caller, Ctx, MailFlow, audit};
use crate::domain::{Cname, EmailAddress};
use crate::error::Error;
use crate::mail::{self, Intent, Outgoing};
use crate::store::{self, Tx, tokens::TokenState, users::User};
use crate::tokens::Purpose;

fn token_invalid() -> Error {
    Error::Token { code: "TOKEN_INVALID", message: "The link is not valid. Check that it was copied whole, or ask for a new one." }
}

fn refused(state: TokenState) -> Error {
    match state {
        TokenState::Used => Error::Token {
            code: "TOKEN_USED",
            message: "This link was already used; ask for a new one if you need to set the password again.",
        },
        TokenState::Superseded => Error::Token { code: "TOKEN_SUPERSEDED", message: "A newer link was sent; use the most recent email." },
        TokenState::Expired => Error::Token { code: "TOKEN_EXPIRED", message: "The link has expired; ask for a new one." },
        TokenState::Missing | TokenState::Live => token_invalid(),
    }
}

/// Queues a password link for `user`, superseding earlier ones.
pub(crate) async fn queue_password_link(ctx: &Ctx, tx: &mut Tx, user: &User, now: i64) -> Result<(), Error> {
    let issued = ctx.keys.issue(&ctx.clock, Purpose::Password, &user.id, ctx.settings.password_link_ttl)?;
    store::tokens::insert(tx, Purpose::Password, &user.id, &issued).await?;
    let intent = Intent::PasswordLinkV1 {
        token: issued.token,
        cname: user.tenant_cname.clone(),
        first_name: user.first_name.clone(),
        expires_at: issued.expires_at_ms,
    };
    let out = Outgoing { intent, to: &user.email, tenant: Some(&user.tenant_cname), locale: &user.locale };
    mail::enqueue(tx, now, ctx.mail_domain(), out).await?;
    Ok(())
}

/// Seed 001. The caller learns nothing: the answer is the same whether the
/// tenant or the user exists, and the per-recipient limit counts requests for
/// unknown addresses too.
pub async fn send_email(ctx: &Ctx, caller: &Caller, cname: &Cname, email: &EmailAddress) -> Result<(), Error> {
    let now = ctx.clock.now_ms();
    let mut tx = ctx.store.begin().await?;
    ctx.take_email_slot(&mut tx, MailFlow::Password, email.normalized(), now).await?;
    let user = store::users::user_by_cname_and_email(&mut tx, cname.as_str(), email.normalized()).await?;
    let queued = match user {
        Some(user) if user.state != "disabled" => {
            queue_password_link(ctx, &mut tx, &user, now).await?;
            audit(&mut tx, now, caller, "password_email.queued", &user.id, None).await?;
            true
        }
        _ => false,
    };
    ctx.commit(tx, queued).await
}

/// Sets the password of the user a `password` link belongs to and activates them.
pub async fn set(ctx: &Ctx, caller: &Caller, token: &str, password: String) -> Result<(), Error> {
    let claims = ctx.keys.open(Purpose::Password, token).map_err(|_| token_invalid())?;
    let user = {
        let mut conn = ctx.store.acquire().await?;
        store::users::user_by_id(&mut conn, &claims.sub).await?.ok_or_else(token_invalid)?
    };
    set_with_token(ctx, caller, Purpose::Password, &claims.id_hash(), &user, password, refused).await
}

/// The last step of every "choose your password" link (password links, Akana
/// activation codes): refuse a dead token before paying for a hash, check and
/// hash the password, then spend the token and set the password in one
/// transaction, so two concurrent uses cannot both succeed.
pub(crate) async fn set_with_token(
    ctx: &Ctx,
    caller: &Caller,
    purpose: Purpose,
    id_hash: &str,
    user: &User,
    password: String,
    refused: fn(TokenState) -> Error,
) -> Result<(), Error> {
    let action = if purpose == Purpose::Activation { "user.activated" } else { "password.set" };
    {
        let mut conn = ctx.store.acquire().await?;
        let state = store::tokens::state(&mut conn, id_hash, purpose, ctx.clock.now_ms()).await?;
        if state != TokenState::Live {
            return Err(refused(state));
        }
    }
    let email = EmailAddress::from_trusted(user.email.clone());
    let personal = vec![user.first_name.clone(), user.last_name.clone(), user.tenant_cname.clone()];
    let hash = ctx.hasher.check_and_hash("password", password, email.local_part(), personal).await?;

    let now = ctx.clock.now_ms();
    let mut tx = ctx.store.begin().await?;
    match store::tokens::spend(&mut tx, id_hash, purpose, now).await? {
        TokenState::Live => {}
        other => return Err(refused(other)),
    }
    store::users::set_password(&mut tx, &user.id, &hash, now).await?;
    audit(&mut tx, now, caller, action, &user.id, None).await?;
    ctx.commit(tx, false).await
}

/// Whether a password link can still be used. Reads only.
pub async fn link_is_live(ctx: &Ctx, token: &str) -> Result<bool, Error> {
    let Ok(claims) = ctx.keys.open(Purpose::Password, token) else {
        return Ok(false);
    };
    let mut conn = ctx.store.acquire().await?;
    let state = store::tokens::state(&mut conn, &claims.id_hash(), Purpose::Password, ctx.clock.now_ms()).await?;
    Ok(state == TokenState::Live)
}
