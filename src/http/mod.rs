pub mod admin;
pub mod akana;
mod answers;
pub mod contact;
pub mod devmail;
pub mod extract;
pub mod f5xc;
pub mod health;
mod metrics;
pub mod openapi;
pub mod pages;
pub mod security;

use crate::error::{Failure, HttpError};
use crate::flows::{Caller, Ctx};
use crate::limiter::ClientLimiter;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use extract::ClientAddr;
use std::sync::Arc;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub pages: Arc<pages::Pages>,
    pub limiter: ClientLimiter,
}

impl ClientAddr {
    pub fn caller(&self) -> Caller {
        Caller { actor: "anonymous".to_owned(), addr: self.0.to_string() }
    }
}

pub fn router(state: AppState) -> Router {
    let unauthenticated = OpenApiRouter::new()
        .merge(f5xc::router())
        .merge(akana::router())
        .merge(contact::router())
        .merge(pages::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_clients))
        .route_layer(middleware::from_fn_with_state(state.clone(), security::refuse_cross_site));
    let (api, api_doc) = unauthenticated.merge(admin::router()).merge(openapi::router()).split_for_parts();
    let (health, health_doc) = health::router().split_for_parts();
    let base_path = state.ctx.settings.base_path.clone();
    let mut doc = openapi::document(api_doc, &base_path);
    doc.merge(health_doc);
    let served = openapi::Served(doc.to_json().unwrap_or_default().into());
    let mut api = api.merge(security::assets());
    if state.ctx.settings.dev_mailbox {
        api = api.merge(devmail::router());
    }
    let mut app = Router::new().merge(api.clone());
    if !base_path.is_empty() {
        app = app.nest(&base_path, api);
    }
    app.merge(health)
        .layer(Extension(served))
        .fallback(not_found)
        // Innermost, so that it sees the matched route template.
        .layer(middleware::from_fn(metrics::record))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn(security::refuse_ambiguous_framing))
        .layer(middleware::from_fn_with_state(state.clone(), security::known_hosts_only))
        // Inside the span, so that the log line carries the request's path.
        .layer(middleware::from_fn(log_failures))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The path only: a query string may hold a token.
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                // A 5xx is logged by `log_failures`, with its cause; not twice.
                .on_failure(()),
        )
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::NotFound("No such endpoint.".into())
}

/// Outside the router, because axum adds a 405's `Allow` only there, after every layer.
pub fn finish(response: Response) -> Response {
    let mut response = if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allow = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        HttpError::MethodNotAllowed { allow: allow.into() }.into_response()
    } else {
        response
    };
    security::add_headers(&mut response);
    response
}

async fn log_failures(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if let Some(Failure { internal, error }) = response.extensions_mut().remove::<Failure>() {
        if internal {
            tracing::error!(target: "usher::failure", error = format!("{error:#}"), "internal error");
        } else {
            tracing::warn!(target: "usher::failure", error = format!("{error:#}"), "unavailable");
        }
    }
    response
}

async fn limit_clients(State(state): State<AppState>, client: ClientAddr, req: Request, next: Next) -> Result<Response, HttpError> {
    state.limiter.admit(client.0).map_err(|retry_after| {
        crate::metrics::refused("client");
        HttpError::TooManyRequests { retry_after }
    })?;
    Ok(next.run(req).await)
}
