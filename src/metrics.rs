//! The process's counters, bumped where things happen. Nothing here reads a request or the
//! database: recording per route and scraping live with `http`, which serves `/metrics`.

use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
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

pub const DELIVERY_OUTCOMES: &[&str] = &["sent", "deferred", "failed"];
pub const WEBHOOK_EVENTS: &[&str] = &["signup.created", "tenant.created", "user.activated", "password.set"];
pub const REFUSAL_KINDS: &[&str] = &["client", "cross_site", "email", "login", "password_policy", "token_tries"];
pub const TOKEN_SPEND_OUTCOMES: &[&str] = &["spent", "used", "superseded", "expired", "unknown"];

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| {
    let counters = Counters {
        requests: Family::default(),
        // 1 ms to about 16 s: a password hash is tens of milliseconds, a stalled database seconds.
        latency: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 15))),
        deliveries: Family::default(),
        webhooks: Family::default(),
        refusals: Family::default(),
        token_spends: Family::default(),
        hash_refused: Counter::default(),
    };
    // A series that first appears at 1 has no increase Prometheus can see: every known label value starts at 0.
    for outcome in DELIVERY_OUTCOMES {
        let _ = counters.deliveries.get_or_create(&vec![("outcome", *outcome)]);
        for event in WEBHOOK_EVENTS {
            let _ = counters.webhooks.get_or_create(&vec![("event", *event), ("outcome", *outcome)]);
        }
    }
    for kind in REFUSAL_KINDS {
        let _ = counters.refusals.get_or_create(&vec![("kind", *kind)]);
    }
    for outcome in TOKEN_SPEND_OUTCOMES {
        let _ = counters.token_spends.get_or_create(&vec![("outcome", *outcome)]);
    }
    counters
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
    registry.register(
        "rate_limit_refusals",
        "Requests refused by a limit or check, by kind (client, cross_site, email, login, password_policy, token_tries)",
        c.refusals.clone(),
    );
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

/// `usher_build_info{version="…"} 1`: which version each instance runs.
pub fn register_build_info(registry: &mut Registry) {
    let info = Family::<Labels, Gauge>::default();
    info.get_or_create(&vec![("version", env!("CARGO_PKG_VERSION"))]).set(1);
    registry.register("build_info", "The running version, as a label; always 1", info);
}

/// The `process_*` metrics, under the names Prometheus's own clients give them (no `usher_`
/// prefix), read at scrape time. Only on Linux, from `/proc`; elsewhere there are none.
pub fn register_process(registry: &mut Registry) {
    let Some(p) = Process::read() else { return };
    registry.register_with_unit("process_cpu", "User and system CPU time spent", Unit::Seconds, ConstCounter::new(p.cpu_seconds));
    registry.register_with_unit("process_resident_memory", "Resident memory size", Unit::Bytes, ConstGauge::new(p.resident_bytes));
    registry.register_with_unit(
        "process_start_time",
        "Start time of the process since the Unix epoch",
        Unit::Seconds,
        ConstGauge::new(p.start_time_seconds),
    );
    registry.register("process_open_fds", "Open file descriptors", ConstGauge::new(p.open_fds));
    if let Some(max) = p.max_fds {
        registry.register("process_max_fds", "The open-file limit", ConstGauge::new(max));
    }
}

struct Process {
    cpu_seconds: f64,
    resident_bytes: i64,
    start_time_seconds: f64,
    open_fds: i64,
    max_fds: Option<i64>,
}

impl Process {
    #[cfg(target_os = "linux")]
    fn read() -> Option<Self> {
        // The kernel reports times in USER_HZ, which is 100 on every architecture Linux runs usher on.
        const TICKS: f64 = 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may hold spaces and parentheses: the fields start after its last `)`.
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        let (utime, stime, started) = (field(14)?, field(15)?, field(22)?);
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let boot = boot.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse::<f64>().ok()?;
        // In kB, so that the page size need not be asked for.
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse::<i64>().ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        let max_fds = rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| i64::try_from(soft).unwrap_or(i64::MAX));
        Some(Self {
            cpu_seconds: (utime + stime) / TICKS,
            resident_bytes: rss_kb * 1024,
            start_time_seconds: boot + started / TICKS,
            open_fds: i64::try_from(open_fds).unwrap_or(i64::MAX),
            max_fds,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn read() -> Option<Self> {
        None
    }
}
