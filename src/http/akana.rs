//! The Akana API Platform users dialect (seed 004 and its siblings):
//! form-encoded (or JSON) bodies, `Accept` negotiation over Akana's vendor
//! media types, and empty 200 answers with `Cache-Control: no-cache`.

use super::AppState;
use super::extract::{ClientAddr, body, content_type_is, parse_json};
use crate::config::Settings;
use crate::domain::{self, Cname, EmailAddress};
use crate::error::Error;
use crate::flows::{Caller, akana};
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/signupUser", post(signup_user))
        .route("/api/users/verifySignup", post(verify_signup))
        .route("/api/users/completeSignup", post(complete_signup))
        .route("/api/users/resendActivation", post(resend_activation))
}

const VENDOR_TYPES: &[&str] =
    &["application/vnd.soa.v71+json", "application/vnd.soa.v72+json", "application/vnd.soa.v80+json", "application/vnd.soa.v81+json"];

/// The media type to answer with, from the `Accept` header: the first range
/// it names that usher can produce. No header means JSON; nothing
/// acceptable is 406.
pub struct Negotiated(pub &'static str);

impl<S: Send + Sync> FromRequestParts<S> for Negotiated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let accept: Vec<&str> = parts.headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
        negotiate(&accept).map(Self).ok_or(Error::NotAcceptable)
    }
}

pub fn negotiate(accept: &[&str]) -> Option<&'static str> {
    let ranges: Vec<String> = accept
        .iter()
        .flat_map(|v| v.split(','))
        .map(|r| r.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect();
    if ranges.is_empty() {
        return Some("application/json");
    }
    ranges.iter().find_map(|r| match r.as_str() {
        "*/*" | "application/*" | "application/json" => Some("application/json"),
        other => VENDOR_TYPES.iter().copied().find(|v| *v == other),
    })
}

/// The portal (tenant) a request belongs to: the `Host` subdomain under
/// `tenancy_base_domain` when one is configured, else `default_tenant`.
pub fn tenant_of(settings: &Settings, headers: &HeaderMap) -> Result<Cname, Error> {
    let Some(base) = &settings.tenancy_base_domain else { return Ok(settings.default_tenant.clone()) };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h).to_ascii_lowercase();
    match host.strip_suffix(base.as_str()).and_then(|rest| rest.strip_suffix('.')) {
        Some(sub) => Cname::parse("host", sub).map_err(|_| Error::NotFound("No developer portal is served at this address.".into())),
        None => Ok(settings.default_tenant.clone()),
    }
}

/// A form-encoded (the dialect's own) or JSON body.
async fn form_or_json<T: DeserializeOwned>(state: &AppState, req: Request) -> Result<T, Error> {
    let form = content_type_is(req.headers(), "application/x-www-form-urlencoded");
    if !form && !content_type_is(req.headers(), "application/json") {
        return Err(Error::UnsupportedMediaType { expected: "application/x-www-form-urlencoded or application/json" });
    }
    let bytes = body(req, state).await?;
    if form { serde_urlencoded::from_bytes(&bytes).map_err(|_| Error::invalid("body", "is not a valid form")) } else { parse_json(&bytes) }
}

/// 200 with no body, as Akana answers.
fn empty_ok(content_type: &'static str) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AkanaForm {
    first_name: Option<String>,
    last_name: Option<String>,
    email_address: Option<String>,
    phone: Option<String>,
    signup_code: Option<String>,
    password: Option<String>,
}

fn signup_code(form: &AkanaForm) -> Result<String, Error> {
    let code = form.signup_code.as_deref().map(str::trim).unwrap_or_default();
    if code.is_empty() {
        return Err(Error::invalid("signupCode", "is required"));
    }
    if code.len() > crate::tokens::MAX_TOKEN_LEN {
        return Err(Error::invalid("signupCode", "must be at most 1024 characters"));
    }
    Ok(code.to_owned())
}

/// What every Akana endpoint starts from, in the order its errors come: the
/// media type to answer with (406), the portal (404), the body (415, 400).
struct AkanaCall {
    answer_as: &'static str,
    cname: Cname,
    caller: Caller,
    form: AkanaForm,
}

impl FromRequest<AppState> for AkanaCall {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let (mut parts, body) = req.into_parts();
        let Negotiated(answer_as) = Negotiated::from_request_parts(&mut parts, state).await?;
        let caller = ClientAddr::from_request_parts(&mut parts, state).await?.caller();
        let cname = tenant_of(&state.ctx.settings, &parts.headers)?;
        let form = form_or_json(state, Request::from_parts(parts, body)).await?;
        Ok(Self { answer_as, cname, caller, form })
    }
}

async fn signup_user(State(state): State<AppState>, call: AkanaCall) -> Result<Response, Error> {
    let form = call.form;
    let new = akana::NewDeveloper {
        first_name: domain::required("firstName", form.first_name, 128)?,
        last_name: domain::required("lastName", form.last_name, 128)?,
        email: EmailAddress::parse_field("emailAddress", form.email_address.as_deref())?,
        phone: domain::optional("phone", form.phone, 64)?,
    };
    akana::signup_user(&state.ctx, &call.caller, &call.cname, new).await?;
    Ok(empty_ok(call.answer_as))
}

async fn resend_activation(State(state): State<AppState>, call: AkanaCall) -> Result<Response, Error> {
    let email = EmailAddress::parse_field("emailAddress", call.form.email_address.as_deref())?;
    akana::resend_activation(&state.ctx, &call.caller, &call.cname, &email).await?;
    Ok(empty_ok(call.answer_as))
}

async fn verify_signup(State(state): State<AppState>, call: AkanaCall) -> Result<Response, Error> {
    let verified = akana::verify_signup(&state.ctx, &call.caller, &call.cname, &signup_code(&call.form)?).await?;
    let body = serde_json::json!({ "emailAddress": verified.email, "status": verified.status });
    let mut response = empty_ok(call.answer_as);
    *response.body_mut() = axum::body::Body::from(body.to_string());
    Ok(response)
}

async fn complete_signup(State(state): State<AppState>, call: AkanaCall) -> Result<Response, Error> {
    let code = signup_code(&call.form)?;
    let password = call.form.password.filter(|p| !p.is_empty()).ok_or_else(|| Error::invalid("password", "is required"))?;
    akana::complete_signup(&state.ctx, &call.caller, &call.cname, &code, password).await?;
    Ok(empty_ok(call.answer_as))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation_echoes_vendor_types_and_refuses_the_rest() {
        assert_eq!(negotiate(&[]), Some("application/json"));
        assert_eq!(negotiate(&["*/*"]), Some("application/json"));
        assert_eq!(negotiate(&["application/vnd.soa.v80+json"]), Some("application/vnd.soa.v80+json"));
        assert_eq!(negotiate(&["text/html, application/vnd.soa.v72+json;q=0.9"]), Some("application/vnd.soa.v72+json"));
        assert_eq!(negotiate(&["text/html"]), None);
        assert_eq!(negotiate(&["application/vnd.soa.v99+json"]), None);
    }
}
