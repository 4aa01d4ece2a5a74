//! The home page and the forms a person fills in from scratch: the tenant and developer signups
//! and the forgotten password. Each checks the whole form with the API's own rules (the API answers
//! the first problem, a form shows them all) and calls the API's flow.

use super::{AppState, FORGOT_PAGE, FieldError, FieldErrors, Lang, Notice, Page, Submitted, read_form};
use crate::clock;
use crate::config::HomePage;
use crate::contact::{self, Country};
use crate::domain::{self, Cname, Locale};
use crate::error::HttpError;
use crate::flows::{self, Conflict, Context, akana, password, signup};
use crate::http::akana::new_developer;
use crate::http::extract::{AppQuery, ClientAddr};
use crate::http::f5xc::{SignupRequest, password_email_request};
use crate::http::openapi::{PageErrors, PageThrottled};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const TENANT_FORM: &str = "/signup/tenant";
pub const DEVELOPER_FORM: &str = "/signup/developer";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(tenant_page, tenant_submit))
        .routes(routes!(developer_page, developer_submit))
        .routes(routes!(forgot_page, forgot_submit))
}

#[utoipa::path(get, path = "/", operation_id = "usher.Home", tag = "Pages",
    summary = "What usher is, with links to the signup forms; or, as `home_page` says, a redirect or nothing.",
    responses(
        (status = 200, description = "The home page.", body = String, content_type = "text/html"),
        (status = 303, description = "`home_page` is a path or URL.", headers(("Location" = String))),
        (status = 404, description = "`home_page = \"off\"`.", body = super::super::openapi::ErrorBody),
        PageThrottled,
    ))]
async fn home(State(state): State<AppState>, lang: Lang) -> Response {
    match &state.ctx.settings.home_page {
        HomePage::On => Page::new(&state, &lang).render(StatusCode::OK, "home.html", context! {}, None),
        HomePage::Off => HttpError::NotFound("No such endpoint.".into()).into_response(),
        HomePage::Redirect(to) => Redirect::to(to).into_response(),
    }
}

/// Where each problem of the API's rules goes on a form: the field it names, or none (then the
/// form says it could not be read).
fn place(errors: &mut FieldErrors, input: fn(&str) -> Option<&'static str>, problems: Vec<domain::Invalid>) -> bool {
    let mut all_placed = true;
    for problem in problems {
        match input(problem.field) {
            // The first problem of a field is the one to fix first.
            Some(name) => {
                errors.entry(name).or_insert_with(|| FieldError::of(&problem.rule));
            }
            None => all_placed = false,
        }
    }
    all_placed
}

fn tenant_input(field: &str) -> Option<&'static str> {
    Some(match field {
        "company_details.name" => "company_name",
        "domain" | "cname" => "domain",
        "mailing_address" => "address1",
        "company_details.mailing_address.country" => "country",
        "company_details.mailing_address.state_code" => "state_code",
        "company_details.mailing_address.zip_code" => "zip_code",
        "first_name" => "first_name",
        "last_name" => "last_name",
        "email" => "email",
        "contact_number" => "phone",
        _ => return None,
    })
}

fn developer_input(field: &str) -> Option<&'static str> {
    Some(match field {
        "firstName" => "first_name",
        "lastName" => "last_name",
        "emailAddress" => "email",
        "phone" => "phone",
        _ => return None,
    })
}

fn forgot_input(field: &str) -> Option<&'static str> {
    Some(match field {
        "cname" => "cname",
        "email" => "email",
        _ => return None,
    })
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

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    name: &'static str,
}

fn render_tenant(p: Page<'_>, status: StatusCode, form: &TenantForm, errors: &FieldErrors, notice: Notice) -> Response {
    let dir = contact::directory();
    let country: Option<&Country> = dir.country(&form.country);
    let countries: Vec<Choice> = dir.countries("").into_iter().map(|c| Choice { code: c.code, name: c.name }).collect();
    let states: Vec<Choice> =
        country.map(|c| c.states("")).unwrap_or_default().into_iter().map(|s| Choice { code: s.code, name: s.name }).collect();
    let subdivision = country.and_then(|c| c.subdivision(&form.state_code));
    let cities: Vec<&str> = subdivision.map(|s| s.cities("")).unwrap_or_default().into_iter().map(|c| c.name).collect();
    let settings = p.settings();
    let ctx = context! {
        state => "form",
        values => form,
        errors,
        countries,
        states,
        cities,
        zip_example => country.and_then(|c| c.zip_example),
        // The chosen subdivision, canonical, so "us-wa" shows as selected.
        state_code => subdivision.map(|s| s.code),
        terms_version => &settings.terms_version,
        terms_url => &settings.terms_url,
        api => &settings.base_path,
    };
    p.form(status, "tenant_form.html", TENANT_FORM, notice, ctx)
}

#[utoipa::path(get, path = TENANT_FORM, operation_id = "usher.TenantForm", tag = "Pages",
    summary = "The tenant signup form (F5 XC dialect).",
    responses((status = 200, description = "The form.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn tenant_page(State(state): State<AppState>, lang: Lang) -> Response {
    render_tenant(Page::new(&state, &lang), StatusCode::OK, &TenantForm::default(), &FieldErrors::new(), Notice::NONE)
}

#[utoipa::path(post, path = TENANT_FORM, operation_id = "usher.TenantFormSubmit", tag = "Pages",
    summary = "Signs up a tenant through the F5 signup's own rules, showing every problem of the form at once (the taken domain \
               too), or (`step` `country` or `state`) shows the form again with the next list.",
    request_body(content = TenantForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent, or the form again.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn tenant_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let locale = lang.locale();
    let Submitted { form, fresh } = match read_form::<TenantForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return render_tenant(p, StatusCode::FORBIDDEN, &form, &FieldErrors::new(), Notice::STALE);
    }
    if form.step == "country" || form.step == "state" {
        return render_tenant(p, StatusCode::OK, &form, &FieldErrors::new(), Notice::NONE);
    }
    let mut errors = FieldErrors::new();
    let checked = match tenant_signup(&state, &form, &locale) {
        Ok(checked) => checked,
        Err(e) => return p.error(e),
    };
    let (new, all_placed) = match checked {
        Ok(new) => (Some(new), true),
        Err(problems) => (None, place(&mut errors, tenant_input, problems)),
    };
    // The name's own problems come first; what `create` would refuse about a good one (reserved,
    // taken) is shown with the rest, not after them.
    if !errors.contains_key("domain")
        && let Ok(cname) = Cname::parse("domain", &form.domain)
    {
        match signup::cname_available(&state.ctx, &cname).await {
            Ok(()) => {}
            Err(flows::FlowError::Invalid(invalid)) => {
                errors.insert("domain", FieldError::of(&invalid.rule));
            }
            Err(flows::FlowError::Conflict(Conflict::CnameTaken)) => {
                errors.insert("domain", FieldError::page("rule-taken"));
            }
            Err(e) => return p.error(e),
        }
    }
    if form.tos != "accepted" {
        errors.insert("tos", FieldError::page("rule-terms"));
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        let notice = if all_placed { Notice::NONE } else { Notice::UNREADABLE };
        return render_tenant(p, StatusCode::BAD_REQUEST, &form, &errors, notice);
    };
    match signup::create(&state.ctx, &client.caller(), new).await {
        Ok(()) => p.render(StatusCode::OK, "tenant_form.html", context! { state => "sent", email => &form.email }, None),
        // Taken between the look and the write.
        Err(flows::FlowError::Conflict(Conflict::CnameTaken)) => {
            let errors = FieldErrors::from([("domain", FieldError::page("rule-taken"))]);
            render_tenant(p, StatusCode::CONFLICT, &form, &errors, Notice::NONE)
        }
        Err(flows::FlowError::Invalid(invalid)) => {
            let all_placed = place(&mut errors, tenant_input, vec![invalid]);
            render_tenant(p, StatusCode::BAD_REQUEST, &form, &errors, if all_placed { Notice::NONE } else { Notice::UNREADABLE })
        }
        Err(e) if Notice::of(&e).is_some() => p.with_notice(e, |status, notice| render_tenant(p, status, &form, &errors, notice)),
        Err(e) => p.error(e),
    }
}

/// The form as the F5 signup's body, checked by its own rules.
fn tenant_signup(
    state: &AppState,
    form: &TenantForm,
    locale: &Locale,
) -> Result<Result<signup::NewSignup, Vec<domain::Invalid>>, flows::FlowError> {
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
    Ok(request.check())
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

fn render_developer(p: Page<'_>, status: StatusCode, form: &DeveloperForm, errors: &FieldErrors, notice: Notice) -> Response {
    p.form(status, "developer_form.html", DEVELOPER_FORM, notice, context! { state => "form", values => form, errors })
}

#[utoipa::path(get, path = DEVELOPER_FORM, operation_id = "usher.DeveloperForm", tag = "Pages",
    summary = "The developer signup form (Akana dialect).",
    responses((status = 200, description = "The form.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn developer_page(State(state): State<AppState>, lang: Lang) -> Response {
    render_developer(Page::new(&state, &lang), StatusCode::OK, &DeveloperForm::default(), &FieldErrors::new(), Notice::NONE)
}

#[utoipa::path(post, path = DEVELOPER_FORM, operation_id = "usher.DeveloperFormSubmit", tag = "Pages",
    summary = "Signs up a developer through `signupUser`'s own rules, showing every problem of the form at once.",
    request_body(content = DeveloperForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn developer_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let cname = match crate::http::akana::tenant_of(&state.ctx.settings, req.headers()) {
        Ok(c) => c,
        Err(e) => return p.error(e),
    };
    let Submitted { form, fresh } = match read_form::<DeveloperForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return render_developer(p, StatusCode::FORBIDDEN, &form, &FieldErrors::new(), Notice::STALE);
    }
    let some = |s: &str| Some(s.to_owned());
    let new = match new_developer(some(&form.first_name), some(&form.last_name), some(&form.email), some(&form.phone)) {
        Ok(new) => new,
        Err(problems) => {
            let mut errors = FieldErrors::new();
            let notice = if place(&mut errors, developer_input, problems) { Notice::NONE } else { Notice::UNREADABLE };
            return render_developer(p, StatusCode::BAD_REQUEST, &form, &errors, notice);
        }
    };
    match akana::signup_user(&state.ctx, &client.caller(), &cname, new).await {
        Ok(()) => p.render(StatusCode::OK, "developer_form.html", context! { state => "sent", email => &form.email }, None),
        Err(e) if Notice::of(&e).is_some() => {
            p.with_notice(e, |status, notice| render_developer(p, status, &form, &FieldErrors::new(), notice))
        }
        Err(e) => p.error(e),
    }
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(as = usherForgotForm)]
struct ForgotForm {
    /// The tenant's name (its cname).
    cname: String,
    email: String,
}

fn render_forgot(p: Page<'_>, status: StatusCode, form: &ForgotForm, errors: &FieldErrors, notice: Notice) -> Response {
    p.form(status, "forgot.html", FORGOT_PAGE, notice, context! { state => "form", values => form, errors })
}

#[utoipa::path(get, path = FORGOT_PAGE, operation_id = "usher.ForgotPasswordPage", tag = "Pages",
    summary = "Asks for a tenant and an address to mail a password link to (`send_password_email` for a person).",
    params(
        ("cname" = Option<String>, Query, description = "Fills in the tenant, as a dead password link does."),
        ("email" = Option<String>, Query, description = "Fills in the address."),
    ),
    responses((status = 200, description = "The form.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn forgot_page(State(state): State<AppState>, lang: Lang, query: Result<AppQuery<ForgotForm>, HttpError>) -> Response {
    let p = Page::new(&state, &lang);
    match query {
        Ok(AppQuery(form)) => render_forgot(p, StatusCode::OK, &form, &FieldErrors::new(), Notice::NONE),
        Err(e) => p.error(e),
    }
}

#[utoipa::path(post, path = FORGOT_PAGE, operation_id = "usher.ForgotPasswordPageSubmit", tag = "Pages",
    summary = "Mails a password link through `send_password_email`'s flow and limits: the same page whether or not the tenant or \
               the user exists.",
    request_body(content = ForgotForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Accepted; a link is mailed if the user exists.", body = String, content_type = "text/html"),
        PageErrors, PageThrottled))]
async fn forgot_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let Submitted { form, fresh } = match read_form::<ForgotForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return render_forgot(p, StatusCode::FORBIDDEN, &form, &FieldErrors::new(), Notice::STALE);
    }
    let (cname, email) = match password_email_request(Some(&form.cname), Some(&form.email)) {
        Ok(request) => request,
        Err(problems) => {
            let mut errors = FieldErrors::new();
            place(&mut errors, forgot_input, problems);
            return render_forgot(p, StatusCode::BAD_REQUEST, &form, &errors, Notice::NONE);
        }
    };
    match password::send_email(&state.ctx, &client.caller(), &cname, &email).await {
        Ok(()) => {
            let link_seconds = state.ctx.settings.password_link_ttl.as_secs();
            let values = ForgotForm { cname: cname.as_str().to_owned(), email: email.as_str().to_owned() };
            p.render(StatusCode::OK, "forgot.html", context! { state => "sent", values, link_seconds }, None)
        }
        Err(e) if Notice::of(&e).is_some() => {
            p.with_notice(e, |status, notice| render_forgot(p, status, &form, &FieldErrors::new(), notice))
        }
        Err(e) => p.error(e),
    }
}
