use super::AppState;
use super::extract::{AppJson, AppPath, ClientAddr};
use super::openapi::{AdminErrors, BodyErrors, Throttled, Unavailable};
use crate::domain::EmailAddress;
use crate::error::HttpError;
use crate::flows::admin::{self, ApiCaller};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderValue, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const ADMIN_RESET: &str = "/api/web/custom/password/admin_reset";

// F5's admin `SendPasswordEmail` is deprecated, which its operation says too.
#[allow(deprecated)]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_password_email))
        .routes(routes!(admin_reset))
        .routes(routes!(reset_password_by_admin))
        .routes(routes!(verify_password))
}

pub struct Authenticated(pub ApiCaller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let client = ClientAddr::from_request_parts(parts, state).await?;
        let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(HttpError::Unauthenticated)?;
        let (scheme, secret) = value.trim().split_once(' ').ok_or(HttpError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("apitoken") && !scheme.eq_ignore_ascii_case("bearer") {
            return Err(HttpError::Unauthenticated);
        }
        Ok(Self(admin::authenticate(&state.ctx, secret.trim(), client.0.to_string()).await?))
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct EmailRequest {
    email: Option<String>,
    namespace: Option<String>,
    password: Option<String>,
    client_address: Option<String>,
}

// One documented shape per operation, since each reads only some of these fields.

#[derive(Deserialize, ToSchema)]
#[schema(as = userSendPasswordEmailRequest)]
#[allow(dead_code)]
struct NamespacedEmailRequest {
    #[schema(example = "admin@email.com")]
    email: Option<String>,
    /// Required; must equal the path's, `system`.
    #[schema(example = "system")]
    namespace: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = userResetPasswordByAdminRequest)]
#[allow(dead_code)]
struct ResetPasswordByAdminRequest {
    #[schema(example = "admin@email.com")]
    email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = usherVerifyPasswordRequest)]
#[allow(dead_code)]
struct VerifyPasswordRequest {
    #[schema(example = "admin@email.com")]
    email: Option<String>,
    /// 1 to 1024 characters.
    password: Option<String>,
    /// Optional; when given it must equal the path's, `system`.
    namespace: Option<String>,
    /// The IP address of the person at the login page: wrong tries then lock out only that address.
    #[schema(example = "203.0.113.9")]
    client_address: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = usherVerifyPasswordResponse)]
struct Verdict {
    /// False for a wrong password, an unknown user, and a locked-out one.
    valid: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyNamespace {
    Required,
    Optional,
}

async fn admitted(
    state: &AppState,
    who: &ApiCaller,
    action: &'static str,
    namespace: &str,
    req: &EmailRequest,
    body_namespace: BodyNamespace,
) -> Result<EmailAddress, HttpError> {
    who.require_admin(&state.ctx, action).await?;
    if namespace != "system" {
        who.refuse(&state.ctx, action, namespace, "denied").await?;
        return Err(HttpError::Forbidden("Admin actions are only allowed in the system namespace.".into()));
    }
    if req.namespace.is_none() && body_namespace == BodyNamespace::Required {
        return Err(HttpError::invalid("namespace", "is required and must equal the namespace in the path"));
    }
    if let Some(body_ns) = req.namespace.as_deref() {
        let len = body_ns.chars().count();
        if !(6..=1024).contains(&len) {
            return Err(HttpError::invalid("namespace", "must be 6 to 1024 characters"));
        }
        if body_ns != namespace {
            return Err(HttpError::invalid("namespace", "must equal the namespace in the path"));
        }
    }
    Ok(EmailAddress::parse_field("email", req.email.as_deref())?)
}

#[utoipa::path(
    post,
    path = "/api/web/custom/namespaces/{namespace}/send_password_email",
    operation_id = "ves.io.schema.user.CustomAPI.SendPasswordEmail",
    summary = "F5's admin SendPasswordEmail (deprecated): mails a password link to a user of the token's tenant.",
    tag = "F5 XC admin",
    params(("namespace" = String, Path, description = "Always `system`; any other is 403.", example = "system")),
    request_body = NamespacedEmailRequest,
    security(("APIToken" = []), ("Bearer" = [])),
    responses(
        (status = 200, description = "A password link is queued.", body = Object, headers(
            ("Deprecation" = String, description = "`true`."),
            ("Link" = String, description = "`<{base_path}/api/web/custom/password/admin_reset>; rel=\"successor-version\"`."),
        )),
        BodyErrors, AdminErrors, Throttled, Unavailable
    )
)]
#[deprecated = "F5 deprecates the admin SendPasswordEmail; its successor is admin_reset"]
async fn send_password_email(
    State(state): State<AppState>,
    AppPath(namespace): AppPath<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Response, HttpError> {
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

#[utoipa::path(
    post,
    path = ADMIN_RESET,
    operation_id = "ves.io.schema.user.CustomAPI.ResetPasswordByAdmin",
    summary = "F5's `ResetPasswordByAdmin`: removes the user's password and mails a link to set a new one.",
    tag = "F5 XC admin",
    request_body = ResetPasswordByAdminRequest,
    security(("APIToken" = []), ("Bearer" = [])),
    responses((status = 200, description = "The password is removed and a link queued.", body = Object), BodyErrors, AdminErrors, Throttled, Unavailable)
)]
async fn admin_reset(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Value>, HttpError> {
    let action = "admin.reset_password";
    who.require_admin(&state.ctx, action).await?;
    let email = EmailAddress::parse_field("email", req.email.as_deref())?;
    admin::send_password_email(&state.ctx, &who, &email, true).await?;
    Ok(Json(json!({})))
}

#[utoipa::path(
    post,
    path = "/api/web/custom/namespaces/{namespace}/reset_password_by_admin",
    operation_id = "usher.ResetPasswordByAdmin",
    summary = "usher's alias of `ResetPasswordByAdmin`, with the deprecated SendPasswordEmail's namespaced path and body.",
    tag = "F5 XC admin",
    params(("namespace" = String, Path, description = "Always `system`; any other is 403.", example = "system")),
    request_body = NamespacedEmailRequest,
    security(("APIToken" = []), ("Bearer" = [])),
    responses((status = 200, description = "The password is removed and a link queued.", body = Object), BodyErrors, AdminErrors, Throttled, Unavailable)
)]
async fn reset_password_by_admin(
    State(state): State<AppState>,
    AppPath(namespace): AppPath<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Value>, HttpError> {
    let email = admitted(&state, &who, "admin.reset_password", &namespace, &req, BodyNamespace::Required).await?;
    admin::send_password_email(&state.ctx, &who, &email, true).await?;
    Ok(Json(json!({})))
}

#[utoipa::path(
    post,
    path = "/api/web/custom/namespaces/{namespace}/verify_password",
    operation_id = "usher.VerifyPassword",
    summary = "usher's own: checks a password for the platform's login service, with a lock-out (10 wrong tries in 15 minutes lock the user for 15).",
    tag = "F5 XC admin",
    params(("namespace" = String, Path, description = "Always `system`; any other is 403.", example = "system")),
    request_body = VerifyPasswordRequest,
    security(("APIToken" = []), ("Bearer" = [])),
    responses((status = 200, description = "The verdict.", body = Verdict), BodyErrors, AdminErrors, Unavailable)
)]
async fn verify_password(
    State(state): State<AppState>,
    AppPath(namespace): AppPath<String>,
    Authenticated(who): Authenticated,
    AppJson(req): AppJson<EmailRequest>,
) -> Result<Json<Verdict>, HttpError> {
    let email = admitted(&state, &who, "admin.verify_password", &namespace, &req, BodyNamespace::Optional).await?;
    let password = req.password.clone().unwrap_or_default();
    if password.is_empty() || password.chars().count() > crate::passwords::MAX_LEN {
        return Err(HttpError::invalid("password", "must be 1 to 1024 characters"));
    }
    let client = match req.client_address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => {
            Some(a.parse::<std::net::IpAddr>().map_err(|_| HttpError::invalid("client_address", "must be an IPv4 or IPv6 address"))?)
        }
    };
    let valid = admin::verify_password(&state.ctx, &who, &email, password, client).await?;
    Ok(Json(Verdict { valid }))
}
