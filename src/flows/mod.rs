//! The flows of SPEC §2: what happens, in which transaction, and which email
//! it queues. Handlers parse requests into domain types and call these;
//! these call the store. Neither HTTP nor SQL types cross this layer.

pub mod admin;
pub mod akana;
pub mod password;
pub mod signup;

use crate::clock::Clock;
use crate::config::Settings;
use crate::error::Error;
use crate::passwords::Hasher;
use crate::store::{self, Store, Tx};
use crate::tokens::KeyRing;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything a flow needs; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    /// Wakes this instance's outbox worker after a commit that queued mail.
    pub mail_queued: Arc<Notify>,
}

/// Who is asking, for the audit trail: `anonymous` or `api-token:<id>`, and
/// the client's address.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: String,
    pub addr: String,
}

/// The flows that rate-limit the emails they send, per recipient.
#[derive(Debug, Clone, Copy)]
pub enum MailFlow {
    Signup,
    Password,
    Activation,
}

impl Ctx {
    /// The domain of the From address, used in Message-IDs.
    pub fn mail_domain(&self) -> &str {
        self.settings.mail_from.normalized().rsplit('@').next().unwrap_or("localhost")
    }

    /// Counts one email of `flow` to `recipient` in the transaction, or
    /// refuses with 429. It is counted whether or not the recipient has an
    /// account, so the limit itself reveals nothing.
    pub async fn take_email_slot(&self, tx: &mut Tx, flow: MailFlow, recipient_norm: &str, now: i64) -> Result<(), Error> {
        let key = format!("{flow:?}:{recipient_norm}").to_lowercase();
        let s = &self.settings;
        match store::limits::take_email(tx, &key, now, s.limit_email_interval, s.limit_email_daily).await? {
            Ok(()) => Ok(()),
            Err(retry_after) => Err(Error::TooManyRequests { retry_after }),
        }
    }

    /// Commits and, if mail was queued, wakes the worker.
    pub async fn commit(&self, tx: Tx, queued_mail: bool) -> Result<(), Error> {
        tx.commit().await?;
        if queued_mail {
            self.mail_queued.notify_one();
        }
        Ok(())
    }

    pub fn console_url(&self, cname: &str) -> String {
        self.settings.console_url.replace("{cname}", cname)
    }
}

pub(crate) async fn audit(tx: &mut Tx, now: i64, caller: &Caller, action: &str, target: &str, detail: Option<&str>) -> Result<(), Error> {
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
) -> Result<(), Error> {
    let event = store::audit::Event { actor: &caller.actor, action, target, client_addr: Some(&caller.addr), outcome, detail };
    store::audit::record(conn, now, &event).await.map_err(Error::from)
}
