//! The F5 Distributed Cloud dialect (seeds 000, 001, 003 and the signup API
//! around them). Request bodies are bound to structs of optional fields, so
//! a missing field is reported by the domain parser with its name, and
//! unknown fields are ignored.

use super::AppState;
use super::extract::{AppJson, ClientAddr};
use crate::contact;
use crate::domain::{self, Cname, EmailAddress, Locale, TenantType};
use crate::error::Error;
use crate::flows::{password, signup};
use crate::tokens::MAX_TOKEN_LEN;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/no_auth/namespaces/system/f5xc-saas/signup", post(create_signup))
        .route("/no_auth/namespaces/system/f5xc-saas/signup/send_email", post(send_signup_email))
        .route("/no_auth/namespaces/system/f5xc-saas/signup/registration_details", get(registration_details))
        .route("/no_auth/namespaces/system/f5xc-saas/signup/complete", post(complete_signup))
        .route("/no_auth/login/validate_registration", post(validate_registration))
        .route("/no_auth/send_password_email", post(send_password_email))
        .route("/no_auth/password/set", post(set_password))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignupRequest {
    account_details: AccountDetails,
    company_details: CompanyDetails,
    user_details: UserDetails,
    tenant_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AccountDetails {
    domain: Option<String>,
    locale: Option<String>,
    tos_accepted_at: Option<String>,
    tos_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CompanyDetails {
    name: Option<String>,
    mailing_address: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserDetails {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    contact_number: Option<String>,
}

/// The mailing address fields of the seeds, kept as strings and nothing else.
const ADDRESS_FIELDS: &[&str] = &["address1", "address2", "city", "country", "county", "phone_number", "state", "state_code", "zip_code"];

impl TryFrom<SignupRequest> for signup::NewSignup {
    type Error = domain::Invalid;

    fn try_from(r: SignupRequest) -> Result<Self, Self::Error> {
        let address = match r.company_details.mailing_address {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(domain::Invalid::new("mailing_address", "must be an object")),
        };
        let mut kept = serde_json::Map::new();
        for field in ADDRESS_FIELDS {
            if let Some(v) = address.get(*field) {
                let s = v.as_str().ok_or_else(|| domain::Invalid::new("mailing_address", format!("{field} must be a string")))?;
                if let Some(s) = domain::optional("mailing_address", Some(s.to_owned()), 256)? {
                    kept.insert((*field).to_owned(), Value::String(s));
                }
            }
        }
        // Fields are checked in the order of the form: the account first.
        let cname = Cname::parse("domain", r.account_details.domain.as_deref().unwrap_or_default())?;
        let email = EmailAddress::parse_field("email", r.user_details.email.as_deref())?;
        let tenant_type = TenantType::parse("tenant_type", r.tenant_type.as_deref())?;
        let locale = Locale::parse("locale", r.account_details.locale.as_deref())?;
        let company_name = domain::required("company_details.name", r.company_details.name, 256)?;
        check_address(&mut kept)?;
        Ok(Self {
            cname,
            email,
            tenant_type,
            locale,
            details: signup::SignupDetails {
                company_name,
                mailing_address: Value::Object(kept),
                first_name: domain::person_name("first_name", r.user_details.first_name, 128)?,
                last_name: domain::person_name("last_name", r.user_details.last_name, 128)?,
                contact_number: domain::optional("contact_number", r.user_details.contact_number, 64)?,
                tos_version: domain::required("tos_version", r.account_details.tos_version, 64)?,
                tos_accepted_at: domain::optional("tos_accepted_at", r.account_details.tos_accepted_at, 64)?,
            },
        })
    }
}

/// Flow 6's rules on a signup's address, before anything is stored; the
/// stored address gets the canonical codes (`US`, `WA`) and, when only the
/// code was sent, the subdivision's name.
fn check_address(kept: &mut serde_json::Map<String, Value>) -> Result<(), domain::Invalid> {
    let field = |name: &str| kept.get(name).and_then(Value::as_str);
    let raw = contact::RawAddress { country: field("country"), state_code: field("state_code"), zip_code: field("zip_code") };
    let address = contact::check(raw).into_result().map_err(|e| domain::Invalid::new(e.field.signup_path(), e.message))?;
    kept.insert("country".into(), address.country.code.into());
    if let Some(sub) = address.subdivision {
        kept.insert("state_code".into(), sub.code.into());
        kept.entry("state").or_insert_with(|| sub.name.into());
    }
    Ok(())
}

#[derive(Serialize)]
struct SendResult {
    message: &'static str,
    success: bool,
}

async fn create_signup(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<Json<SendResult>, Error> {
    let new = signup::NewSignup::try_from(req)?;
    signup::create(&state.ctx, &client.caller(), new).await?;
    Ok(Json(SendResult { message: "Thank you for signing up. Check your email for a link to complete the signup.", success: true }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenRequest {
    token: Option<String>,
}

fn token_field(raw: Option<String>) -> Result<String, Error> {
    let token = raw.map(|t| t.trim().to_owned()).unwrap_or_default();
    if token.is_empty() {
        return Err(Error::invalid("token", "is required"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::invalid("token", "must be at most 1024 characters"));
    }
    Ok(token)
}

async fn send_signup_email(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<TokenRequest>,
) -> Result<Json<SendResult>, Error> {
    let token = token_field(req.token)?;
    signup::resend(&state.ctx, &client.caller(), &token).await?;
    Ok(Json(SendResult { message: "A new signup email is on its way.", success: true }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ValidateRequest {
    email: Option<String>,
    tenant_type: Option<String>,
    token: Option<String>,
}

#[derive(Serialize)]
struct ValidateResponse {
    err: signup::RegistrationErr,
    valid_registration: bool,
}

async fn validate_registration(
    State(state): State<AppState>,
    AppJson(req): AppJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, Error> {
    let email = EmailAddress::parse_field("email", req.email.as_deref())?;
    let tenant_type = TenantType::parse("tenant_type", req.tenant_type.as_deref())?;
    let token = token_field(req.token)?;
    let err = signup::validate(&state.ctx, &email, tenant_type, &token).await?;
    Ok(Json(ValidateResponse { err, valid_registration: err == signup::RegistrationErr::ETOKEN_OK }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DetailsQuery {
    token: Option<String>,
}

async fn registration_details(State(state): State<AppState>, Query(q): Query<DetailsQuery>) -> Result<Json<Value>, Error> {
    let token = token_field(q.token)?;
    let d = signup::details(&state.ctx, &token).await?;
    let mut body = json!({ "email": d.email, "domain": d.cname, "tenant_type": d.tenant_type });
    if let Some(url) = d.console_url {
        body["console_url"] = Value::String(url);
    }
    if let Some(message) = d.error_message {
        body["error_message"] = Value::from(message);
    }
    Ok(Json(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CompleteRequest {
    token: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
struct CompleteResponse {
    cname: String,
    email: String,
}

async fn complete_signup(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<CompleteRequest>,
) -> Result<Json<CompleteResponse>, Error> {
    let token = token_field(req.token)?;
    let password = req.password.filter(|p| !p.is_empty());
    let done = signup::complete(&state.ctx, &client.caller(), &token, password).await?;
    Ok(Json(CompleteResponse { cname: done.cname, email: done.email }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendPasswordRequest {
    cname: Option<String>,
    email: Option<String>,
}

async fn send_password_email(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SendPasswordRequest>,
) -> Result<Json<Value>, Error> {
    let cname = Cname::parse("cname", req.cname.as_deref().unwrap_or_default())?;
    let email = EmailAddress::parse_field("email", req.email.as_deref())?;
    password::send_email(&state.ctx, &client.caller(), &cname, &email).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SetPasswordRequest {
    token: Option<String>,
    password: Option<String>,
}

async fn set_password(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SetPasswordRequest>,
) -> Result<Json<Value>, Error> {
    let token = token_field(req.token)?;
    let pw = req.password.unwrap_or_default();
    if pw.is_empty() {
        return Err(Error::invalid("password", "is required"));
    }
    password::set(&state.ctx, &client.caller(), &token, pw).await?;
    Ok(Json(json!({})))
}
