/// One write transaction: `transaction!(ctx, |ctx, conn, now| { … })` runs the block with its own
/// handle on `ctx` (`_` when the block needs none), the transaction's connection and the time read
/// when the job runs.
macro_rules! transaction {
    ($ctx:expr, |$c:pat_param, $conn:ident, $now:ident| $body:block) => {
        $ctx.write(move |$c, $conn, $now| Box::pin(async move $body))
    };
}

pub mod admin;
pub(crate) mod akana;
pub(crate) mod codes;
pub(crate) mod deferred;
mod error;
pub(crate) mod password;
pub(crate) mod signup;

pub(crate) use error::{Conflict, Context, FlowError, Missing, Resource, TokenFault};

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::i18n::Catalogue;
use crate::passwords::Hasher;
use crate::store::{self, BoxFuture, Conn, Store};
use crate::tokens::KeyRing;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What every flow needs. It is cloned into each request and each write job,
/// so it is one shared allocation: cloning the parts cost ~8 % of a cheap
/// request (docs/benchmarks.md).
#[derive(Clone)]
pub struct Ctx(Arc<Shared>);

impl Ctx {
    pub(crate) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for Ctx {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub(crate) hasher: Hasher,
    pub(crate) settings: Arc<Settings>,
    /// What mail and pages say, in each language: pages choose theirs with
    /// `Catalogue::from_accept_language` and call `t` through `i18n::add_to`.
    pub catalogue: Arc<Catalogue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Caller {
    pub(crate) actor: String,
    pub(crate) addr: String,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum MailFlow {
    Signup,
    Password,
    Activation,
    /// A bucket of its own, so that what anonymous callers spent on a user cannot stop their admin
    /// from helping them. Still bounded.
    AdminPassword,
}

impl MailFlow {
    /// Part of the stored limit key: renaming a variant must not change it.
    fn key(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Password => "password",
            Self::Activation => "activation",
            Self::AdminPassword => "admin_password",
        }
    }
}

impl Ctx {
    pub(crate) fn mail_domain(&self) -> &str {
        self.settings.mail_from.normalized().rsplit('@').next().unwrap_or("localhost")
    }

    pub(crate) async fn take_email_slot(
        &self,
        conn: &mut Conn,
        flow: MailFlow,
        recipient: &EmailAddress,
        now: i64,
    ) -> Result<(), FlowError> {
        let key = self.email_slot_key(flow, recipient);
        let s = &self.settings;
        match store::limits::take_email(conn, &key, now, s.limit_email_interval, s.limit_email_daily)
            .await
            .context("taking an email slot")?
        {
            Ok(()) => Ok(()),
            Err(retry_after) => {
                crate::metrics::refused("email");
                Err(FlowError::RateLimited { retry_after })
            }
        }
    }

    fn email_slot_key(&self, flow: MailFlow, recipient: &EmailAddress) -> String {
        format!("{}:{}", flow.key(), recipient.mailbox_key())
    }

    /// [`Ctx::write`] for a job that is one statement on PostgreSQL ([`Store::write_statement`]).
    pub(crate) async fn write_statement<T, F>(&self, job: F) -> Result<T, FlowError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Ctx, &'c mut Conn, i64) -> BoxFuture<'c, Result<T, FlowError>> + Send + 'static,
    {
        let ctx = self.clone();
        self.store.write_statement(move |conn| job(ctx.clone(), conn, ctx.clock.now_ms())).await.context("in a write")
    }

    /// `now` is read when the job runs, so on SQLite times are in commit order. Called through
    /// `transaction!`, which spares each flow the boxing and the clone of `Ctx`.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T, FlowError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Ctx, &'c mut Conn, i64) -> BoxFuture<'c, Result<T, FlowError>> + Send + 'static,
    {
        let ctx = self.clone();
        self.store.write(move |conn| job(ctx.clone(), conn, ctx.clock.now_ms())).await.context("in a write transaction")
    }

    /// Why a new tenant may not take `cname`: reserved, or in IDNA's reserved form.
    pub(crate) fn cname_refusal(&self, cname: &str) -> Option<crate::domain::Rule> {
        let s = &self.settings;
        let reserved = crate::domain::RESERVED_CNAMES.contains(&cname)
            || s.reserved_cnames.iter().any(|r| r == cname)
            || s.default_tenant.as_str() == cname;
        if reserved {
            return Some(crate::domain::Rule::Reserved);
        }
        crate::domain::idn_refusal(cname, s.allow_idn_tenant_names)
    }

    pub(crate) fn console_url(&self, cname: &str) -> String {
        self.settings.console_url.replace("{cname}", cname)
    }
}

pub(crate) async fn audit(
    tx: &mut Conn,
    now: i64,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> Result<(), FlowError> {
    audit_outcome(tx, now, caller, action, target, "ok", detail).await
}

pub(crate) async fn audit_outcome(
    conn: &mut store::Conn,
    now: i64,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), FlowError> {
    let event = store::audit::Event { actor: &caller.actor, action, target, client_addr: Some(&caller.addr), outcome, detail };
    store::audit::record(conn, now, &event).await.context("recording the audit event")
}

#[cfg(test)]
mod tests {
    use super::MailFlow;

    /// The previous release's limit rows are keyed `<flow>:<mailbox>`; a flow whose key changed would
    /// start its count afresh for every recipient after an upgrade.
    #[test]
    fn each_mail_flow_keeps_the_limit_key_the_previous_release_stored() {
        let frozen: Vec<(&str, &str)> = include_str!("../../tests/fixtures/previous_release/email_limits.tsv")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split_once('\t').unwrap_or_else(|| panic!("email_limits.tsv: two tab-separated columns expected: {l}")))
            .collect();
        let flows = [MailFlow::Signup, MailFlow::Password, MailFlow::Activation, MailFlow::AdminPassword];
        // A new variant does not compile here until it is listed above, and then has a frozen key.
        for flow in flows {
            match flow {
                MailFlow::Signup | MailFlow::Password | MailFlow::Activation | MailFlow::AdminPassword => {}
            }
        }
        assert_eq!(frozen.len(), flows.len(), "one frozen key for each flow, and no key without its flow");
        for flow in flows {
            let name = format!("{flow:?}");
            let (_, key) = frozen.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("email_limits.tsv has no key for {name}"));
            assert_eq!(
                flow.key(),
                *key,
                "MailFlow::{name} now keys its limit rows {:?}, but the previous release stored {key:?}: this changes what is stored; \
                 keep the stored key when renaming the variant",
                flow.key()
            );
        }
    }
}
