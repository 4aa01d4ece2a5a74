mod access;
pub mod admin;
pub mod akana;
mod answers;
mod codes;
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

/// The public listener's router: the API, its pages and, without a management listener, the
/// operations routes (`/metrics` and the dev mailbox to this host only).
pub fn router(state: AppState) -> Router {
    let operations_here = state.ctx.settings.management_listen.is_none();
    let api = OpenApiRouter::new()
        .merge(f5xc::router())
        .merge(akana::router())
        .merge(contact::router())
        .merge(codes::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_clients))
        .route_layer(middleware::from_fn_with_state(state.clone(), security::refuse_cross_site));
    // The same limit and the same check, answered as pages: a person never reads JSON.
    let pages = pages::router()
        .route_layer(middleware::from_fn_with_state(state.clone(), pages::limit_clients))
        .route_layer(middleware::from_fn_with_state(state.clone(), pages::refuse_cross_site));
    let unauthenticated = api.merge(pages);
    let (api, api_doc) = unauthenticated.merge(admin::router()).merge(openapi::router()).split_for_parts();
    let base_path = state.ctx.settings.base_path.clone();
    let mut doc = openapi::document(api_doc, &base_path);
    let mut api = api.merge(security::assets());
    let mut app = Router::new();
    if operations_here {
        let (health, health_doc) = health::router(true).split_for_parts();
        doc.merge(health_doc);
        app = app.merge(health);
        if state.ctx.settings.dev_mailbox {
            api = api.merge(devmail::router(true));
        }
    }
    let routes = access::RouteNames::of(doc.paths.paths.keys(), &base_path);
    let served = openapi::Served(doc.to_json().unwrap_or_default().into());
    app = app.merge(api.clone());
    if !base_path.is_empty() {
        app = app.nest(&base_path, api);
    }
    serve_with_layers(app.layer(Extension(served)), state, routes, false)
}

/// The management listener's router: the operations routes and nothing else, to whoever reaches
/// it (an operator binds it where only Prometheus and the load balancer do).
pub fn management_router(state: AppState) -> Router {
    let (mut app, _) = health::router(false).split_for_parts();
    if state.ctx.settings.dev_mailbox {
        app = app.merge(devmail::router(false));
    }
    serve_with_layers(app, state, access::RouteNames::default(), true)
}

/// Layers applied per route (after routing), so that each one sees the matched route template.
fn serve_with_layers(app: Router<AppState>, state: AppState, routes: access::RouteNames, management: bool) -> Router {
    let observed = access::Observed { routes: Arc::new(routes), trusted_proxies: state.ctx.settings.trusted_proxies.clone().into() };
    let app = app
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn(security::refuse_ambiguous_framing));
    let app = if management {
        app.layer(middleware::from_fn_with_state(state.clone(), security::known_hosts_or_addresses_only))
    } else {
        app.layer(middleware::from_fn_with_state(state.clone(), security::known_hosts_only))
    };
    // Inside the span, so that the log line carries the request's id.
    app.layer(middleware::from_fn(log_failures)).layer(middleware::from_fn_with_state(observed, access::observe)).with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::NotFound("No such endpoint.".into())
}

/// Outside the router, because axum adds a 405's `Allow` only there, after every layer.
pub fn finish(mut response: Response) -> Response {
    let mut response = if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allow = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let id = response.headers_mut().remove(access::REQUEST_ID);
        let mut answer = HttpError::MethodNotAllowed { allow: allow.into() }.into_response();
        answer.headers_mut().extend(id.map(|id| (header::HeaderName::from_static(access::REQUEST_ID), id)));
        answer
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
