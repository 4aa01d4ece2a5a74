use super::AppState;
use super::extract::{ClientAddr, body, content_type_is, parse_json};
use super::openapi::{AkanaErrors, BodyErrors, Throttled, Unavailable};
use crate::config::Settings;
use crate::domain::{self, Cname, EmailAddress};
use crate::error::HttpError;
use crate::flows::{Caller, akana};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup_user))
        .routes(routes!(verify_signup))
        .routes(routes!(complete_signup))
        .routes(routes!(resend_activation))
}

#[derive(ToSchema)]
#[schema(as = akanaSignupUser)]
#[allow(dead_code, non_snake_case)]
struct SignupUserFields {
    /// Required.
    #[schema(example = "Ada")]
    firstName: String,
    /// Required.
    #[schema(example = "Lovelace")]
    lastName: String,
    /// Required (`Email` in Akana's JSON User object).
    #[schema(example = "ada@example.com")]
    emailAddress: String,
    phone: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = akanaVerifySignup)]
#[allow(dead_code, non_snake_case)]
struct VerifySignupFields {
    /// The code from the activation email. Required.
    signupCode: String,
}

/// `completeSignup`'s fields (8.4's JSON body carries more, which is ignored).
#[derive(ToSchema)]
#[schema(as = akanaCompleteSignup)]
#[allow(dead_code, non_snake_case)]
struct CompleteSignupFields {
    /// Required, here or in the query.
    signupCode: String,
    /// Required, here or in the query.
    password: String,
}

#[derive(ToSchema)]
#[schema(as = akanaResendActivation)]
#[allow(dead_code, non_snake_case)]
struct ResendActivationFields {
    /// Required.
    #[schema(example = "ada@example.com")]
    emailAddress: String,
}

/// Akana's `SignupResponse` fields that usher knows, and usher's own `status`.
#[derive(Serialize, ToSchema)]
#[schema(as = akanaSignupResponse)]
#[serde(rename_all = "camelCase")]
struct SignupResponse {
    email_address: String,
    first_name: String,
    last_name: String,
    /// The developer portal (tenant).
    domain_name: String,
    expired: bool,
    /// The user's state.
    #[schema(example = "pending")]
    state: String,
    #[schema(example = "PENDING_COMPLETION")]
    signup_status: &'static str,
    #[schema(example = "PENDING_COMPLETION")]
    status: &'static str,
}

const JSON: &str = "application/json";
const VENDOR_TYPES: &[&str] =
    &["application/vnd.soa.v71+json", "application/vnd.soa.v72+json", "application/vnd.soa.v80+json", "application/vnd.soa.v81+json"];

pub struct Negotiated(pub &'static str);

impl<S: Send + Sync> FromRequestParts<S> for Negotiated {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        let accept: Vec<&str> = parts.headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
        negotiate(&accept).map(Self).ok_or(HttpError::NotAcceptable)
    }
}

struct MediaRange {
    range: String,
    quality: u16,
    position: usize,
}

impl MediaRange {
    /// The most specific matching range decides a type's quality (RFC 9110 §12.5.1).
    fn specificity(&self, media_type: &str) -> u8 {
        match self.range.as_str() {
            "*/*" => 1,
            r if r == media_type => 3,
            r => r.strip_suffix("/*").filter(|main| media_type.split('/').next() == Some(*main)).map_or(0, |_| 2),
        }
    }
}

fn media_ranges(accept: &[&str]) -> Vec<MediaRange> {
    let items = accept.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|r| !r.is_empty());
    items
        .enumerate()
        .map(|(position, item)| {
            let mut params = item.split(';').map(str::trim);
            let range = params.next().unwrap_or_default().to_ascii_lowercase();
            let q = params.filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case("q"));
            // A malformed q counts as 1: a sloppy client still means the type.
            let quality = q.and_then(|(_, v)| v.trim().parse::<f32>().ok()).map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u16);
            MediaRange { range, quality, position }
        })
        .collect()
}

pub fn negotiate(accept: &[&str]) -> Option<&'static str> {
    let ranges = media_ranges(accept);
    if ranges.is_empty() {
        return Some(JSON);
    }
    let candidates = std::iter::once(JSON).chain(VENDOR_TYPES.iter().copied()).enumerate();
    let rated = candidates.filter_map(|(preference, media_type)| {
        let decisive = ranges.iter().filter(|r| r.specificity(media_type) > 0).max_by_key(|r| (r.specificity(media_type), r.quality))?;
        let key = (decisive.quality, decisive.specificity(media_type), std::cmp::Reverse(decisive.position), std::cmp::Reverse(preference));
        (decisive.quality > 0).then_some((key, media_type))
    });
    rated.max_by_key(|(key, _)| *key).map(|(_, media_type)| media_type)
}

pub fn tenant_of(settings: &Settings, headers: &HeaderMap) -> Result<Cname, HttpError> {
    let Some(base) = &settings.tenancy_base_domain else { return Ok(settings.default_tenant.clone()) };
    let host = super::security::host_name(headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    match host.strip_suffix(base.as_str()).and_then(|rest| rest.strip_suffix('.')) {
        Some(sub) => Cname::parse("host", sub).map_err(|_| HttpError::NotFound(super::answers::NO_PORTAL.into())),
        None => Ok(settings.default_tenant.clone()),
    }
}

/// No `Debug`: it may hold a password.
#[derive(Default)]
struct Fields(HashMap<&'static str, String>);

const FIELD_NAMES: &[(&str, &str)] = &[
    ("firstname", "firstName"),
    ("lastname", "lastName"),
    ("emailaddress", "emailAddress"),
    ("email", "emailAddress"),
    ("phone", "phone"),
    ("phonenumber", "phone"),
    ("signupcode", "signupCode"),
    ("password", "password"),
];

fn known_field(name: &str) -> Option<&'static str> {
    FIELD_NAMES.iter().find(|(spelling, _)| name.eq_ignore_ascii_case(spelling)).map(|(_, field)| *field)
}

impl Fields {
    /// Two spellings of one field must agree: which one usher took would otherwise be a guess.
    fn insert(&mut self, name: &str, value: String) -> Result<(), HttpError> {
        let Some(field) = known_field(name) else { return Ok(()) };
        match self.0.get(field) {
            Some(earlier) if *earlier != value => Err(HttpError::invalid(field, "is given twice with different values")),
            _ => {
                self.0.insert(field, value);
                Ok(())
            }
        }
    }

    fn from_form(bytes: &[u8]) -> Result<Self, HttpError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(bytes).map_err(|_| HttpError::invalid("body", "is not a valid form"))?;
        let mut fields = Self::default();
        for (name, value) in pairs {
            fields.insert(&name, value)?;
        }
        Ok(fields)
    }

    fn from_json(bytes: &[u8]) -> Result<Self, HttpError> {
        let Value::Object(object) = parse_json::<Value>(bytes)? else {
            return Err(HttpError::invalid("body", "must be a JSON object"));
        };
        let mut fields = Self::default();
        for (name, value) in object {
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                // Akana 8.4 also sends objects (`classifiers`) and flags that usher has no use for.
                _ if known_field(&name).is_none() => continue,
                _ => return Err(HttpError::invalid(known_field(&name).unwrap_or("body"), "must be a string")),
            };
            fields.insert(&name, text)?;
        }
        Ok(fields)
    }

    fn get(&self, field: &str) -> Option<String> {
        self.0.get(field).cloned()
    }

    fn or(mut self, fallback: Self) -> Self {
        for (field, value) in fallback.0 {
            self.0.entry(field).or_insert(value);
        }
        self
    }
}

/// An empty body needs no content type: older clients send `completeSignup`'s fields in the query.
async fn fields_of(state: &AppState, req: Request) -> Result<Fields, HttpError> {
    let form = content_type_is(req.headers(), "application/x-www-form-urlencoded");
    let json = content_type_is(req.headers(), "application/json");
    let typed = req.headers().contains_key(header::CONTENT_TYPE);
    if typed && !form && !json {
        return Err(HttpError::UnsupportedMediaType { expected: "application/x-www-form-urlencoded or application/json" });
    }
    let bytes = body(req, state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(Fields::default())
    } else if json {
        Fields::from_json(&bytes)
    } else if form {
        Fields::from_form(&bytes)
    } else {
        Err(HttpError::UnsupportedMediaType { expected: "application/x-www-form-urlencoded or application/json" })
    }
}

fn empty_ok(content_type: &'static str) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn signup_code(fields: &Fields) -> Result<String, HttpError> {
    let code = fields.get("signupCode").unwrap_or_default();
    let code = code.trim();
    if code.is_empty() {
        return Err(HttpError::invalid("signupCode", "is required"));
    }
    if code.len() > crate::tokens::MAX_TOKEN_LEN {
        return Err(HttpError::invalid("signupCode", "must be at most 1024 characters"));
    }
    Ok(code.to_owned())
}

/// Extracted in the order of Akana's errors: 406, 404, then the body's 415 and 400.
struct AkanaCall {
    answer_as: &'static str,
    cname: Cname,
    caller: Caller,
    fields: Fields,
    query: Option<String>,
}

impl FromRequest<AppState> for AkanaCall {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpError> {
        let (mut parts, body) = req.into_parts();
        let Negotiated(answer_as) = Negotiated::from_request_parts(&mut parts, state).await?;
        let caller = ClientAddr::from_request_parts(&mut parts, state).await?.caller();
        let cname = tenant_of(&state.ctx.settings, &parts.headers)?;
        let query = parts.uri.query().map(str::to_owned);
        let fields = fields_of(state, Request::from_parts(parts, body)).await?;
        Ok(Self { answer_as, cname, caller, fields, query })
    }
}

#[utoipa::path(
    post,
    path = "/api/users/signupUser",
    operation_id = "akana.users.signupUser",
    summary = "Also takes Akana's User object (`FirstName`, `LastName`, `Email`, `Phone`); its `Password` is not kept, since the password is set only with the emailed code, at `completeSignup`.",
    tag = "Akana",
    request_body(content(
        (SignupUserFields = "application/x-www-form-urlencoded"),
        (SignupUserFields = "application/json"),
    )),
    responses(
        (status = 200, description = "No body. An activation email is queued (or, for a registered address, \"you already have an account\"): the same answer either way."),
        BodyErrors, AkanaErrors, Throttled, Unavailable
    )
)]
async fn signup_user(State(state): State<AppState>, call: AkanaCall) -> Result<Response, HttpError> {
    let fields = call.fields;
    let new = new_developer(fields.get("firstName"), fields.get("lastName"), fields.get("emailAddress"), fields.get("phone"))
        .map_err(domain::first)?;
    akana::signup_user(&state.ctx, &call.caller, &call.cname, new).await?;
    Ok(empty_ok(call.answer_as))
}

/// `signupUser`'s fields, every problem in their order: the developer form shows them all, the API
/// answers the first.
pub(crate) fn new_developer(
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
) -> Result<akana::NewDeveloper, Vec<domain::Invalid>> {
    let mut p = domain::Problems::default();
    let first_name = p.check(domain::person_name("firstName", first_name, 128));
    let last_name = p.check(domain::person_name("lastName", last_name, 128));
    let email = p.check(EmailAddress::parse_field("emailAddress", email.as_deref()));
    let phone = p.check(domain::optional("phone", phone, 64));
    match (first_name, last_name, email, phone) {
        (Some(first_name), Some(last_name), Some(email), Some(phone)) => Ok(akana::NewDeveloper { first_name, last_name, email, phone }),
        _ => Err(p.into_vec()),
    }
}

#[utoipa::path(
    post,
    path = "/api/users/resendActivation",
    operation_id = "akana.users.resendActivation",
    summary = "Mails a fresh activation code; the same answer for unknown addresses.",
    tag = "Akana",
    request_body(content(
        (ResendActivationFields = "application/x-www-form-urlencoded"),
        (ResendActivationFields = "application/json"),
    )),
    responses(
        (status = 200, description = "No body; `Cache-Control: no-cache`.", headers(("Cache-Control" = String, description = "`no-cache`."))),
        BodyErrors, AkanaErrors, Throttled, Unavailable
    )
)]
async fn resend_activation(State(state): State<AppState>, call: AkanaCall) -> Result<Response, HttpError> {
    let email = EmailAddress::parse_field("emailAddress", call.fields.get("emailAddress").as_deref())?;
    akana::resend_activation(&state.ctx, &call.caller, &call.cname, &email).await?;
    Ok(empty_ok(call.answer_as))
}

#[utoipa::path(
    post,
    path = "/api/users/verifySignup",
    operation_id = "akana.users.verifySignup",
    summary = "Reads an activation code; an expired one is 400 `TOKEN_EXPIRED` and a fresh code is mailed, as Akana does.",
    tag = "Akana",
    request_body(content(
        (VerifySignupFields = "application/x-www-form-urlencoded"),
        (VerifySignupFields = "application/json"),
    )),
    responses(
        (status = 200, description = "The pending signup; `Content-Type` is the negotiated type.", content(
            (SignupResponse = "application/json"),
            (SignupResponse = "application/vnd.soa.v71+json"),
            (SignupResponse = "application/vnd.soa.v72+json"),
            (SignupResponse = "application/vnd.soa.v80+json"),
            (SignupResponse = "application/vnd.soa.v81+json"),
        )),
        BodyErrors, AkanaErrors, Throttled, Unavailable
    )
)]
async fn verify_signup(State(state): State<AppState>, call: AkanaCall) -> Result<Response, HttpError> {
    let v = akana::verify_signup(&state.ctx, &call.caller, &call.cname, &signup_code(&call.fields)?).await?;
    let body = SignupResponse {
        email_address: v.email,
        first_name: v.first_name,
        last_name: v.last_name,
        domain_name: v.domain_name,
        expired: v.expired,
        state: v.state.as_str().to_owned(),
        signup_status: v.status,
        status: v.status,
    };
    let mut response = empty_ok(call.answer_as);
    *response.body_mut() = axum::body::Body::from(
        serde_json::to_string(&body).map_err(|e| anyhow::Error::from(e).context("encoding the verifySignup answer"))?,
    );
    // Unlike the empty answers, this one names the person: no cache may keep it.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/users/completeSignup",
    operation_id = "akana.users.completeSignup",
    summary = "The body (form, or 8.4's PascalCase JSON), or in older releases `?password=…&signupCode=…` in the query; the code names the user, so the body's names and address are not read.",
    tag = "Akana",
    params(
        ("signupCode" = Option<String>, Query, description = "Older clients' place for the code, with no body."),
        ("password" = Option<String>, Query, description = "Older clients' place for the password, with no body."),
    ),
    request_body(content(
        (CompleteSignupFields = "application/x-www-form-urlencoded"),
        (CompleteSignupFields = "application/json"),
    )),
    responses((status = 200, description = "No body; the user is active."), BodyErrors, AkanaErrors, Throttled, Unavailable)
)]
async fn complete_signup(State(state): State<AppState>, call: AkanaCall) -> Result<Response, HttpError> {
    let query = Fields::from_form(call.query.as_deref().unwrap_or_default().as_bytes())?;
    let fields = call.fields.or(query);
    let code = signup_code(&fields)?;
    let password = fields.get("password").filter(|p| !p.is_empty()).ok_or_else(|| HttpError::invalid("password", "is required"))?;
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

    #[test]
    fn the_best_rated_acceptable_type_wins_and_q_zero_refuses() {
        assert_eq!(negotiate(&["application/json, text/javascript, */*; q=0.01"]), Some("application/json"));
        assert_eq!(negotiate(&["*/*;q=0.1, application/vnd.soa.v80+json"]), Some("application/vnd.soa.v80+json"));
        assert_eq!(
            negotiate(&["application/vnd.soa.v71+json;q=0.5, application/vnd.soa.v81+json;q=0.8"]),
            Some("application/vnd.soa.v81+json")
        );
        assert_eq!(negotiate(&["text/html;q=1", "application/*;q=0.2"]), Some("application/json"));
        assert_eq!(negotiate(&["application/json;q=0, application/vnd.soa.v72+json;q=0.3"]), Some("application/vnd.soa.v72+json"));
        assert_eq!(negotiate(&["application/json;q=0"]), None);
        assert_eq!(negotiate(&["*/*;q=0"]), None);
        assert_eq!(negotiate(&["APPLICATION/JSON;Q=0.9"]), Some("application/json"));
    }

    #[test]
    fn field_names_match_whatever_their_case_and_two_spellings_must_agree() {
        let fields =
            Fields::from_json(br#"{"SignupCode": "c", "PASSWORD": "p", "classifiers": {"a": [""]}, "SignupAgreementsAccepted": true}"#)
                .unwrap();
        assert_eq!((fields.get("signupCode").as_deref(), fields.get("password").as_deref()), (Some("c"), Some("p")));
        let fields = Fields::from_form(b"FIRSTNAME=Jane&Email=j%40example.com&emailaddress=j%40example.com").unwrap();
        assert_eq!((fields.get("firstName").as_deref(), fields.get("emailAddress").as_deref()), (Some("Jane"), Some("j@example.com")));
        assert!(Fields::from_form(b"Email=a%40example.com&EmailAddress=b%40example.com").is_err());
        assert!(Fields::from_json(br#"{"SignupCode": ["c"]}"#).is_err());
    }
}
