//! `/metrics`: the process's counters, and what is measured at scrape time (the outbox, the
//! password pool, the database's commits). Requests are counted by `access`.

use super::AppState;
use crate::error::HttpError;
use crate::flows::Context;
use crate::metrics;
use crate::store::{self, outbox::Status};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, &'static str)>;

pub async fn scrape(State(state): State<AppState>) -> Result<Response, HttpError> {
    let now = state.ctx.clock.now_ms();
    let outbox = {
        let mut conn = state.ctx.store.acquire().await.context("taking a read connection")?;
        store::outbox::gauges(&mut conn, now).await.context("reading the outbox gauges")?
    };
    let mut root = Registry::default();
    metrics::register_process(&mut root);
    let registry = root.sub_registry_with_prefix("usher");
    metrics::register(registry);
    metrics::register_build_info(registry);
    registry.register_with_unit(
        "database_commit_duration",
        "Time of each commit; on SQLite, of a batch's COMMIT (the WAL's write and fsync), which all of its requests wait for",
        Unit::Seconds,
        state.ctx.store.commit_durations(),
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
    encode(&mut text, &root).map_err(|e| HttpError::Internal(anyhow::anyhow!("encoding metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
