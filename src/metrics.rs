use crate::error::Error;
use crate::flows::Context;
use crate::http::AppState;
use crate::store::{self, outbox::Status, tokens::TokenState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

type Labels = Vec<(&'static str, &'static str)>;
type RequestLabels = Vec<(&'static str, String)>;

pub struct Counters {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    deliveries: Family<Labels, Counter>,
    webhooks: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
    token_spends: Family<Labels, Counter>,
    hash_refused: Counter,
}

pub static COUNTERS: LazyLock<Counters> = LazyLock::new(|| Counters {
    requests: Family::default(),
    // 1 ms to about 16 s: a password hash is tens of milliseconds, a stalled database seconds.
    latency: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 15))),
    deliveries: Family::default(),
    webhooks: Family::default(),
    refusals: Family::default(),
    token_spends: Family::default(),
    hash_refused: Counter::default(),
});

pub fn delivery(outcome: &'static str) {
    COUNTERS.deliveries.get_or_create(&vec![("outcome", outcome)]).inc();
}

pub fn webhook(event: &'static str, outcome: &'static str) {
    COUNTERS.webhooks.get_or_create(&vec![("event", event), ("outcome", outcome)]).inc();
}

pub fn refused(kind: &'static str) {
    COUNTERS.refusals.get_or_create(&vec![("kind", kind)]).inc();
}

pub fn token_spend(found: TokenState) {
    let outcome = match found {
        TokenState::Live => "spent",
        TokenState::Used => "used",
        TokenState::Superseded => "superseded",
        TokenState::Expired => "expired",
        TokenState::Missing => "unknown",
    };
    COUNTERS.token_spends.get_or_create(&vec![("outcome", outcome)]).inc();
}

pub fn hash_refused() {
    COUNTERS.hash_refused.inc();
}

pub async fn record(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = vec![("route", route), ("method", method.to_owned()), ("status", status)];
    COUNTERS.requests.get_or_create(&labels).inc();
    COUNTERS.latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// An unknown method would otherwise be a label value a client chose.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn scrape(State(state): State<AppState>) -> Result<Response, Error> {
    let now = state.ctx.clock.now_ms();
    let outbox = {
        let mut conn = state.ctx.store.acquire().await.context("taking a read connection")?;
        store::outbox::gauges(&mut conn, now).await.context("reading the outbox gauges")?
    };
    let mut registry = Registry::with_prefix("usher");
    let c = &*COUNTERS;
    registry.register("http_requests", "HTTP requests by matched route template, method and status", c.requests.clone());
    registry.register_with_unit(
        "http_request_duration",
        "Time from routing to the answer, by route template, method and status",
        Unit::Seconds,
        c.latency.clone(),
    );
    registry.register("mail_deliveries", "Delivery attempts by outcome (sent, deferred, failed)", c.deliveries.clone());
    registry.register("webhook_deliveries", "Webhook delivery attempts by event and outcome (sent, deferred, failed)", c.webhooks.clone());
    registry.register("rate_limit_refusals", "Requests refused by a limit, by kind (client, email, login)", c.refusals.clone());
    registry.register(
        "token_spends",
        "Attempts to spend a one-time token by outcome (spent, used, superseded, expired, unknown)",
        c.token_spends.clone(),
    );
    registry.register_with_unit(
        "database_commit_duration",
        "Time of each commit; on SQLite, of a batch's COMMIT (the WAL's write and fsync), which all of its requests wait for",
        Unit::Seconds,
        state.ctx.store.commit_durations(),
    );
    registry.register(
        "password_hash_refused",
        "Password hashes refused at once because the pool and its queue were full",
        c.hash_refused.clone(),
    );

    let by_status = Family::<Labels, Gauge>::default();
    for status in [Status::Requested, Status::Pending, Status::Sending, Status::Sent, Status::Failed, Status::Dropped] {
        let n = outbox.by_status.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
        by_status.get_or_create(&vec![("status", status.as_str())]).set(n);
    }
    registry.register("outbox_messages", "Outbox rows by status", by_status);
    let oldest = Gauge::<f64, AtomicU64>::default();
    oldest.set(outbox.oldest_due_ms.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0));
    registry.register_with_unit(
        "outbox_oldest_due_age",
        "How long the oldest message due to be sent (or resolved) has waited; 0 when none is due",
        Unit::Seconds,
        oldest,
    );
    let (running, queued) = state.ctx.hasher.load();
    let gauge = |v: usize| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(v).unwrap_or(i64::MAX));
        g
    };
    registry.register("password_hash_running", "Password hashes running now", gauge(running));
    registry.register("password_hash_queued", "Password hashes waiting for a worker", gauge(queued));

    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| Error::Internal(anyhow::anyhow!("encoding metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
