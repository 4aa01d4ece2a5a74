use super::{AppState, error_page, page, path, read_checked};
use crate::clock;
use crate::config::HomePage;
use crate::contact::{self, Country};
use crate::domain::{self, EmailAddress, Locale};
use crate::error::HttpError;
use crate::flows::{self, Conflict, Context, akana, signup};
use crate::http::extract::ClientAddr;
use crate::http::f5xc::SignupRequest;
use crate::http::openapi::{PageErrors, PageThrottled};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const TENANT_FORM: &str = "/signup/tenant";
pub const DEVELOPER_FORM: &str = "/signup/developer";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(home)).routes(routes!(tenant_page, tenant_submit)).routes(routes!(developer_page, developer_submit))
}

#[utoipa::path(get, path = "/", operation_id = "usher.Home", tag = "Pages",
    summary = "What usher is, with links to the signup forms; or, as `home_page` says, a redirect or nothing.",
    responses(
        (status = 200, description = "The home page.", body = String, content_type = "text/html"),
        (status = 303, description = "`home_page` is a path or URL.", headers(("Location" = String))),
        (status = 404, description = "`home_page = \"off\"`.", body = super::super::openapi::ErrorBody),
        PageThrottled,
    ))]
async fn home(State(state): State<AppState>) -> Response {
    match &state.ctx.settings.home_page {
        HomePage::On => {
            let ctx = context! { tenant_form => path(&state, TENANT_FORM), developer_form => path(&state, DEVELOPER_FORM) };
            page(&state, StatusCode::OK, "home.html", ctx, None)
        }
        HomePage::Off => HttpError::NotFound("No such endpoint.".into()).into_response(),
        HomePage::Redirect(to) => Redirect::to(to).into_response(),
    }
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(as = usherTenantForm)]
struct TenantForm {
    company_name: String,
    domain: String,
    address1: String,
    address2: String,
    country: String,
    state_code: String,
    city: String,
    zip_code: String,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    tos: String,
    /// Which button was pressed: `country` or `state` re-render with the next list.
    #[serde(skip_serializing)]
    step: String,
}

type FieldErrors = BTreeMap<&'static str, String>;

fn tenant_input(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "company_details.name" => ("company_name", "Company name"),
        "domain" | "cname" => ("domain", "Domain"),
        "mailing_address" => ("address1", "Address"),
        "company_details.mailing_address.country" => ("country", "Country"),
        "company_details.mailing_address.state_code" => ("state_code", "State or region"),
        "company_details.mailing_address.zip_code" => ("zip_code", "ZIP or postal code"),
        "first_name" => ("first_name", "First name"),
        "last_name" => ("last_name", "Last name"),
        "email" => ("email", "Email"),
        "contact_number" => ("phone", "Phone"),
        _ => return None,
    })
}

fn developer_input(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "firstName" => ("first_name", "First name"),
        "lastName" => ("last_name", "Last name"),
        "emailAddress" => ("email", "Email"),
        "phone" => ("phone", "Phone"),
        _ => return None,
    })
}

fn place(
    errors: &mut FieldErrors,
    input: fn(&str) -> Option<(&'static str, &'static str)>,
    e: flows::FlowError,
) -> Option<flows::FlowError> {
    match e {
        flows::FlowError::Invalid { field, message } => match input(field) {
            Some((name, label)) => {
                errors.insert(name, format!("{label} {message}."));
                None
            }
            None => Some(flows::FlowError::Invalid { field, message }),
        },
        e @ flows::FlowError::Conflict(Conflict::CnameTaken) => {
            errors.insert("domain", HttpError::from(e).public_message().into_owned());
            None
        }
        other => Some(other),
    }
}

fn with_form_error(e: flows::FlowError, render: impl FnOnce(StatusCode, String) -> Response) -> Response {
    let e = HttpError::from(e);
    let mut response = render(e.status(), e.public_message().into_owned());
    e.decorate(&mut response);
    response
}

fn locale_of(headers: &HeaderMap) -> Locale {
    let first = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(|v| v.split([',', ';']).next());
    first.and_then(|tag| Locale::parse("locale", Some(tag)).ok()).unwrap_or_default()
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    name: &'static str,
}

fn render_tenant(state: &AppState, status: StatusCode, form: &TenantForm, errors: &FieldErrors, form_error: Option<String>) -> Response {
    let dir = contact::directory();
    let country: Option<&Country> = dir.country(&form.country);
    let countries: Vec<Choice> = dir.countries("").into_iter().map(|c| Choice { code: c.code, name: c.name }).collect();
    let states: Vec<Choice> =
        country.map(|c| c.states("")).unwrap_or_default().into_iter().map(|s| Choice { code: s.code, name: s.name }).collect();
    let subdivision = country.and_then(|c| c.subdivision(&form.state_code));
    let cities: Vec<&str> = subdivision.map(|s| s.cities("")).unwrap_or_default().into_iter().map(|c| c.name).collect();
    let settings = &state.ctx.settings;
    let csrf = super::form_token(state, TENANT_FORM);
    let ctx = context! {
        state => "form",
        values => form,
        errors,
        form_error,
        countries,
        states,
        cities,
        zip_example => country.and_then(|c| c.zip_example),
        // The chosen subdivision, canonical, so "us-wa" shows as selected.
        state_code => subdivision.map(|s| s.code),
        terms_version => &settings.terms_version,
        terms_url => &settings.terms_url,
        action => path(state, TENANT_FORM),
        api => &settings.base_path,
        csrf => &csrf,
    };
    page(state, status, "tenant_form.html", ctx, Some(&csrf))
}

#[utoipa::path(get, path = TENANT_FORM, operation_id = "usher.TenantForm", tag = "Pages",
    summary = "The tenant signup form (F5 XC dialect).",
    responses((status = 200, description = "The form.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn tenant_page(State(state): State<AppState>) -> Response {
    render_tenant(&state, StatusCode::OK, &TenantForm::default(), &FieldErrors::new(), None)
}

#[utoipa::path(post, path = TENANT_FORM, operation_id = "usher.TenantFormSubmit", tag = "Pages",
    summary = "Signs up a tenant through the F5 signup's own parser, or (`step` `country` or `state`) shows the form again with the next list.",
    request_body(content = TenantForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent, or the form again.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn tenant_submit(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let locale = locale_of(req.headers());
    let form: TenantForm = match read_checked(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    if form.step == "country" || form.step == "state" {
        return render_tenant(&state, StatusCode::OK, &form, &FieldErrors::new(), None);
    }
    let mut errors = FieldErrors::new();
    if form.tos != "accepted" {
        errors.insert("tos", "Accept the terms of service to sign up.".into());
    }
    let result = match tenant_signup(&state, &form, &locale) {
        Ok(new) if errors.is_empty() => signup::create(&state.ctx, &client.caller(), new).await,
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    let unplaced = match result {
        Ok(()) if errors.is_empty() => {
            let ctx = context! { state => "sent", email => &form.email };
            return page(&state, StatusCode::OK, "tenant_form.html", ctx, None);
        }
        Ok(()) => None,
        Err(e) => place(&mut errors, tenant_input, e),
    };
    match unplaced {
        None => render_tenant(&state, StatusCode::BAD_REQUEST, &form, &errors, None),
        Some(e @ (flows::FlowError::Invalid { .. } | flows::FlowError::RateLimited { .. })) => {
            with_form_error(e, |status, message| render_tenant(&state, status, &form, &errors, Some(message)))
        }
        Some(e) => error_page(&state, e),
    }
}

fn tenant_signup(state: &AppState, form: &TenantForm, locale: &Locale) -> Result<signup::NewSignup, flows::FlowError> {
    let body = serde_json::json!({
        "account_details": {
            "domain": form.domain,
            "locale": locale.as_str(),
            "tos_version": state.ctx.settings.terms_version,
            "tos_accepted_at": clock::rfc3339(state.ctx.clock.now_ms()),
        },
        "company_details": {
            "name": form.company_name,
            "mailing_address": {
                "address1": form.address1, "address2": form.address2, "city": form.city,
                "country": form.country, "state_code": form.state_code, "zip_code": form.zip_code,
            },
        },
        "user_details": { "email": form.email, "first_name": form.first_name, "last_name": form.last_name, "contact_number": form.phone },
    });
    let request: SignupRequest = serde_json::from_value(body).context("reading the form as a signup body")?;
    Ok(signup::NewSignup::try_from(request)?)
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(as = usherDeveloperForm)]
struct DeveloperForm {
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
}

fn render_developer(
    state: &AppState,
    status: StatusCode,
    form: &DeveloperForm,
    errors: &FieldErrors,
    form_error: Option<String>,
) -> Response {
    let csrf = super::form_token(state, DEVELOPER_FORM);
    let ctx = context! { state => "form", values => form, errors, form_error, action => path(state, DEVELOPER_FORM), csrf => &csrf };
    page(state, status, "developer_form.html", ctx, Some(&csrf))
}

#[utoipa::path(get, path = DEVELOPER_FORM, operation_id = "usher.DeveloperForm", tag = "Pages",
    summary = "The developer signup form (Akana dialect).",
    responses((status = 200, description = "The form.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn developer_page(State(state): State<AppState>) -> Response {
    render_developer(&state, StatusCode::OK, &DeveloperForm::default(), &FieldErrors::new(), None)
}

#[utoipa::path(post, path = DEVELOPER_FORM, operation_id = "usher.DeveloperFormSubmit", tag = "Pages",
    summary = "Signs up a developer through `signupUser`'s own parsing.",
    request_body(content = DeveloperForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn developer_submit(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let cname = match crate::http::akana::tenant_of(&state.ctx.settings, req.headers()) {
        Ok(c) => c,
        Err(e) => return error_page(&state, e),
    };
    let form: DeveloperForm = match read_checked(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    // The same parsing as the Akana handler, field names included.
    let parsed = (|| {
        Ok::<_, flows::FlowError>(akana::NewDeveloper {
            first_name: domain::required("firstName", Some(form.first_name.clone()), 128)?,
            last_name: domain::required("lastName", Some(form.last_name.clone()), 128)?,
            email: EmailAddress::parse_field("emailAddress", Some(form.email.as_str()))?,
            phone: domain::optional("phone", Some(form.phone.clone()), 64)?,
        })
    })();
    let result = match parsed {
        Ok(new) => akana::signup_user(&state.ctx, &client.caller(), &cname, new).await,
        Err(e) => Err(e),
    };
    let mut errors = FieldErrors::new();
    match result.err().map(|e| place(&mut errors, developer_input, e)) {
        None => page(&state, StatusCode::OK, "developer_form.html", context! { state => "sent", email => &form.email }, None),
        Some(None) => render_developer(&state, StatusCode::BAD_REQUEST, &form, &errors, None),
        Some(Some(e @ (flows::FlowError::Invalid { .. } | flows::FlowError::RateLimited { .. }))) => {
            with_form_error(e, |status, message| render_developer(&state, status, &form, &errors, Some(message)))
        }
        Some(Some(e)) => error_page(&state, e),
    }
}
