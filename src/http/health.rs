use super::AppState;
use super::openapi::Unavailable;
use crate::error::HttpError;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `this_host_only`: on the public listener, `/metrics` answers this host alone.
pub fn router(this_host_only: bool) -> OpenApiRouter<AppState> {
    let mut metrics = OpenApiRouter::new().routes(routes!(metrics));
    if this_host_only {
        metrics = metrics.route_layer(axum::middleware::from_fn(super::security::this_host_only));
    }
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).merge(metrics)
}

#[derive(Serialize, ToSchema)]
#[schema(as = usherStatus)]
struct Status {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(example = "ok")]
    status: &'static str,
}

#[utoipa::path(
    summary = "Liveness: the process answers.",
    get, path = "/healthz", operation_id = "usher.Healthz", tag = "Operations", responses((status = 200, description = "Alive.", body = Status)))]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "usher.Readyz",
    summary = "Ready while the database answers; 503 with Retry-After while it does not.",
    tag = "Operations",
    responses((status = 200, description = "The database answers.", body = Status), Unavailable)
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, HttpError> {
    match state.ctx.store.ping().await {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(e) => Err(HttpError::Unavailable {
            reason: "the database is unreachable",
            retry_after: Duration::from_secs(5),
            cause: Some(anyhow::Error::new(e).context("not ready: pinging the database")),
        }),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "usher.Metrics",
    summary = "Prometheus metrics (text exposition format).",
    tag = "Operations",
    responses((status = 200, description = "The metrics.", body = String, content_type = "application/openmetrics-text"), Unavailable)
)]
async fn metrics(state: State<AppState>) -> Result<Response, HttpError> {
    super::metrics::scrape(state).await
}
