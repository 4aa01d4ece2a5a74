//! Liveness, readiness and metrics.

use super::AppState;
use crate::error::Error;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(crate::metrics::scrape))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready while the database answers; 503 with Retry-After while it does not.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Error> {
    match state.ctx.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            Err(Error::Unavailable { reason: "the database is unreachable", retry_after: Duration::from_secs(5) })
        }
    }
}
