//! The F5 XC admin endpoints (seed 002 and its successor, verify_password),
//! behind API tokens: `Authorization: APIToken <secret>` or `Bearer <secret>`.
//!
//! Seed 002's successor is F5's `ResetPasswordByAdmin` at
//! `/api/web/custom/password/admin_reset`, which names no namespace (an
//! admin's namespace is always `system`); the namespaced path usher served
//! before F5's document was known stays as an alias.

use super::AppState;
use super::extract::{AppJson, ClientAddr};
use crate::domain::EmailAddress;
use crate::error::Error;
use crate::flows::admin::{self, ApiCaller};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderValue, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

const SEND_PASSWORD_EMAIL: &str = "/api/web/custom/namespaces/{namespace}/send_password_email";
const ADMIN_RESET: &str = "/api/web/custom/password/admin_reset";
const RESET_PASSWORD: &str = "/api/web/custom/namespaces/{namespace}/reset_password_by_admin";
const VERIFY_PASSWORD: &str = "/api/web/custom/namespaces/{namespace}/verify_password";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(SEND_PASSWORD_EMAIL, post(send_password_email))
        .route(ADMIN_RESET, post(admin_reset))
        .route(RESET_PASSWORD, post(reset_password_by_admin))
        .route(VERIFY_PASSWORD, post(verify_password))
}

/// The authenticated caller. The header is read here and nowhere else; it
/// is never logged.
pub struct Authenticated(pub ApiCaller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let client = ClientAddr::from_request_parts(parts, state).await?;
        let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(Error::Unauthenticated)?;
        let (scheme, secret) = value.trim().split_once(' ').ok_or(Error::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("apitoken") && !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthenticated);
        }
        admin::authenticate(&state.ctx, secret.trim(), client.0.to_string()).await.map(Self)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmailRequest {
    email: Option<String>,
    namespace: Option<String>,
    password: Option<String>,
    /// verify_password: the address of the person at the login page, so
    /// that wrong tries are counted per client (see SECURITY.md).
    client_address: Option<String>,
}

/// Whether the body must repeat the path's namespace: seed 002's body and
/// its alias name it (SPEC: "must equal the path's"); verify_password's
/// body, usher's own, does not, but one that is given must equal it too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyNamespace {
    Required,
    Optional,
}

/// The checks every admin endpoint makes, in order: role (403), the path's
/// namespace (403 unless `system`), the body's namespace (400 unless equal),
/// the email (400).
async fn admitted(
    state: &AppState,
    who: &ApiCaller,
    action: &'static str,
    namespace: &str,
    req: &EmailRequest,
    body_namespace: BodyNamespace,
) -> Result<EmailAddress, Error> {
    who.require_admin(&state.ctx, action).await?;
    if namespace != "system" {
        who.refuse(&state.ctx, action, namespace, "denied").await?;
        return Err(Error::Forbidden("Admin actions are only allowed in the system namespace.".into()));
    }
    if req.namespace.is_none() && body_namespace == BodyNamespace::Required {
        return Err(Error::invalid("namespace", "is required and must equal the namespace in the path"));
    }
    if let Some(body_ns) = req.namespace.as_deref() {
        let len = body_ns.chars().count();
        if !(6..=1024).contains(&len) {
            return Err(Error::invalid("namespace", "must be 6 to 1024 characters"));
        }
        if body_ns != namespace {
            return Err(Error::invalid("namespace", "must equal the namespace in the path"));
        }
    }
    Ok(EmailAddress::parse_field("email", req.email.as_deref())?)
}

async fn send_password_email(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Response, Error> {
    let email = admitted(&state, &who, "admin.send_password_email", &namespace, &req, BodyNamespace::Required).await?;
    admin::send_password_email(&state.ctx, &who, &email, false).await?;
    let mut response = Json(json!({})).into_response();
    let successor = format!("<{}{ADMIN_RESET}>; rel=\"successor-version\"", state.ctx.settings.base_path);
    let headers = response.headers_mut();
    headers.insert("deprecation", HeaderValue::from_static("true"));
    if let Ok(link) = HeaderValue::from_str(&successor) {
        headers.insert(header::LINK, link);
    }
    Ok(response)
}

async fn admin_reset(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Value>, Error> {
    let action = "admin.reset_password";
    who.require_admin(&state.ctx, action).await?;
    let email = EmailAddress::parse_field("email", req.email.as_deref())?;
    admin::send_password_email(&state.ctx, &who, &email, true).await?;
    Ok(Json(json!({})))
}

async fn reset_password_by_admin(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Value>, Error> {
    let email = admitted(&state, &who, "admin.reset_password", &namespace, &req, BodyNamespace::Required).await?;
    admin::send_password_email(&state.ctx, &who, &email, true).await?;
    Ok(Json(json!({})))
}

async fn verify_password(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Value>, Error> {
    let email = admitted(&state, &who, "admin.verify_password", &namespace, &req, BodyNamespace::Optional).await?;
    let password = req.password.clone().unwrap_or_default();
    if password.is_empty() || password.chars().count() > crate::passwords::MAX_LEN {
        return Err(Error::invalid("password", "must be 1 to 1024 characters"));
    }
    let client = match req.client_address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| Error::invalid("client_address", "must be an IPv4 or IPv6 address"))?),
    };
    let valid = admin::verify_password(&state.ctx, &who, &email, password, client).await?;
    Ok(Json(json!({ "valid": valid })))
}
