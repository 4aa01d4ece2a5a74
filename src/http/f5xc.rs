use super::AppState;
use super::extract::{AppJson, AppQuery, ClientAddr};
use super::openapi::{BadParameter, BodyErrors, Conflict, NotFound, Throttled, Unavailable};
use crate::contact;
use crate::domain::{self, Cname, EmailAddress, Locale, Problems, Rule, TenantType};
use crate::error::HttpError;
use crate::flows::{password, signup};
use crate::tokens::MAX_TOKEN_LEN;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_signup))
        .routes(routes!(send_signup_email))
        .routes(routes!(registration_details))
        .routes(routes!(complete_signup))
        .routes(routes!(validate_registration))
        .routes(routes!(send_password_email))
        .routes(routes!(set_password))
}

// Options, not `serde(default)`, which would put every default into the document.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = aws_accountAWSAccountSignupRequest)]
pub struct SignupRequest {
    account_details: Option<AccountDetails>,
    company_details: Option<CompanyDetails>,
    user_details: Option<UserDetails>,
    #[schema(value_type = Option<TenantType>)]
    tenant_type: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupAccountMeta)]
struct AccountDetails {
    /// The tenant's cname: a DNS label of at most 17 characters, and not a reserved name (`ves`, `volterra`, `f5`,
    /// the service's own and the operator's). Required.
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 17,
        pattern = "^[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?$",
        example = "acme"
    )]
    domain: Option<String>,
    #[schema(example = "en-US")]
    locale: Option<String>,
    #[schema(example = "2026-01-02T03:04:05Z")]
    tos_accepted_at: Option<String>,
    /// At most 12 characters. Required.
    #[schema(min_length = 1, max_length = 12, example = "2026-01")]
    tos_version: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupCompanyMeta)]
struct CompanyDetails {
    /// Required.
    #[schema(example = "Acme Inc.")]
    name: Option<String>,
    /// Required: at least its `country`, and its `zip_code` where the country has postal codes.
    mailing_address: Option<MailingAddress>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupUserMeta)]
struct UserDetails {
    /// Required.
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
        max_length = 1024,
        example = "admin@email.com"
    )]
    email: Option<String>,
    #[schema(example = "Ada")]
    first_name: Option<String>,
    #[schema(example = "Lovelace")]
    last_name: Option<String>,
    #[schema(example = "+11234567890")]
    contact_number: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupContactMeta)]
pub(super) struct MailingAddress {
    #[schema(example = "1234 Main road")]
    address1: Option<String>,
    address2: Option<String>,
    #[schema(example = "Sunnyvale")]
    city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "US")]
    country: Option<String>,
    county: Option<String>,
    phone_number: Option<String>,
    state: Option<String>,
    /// ISO 3166-2, with or without the country (`CA`, `US-CA`).
    #[schema(example = "CA")]
    state_code: Option<String>,
    #[schema(example = "94086")]
    zip_code: Option<String>,
}

impl MailingAddress {
    fn parse(self, problems: &mut Problems) -> Option<signup::MailingAddress> {
        let mut field = |value| problems.check(domain::optional("mailing_address", value, 256));
        let address = signup::MailingAddress {
            address1: field(self.address1)?,
            address2: field(self.address2)?,
            city: field(self.city)?,
            country: field(self.country)?,
            county: field(self.county)?,
            phone_number: field(self.phone_number)?,
            state: field(self.state)?,
            state_code: field(self.state_code)?,
            zip_code: field(self.zip_code)?,
        };
        Some(address)
    }
}

impl SignupRequest {
    /// Every problem of the request, in the order of the form (the account first): the tenant
    /// form shows them all, the API answers the first.
    pub(crate) fn check(self) -> Result<signup::NewSignup, Vec<domain::Invalid>> {
        let (account, company, user) =
            (self.account_details.unwrap_or_default(), self.company_details.unwrap_or_default(), self.user_details.unwrap_or_default());
        let mut p = Problems::default();
        let address = company.mailing_address.unwrap_or_default().parse(&mut p);
        let cname = p.check(Cname::parse_new_tenant("domain", account.domain.as_deref().unwrap_or_default()));
        let email = p.check(EmailAddress::parse_field("email", user.email.as_deref()));
        let tenant_type = p.check(TenantType::parse("tenant_type", self.tenant_type.as_deref()));
        let locale = p.check(Locale::parse("locale", account.locale.as_deref()));
        let company_name = p.check(domain::required("company_details.name", company.name, 256));
        // An address with a field too long is not looked up: its other fields may be cut short too.
        let address = address.and_then(|mut a| p.check(check_address(&mut a)).map(|()| a));
        let first_name = p.check(domain::person_name("first_name", user.first_name, 128));
        let last_name = p.check(domain::person_name("last_name", user.last_name, 128));
        let contact_number = p.check(domain::optional("contact_number", user.contact_number, 64));
        let tos_version = p.check(domain::required("tos_version", account.tos_version, domain::TOS_VERSION_MAX));
        let tos_accepted_at = p.check(domain::optional("tos_accepted_at", account.tos_accepted_at, 64));
        let (
            Some(cname),
            Some(email),
            Some(tenant_type),
            Some(locale),
            Some(company_name),
            Some(mailing_address),
            Some(first_name),
            Some(last_name),
            Some(contact_number),
            Some(tos_version),
            Some(tos_accepted_at),
        ) = (cname, email, tenant_type, locale, company_name, address, first_name, last_name, contact_number, tos_version, tos_accepted_at)
        else {
            return Err(p.into_vec());
        };
        let details =
            signup::SignupDetails { company_name, mailing_address, first_name, last_name, contact_number, tos_version, tos_accepted_at };
        Ok(signup::NewSignup { cname, email, tenant_type, locale, details })
    }
}

impl TryFrom<SignupRequest> for signup::NewSignup {
    type Error = domain::Invalid;

    fn try_from(r: SignupRequest) -> Result<Self, Self::Error> {
        r.check().map_err(domain::first)
    }
}

fn check_address(a: &mut signup::MailingAddress) -> Result<(), domain::Invalid> {
    let raw = contact::RawAddress { country: a.country.as_deref(), state_code: a.state_code.as_deref(), zip_code: a.zip_code.as_deref() };
    let verdict = contact::check(raw);
    let rule = address_rule(verdict.err, verdict.country);
    let checked = verdict.into_result().map_err(|e| domain::Invalid::worded(e.field.signup_path(), rule, e.message))?;
    a.country = Some(checked.country.code.into());
    if let Some(sub) = checked.subdivision {
        a.state_code = Some(sub.code.into());
        a.state.get_or_insert_with(|| sub.name.into());
    }
    Ok(())
}

/// The rule behind the contact directory's first refusal, told by F5's code for it (a refused
/// subdivision has none: it is the one refusal past F5's checks).
fn address_rule(err: contact::ContactErr, country: Option<&contact::Country>) -> Rule {
    let name = || country.map(|c| c.name.to_owned()).unwrap_or_default();
    match err {
        contact::ContactErr::ECONTACT_EMPTY_COUNTRY => Rule::Required,
        contact::ContactErr::ECONTACT_UNKNOWN_COUNTRY => Rule::UnknownCountry,
        contact::ContactErr::ECONTACT_EMPTY_ZIP_CODE => Rule::ZipRequired { country: name() },
        contact::ContactErr::ECONTACT_INVALID_ZIP => {
            Rule::ZipMismatch { country: name(), example: country.and_then(|c| c.zip_example).map(str::to_owned) }
        }
        contact::ContactErr::ECONTACT_VALIDATE_OK if country.is_some() => Rule::NotASubdivision { country: name() },
        contact::ContactErr::ECONTACT_VALIDATE_OK => Rule::Required,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = xc_saasSendEmailResponse)]
struct SendResult {
    message: &'static str,
    success: bool,
}

#[utoipa::path(
    post,
    path = "/no_auth/namespaces/system/f5xc-saas/signup",
    operation_id = "ves.io.schema.marketplace.aws_account.OnboardCustomAPI.SignupAWSAccount",
    summary = "Creates a signup and mails its link. The answer is the same whether or not the address already has an account.",
    tag = "F5 XC",
    request_body = SignupRequest,
    responses((status = 200, description = "The signup email is queued.", body = SendResult), BodyErrors, Conflict, Throttled, Unavailable)
)]
async fn create_signup(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<Json<SendResult>, HttpError> {
    let new = signup::NewSignup::try_from(req)?;
    signup::create(&state.ctx, &client.caller(), new).await?;
    Ok(Json(SendResult { message: "Thank you for signing up. Check your email for a link to complete the signup.", success: true }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = xc_saasSendSignupEmailRequest)]
struct TokenRequest {
    /// The token of a signup link, even an expired or superseded one.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1024)]
    token: Option<String>,
}

fn token_field(raw: Option<String>) -> Result<String, HttpError> {
    let token = raw.map(|t| t.trim().to_owned()).unwrap_or_default();
    if token.is_empty() {
        return Err(HttpError::invalid("token", "is required"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(HttpError::invalid("token", "must be at most 1024 characters"));
    }
    Ok(token)
}

#[utoipa::path(
    post,
    path = "/no_auth/namespaces/system/f5xc-saas/signup/send_email",
    operation_id = "ves.io.schema.marketplace.xc_saas.CustomAPI.SendSignupEmail",
    summary = "Mails a fresh signup link for an old (even expired) token, superseding the earlier ones.",
    tag = "F5 XC",
    request_body = TokenRequest,
    responses((status = 200, description = "A new signup email is queued.", body = SendResult), BodyErrors, NotFound, Conflict, Throttled, Unavailable)
)]
async fn send_signup_email(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<TokenRequest>,
) -> Result<Json<SendResult>, HttpError> {
    let token = token_field(req.token)?;
    signup::resend(&state.ctx, &client.caller(), &token).await?;
    Ok(Json(SendResult { message: "A new signup email is on its way.", success: true }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupValidateRegistrationRequest)]
struct ValidateRequest {
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
        max_length = 1024,
        example = "admin@email.com"
    )]
    email: Option<String>,
    #[schema(value_type = Option<TenantType>)]
    tenant_type: Option<String>,
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1024)]
    token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupValidateRegistrationResponse)]
struct ValidateResponse {
    err: signup::RegistrationErr,
    valid_registration: bool,
}

#[utoipa::path(
    post,
    path = "/no_auth/login/validate_registration",
    operation_id = "ves.io.schema.signup.CustomAPI.ValidateRegistration",
    summary = "Whether a signup link may go on, as an `err` code checked in a fixed order.",
    tag = "F5 XC",
    request_body = ValidateRequest,
    responses((status = 200, description = "The verdict, in `err`.", body = ValidateResponse), BodyErrors, Throttled, Unavailable)
)]
async fn validate_registration(
    State(state): State<AppState>,
    AppJson(req): AppJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, HttpError> {
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

#[derive(Serialize, ToSchema)]
#[schema(as = xc_saasGetRegistrationDetailsResponse)]
struct RegistrationDetails {
    email: String,
    /// The cname asked for.
    domain: String,
    tenant_type: TenantType,
    /// Once the tenant exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    console_url: Option<String>,
    /// For a person, when the signup cannot go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<String>, example = "Your account is already active. Please log in to continue.")]
    error_message: Option<&'static str>,
}

#[utoipa::path(
    get,
    path = "/no_auth/namespaces/system/f5xc-saas/signup/registration_details",
    operation_id = "ves.io.schema.marketplace.xc_saas.CustomAPI.GetRegistrationDetails",
    summary = "What the signup page shows before completing. Reads only: never spends the token.",
    tag = "F5 XC",
    params(("token" = String, Query, description = "The token of the signup link.")),
    responses((status = 200, description = "The signup.", body = RegistrationDetails), BadParameter, NotFound, Throttled, Unavailable)
)]
async fn registration_details(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<DetailsQuery>,
) -> Result<Json<RegistrationDetails>, HttpError> {
    let token = token_field(q.token)?;
    let d = signup::details(&state.ctx, &token).await?;
    Ok(Json(RegistrationDetails {
        email: d.email,
        domain: d.cname,
        tenant_type: d.tenant_type,
        console_url: d.console_url,
        error_message: d.error_message,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = usherCompleteSignupRequest)]
struct CompleteRequest {
    /// The token of the signup link.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1024)]
    token: Option<String>,
    /// The first user's password; without it a password link is mailed.
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = usherCompleteSignupResponse)]
struct CompleteResponse {
    cname: String,
    email: String,
}

#[utoipa::path(
    post,
    path = "/no_auth/namespaces/system/f5xc-saas/signup/complete",
    operation_id = "usher.CompleteSignup",
    summary = "usher's own: creates the tenant and its first user from a signup link (F5 does this inside its console).",
    tag = "F5 XC",
    request_body = CompleteRequest,
    responses((status = 200, description = "The tenant and its first user exist.", body = CompleteResponse), BodyErrors, NotFound, Conflict, Throttled, Unavailable)
)]
async fn complete_signup(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<CompleteRequest>,
) -> Result<Json<CompleteResponse>, HttpError> {
    let token = token_field(req.token)?;
    let password = req.password.filter(|p| !p.is_empty());
    let done = signup::complete(&state.ctx, &client.caller(), &token, password).await?;
    Ok(Json(CompleteResponse { cname: done.cname, email: done.email }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupSendPasswordEmailRequest)]
struct SendPasswordRequest {
    #[schema(required = true, nullable = false, pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", example = "volterra")]
    cname: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
        max_length = 1024,
        example = "admin@email.com"
    )]
    email: Option<String>,
}

#[utoipa::path(
    post,
    path = "/no_auth/send_password_email",
    operation_id = "ves.io.schema.signup.CustomAPI.SendPasswordEmail",
    summary = "Mails a link to set the password. The same answer whether or not the tenant or the user exists.",
    tag = "F5 XC",
    request_body = SendPasswordRequest,
    responses((status = 200, description = "Accepted; a link is mailed if the user exists.", body = Object), BodyErrors, Throttled, Unavailable)
)]
async fn send_password_email(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SendPasswordRequest>,
) -> Result<Json<Value>, HttpError> {
    let (cname, email) = password_email_request(req.cname.as_deref(), req.email.as_deref()).map_err(domain::first)?;
    password::send_email(&state.ctx, &client.caller(), &cname, &email).await?;
    Ok(Json(json!({})))
}

/// The tenant and the address a password email is asked for, by the API and the forgotten-password page alike.
pub(crate) fn password_email_request(cname: Option<&str>, email: Option<&str>) -> Result<(Cname, EmailAddress), Vec<domain::Invalid>> {
    let mut p = Problems::default();
    let cname = p.check(Cname::parse("cname", cname.unwrap_or_default()));
    let email = p.check(EmailAddress::parse_field("email", email));
    match (cname, email) {
        (Some(cname), Some(email)) => Ok((cname, email)),
        _ => Err(p.into_vec()),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = usherSetPasswordRequest)]
struct SetPasswordRequest {
    /// The token of a password link.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1024)]
    token: Option<String>,
    /// 8 to 1024 characters, not too guessable.
    #[schema(required = true, nullable = false, min_length = 8, max_length = 1024)]
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/no_auth/password/set",
    operation_id = "usher.SetPassword",
    summary = "usher's own: sets the password with a password link's token.",
    tag = "F5 XC",
    request_body = SetPasswordRequest,
    responses((status = 200, description = "The password is set and the user active.", body = Object), BodyErrors, Throttled, Unavailable)
)]
async fn set_password(
    State(state): State<AppState>,
    client: ClientAddr,
    AppJson(req): AppJson<SetPasswordRequest>,
) -> Result<Json<Value>, HttpError> {
    let token = token_field(req.token)?;
    let pw = req.password.unwrap_or_default();
    if pw.is_empty() {
        return Err(HttpError::invalid("password", "is required"));
    }
    password::set(&state.ctx, &client.caller(), &token, pw).await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_json;

    fn signup_with_address(address: Value) -> Result<signup::NewSignup, HttpError> {
        let body = json!({
            "account_details": { "domain": "acme", "tos_version": "2026-01" },
            "company_details": { "name": "Acme", "mailing_address": address },
            "user_details": { "email": "jane@example.com", "first_name": "Jane", "last_name": "Doe" },
        });
        Ok(signup::NewSignup::try_from(parse_json::<SignupRequest>(body.to_string().as_bytes())?)?)
    }

    #[test]
    fn the_mailing_address_keeps_f5s_fields_trimmed_and_canonical_and_ignores_the_rest() {
        let new = signup_with_address(
            json!({ "address1": " 1 Main St ", "city": "", "county": null, "country": "us", "zip_code": "98101", "floor": 3 }),
        )
        .unwrap();
        let stored = serde_json::to_value(&new.details.mailing_address).unwrap();
        assert_eq!(stored, json!({ "address1": "1 Main St", "country": "US", "zip_code": "98101" }));
    }

    #[test]
    fn a_mailing_address_field_that_is_not_a_string_is_refused_on_mailing_address() {
        for address in [json!({ "country": "US", "zip_code": 98101 }), json!("1 Main St")] {
            match signup_with_address(address) {
                Err(HttpError::Invalid { field, .. }) => assert_eq!(field, "mailing_address"),
                other => panic!("{other:?}"),
            }
        }
    }
}
