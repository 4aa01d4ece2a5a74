//! The outbox worker: resolve request rows (through `flows::deferred`), claim due rows under a
//! renewed lease, mint their links' tokens, send mail through `mail`'s transport and post webhooks.
//! It sits above `flows`, which writes the rows it works through.

use crate::clock::{self, Clock};
use crate::domain::EmailAddress;
use crate::flows::deferred::{self, Care};
use crate::mail::templates::Templates;
use crate::mail::transport::{Envelope, SendError, Sent, Transport};
use crate::mail::{Intent, LinkToMint, Minted};
use crate::store::devmail::DevMessage;
use crate::store::{self, Conn, Store};
use crate::tokens::{KeyRing, MailCodes, Purpose};
use crate::webhooks;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

const RESOLVE_BATCH: i64 = 256;
/// A batch's size while requests are writing.
const BUSY_BATCH: i64 = 16;
/// Resolving at once would share the core with the answer of the request that woke the worker,
/// answering known addresses later (docs/benchmarks.md); a moment later it batches what came since.
const RESOLVE_AFTER: Duration = Duration::from_millis(20);

pub struct WorkerSettings {
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub batch: i64,
    pub public_url: String,
    pub from: String,
    pub signup_link_ttl: Duration,
    pub password_link_ttl: Duration,
    pub activation_code_ttl: Duration,
    pub retention: crate::config::Retention,
    pub webhook_urls: Vec<String>,
}

impl WorkerSettings {
    fn ttl(&self, purpose: Purpose) -> Duration {
        match purpose {
            Purpose::Signup => self.signup_link_ttl,
            Purpose::Password => self.password_link_ttl,
            Purpose::Activation => self.activation_code_ttl,
        }
    }
}

pub struct Worker {
    pub id: String,
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub transport: Arc<Transport>,
    pub templates: Arc<Templates>,
    /// None when `webhook_secret` is not set.
    pub webhooks: Option<Arc<webhooks::Sender>>,
    pub settings: Arc<WorkerSettings>,
    /// Rung after a commit that queued mail or a request, so work starts before the next poll.
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Two loops, so resolving never waits behind a slow SMTP server. Once `stop` is true it
    /// claims nothing more, finishes the batch being sent and returns (the caller releases the rest).
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let resolved = Arc::new(Notify::new());
        let resolver = tokio::spawn(this.clone().resolve_loop(resolved.clone()));
        this.deliver_loop(resolved, stop).await;
        resolver.abort();
    }

    async fn resolve_loop(self: Arc<Self>, resolved: Arc<Notify>) {
        loop {
            match self.resolve_once().await {
                Ok(n) if n > 0 => {
                    resolved.notify_one();
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: resolving requests failed; will try again"),
            }
            // Mail queued without a request (a resend, an admin's email) rings the same bell: pass it on.
            resolved.notify_one();
            tokio::select! {
                _ = self.wake.notified() => tokio::time::sleep(RESOLVE_AFTER).await,
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    async fn deliver_loop(&self, resolved: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let mut last_prune = 0;
        loop {
            if *stop.borrow() {
                return;
            }
            match self.tick().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: claiming messages failed; will try again")
                }
            }
            let now = self.clock.now_ms();
            if now - last_prune > 60_000 {
                last_prune = now;
                if let Err(e) = self.prune(now).await {
                    tracing::warn!(error = %e, "pruning expired rows failed");
                }
            }
            tokio::select! {
                _ = resolved.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                // A dropped sender is a stop too.
                changed = stop.changed() => if changed.is_err() { return },
            }
        }
    }

    /// [`Worker::run`]'s two loops done once, until nothing is due, for a caller that runs the
    /// worker itself; returns how many messages were claimed.
    pub async fn deliver_all(&self) -> anyhow::Result<usize> {
        let mut claimed = 0;
        loop {
            while self.resolve_once().await? > 0 {}
            match self.tick().await? {
                0 => return Ok(claimed),
                n => claimed += n,
            }
        }
    }

    /// A batch that fails is resolved again with a savepoint per request, so only the failing one is set aside.
    pub async fn resolve_once(&self) -> Result<usize, store::StoreError> {
        match self.resolve_batch(Care::Fast).await {
            Ok(n) => Ok(n),
            Err(e) => {
                tracing::debug!(error = %e, "a batch of requests failed; resolving them one by one");
                self.resolve_batch(Care::Careful).await
            }
        }
    }

    async fn resolve_batch(&self, care: Care) -> Result<usize, store::StoreError> {
        let backend = self.store.backend();
        let max_attempts = i64::from(self.settings.max_attempts);
        let settings = self.settings.clone();
        let limit = self.share(RESOLVE_BATCH);
        self.store
            .write_background(move |conn| {
                Box::pin(async move { deferred::resolve_batch(conn, backend, limit, max_attempts, care, &settings.webhook_urls).await })
            })
            .instrument(tracing::info_span!("resolve"))
            .await
    }

    pub async fn tick(&self) -> Result<usize, store::StoreError> {
        let now = self.clock.now_ms();
        let lease_until = now + clock::ms(self.settings.lease);
        let (backend, worker, batch) = (self.store.backend(), self.id.clone(), self.share(self.settings.batch));
        let (keys, clock, settings) = (self.keys.clone(), self.clock.clone(), self.settings.clone());
        let claimed = self
            .store
            .write_background(move |conn| {
                Box::pin(async move {
                    let mut claimed = store::outbox::claim(conn, backend, &worker, now, lease_until, batch).await?;
                    // Minted in the order asked for: of two links for one subject, the newer one lives.
                    claimed.sort_by_key(|m| m.id);
                    let mut prepared = Vec::with_capacity(claimed.len());
                    let mut minting = Vec::new();
                    for message in claimed {
                        if webhooks::is_webhook(&message.kind) {
                            prepared.push((message, Prepared::Webhook));
                            continue;
                        }
                        let intent = serde_json::from_str::<Intent>(&message.payload).map_err(|e| e.to_string());
                        let minted = match intent.as_ref().ok().and_then(|i| Some((i, i.link_to_mint()?))) {
                            Some((intent, link)) => mint(&keys, &clock, &settings, link, intent, &message.recipient),
                            None => None,
                        };
                        let minted = minted.map(|m| {
                            let out = Minted {
                                token: m.issued.token.clone(),
                                expires_at_ms: m.issued.expires_at_ms,
                                code: m.printed_code.clone(),
                            };
                            minting.push(m);
                            out
                        });
                        prepared.push((message, Prepared::Mail(intent, minted)));
                    }
                    store_minted(conn, backend, &minting).await?;
                    Ok::<_, store::StoreError>(prepared)
                })
            })
            .await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let mut sends = JoinSet::new();
        for (message, prepared) in claimed {
            let ctx = Delivery {
                clock: self.clock.clone(),
                transport: self.transport.clone(),
                templates: self.templates.clone(),
                webhooks: self.webhooks.clone(),
                settings: self.settings.clone(),
            };
            let span = tracing::info_span!("deliver", outbox_id = message.id, kind = %message.kind, attempt = message.attempts);
            sends.spawn(
                async move {
                    match prepared {
                        Prepared::Mail(intent, minted) => ctx.deliver(message, intent, minted).await,
                        Prepared::Webhook => ctx.post(message).await,
                    }
                }
                .instrument(span),
            );
        }
        // Whatever finished while the last outcomes were being written goes in one write: a
        // commit a message would be the writer's busiest work while requests are coming in.
        let outcomes = async {
            while let Some(first) = sends.join_next().await {
                let mut finished = vec![first];
                while let Some(next) = sends.try_join_next() {
                    finished.push(next);
                }
                let outcomes: Vec<Outcome> = finished
                    .into_iter()
                    .filter_map(|done| done.map_err(|e| tracing::error!(error = %e, "outbox: delivery task panicked")).ok())
                    .collect();
                if let Err(e) = self.record(outcomes).await {
                    tracing::warn!(error = %e, "outbox: recording delivery outcomes failed; the lease will expire and they will be retried");
                }
            }
        };
        tokio::select! {
            () = outcomes => {}
            never = self.heartbeat() => match never {},
        }
        Ok(n)
    }

    /// Sent messages in one statement on PostgreSQL, whatever their number; the rare retry or
    /// failure one by one.
    async fn record(&self, outcomes: Vec<Outcome>) -> Result<(), store::StoreError> {
        let (worker, backend) = (self.id.clone(), self.store.backend());
        let (outcomes, kept) = self
            .store
            .write_background(move |conn| {
                Box::pin(async move {
                    let mut kept = Vec::with_capacity(outcomes.len());
                    let devmail: Vec<&DevMessage> = outcomes
                        .iter()
                        .filter_map(|o| match o {
                            Outcome::Sent { devmail: Some(message), .. } => Some(message.as_ref()),
                            _ => None,
                        })
                        .collect();
                    store::devmail::insert_many(conn, backend, &devmail).await?;
                    let sent: Vec<store::outbox::Sent<'_>> = outcomes
                        .iter()
                        .filter_map(|o| match o {
                            Outcome::Sent { id, at, payload, .. } => {
                                Some(store::outbox::Sent { id: *id, at: *at, scrubbed_payload: payload })
                            }
                            _ => None,
                        })
                        .collect();
                    let sent_kept = store::outbox::mark_sent_many(conn, backend, &worker, &sent).await?;
                    for outcome in &outcomes {
                        kept.push(match outcome {
                            Outcome::Sent { id, .. } => sent_kept.contains(id),
                            other => other.write(conn, &worker).await?,
                        });
                    }
                    Ok::<_, store::StoreError>((outcomes, kept))
                })
            })
            .await?;
        for (outcome, kept) in outcomes.into_iter().zip(kept) {
            outcome.report(kept);
        }
        Ok(())
    }

    /// Renewing every third of the lease keeps it short whatever a send takes, so a dead worker's
    /// rows are soon claimed again; two failed renewals in a row let another instance take over.
    async fn heartbeat(&self) -> std::convert::Infallible {
        let lease = self.settings.lease;
        let every = (lease / 3).max(Duration::from_millis(10));
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            beat.tick().await;
            let lease_until = self.clock.now_ms() + clock::ms(lease);
            let worker = self.id.clone();
            let renewed =
                self.store.write(move |conn| Box::pin(async move { store::outbox::renew(conn, &worker, lease_until).await })).await;
            match renewed {
                Ok(held) => tracing::debug!(held, "outbox: lease renewed"),
                Err(e) => tracing::warn!(error = %e, "outbox: renewing the lease failed; will try again"),
            }
        }
    }

    fn share(&self, full: i64) -> i64 {
        if self.store.requests_writing() { full.min(BUSY_BATCH) } else { full }
    }

    async fn prune(&self, now: i64) -> Result<(), store::StoreError> {
        store::retention::prune(&self.store, now, &self.settings.retention).await.map(|_| ())
    }
}

/// A link's token and its code, made before they are stored.
struct Minting {
    purpose: Purpose,
    subject: String,
    issued: crate::tokens::Issued,
    code: Option<store::codes::OwnedCode>,
    printed_code: Option<String>,
}

/// A token that cannot be minted (an empty key ring) fails the message, not the batch; without a
/// code the email still goes, with its link.
fn mint(
    keys: &KeyRing,
    clock: &Clock,
    settings: &WorkerSettings,
    link: LinkToMint<'_>,
    intent: &Intent,
    recipient: &str,
) -> Option<Minting> {
    let issued = match keys.issue(clock, link.purpose, link.subject, settings.ttl(link.purpose)) {
        Ok(issued) => issued,
        Err(e) => {
            tracing::error!(error = %e, "minting a link's token failed");
            return None;
        }
    };
    let code = intent.link(&settings.public_url, &issued.token).and_then(|full_link| code_for(keys, &issued, &full_link, recipient));
    let (code, printed_code) = match code {
        Some((row, printed)) => (Some(row), Some(printed)),
        None => (None, None),
    };
    Some(Minting { purpose: link.purpose, subject: link.subject.to_owned(), issued, code, printed_code })
}

/// Stores a batch's tokens, each superseding its subject's earlier ones (the newest email is the
/// one whose link works, and so whose code works), and their codes, in the transaction that
/// claimed the messages: a few statements on PostgreSQL whatever the batch's size.
async fn store_minted(conn: &mut Conn, backend: store::Backend, minting: &[Minting]) -> Result<(), store::StoreError> {
    let tokens: Vec<store::tokens::NewToken<'_>> =
        minting.iter().map(|m| store::tokens::NewToken { purpose: m.purpose, subject: &m.subject, issued: &m.issued }).collect();
    store::tokens::insert_many(conn, backend, &tokens).await?;
    let codes: Vec<store::codes::NewCode<'_>> = minting.iter().filter_map(|m| m.code.as_ref().map(|c| c.borrowed())).collect();
    store::codes::insert_many(conn, backend, &codes).await
}

/// The code printed next to the link and its row, which holds the link sealed: the one place a
/// link outlives the worker's memory (ARCHITECTURE.md).
fn code_for(keys: &KeyRing, issued: &crate::tokens::Issued, full_link: &str, recipient: &str) -> Option<(store::codes::OwnedCode, String)> {
    let codes = keys.codes();
    let code = MailCodes::generate();
    let email = EmailAddress::from_trusted(recipient.to_owned());
    let code_hash = codes.hash(&code, email.normalized());
    match codes.seal(full_link, &code_hash) {
        Ok(sealed_link) => {
            let row = store::codes::OwnedCode {
                code_hash,
                email_norm: email.normalized().to_owned(),
                token_id_hash: issued.id_hash.clone(),
                sealed_link,
                expires_at: issued.expires_at_ms,
                now: issued.issued_at_ms,
            };
            Some((row, MailCodes::printed(&code)))
        }
        Err(e) => {
            tracing::error!(error = %e, "making an email's code failed; the email goes without one");
            None
        }
    }
}

enum Prepared {
    Mail(Result<Intent, String>, Option<Minted>),
    /// Signed at send time.
    Webhook,
}

/// What became of one claimed message. Its log line and its metric are written once
/// [`Worker::record`] has committed it.
enum Outcome {
    Sent { id: i64, at: i64, payload: String, devmail: Option<Box<DevMessage>>, report: SentReport },
    Retry { id: i64, next_attempt_at: i64, hint: String },
    Failed { id: i64, hint: String },
}

/// With the `deliver` span of its send, so the line logged after the commit names the outbox row.
enum SentReport {
    Email { message_id: String, span: tracing::Span },
    Webhook { webhook_id: String, event: &'static str, status: u16, span: tracing::Span },
}

impl Outcome {
    /// False if `worker` no longer held the message.
    async fn write(&self, conn: &mut Conn, worker: &str) -> Result<bool, store::StoreError> {
        match self {
            Self::Sent { id, at, payload, devmail, .. } => {
                if let Some(message) = devmail {
                    store::devmail::insert(conn, message).await?;
                }
                store::outbox::mark_sent(conn, *id, worker, *at, payload).await
            }
            Self::Retry { id, next_attempt_at, hint } => store::outbox::mark_retry(conn, *id, worker, *next_attempt_at, hint).await,
            Self::Failed { id, hint } => store::outbox::mark_failed(conn, *id, worker, hint).await,
        }
    }

    fn report(self, kept: bool) {
        let Self::Sent { report, .. } = self else { return };
        match report {
            SentReport::Email { message_id, span } => {
                let _in = span.enter();
                crate::metrics::delivery("sent");
                if kept {
                    tracing::info!(%message_id, "email delivered");
                } else {
                    tracing::warn!(%message_id, "email delivered after this worker's lease ran out; another worker may send it again with the same Message-ID");
                }
            }
            SentReport::Webhook { webhook_id, event, status, span } => {
                let _in = span.enter();
                crate::metrics::webhook(event, "sent");
                if kept {
                    tracing::info!(%webhook_id, status, "webhook delivered");
                } else {
                    tracing::warn!(%webhook_id, "webhook delivered after this worker's lease ran out; another worker may post it again with the same webhook-id");
                }
            }
        }
    }
}

struct Delivery {
    clock: Clock,
    transport: Arc<Transport>,
    templates: Arc<Templates>,
    webhooks: Option<Arc<webhooks::Sender>>,
    settings: Arc<WorkerSettings>,
}

impl Delivery {
    async fn deliver(&self, m: store::outbox::Claimed, intent: Result<Intent, String>, minted: Option<Minted>) -> Outcome {
        let intent = match intent {
            Ok(i) => i,
            Err(e) => return Self::fail(&m, &format!("the stored message is unreadable: {e}")),
        };
        if intent.lost_its_secret() {
            let hint = "the link's secret was removed from this message, so its link cannot work; it will not be sent: the person must ask for a new email";
            return Self::fail(&m, hint);
        }
        if intent.link_to_mint().is_some() && minted.is_none() {
            return Self::fail(&m, "no token could be minted for the link: check the key ring (USHER_KEYS)");
        }
        // A V1 row gives its token up only once delivered, so `usher outbox retry` of a failed one still works.
        let scrubbed = serde_json::to_string(&intent.scrubbed()).unwrap_or_default();
        let language = self.templates.catalogue().negotiate(&m.locale);
        let ctx = intent.context(&self.settings.public_url, &m.locale, language, minted.as_ref());
        let rendered = match self.templates.render(intent.kind(), m.tenant.as_deref(), &m.locale, &ctx) {
            Ok(r) => r,
            Err(e) => return Self::fail(&m, &format!("template error: {e:#}")),
        };
        let envelope = Envelope { message_id: &m.message_id, from: &self.settings.from, to: &m.recipient, now: self.clock.now_ms() };
        match self.transport.send(&envelope, &rendered).await {
            Ok(sent) => Outcome::Sent {
                id: m.id,
                at: self.clock.now_ms(),
                payload: scrubbed,
                devmail: match sent {
                    Sent::ToDevMailbox(message) => Some(Box::new(message)),
                    Sent::Away => None,
                },
                report: SentReport::Email { message_id: m.message_id, span: tracing::Span::current() },
            },
            Err(SendError { permanent: true, hint }) => {
                tracing::warn!(hint = %hint, "email failed permanently");
                Self::failed(m.id, hint)
            }
            Err(SendError { permanent: false, hint }) if m.attempts >= i64::from(self.settings.max_attempts) => {
                let hint = format!("gave up after {} attempts: {hint}", m.attempts);
                tracing::warn!(hint = %hint, "email failed");
                Self::failed(m.id, hint)
            }
            Err(SendError { permanent: false, hint }) => {
                let delay = backoff(m.attempts, self.settings.retry_min, self.settings.retry_max);
                tracing::info!(hint = %hint, retry_in = ?delay, "email deferred");
                crate::metrics::delivery("deferred");
                Outcome::Retry { id: m.id, next_attempt_at: self.clock.now_ms() + clock::ms(delay), hint }
            }
        }
    }

    /// Only 410 gives up at once; a 4xx is retried too: a receiver answering 401 or 404 is usually
    /// being redeployed or re-keyed, and the event would otherwise be lost.
    async fn post(&self, m: store::outbox::Claimed) -> Outcome {
        let event = webhooks::event_label(&m.kind);
        let Some(sender) = &self.webhooks else {
            crate::metrics::webhook(event, "failed");
            let hint = "webhook_secret is not set, so no webhook can be signed: set it, then `usher outbox retry`".to_owned();
            tracing::error!(hint = %hint, "webhook cannot be sent");
            return Outcome::Failed { id: m.id, hint };
        };
        match sender.send(&m.recipient, &m.message_id, self.clock.now_ms(), &m.payload).await {
            Ok(status) => Outcome::Sent {
                id: m.id,
                at: self.clock.now_ms(),
                payload: m.payload,
                devmail: None,
                report: SentReport::Webhook { webhook_id: m.message_id, event, status, span: tracing::Span::current() },
            },
            Err(webhooks::Failure { give_up, hint }) if give_up || m.attempts >= i64::from(self.settings.max_attempts) => {
                let hint = if give_up { hint } else { format!("gave up after {} attempts: {hint}", m.attempts) };
                tracing::warn!(hint = %hint, "webhook failed");
                crate::metrics::webhook(event, "failed");
                Outcome::Failed { id: m.id, hint }
            }
            Err(webhooks::Failure { hint, .. }) => {
                let delay = backoff(m.attempts, self.settings.retry_min, self.settings.retry_max);
                tracing::info!(hint = %hint, retry_in = ?delay, "webhook deferred");
                crate::metrics::webhook(event, "deferred");
                Outcome::Retry { id: m.id, next_attempt_at: self.clock.now_ms() + clock::ms(delay), hint }
            }
        }
    }

    fn fail(m: &store::outbox::Claimed, hint: &str) -> Outcome {
        tracing::error!(hint = %hint, "email cannot be sent");
        Self::failed(m.id, hint.to_owned())
    }

    /// Counted as an email's failure; a webhook's is counted under its own metric.
    fn failed(id: i64, hint: String) -> Outcome {
        crate::metrics::delivery("failed");
        Outcome::Failed { id, hint }
    }
}

/// "Equal jitter": half fixed, half random, so retries spread out but never come too early.
pub fn backoff(attempts: i64, min: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = min.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let half = full / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_its_bounds() {
        let (min, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        for attempt in 1..20 {
            let d = backoff(attempt, min, max);
            let full = (min * 2u32.pow((attempt - 1).min(20) as u32)).min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(1, min, max) <= min);
        assert!(backoff(30, min, max) >= max / 2);
    }
}
