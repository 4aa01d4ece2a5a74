//! The delivery worker: claims due outbox rows, renders and sends them, and
//! records the outcome. Any number of workers may run, in any number of
//! instances; the claim and its lease keep them from sending a row twice at
//! once, and a row claimed by a worker that died is claimed again once its
//! lease runs out.

use super::Intent;
use super::templates::Templates;
use super::transport::{Envelope, SendError, Transport};
use crate::clock::{self, Clock};
use crate::store::{self, Store};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

pub struct WorkerSettings {
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub batch: i64,
    pub public_url: String,
    pub from: String,
}

pub struct Worker {
    pub id: String,
    pub store: Store,
    pub clock: Clock,
    pub transport: Arc<Transport>,
    pub templates: Arc<Templates>,
    pub settings: Arc<WorkerSettings>,
    /// Rung after a commit that queued mail, so delivery starts at once
    /// instead of at the next poll.
    pub wake: Arc<Notify>,
}

impl Worker {
    pub async fn run(self) {
        let mut last_prune = 0;
        loop {
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
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Claims one batch and delivers it; returns how many were claimed.
    pub async fn tick(&self) -> Result<usize, sqlx::Error> {
        let now = self.clock.now_ms();
        let lease_until = now + clock::ms(self.settings.lease);
        let claimed = {
            let mut conn = self.store.acquire().await?;
            store::outbox::claim(&mut conn, self.store.backend(), &self.id, now, lease_until, self.settings.batch).await?
        };
        let n = claimed.len();
        let mut sends = JoinSet::new();
        for message in claimed {
            let ctx = Delivery {
                store: self.store.clone(),
                clock: self.clock.clone(),
                transport: self.transport.clone(),
                templates: self.templates.clone(),
                settings: self.settings.clone(),
                worker: self.id.clone(),
            };
            let span = tracing::info_span!("deliver", outbox_id = message.id, kind = %message.kind, attempt = message.attempts);
            sends.spawn(async move { ctx.deliver(message).await }.instrument(span));
        }
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "outbox: recording a delivery outcome failed; the lease will expire and it will be retried")
                }
                Err(e) => tracing::error!(error = %e, "outbox: delivery task panicked"),
                Ok(Ok(())) => {}
            }
        }
        Ok(n)
    }

    async fn prune(&self, now: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.store.acquire().await?;
        store::limits::prune(&mut conn, now).await?;
        store::tokens::prune(&mut conn, now).await?;
        Ok(())
    }
}

struct Delivery {
    store: Store,
    clock: Clock,
    transport: Arc<Transport>,
    templates: Arc<Templates>,
    settings: Arc<WorkerSettings>,
    worker: String,
}

impl Delivery {
    async fn deliver(&self, m: store::outbox::Claimed) -> Result<(), sqlx::Error> {
        let intent: Intent = match serde_json::from_str(&m.payload) {
            Ok(i) => i,
            Err(e) => {
                return self.fail(&m, &format!("the stored message is unreadable: {e}")).await;
            }
        };
        if intent.lost_its_secret() {
            let hint = "the link's secret was removed from this message, so its link cannot work; it will not be sent: the person must ask for a new email";
            return self.fail(&m, hint).await;
        }
        // Only a delivered message gives up its secret: a failed one keeps it,
        // so that `usher outbox retry` (after fixing a template or the SMTP
        // settings) sends a link that works.
        let scrubbed = serde_json::to_string(&intent.scrubbed()).unwrap_or_default();
        let ctx = intent.context(&self.settings.public_url, &m.locale);
        let rendered = match self.templates.render(intent.kind(), m.tenant.as_deref(), &m.locale, &ctx) {
            Ok(r) => r,
            Err(e) => {
                return self.fail(&m, &format!("template error: {e:#}")).await;
            }
        };
        let envelope = Envelope { message_id: &m.message_id, from: &self.settings.from, to: &m.recipient, now: self.clock.now_ms() };
        let outcome = self.transport.send(&envelope, &rendered).await;
        let mut conn = self.store.acquire().await?;
        match outcome {
            Ok(()) => {
                let now = self.clock.now_ms();
                if store::outbox::mark_sent(&mut conn, m.id, &self.worker, now, &scrubbed).await? {
                    tracing::info!(message_id = %m.message_id, "email delivered");
                } else {
                    tracing::warn!(message_id = %m.message_id, "email delivered after this worker's lease ran out; another worker may send it again with the same Message-ID");
                }
                Ok(())
            }
            Err(SendError { permanent: true, hint }) => {
                tracing::warn!(hint = %hint, "email failed permanently");
                store::outbox::mark_failed(&mut conn, m.id, &self.worker, &hint).await.map(|_| ())
            }
            Err(SendError { permanent: false, hint }) if m.attempts >= i64::from(self.settings.max_attempts) => {
                let hint = format!("gave up after {} attempts: {hint}", m.attempts);
                tracing::warn!(hint = %hint, "email failed");
                store::outbox::mark_failed(&mut conn, m.id, &self.worker, &hint).await.map(|_| ())
            }
            Err(SendError { permanent: false, hint }) => {
                let delay = backoff(m.attempts, self.settings.retry_min, self.settings.retry_max);
                tracing::info!(hint = %hint, retry_in = ?delay, "email deferred");
                let next = self.clock.now_ms() + clock::ms(delay);
                store::outbox::mark_retry(&mut conn, m.id, &self.worker, next, &hint).await.map(|_| ())
            }
        }
    }

    /// Gives up on a message before sending it, keeping its payload as it is.
    async fn fail(&self, m: &store::outbox::Claimed, hint: &str) -> Result<(), sqlx::Error> {
        tracing::error!(hint = %hint, "email cannot be sent");
        let mut conn = self.store.acquire().await?;
        store::outbox::mark_failed(&mut conn, m.id, &self.worker, hint).await.map(|_| ())
    }
}

/// Exponential backoff with "equal jitter": half the delay is fixed, half is
/// random, so retries of many messages spread out but never come too early.
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
