//! A GET never spends a token: mail scanners and link previews fetch links too.

use super::AppState;
use super::extract::{AppQuery, ClientAddr, body, content_type_is};
use super::openapi::{PageErrors, PageThrottled};
use super::security::{self, CsrfKey};
use crate::domain::EmailAddress;
use crate::error::HttpError;
use crate::flows::{self, akana, password, signup};
use crate::mail::{ACTIVATION_PAGE, CODE_PAGE, PASSWORD_PAGE, SIGNUP_PAGE};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod forms;

const CSRF_COOKIE: &str = "usher_csrf";
/// Behind HTTPS the browser refuses a `__Host-` cookie set without `Secure`, for a sub-path, or
/// for a domain: a sibling subdomain cannot plant or overwrite it.
const CSRF_COOKIE_HTTPS: &str = "__Host-usher_csrf";
const SIGNUP_RESEND: &str = "/signup/resend";

pub struct Pages {
    env: Environment<'static>,
    csrf: CsrfKey,
}

impl Pages {
    pub fn new(csrf: CsrfKey, base_path: &str) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.add_global("assets", base_path.to_owned());
        env.add_template("layout.html", include_str!("../../templates/pages/layout.html"))?;
        env.add_template("signup.html", include_str!("../../templates/pages/signup.html"))?;
        env.add_template("password.html", include_str!("../../templates/pages/password.html"))?;
        env.add_template("error.html", include_str!("../../templates/pages/error.html"))?;
        env.add_template("activate.html", include_str!("../../templates/pages/activate.html"))?;
        env.add_template("devmail.html", include_str!("../../templates/pages/devmail.html"))?;
        env.add_template("forms.html", include_str!("../../templates/pages/forms.html"))?;
        env.add_template("code.html", include_str!("../../templates/pages/code.html"))?;
        env.add_template("home.html", include_str!("../../templates/pages/home.html"))?;
        env.add_template("tenant_form.html", include_str!("../../templates/pages/tenant_form.html"))?;
        env.add_template("developer_form.html", include_str!("../../templates/pages/developer_form.html"))?;
        Ok(Self { env, csrf })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, HttpError> {
        let rendering = || format!("rendering the page {name}");
        let template = self.env.get_template(name).map_err(|e| HttpError::Internal(anyhow::Error::from(e).context(rendering())))?;
        template.render(ctx).map_err(|e| HttpError::Internal(anyhow::Error::from(e).context(rendering())))
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(forms::router())
        .routes(routes!(signup_page, signup_submit))
        .routes(routes!(signup_resend))
        .routes(routes!(password_page, password_submit))
        .routes(routes!(activation_page, activation_submit))
        .routes(routes!(code_page, code_submit))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LinkQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = usherPageForm)]
struct PageForm {
    /// The link's token (signup and password pages).
    #[serde(default)]
    token: String,
    /// The form's CSRF token; its HMAC must be the `usher_csrf` cookie set with the form.
    #[serde(default)]
    #[allow(dead_code)]
    csrf: String,
    password: Option<String>,
    /// The activation code (activation page).
    #[serde(default, rename = "signupCode")]
    signup_code: String,
}

fn page(state: &AppState, status: StatusCode, name: &str, ctx: Value, csrf: Option<&str>) -> Response {
    // Every page can point back to the signup forms (expired links, errors).
    let ctx = context! {
        tenant_form => path(state, forms::TENANT_FORM), developer_form => path(state, forms::DEVELOPER_FORM),
        code_page => path(state, CODE_PAGE), ..ctx
    };
    let html = match state.pages.render(name, ctx) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if let Some(csrf) = csrf {
        // Behind HTTPS the cookie must never travel over plain HTTP.
        let (name, secure) = if https(state) { (CSRF_COOKIE_HTTPS, "; Secure") } else { (CSRF_COOKIE, "") };
        let cookie = format!("{name}={}; Path=/; HttpOnly; SameSite=Strict{secure}", state.pages.csrf.cookie_for(csrf));
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    response
}

fn error_page(state: &AppState, e: impl Into<HttpError>) -> Response {
    let e = e.into();
    let mut response = page(state, e.status(), "error.html", context! { message => e.public_message() }, None);
    e.decorate(&mut response);
    response
}

fn token_message(e: flows::FlowError) -> String {
    HttpError::from(e).public_message().into_owned()
}

fn path(state: &AppState, p: &str) -> String {
    format!("{}{p}", state.ctx.settings.base_path)
}

#[utoipa::path(get, path = SIGNUP_PAGE, operation_id = "usher.SignupPage", tag = "Pages",
    summary = "The page a signup link opens, asking the person to complete the signup. Opening it never spends the token.",
    params(("token" = Option<String>, Query, description = "The signup link's token.")),
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_page(State(state): State<AppState>, query: Result<AppQuery<LinkQuery>, HttpError>) -> Response {
    let token = match query {
        Ok(AppQuery(q)) => q.token.unwrap_or_default(),
        Err(e) => return error_page(&state, e),
    };
    let mut csrf = String::new();
    let ctx = match signup::link_state(&state.ctx, &token).await {
        Ok(signup::LinkState::Ready { email, cname }) => {
            csrf = form_token(&state, SIGNUP_PAGE);
            context! { state => "ready", email, cname, token, csrf, action => path(&state, SIGNUP_PAGE) }
        }
        Ok(signup::LinkState::Expired) => {
            csrf = form_token(&state, SIGNUP_RESEND);
            context! { state => "expired", token, csrf, resend_action => path(&state, SIGNUP_RESEND) }
        }
        Ok(signup::LinkState::Completed { console_url }) => {
            context! { state => "completed", console_url }
        }
        Ok(signup::LinkState::Invalid) => context! { state => "invalid" },
        Err(e) => return error_page(&state, e),
    };
    page(&state, StatusCode::OK, "signup.html", ctx, (!csrf.is_empty()).then_some(csrf.as_str()))
}

async fn read_form(state: &AppState, req: Request) -> Result<PageForm, HttpError> {
    read_checked(state, req).await
}

async fn read_checked<T: DeserializeOwned>(state: &AppState, req: Request) -> Result<T, HttpError> {
    #[derive(Deserialize)]
    struct Csrf {
        #[serde(default)]
        csrf: String,
    }
    if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
        return Err(HttpError::UnsupportedMediaType { expected: "application/x-www-form-urlencoded" });
    }
    let cookie = csrf_cookie(req.headers(), if https(state) { CSRF_COOKIE_HTTPS } else { CSRF_COOKIE }).unwrap_or_default();
    // Inside a nested router the path is the route's own, as the form's token names it.
    let form = req.uri().path().to_owned();
    let bytes = body(req, state).await?;
    let not_a_form = |_| HttpError::invalid("body", "is not a valid form");
    let Csrf { csrf } = serde_urlencoded::from_bytes(&bytes).map_err(not_a_form)?;
    if !state.pages.csrf.accepts(&form, &csrf, &cookie, state.ctx.clock.now_ms()) {
        return Err(security::refused_form());
    }
    serde_urlencoded::from_bytes(&bytes).map_err(not_a_form)
}

/// A form's anti-forgery token, good for that form and for `security::FORM_TOKEN_TTL_MS`.
fn form_token(state: &AppState, form: &str) -> String {
    state.pages.csrf.form_token(form, state.ctx.clock.now_ms())
}

fn https(state: &AppState) -> bool {
    state.ctx.settings.public_url.starts_with("https:")
}

fn csrf_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[utoipa::path(post, path = SIGNUP_PAGE, operation_id = "usher.SignupPageSubmit", tag = "Pages",
    summary = "Completes the signup (with the first user's password, or without it and a password link is mailed).",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_submit(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let form = match read_form(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    let password = form.password.clone().filter(|p| !p.is_empty());
    match signup::complete(&state.ctx, &client.caller(), &form.token, password.clone()).await {
        Ok(done) => {
            let ctx = context! { state => "done", cname => &done.cname, email => done.email, mailed => password.is_none(), console_url => state.ctx.console_url(&done.cname) };
            page(&state, StatusCode::OK, "signup.html", ctx, None)
        }
        Err(flows::FlowError::Invalid { field, message }) => {
            // Wrong password shape: show the form again with the reason.
            let csrf = form_token(&state, SIGNUP_PAGE);
            let (email, cname) = match signup::details(&state.ctx, &form.token).await {
                Ok(d) => (d.email, d.cname),
                Err(e @ (flows::FlowError::Unavailable { .. } | flows::FlowError::Internal(_))) => return error_page(&state, e),
                Err(_) => Default::default(),
            };
            let ctx = context! { state => "ready", email, cname, token => form.token, csrf, action => path(&state, SIGNUP_PAGE), error => format!("The {field} {message}.") };
            page(&state, StatusCode::BAD_REQUEST, "signup.html", ctx, Some(&csrf))
        }
        Err(e @ flows::FlowError::Token { .. }) => {
            let csrf = form_token(&state, SIGNUP_RESEND);
            let ctx = context! { state => "expired", token => form.token, csrf, resend_action => path(&state, SIGNUP_RESEND), error => token_message(e) };
            page(&state, StatusCode::BAD_REQUEST, "signup.html", ctx, Some(&csrf))
        }
        Err(e) => error_page(&state, e),
    }
}

#[utoipa::path(post, path = SIGNUP_RESEND, operation_id = "usher.SignupPageResend", tag = "Pages",
    summary = "Mails a fresh signup link for an expired one.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_resend(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let form = match read_form(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    match signup::resend(&state.ctx, &client.caller(), &form.token).await {
        Ok(()) => page(&state, StatusCode::OK, "signup.html", context! { state => "resent" }, None),
        Err(e) => error_page(&state, e),
    }
}

#[utoipa::path(get, path = PASSWORD_PAGE, operation_id = "usher.PasswordPage", tag = "Pages",
    summary = "The page a password link opens. Opening it never spends the token.",
    params(("token" = Option<String>, Query, description = "The password link's token.")),
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn password_page(State(state): State<AppState>, query: Result<AppQuery<LinkQuery>, HttpError>) -> Response {
    let token = match query {
        Ok(AppQuery(q)) => q.token.unwrap_or_default(),
        Err(e) => return error_page(&state, e),
    };
    let csrf = form_token(&state, PASSWORD_PAGE);
    match password::link_is_live(&state.ctx, &token).await {
        Ok(true) => page(
            &state,
            StatusCode::OK,
            "password.html",
            context! { state => "ready", token, csrf, action => path(&state, PASSWORD_PAGE) },
            Some(&csrf),
        ),
        Ok(false) => page(&state, StatusCode::OK, "password.html", context! { state => "invalid" }, None),
        Err(e) => error_page(&state, e),
    }
}

#[utoipa::path(post, path = PASSWORD_PAGE, operation_id = "usher.PasswordPageSubmit", tag = "Pages",
    summary = "Sets the password.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn password_submit(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let form = match read_form(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    let pw = form.password.clone().unwrap_or_default();
    match password::set(&state.ctx, &client.caller(), &form.token, pw).await {
        Ok(()) => page(&state, StatusCode::OK, "password.html", context! { state => "done" }, None),
        Err(flows::FlowError::Invalid { field, message }) => {
            let csrf = form_token(&state, PASSWORD_PAGE);
            let ctx = context! { state => "ready", token => form.token, csrf, action => path(&state, PASSWORD_PAGE), error => format!("The {field} {message}.") };
            page(&state, StatusCode::BAD_REQUEST, "password.html", ctx, Some(&csrf))
        }
        Err(e @ flows::FlowError::Token { .. }) => {
            page(&state, StatusCode::BAD_REQUEST, "password.html", context! { state => "invalid", error => token_message(e) }, None)
        }
        Err(e) => error_page(&state, e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ActivationQuery {
    signup_code: Option<String>,
}

#[utoipa::path(get, path = ACTIVATION_PAGE, operation_id = "usher.ActivationPage", tag = "Pages",
    summary = "The page an Akana activation link opens. Opening it never spends the code.",
    params(("signupCode" = Option<String>, Query, description = "The activation code.")),
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn activation_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<AppQuery<ActivationQuery>, HttpError>,
) -> Response {
    let code = match query {
        Ok(AppQuery(q)) => q.signup_code.unwrap_or_default(),
        Err(e) => return error_page(&state, e),
    };
    let csrf = form_token(&state, ACTIVATION_PAGE);
    let cname = match super::akana::tenant_of(&state.ctx.settings, &headers) {
        Ok(c) => c,
        Err(e) => return error_page(&state, e),
    };
    match akana::pending_email(&state.ctx, &cname, &code).await {
        Ok(Some(email)) => {
            let ctx = context! { state => "ready", email, code, csrf, action => path(&state, ACTIVATION_PAGE) };
            page(&state, StatusCode::OK, "activate.html", ctx, Some(&csrf))
        }
        Ok(None) => page(&state, StatusCode::OK, "activate.html", context! { state => "invalid" }, None),
        Err(e) => error_page(&state, e),
    }
}

#[utoipa::path(post, path = ACTIVATION_PAGE, operation_id = "usher.ActivationPageSubmit", tag = "Pages",
    summary = "Completes the developer signup with a password.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn activation_submit(State(state): State<AppState>, client: ClientAddr, req: Request) -> Response {
    let cname = match super::akana::tenant_of(&state.ctx.settings, req.headers()) {
        Ok(c) => c,
        Err(e) => return error_page(&state, e),
    };
    let form = match read_form(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    let pw = form.password.clone().unwrap_or_default();
    match akana::complete_signup(&state.ctx, &client.caller(), &cname, &form.signup_code, pw).await {
        Ok(()) => page(&state, StatusCode::OK, "activate.html", context! { state => "done" }, None),
        Err(flows::FlowError::Invalid { field, message }) => {
            let csrf = form_token(&state, ACTIVATION_PAGE);
            let email = match akana::pending_email(&state.ctx, &cname, &form.signup_code).await {
                Ok(email) => email.unwrap_or_default(),
                Err(e) => return error_page(&state, e),
            };
            let ctx = context! { state => "ready", email, code => form.signup_code, csrf, action => path(&state, ACTIVATION_PAGE), error => format!("The {field} {message}.") };
            page(&state, StatusCode::BAD_REQUEST, "activate.html", ctx, Some(&csrf))
        }
        Err(e @ flows::FlowError::Token { .. }) => {
            page(&state, StatusCode::BAD_REQUEST, "activate.html", context! { state => "invalid", error => token_message(e) }, None)
        }
        Err(e) => error_page(&state, e),
    }
}

#[utoipa::path(get, path = CODE_PAGE, operation_id = "usher.CodePage", tag = "Pages",
    summary = "Asks for an email's short code and the address it was sent to.",
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn code_page(State(state): State<AppState>) -> Response {
    code_form(&state, StatusCode::OK, "", None)
}

fn code_form(state: &AppState, status: StatusCode, email: &str, error: Option<&str>) -> Response {
    let csrf = form_token(state, CODE_PAGE);
    let ctx = context! { csrf, email, error, action => path(state, CODE_PAGE) };
    page(state, status, "code.html", ctx, Some(&csrf))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = usherCodeForm)]
struct CodeForm {
    /// The form's CSRF token; its HMAC must be the `usher_csrf` cookie set with the form.
    #[serde(default)]
    #[allow(dead_code)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// The code printed in the email, typed as the person likes.
    #[serde(default)]
    code: String,
}

#[utoipa::path(post, path = CODE_PAGE, operation_id = "usher.CodePageSubmit", tag = "Pages",
    summary = "Goes where the email's link goes (303). Spends nothing: the link's page does.",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the email's link."),
        (status = 400, description = "The page again, saying what is wrong.", body = String, content_type = "text/html"),
        PageErrors, PageThrottled))]
async fn code_submit(State(state): State<AppState>, req: Request) -> Response {
    let form: CodeForm = match read_checked(&state, req).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, e),
    };
    let Ok(email) = EmailAddress::parse("email", &form.email) else {
        return code_form(
            &state,
            StatusCode::BAD_REQUEST,
            &form.email,
            Some("That email address does not look right; check it and try again."),
        );
    };
    match flows::codes::redeem(&state.ctx, &email, &form.code).await {
        Ok(link) => match HeaderValue::from_str(&link) {
            Ok(location) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                let headers = response.headers_mut();
                headers.insert(header::LOCATION, location);
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
                response
            }
            Err(e) => error_page(&state, HttpError::Internal(anyhow::Error::from(e).context("a code's link is not a header value"))),
        },
        Err(flows::FlowError::CodeRefused) => code_form(
            &state,
            StatusCode::BAD_REQUEST,
            email.as_str(),
            Some(
                "That code does not work with that address. Check both against the most recent email; after five wrong codes the email's code stops working, but its link still works.",
            ),
        ),
        Err(e) => error_page(&state, e),
    }
}
