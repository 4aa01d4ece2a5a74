use super::{Caller, Context, Ctx, FlowError, MailFlow, Missing, audit, audit_outcome};
use crate::domain::{Cname, EmailAddress, UserState};
use crate::store;
use crate::tokens::random_id;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// A token's prefix, so a leaked secret is recognisable (and greppable) as usher's.
const PREFIX: &str = "usher";
const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);
const LOCK_AFTER: i64 = 10;
const LOCK_FOR: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ApiCaller {
    pub(crate) tenant_cname: String,
    pub(crate) role: Role,
    pub(crate) caller: Caller,
}

fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// 256 random bits make a fast hash safe to store: there is nothing to guess.
pub async fn create_token(ctx_store: &store::Store, now: i64, cname: &Cname, role: Role) -> anyhow::Result<(String, String)> {
    let tenant = {
        let mut conn = anyhow::Context::context(ctx_store.acquire().await, "taking a read connection")?;
        let tenant = anyhow::Context::context(store::users::tenant_by_cname(&mut conn, cname.as_str()).await, "reading the tenant")?;
        tenant.ok_or_else(|| anyhow::anyhow!("no tenant named {cname}"))?
    };
    let id = random_id();
    let secret_bytes: [u8; 32] = rand::random();
    let secret = format!("{PREFIX}.{id}.{}", URL_SAFE_NO_PAD.encode(secret_bytes));
    let (token_id, hash) = (id.clone(), hash_secret(&secret));
    ctx_store
        .write(move |conn| Box::pin(async move { store::api_tokens::insert(conn, &token_id, &tenant.id, role.as_str(), &hash, now).await }))
        .await?;
    Ok((id, secret))
}

pub(crate) async fn authenticate(ctx: &Ctx, secret: &str, addr: String) -> Result<ApiCaller, FlowError> {
    let mut parts = secret.splitn(3, '.');
    let (Some(PREFIX), Some(id), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(FlowError::Unauthenticated);
    };
    let token = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::api_tokens::by_id(&mut conn, id).await.context("reading the API token")?.ok_or(FlowError::Unauthenticated)?
    };
    let matches: bool = token.secret_hash.as_bytes().ct_eq(hash_secret(secret).as_bytes()).into();
    if !matches || token.revoked_at.is_some() {
        return Err(FlowError::Unauthenticated);
    }
    let token_id = token.id.clone();
    transaction!(ctx, |_, conn, now| { store::api_tokens::touch(conn, &token_id, now).await.context("recording the API token's use") })
        .await?;
    let role = Role::parse(&token.role).ok_or(FlowError::Unauthenticated)?;
    let caller = Caller { actor: format!("api-token:{}", token.id), addr };
    Ok(ApiCaller { tenant_cname: token.tenant_cname, role, caller })
}

impl ApiCaller {
    pub(crate) async fn require_admin(&self, ctx: &Ctx, action: &'static str) -> Result<(), FlowError> {
        if self.role == Role::Admin {
            return Ok(());
        }
        self.refuse(ctx, action, &self.tenant_cname, "denied").await?;
        Err(FlowError::NotAdmin)
    }

    /// In a write of its own: a refused action has no transaction to join.
    pub(crate) async fn refuse(&self, ctx: &Ctx, action: &'static str, target: &str, outcome: &'static str) -> Result<(), FlowError> {
        let (caller, target) = (self.caller.clone(), target.to_owned());
        transaction!(ctx, |_, conn, now| { audit_outcome(conn, now, &caller, action, &target, outcome, None).await }).await
    }
}

pub(crate) async fn send_password_email(ctx: &Ctx, admin: &ApiCaller, email: &EmailAddress, reset: bool) -> Result<(), FlowError> {
    let action = if reset { "admin.reset_password" } else { "admin.send_password_email" };
    let user = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::users::user_by_cname_and_email(&mut conn, &admin.tenant_cname, email.normalized()).await.context("looking the user up")?
    };
    let Some(user) = user else {
        admin.refuse(ctx, action, email.as_str(), "not_found").await?;
        return Err(FlowError::NotFound(Missing::User));
    };
    let (caller, email) = (admin.caller.clone(), email.clone());
    transaction!(ctx, |ctx, conn, now| {
        ctx.take_email_slot(conn, MailFlow::AdminPassword, &email, now).await?;
        if reset {
            store::users::invalidate_password(conn, &user.id, now).await.context("removing the password")?;
            store::users::clear_lockouts(conn, &user.id).await.context("clearing lock-outs")?;
        }
        audit(conn, now, &caller, action, &user.id, None).await?;
        super::deferred::queue_password_link(&ctx, conn, user, now).await
    })
    .await?;
    Ok(())
}

pub(crate) async fn verify_password(
    ctx: &Ctx,
    admin: &ApiCaller,
    email: &EmailAddress,
    password: String,
    client: Option<std::net::IpAddr>,
) -> Result<bool, FlowError> {
    let action = "admin.verify_password";
    let user = {
        let mut conn = ctx.store.acquire().await.context("taking a read connection")?;
        store::users::user_by_cname_and_email(&mut conn, &admin.tenant_cname, email.normalized()).await.context("looking the user up")?
    };
    let phc = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_PHC.to_owned());
    let matches = ctx.hasher.verify(password, phc).await?;
    let Some(user) = user else {
        admin.refuse(ctx, action, email.as_str(), "unknown_user").await?;
        return Ok(false);
    };
    let caller = admin.caller.clone();
    // Wrong tries count per /64 of an IPv6 address (see `client_key`): one host can take a new
    // address for every try. The audit trail keeps the address given.
    let counted = client.map(|ip| crate::limiter::client_key(ip).to_string()).unwrap_or_default();
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    transaction!(ctx, |_, conn, now| {
        let locked =
            store::users::locked_until(conn, &user.id, &counted).await.context("reading the lock-out")?.is_some_and(|until| until > now);
        let valid = matches && !locked && user.password_hash.is_some() && user.state == UserState::Active;
        let outcome = if locked {
            crate::metrics::refused("login");
            "locked"
        } else if valid {
            store::users::reset_failed_logins(conn, &user.id, &counted).await.context("resetting wrong tries")?;
            "ok"
        } else {
            let ms = crate::clock::ms;
            store::users::record_failed_login(conn, &user.id, &counted, now, ms(LOCK_WINDOW), LOCK_AFTER, ms(LOCK_FOR))
                .await
                .context("counting a wrong try")?;
            "wrong_password"
        };
        let detail = (!client.is_empty()).then(|| format!("client {client}"));
        audit_outcome(conn, now, &caller, action, &user.id, outcome, detail.as_deref()).await?;
        Ok(valid)
    })
    .await
}

pub(crate) async fn unlock(store: &store::Store, cname: &Cname, email: &EmailAddress) -> anyhow::Result<u64> {
    let user = {
        let mut conn = anyhow::Context::context(store.acquire().await, "taking a read connection")?;
        anyhow::Context::context(
            store::users::user_by_cname_and_email(&mut conn, cname.as_str(), email.normalized()).await,
            "looking the user up",
        )?
    };
    let user = user.ok_or_else(|| anyhow::anyhow!("no user {email} in tenant {cname}"))?;
    let now = crate::clock::Clock::default().now_ms();
    let caller = Caller { actor: "cli".to_owned(), addr: "local".to_owned() };
    let cleared = store
        .write(move |conn| {
            Box::pin(async move {
                let n = store::users::clear_lockouts(conn, &user.id).await.context("clearing lock-outs")?;
                audit(conn, now, &caller, "user.unlocked", &user.id, None).await?;
                Ok::<_, FlowError>(n)
            })
        })
        .await?;
    Ok(cleared)
}

/// Production parameters, so that checking an unknown user costs what a real check costs.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3jvGQ4mCSpTQRv5kGz3rjCXyqWnq3l4AqHfyWcLWXno";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_so_unknown_users_cost_a_full_check() {
        let parsed = argon2::PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.hash.unwrap().len(), 32);
    }
}
