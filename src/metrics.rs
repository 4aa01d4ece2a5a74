//! The process's counters, bumped where things happen. Nothing here reads a request or the
//! database: recording per route and scraping live with `http`, which serves `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::time::Duration;

type Labels = Vec<(&'static str, &'static str)>;
type RequestLabels = Vec<(&'static str, String)>;

struct Counters {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    deliveries: Family<Labels, Counter>,
    webhooks: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
    token_spends: Family<Labels, Counter>,
    hash_refused: Counter,
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| Counters {
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

/// `outcome`: spent, used, superseded, expired or unknown.
pub fn token_spend(outcome: &'static str) {
    COUNTERS.token_spends.get_or_create(&vec![("outcome", outcome)]).inc();
}

pub fn hash_refused() {
    COUNTERS.hash_refused.inc();
}

/// One answered request, by its route template (never the path a client sent), method and status.
pub fn request(route: String, method: &'static str, status: u16, took: Duration) {
    let labels = vec![("route", route), ("method", method.to_owned()), ("status", status.to_string())];
    COUNTERS.requests.get_or_create(&labels).inc();
    COUNTERS.latency.get_or_create(&labels).observe(took.as_secs_f64());
}

/// Adds the counters to a scrape's registry.
pub fn register(registry: &mut Registry) {
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
    registry.register(
        "password_hash_refused",
        "Password hashes refused at once because the pool and its queue were full",
        c.hash_refused.clone(),
    );
}
