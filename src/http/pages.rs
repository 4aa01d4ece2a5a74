//! A GET never spends a token: mail scanners and link previews fetch links too.
//!
//! The pages' words are in the message catalogues (`locales/<language>/pages.ftl`), which their
//! templates (`templates/pages/`) call with `t`: handlers hand over state, values and problems
//! (the message that words each, [`FieldError`]), never sentences. A page is written in the
//! language `Accept-Language` chooses among the catalogue's ([`Lang`]).

use super::AppState;
use super::extract::{AppQuery, ClientAddr, body, content_type_is};
use super::openapi::{PageErrors, PageThrottled};
use super::security::{self, CsrfKey};
use crate::config::{HomePage, Settings};
use crate::domain::Rule;
use crate::domain::{self, EmailAddress};
use crate::error::HttpError;
use crate::flows::{self, Conflict, akana, password, signup};
use crate::i18n::{Catalogue, Chosen};
use crate::mail::{ACTIVATION_PAGE, CODE_PAGE, PASSWORD_PAGE, SIGNUP_PAGE};
use crate::tokens::TokenState;
use anyhow::Context as _;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod forms;

const CSRF_COOKIE: &str = "usher_csrf";
/// Behind HTTPS the browser refuses a `__Host-` cookie set without `Secure`, for a sub-path, or
/// for a domain: a sibling subdomain cannot plant or overwrite it.
const CSRF_COOKIE_HTTPS: &str = "__Host-usher_csrf";
const SIGNUP_RESEND: &str = "/signup/resend";
pub const FORGOT_PAGE: &str = "/password/forgot";

/// Every page template, embedded; an operator's `pages_templates_dir` may override any of them.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/pages/layout.html")),
    ("forms.html", include_str!("../../templates/pages/forms.html")),
    ("home.html", include_str!("../../templates/pages/home.html")),
    ("tenant_form.html", include_str!("../../templates/pages/tenant_form.html")),
    ("developer_form.html", include_str!("../../templates/pages/developer_form.html")),
    ("signup.html", include_str!("../../templates/pages/signup.html")),
    ("password.html", include_str!("../../templates/pages/password.html")),
    ("forgot.html", include_str!("../../templates/pages/forgot.html")),
    ("activate.html", include_str!("../../templates/pages/activate.html")),
    ("code.html", include_str!("../../templates/pages/code.html")),
    ("error.html", include_str!("../../templates/pages/error.html")),
    ("devmail.html", include_str!("../../templates/pages/devmail.html")),
];

pub struct Pages {
    env: Environment<'static>,
    overrides: Option<PathBuf>,
    stylesheet: Option<PathBuf>,
    accent: String,
    csp: HeaderValue,
    csrf: CsrfKey,
}

impl Pages {
    /// Refuses to start on an override that does not compile or a stylesheet it cannot read, as
    /// `check-config` does.
    pub fn new(csrf: CsrfKey, settings: &Settings, catalogue: Arc<Catalogue>) -> anyhow::Result<Self> {
        check(settings)?;
        let mut env = Environment::new();
        crate::i18n::add_to(&mut env, catalogue);
        env.add_global("assets", settings.base_path.clone());
        env.add_global("product", settings.product_name.clone());
        env.add_global("logo_url", settings.logo_url.clone());
        for (name, source) in TEMPLATES {
            env.add_template(name, source).with_context(|| format!("compiling the embedded page template {name}"))?;
        }
        let csp = security::page_policy(settings.logo_url.as_deref());
        Ok(Self {
            env,
            overrides: settings.pages_templates_dir.clone(),
            stylesheet: settings.pages_stylesheet.clone(),
            accent: settings.accent_color.css(),
            csp: HeaderValue::from_str(&csp).context("the pages' Content-Security-Policy")?,
            csrf,
        })
    }

    /// Overrides are read at each render, so an edited one applies without a restart (as mail's do).
    pub fn render(&self, name: &str, lang: &str, ctx: Value) -> Result<String, HttpError> {
        let rendering = || format!("rendering the page {name}");
        let overridden;
        let env = match &self.overrides {
            None => &self.env,
            Some(dir) => {
                overridden = with_overrides(self.env.clone(), dir, lang).map_err(|e| HttpError::Internal(e.context(rendering())))?;
                &overridden
            }
        };
        let template = env.get_template(name).map_err(|e| HttpError::Internal(anyhow::Error::from(e).context(rendering())))?;
        template.render(context! { lang, ..ctx }).map_err(|e| HttpError::Internal(anyhow::Error::from(e).context(rendering())))
    }

    /// The embedded page alone, whatever the overrides.
    fn render_embedded(&self, name: &str, lang: &str, ctx: Value) -> Result<String, HttpError> {
        let template = self.env.get_template(name).map_err(|e| HttpError::Internal(e.into()))?;
        template.render(context! { lang, ..ctx }).map_err(|e| HttpError::Internal(e.into()))
    }

    /// `/assets/brand.css`: the accent colour, then the operator's stylesheet, read at each request.
    pub fn stylesheet(&self) -> Result<String, HttpError> {
        let mut css = format!(":root {{ --accent: {}; }}\n", self.accent);
        if let Some(path) = &self.stylesheet {
            let own = std::fs::read_to_string(path).with_context(|| format!("reading pages_stylesheet {}", path.display()))?;
            css.push_str(&own);
        }
        Ok(css)
    }
}

/// What `serve` refuses to start with and `check-config` reports: a stylesheet it cannot read, an
/// overrides folder that is none, or an override that is no page of usher's or does not compile.
pub fn check(settings: &Settings) -> anyhow::Result<()> {
    if let Some(path) = &settings.pages_stylesheet {
        std::fs::read_to_string(path).with_context(|| format!("pages_stylesheet: cannot read {}", path.display()))?;
    }
    let Some(dir) = &settings.pages_templates_dir else { return Ok(()) };
    if !dir.is_dir() {
        anyhow::bail!("pages_templates_dir: {} is not a folder", dir.display());
    }
    let mut folders = vec![dir.clone()];
    for entry in std::fs::read_dir(dir).with_context(|| format!("pages_templates_dir: reading {}", dir.display()))? {
        let path = entry.with_context(|| format!("pages_templates_dir: reading {}", dir.display()))?.path();
        if path.is_dir() {
            folders.push(path);
        }
    }
    for folder in folders {
        for entry in std::fs::read_dir(&folder).with_context(|| format!("pages_templates_dir: reading {}", folder.display()))? {
            let path = entry.with_context(|| format!("pages_templates_dir: reading {}", folder.display()))?.path();
            if path.is_dir() {
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !TEMPLATES.iter().any(|(known, _)| *known == name) {
                let known: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
                anyhow::bail!("pages_templates_dir: {} is no page of usher's (they are {})", path.display(), known.join(", "));
            }
            let source = std::fs::read_to_string(&path).with_context(|| format!("pages_templates_dir: reading {}", path.display()))?;
            Environment::new()
                .add_template_owned(name, source)
                .with_context(|| format!("pages_templates_dir: {} does not compile", path.display()))?;
        }
    }
    Ok(())
}

/// `<dir>/<lang>/<name>`, else `<dir>/<name>`, else the embedded one: the layout mail's overrides
/// have, without the tenant (a page is usher's, not a tenant's).
fn with_overrides(mut env: Environment<'static>, dir: &Path, lang: &str) -> anyhow::Result<Environment<'static>> {
    for (name, _) in TEMPLATES {
        for path in [dir.join(lang).join(name), dir.join(name)] {
            match std::fs::read_to_string(&path) {
                Ok(source) => {
                    env.add_template_owned(*name, source).with_context(|| format!("compiling {}", path.display()))?;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    }
    Ok(env)
}

/// The language a page is written in: the catalogue's choice for `Accept-Language` (English when
/// it has none of the languages asked for), and the tag that chose it, kept as a signup's locale.
#[derive(Debug, Clone)]
pub struct Lang {
    tag: String,
    asked: String,
}

impl Lang {
    pub fn of(state: &AppState, headers: &HeaderMap) -> Self {
        let header = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let (chosen, asked) = state.ctx.catalogue.from_accept_language_with_tag(header);
        Self { tag: chosen.tag().to_owned(), asked }
    }

    /// What a signup made on this page stores, so that its mail is in this page's language.
    pub(crate) fn locale(&self) -> domain::Locale {
        domain::Locale::parse("locale", Some(&self.asked)).unwrap_or_default()
    }
}

impl FromRequestParts<AppState> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::of(state, &parts.headers))
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

/// The per-client limit, answered as a page.
pub(super) async fn limit_clients(State(state): State<AppState>, client: ClientAddr, req: Request, next: Next) -> Response {
    if let Err(retry_after) = state.limiter.admit(client.0) {
        crate::metrics::refused("client");
        return Page::new(&state, &Lang::of(&state, req.headers())).error(HttpError::TooManyRequests { retry_after });
    }
    next.run(req).await
}

/// `security::refuse_cross_site`, answered as a page.
pub(super) async fn refuse_cross_site(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if security::is_cross_site(&req, &state.ctx.settings) {
        crate::metrics::refused("cross_site");
        return Page::new(&state, &Lang::of(&state, req.headers())).error(security::cross_site_refusal());
    }
    next.run(req).await
}

/// A problem of one field: the message that words it (`rule-…`), and what the message needs besides
/// the field's label, which the template gives.
#[derive(Debug, Clone, Serialize)]
struct FieldError {
    id: &'static str,
    args: BTreeMap<&'static str, Value>,
}

impl FieldError {
    /// A problem the page itself finds, worded by `id` alone.
    fn page(id: &'static str) -> Self {
        Self { id, args: BTreeMap::new() }
    }

    /// A rule the API shares: its message for people, chosen by the rule's kind (the API's English
    /// words are the clients', not the pages').
    fn of(rule: &Rule) -> Self {
        let text = |s: &str| Value::from(s.to_owned());
        let (id, args): (&'static str, Vec<(&'static str, Value)>) = match rule {
            Rule::NotValid => ("rule-not-valid", vec![]),
            Rule::Required => ("rule-required", vec![]),
            Rule::TooShort { min } => ("rule-too-short", vec![("min", Value::from(*min))]),
            Rule::TooLong { max } => ("rule-too-long", vec![("max", Value::from(*max))]),
            Rule::ControlCharacters => ("rule-control-characters", vec![]),
            Rule::InvisibleCharacters => ("rule-invisible-characters", vec![]),
            Rule::NotAName => ("rule-not-a-name", vec![]),
            Rule::NotAnEmailAddress => ("rule-not-an-email-address", vec![]),
            Rule::NotADnsLabel => ("rule-not-a-dns-label", vec![]),
            Rule::IdnFormRefused => ("rule-idn-form-refused", vec![]),
            Rule::IdnFormNotXn => ("rule-idn-form-not-xn", vec![]),
            Rule::IdnNotPunycode => ("rule-idn-not-punycode", vec![]),
            Rule::Reserved => ("rule-reserved", vec![]),
            Rule::NotATenantType => ("rule-not-a-tenant-type", vec![]),
            Rule::NotALanguageTag => ("rule-not-a-language-tag", vec![]),
            Rule::UnknownCountry => ("rule-unknown-country", vec![]),
            Rule::ZipRequired { country } => ("rule-zip-required", vec![("country", text(country))]),
            Rule::ZipMismatch { country, example: None } => ("rule-zip-mismatch", vec![("country", text(country))]),
            Rule::ZipMismatch { country, example: Some(example) } => {
                ("rule-zip-mismatch-example", vec![("country", text(country)), ("example", text(example))])
            }
            Rule::NotASubdivision { country } => ("rule-not-a-subdivision", vec![("country", text(country))]),
            Rule::PasswordHasEmailName => ("rule-password-has-email-name", vec![]),
            Rule::PasswordBreached => ("rule-password-breached", vec![]),
            Rule::PasswordCommon => ("rule-password-common", vec![]),
            Rule::PasswordCommonWithAdditions => ("rule-password-common-with-additions", vec![]),
            Rule::PasswordPersonal => ("rule-password-personal", vec![]),
            Rule::PasswordPatternWithAdditions => ("rule-password-pattern-with-additions", vec![]),
            Rule::PasswordMisspeltWord => ("rule-password-misspelt-word", vec![]),
            Rule::PasswordTooGuessable => ("rule-password-too-guessable", vec![]),
        };
        Self { id, args: args.into_iter().collect() }
    }
}

type FieldErrors = BTreeMap<&'static str, FieldError>;

/// What stops a whole form, said at its top: `stale` (its anti-forgery token was refused),
/// `rate_limited`, `unavailable`, or `unreadable`.
#[derive(Debug, Clone, Copy)]
struct Notice {
    kind: Option<&'static str>,
    wait: Duration,
}

impl Notice {
    const NONE: Self = Self { kind: None, wait: Duration::ZERO };
    const STALE: Self = Self { kind: Some("stale"), wait: Duration::ZERO };
    const UNREADABLE: Self = Self { kind: Some("unreadable"), wait: Duration::ZERO };

    /// The notice for what the flows answer to a whole form, if it is one.
    fn of(e: &flows::FlowError) -> Option<Self> {
        match e {
            flows::FlowError::RateLimited { retry_after } => Some(Self { kind: Some("rate_limited"), wait: *retry_after }),
            flows::FlowError::Unavailable { retry_after, .. } => Some(Self { kind: Some("unavailable"), wait: *retry_after }),
            _ => None,
        }
    }
}

fn seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// What every page needs: the state and the language it is written in.
#[derive(Clone, Copy)]
pub(crate) struct Page<'a> {
    state: &'a AppState,
    lang: Chosen<'a>,
}

impl<'a> Page<'a> {
    pub(crate) fn new(state: &'a AppState, lang: &Lang) -> Self {
        Self { state, lang: state.ctx.catalogue.negotiate(&lang.tag) }
    }

    /// The language the page is written in.
    pub(crate) fn language(&self) -> Chosen<'a> {
        self.lang
    }

    fn settings(&self) -> &'a Settings {
        &self.state.ctx.settings
    }

    fn path(&self, p: &str) -> String {
        format!("{}{p}", self.settings().base_path)
    }

    /// Only a console the operator configured: the derived one serves nothing.
    fn console(&self, cname: &str) -> Option<String> {
        self.settings().console_url_given.then(|| self.state.ctx.console_url(cname))
    }

    /// The forgotten-password page, filled in with the account a link proved.
    fn forgot_link(&self, account: Option<(&str, &str)>) -> String {
        let base = self.path(FORGOT_PAGE);
        match account {
            Some((email, cname)) => {
                let query = serde_urlencoded::to_string([("cname", cname), ("email", email)]).unwrap_or_default();
                format!("{base}?{query}")
            }
            None => base,
        }
    }

    fn form_token(&self, form: &str) -> String {
        self.state.pages.csrf.form_token(form, self.state.ctx.clock.now_ms())
    }

    /// A form page whose anti-forgery token goes with it; `notice` says what stops the whole form.
    fn form(&self, status: StatusCode, name: &str, form: &str, notice: Notice, ctx: Value) -> Response {
        let csrf = self.form_token(form);
        let ctx = context! { csrf, action => self.path(form), notice => notice.kind, wait_seconds => seconds(notice.wait), ..ctx };
        self.render(status, name, ctx, Some(&csrf))
    }

    pub(crate) fn render(&self, status: StatusCode, name: &str, ctx: Value, csrf: Option<&str>) -> Response {
        let home = match self.settings().home_page {
            HomePage::Off => None,
            _ if self.settings().base_path.is_empty() => Some("/".to_owned()),
            _ => Some(self.settings().base_path.clone()),
        };
        // Every page can point to the forms and the next step (expired links, errors).
        let ctx = context! {
            home,
            tenant_form => self.path(forms::TENANT_FORM),
            developer_form => self.path(forms::DEVELOPER_FORM),
            code_page => self.path(CODE_PAGE),
            forgot_page => self.path(FORGOT_PAGE),
            ..ctx
        };
        let (status, html, failure) = match self.state.pages.render(name, self.lang.tag(), ctx.clone()) {
            Ok(h) => (status, h, None),
            // An operator's override that fails as it renders: the embedded error page says so, and the cause is logged.
            Err(e) => {
                let ctx = context! { problem => "internal", wait_seconds => 0, ..ctx };
                match self.state.pages.render_embedded("error.html", self.lang.tag(), ctx) {
                    Ok(h) => (StatusCode::INTERNAL_SERVER_ERROR, h, Some(e)),
                    Err(_) => return e.into_response(),
                }
            }
        };
        let mut response = (status, Html(html)).into_response();
        if let Some(e) = failure {
            e.decorate(&mut response);
        }
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.state.pages.csp.clone());
        if let Ok(lang) = HeaderValue::from_str(self.lang.tag()) {
            headers.insert(header::CONTENT_LANGUAGE, lang);
        }
        // The words depend on it: a cache must not hand one person's language to another.
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
        if let Some(csrf) = csrf {
            // Behind HTTPS the cookie must never travel over plain HTTP.
            let (name, secure) = if https(self.state) { (CSRF_COOKIE_HTTPS, "; Secure") } else { (CSRF_COOKIE, "") };
            let cookie = format!("{name}={}; Path=/; HttpOnly; SameSite=Strict{secure}", self.state.pages.csrf.cookie_for(csrf));
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// The error as a page: its status and `Retry-After`, words for people.
    pub(crate) fn error(&self, e: impl Into<HttpError>) -> Response {
        let e = e.into();
        let wait_seconds = match &e {
            HttpError::TooManyRequests { retry_after } | HttpError::Unavailable { retry_after, .. } => seconds(*retry_after),
            _ => 0,
        };
        let mut response = self.render(e.status(), "error.html", context! { problem => problem(&e), wait_seconds }, None);
        e.decorate(&mut response);
        response
    }

    /// A form page for a problem of the whole form: its status, `Retry-After` and logged cause too.
    fn with_notice(&self, e: flows::FlowError, render: impl FnOnce(StatusCode, Notice) -> Response) -> Response {
        let notice = Notice::of(&e).unwrap_or(Notice::UNREADABLE);
        let e = HttpError::from(e);
        let mut response = render(e.status(), notice);
        e.decorate(&mut response);
        response
    }
}

/// Which words of `error.html` an error gets.
fn problem(e: &HttpError) -> &'static str {
    match e {
        HttpError::TooManyRequests { .. } => "rate_limited",
        HttpError::Unavailable { .. } => "unavailable",
        HttpError::Internal(_) => "internal",
        HttpError::PayloadTooLarge => "too_large",
        HttpError::Forbidden(_) => "cross_site",
        HttpError::NotFound(_) => "not_found",
        HttpError::Conflict { code: "SIGNUP_COMPLETED", .. } => "signup_completed",
        HttpError::Conflict { code: "USER_EXISTS", .. } => "user_exists",
        HttpError::Conflict { code: "CNAME_TAKEN", .. } => "cname_taken",
        _ => "unreadable",
    }
}

fn https(state: &AppState) -> bool {
    state.ctx.settings.public_url.starts_with("https:")
}

/// A form as posted: its fields, and whether its anti-forgery token held. A form whose token did
/// not (open for hours, or not from this page) is shown again with its values, never acted on.
struct Submitted<T> {
    form: T,
    fresh: bool,
}

async fn read_form<T: DeserializeOwned>(state: &AppState, req: Request) -> Result<Submitted<T>, HttpError> {
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
    let fresh = state.pages.csrf.accepts(&form, &csrf, &cookie, state.ctx.clock.now_ms());
    Ok(Submitted { form: serde_urlencoded::from_bytes(&bytes).map_err(not_a_form)?, fresh })
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

/// The password's problem, beside its field; a page's password is never shown again.
fn password_error(e: flows::FlowError) -> Result<FieldErrors, flows::FlowError> {
    match e {
        flows::FlowError::Invalid(invalid) => Ok(FieldErrors::from([("password", FieldError::of(&invalid.rule))])),
        other => Err(other),
    }
}

fn fault_name(fault: flows::TokenFault) -> &'static str {
    match fault {
        flows::TokenFault::Invalid => "invalid",
        flows::TokenFault::Expired => "expired",
        flows::TokenFault::Superseded => "superseded",
        flows::TokenFault::Used => "used",
    }
}

#[utoipa::path(get, path = SIGNUP_PAGE, operation_id = "usher.SignupPage", tag = "Pages",
    summary = "The page a signup link opens, asking the person to complete the signup. Opening it never spends the token.",
    params(("token" = Option<String>, Query, description = "The signup link's token.")),
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_page(State(state): State<AppState>, lang: Lang, query: Result<AppQuery<LinkQuery>, HttpError>) -> Response {
    let p = Page::new(&state, &lang);
    match query {
        Ok(AppQuery(q)) => signup_view(p, StatusCode::OK, &q.token.unwrap_or_default(), Notice::NONE, FieldErrors::new(), None).await,
        Err(e) => p.error(e),
    }
}

/// The signup link's page as the link stands: its form, or what to do instead.
async fn signup_view(p: Page<'_>, status: StatusCode, token: &str, notice: Notice, errors: FieldErrors, fault: Option<&str>) -> Response {
    match signup::link_state(&p.state.ctx, token).await {
        Ok(signup::LinkState::Ready { email, cname }) => {
            p.form(status, "signup.html", SIGNUP_PAGE, notice, context! { state => "ready", email, cname, token, errors })
        }
        Ok(signup::LinkState::Expired) => {
            let ctx = context! { state => "expired", token, fault, resend_action => p.path(SIGNUP_RESEND) };
            p.form(status, "signup.html", SIGNUP_RESEND, notice, ctx)
        }
        Ok(signup::LinkState::Completed { email, cname }) => {
            let ctx = context! {
                state => "completed", console_url => p.console(&cname), forgot_link => p.forgot_link(Some((&email, &cname))), email, cname,
            };
            p.render(status, "signup.html", ctx, None)
        }
        Ok(signup::LinkState::Invalid) => p.render(status, "signup.html", context! { state => "invalid" }, None),
        Err(e) => p.error(e),
    }
}

#[utoipa::path(post, path = SIGNUP_PAGE, operation_id = "usher.SignupPageSubmit", tag = "Pages",
    summary = "Completes the signup with the first user's password.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let Submitted { form, fresh } = match read_form::<PageForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return signup_view(p, StatusCode::FORBIDDEN, &form.token, Notice::STALE, FieldErrors::new(), None).await;
    }
    // The page always asks for the password (the API may leave it out and mail a link instead).
    let Some(password) = form.password.filter(|pw| !pw.is_empty()) else {
        let errors = FieldErrors::from([("password", FieldError::of(&Rule::Required))]);
        return signup_view(p, StatusCode::BAD_REQUEST, &form.token, Notice::NONE, errors, None).await;
    };
    let e = match signup::complete(&state.ctx, &client.caller(), &form.token, Some(password)).await {
        Ok(done) => {
            let ctx = context! {
                state => "done",
                console_url => p.console(&done.cname),
                forgot_link => p.forgot_link(Some((&done.email, &done.cname))),
                cname => done.cname,
                email => done.email,
            };
            return p.render(StatusCode::OK, "signup.html", ctx, None);
        }
        Err(e) => e,
    };
    match e {
        flows::FlowError::Token { purpose, fault } => {
            let status = HttpError::from(flows::FlowError::Token { purpose, fault }).status();
            signup_view(p, status, &form.token, Notice::NONE, FieldErrors::new(), Some(fault_name(fault))).await
        }
        flows::FlowError::Conflict(Conflict::SignupCompleted) => {
            signup_view(p, StatusCode::CONFLICT, &form.token, Notice::NONE, FieldErrors::new(), None).await
        }
        e => match Notice::of(&e) {
            Some(notice) => {
                let e = HttpError::from(e);
                let mut response = signup_view(p, e.status(), &form.token, notice, FieldErrors::new(), None).await;
                e.decorate(&mut response);
                response
            }
            None => match password_error(e) {
                Ok(errors) => signup_view(p, StatusCode::BAD_REQUEST, &form.token, Notice::NONE, errors, None).await,
                Err(e) => p.error(e),
            },
        },
    }
}

#[utoipa::path(post, path = SIGNUP_RESEND, operation_id = "usher.SignupPageResend", tag = "Pages",
    summary = "Mails a fresh signup link for an expired one.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Sent.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn signup_resend(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let Submitted { form, fresh } = match read_form::<PageForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return signup_view(p, StatusCode::FORBIDDEN, &form.token, Notice::STALE, FieldErrors::new(), None).await;
    }
    match signup::resend(&state.ctx, &client.caller(), &form.token).await {
        Ok(()) => p.render(StatusCode::OK, "signup.html", context! { state => "resent" }, None),
        Err(e @ (flows::FlowError::Token { .. } | flows::FlowError::Conflict(Conflict::SignupCompleted))) => {
            signup_view(p, HttpError::from(e).status(), &form.token, Notice::NONE, FieldErrors::new(), None).await
        }
        Err(e) => match Notice::of(&e) {
            Some(notice) => {
                let e = HttpError::from(e);
                let mut response = signup_view(p, e.status(), &form.token, notice, FieldErrors::new(), None).await;
                e.decorate(&mut response);
                response
            }
            None => p.error(e),
        },
    }
}

#[utoipa::path(get, path = PASSWORD_PAGE, operation_id = "usher.PasswordPage", tag = "Pages",
    summary = "The page a password link opens, naming the account it is for. Opening it never spends the token.",
    params(("token" = Option<String>, Query, description = "The password link's token.")),
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn password_page(State(state): State<AppState>, lang: Lang, query: Result<AppQuery<LinkQuery>, HttpError>) -> Response {
    let p = Page::new(&state, &lang);
    match query {
        Ok(AppQuery(q)) => password_view(p, StatusCode::OK, &q.token.unwrap_or_default(), Notice::NONE, FieldErrors::new()).await,
        Err(e) => p.error(e),
    }
}

/// The password link's page as the link stands: its form for the account it names, or how to get a new one.
async fn password_view(p: Page<'_>, status: StatusCode, token: &str, notice: Notice, errors: FieldErrors) -> Response {
    let link = match password::link_state(&p.state.ctx, token).await {
        Ok(link) => link,
        Err(e) => return p.error(e),
    };
    let (email, cname) = link.account.clone().unzip();
    let forgot_link = p.forgot_link(link.account.as_ref().map(|(e, c)| (e.as_str(), c.as_str())));
    match (link.state, &link.account) {
        (TokenState::Live, Some(_)) => {
            p.form(status, "password.html", PASSWORD_PAGE, notice, context! { state => "ready", email, cname, token, errors, forgot_link })
        }
        (state, _) => {
            let fault = match state {
                _ if link.account.is_none() => "invalid",
                TokenState::Used => "used",
                TokenState::Superseded => "superseded",
                TokenState::Expired | TokenState::Missing | TokenState::Live => "expired",
            };
            p.render(status, "password.html", context! { state => "dead", fault, email, cname, forgot_link }, None)
        }
    }
}

#[utoipa::path(post, path = PASSWORD_PAGE, operation_id = "usher.PasswordPageSubmit", tag = "Pages",
    summary = "Sets the password.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn password_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let Submitted { form, fresh } = match read_form::<PageForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return password_view(p, StatusCode::FORBIDDEN, &form.token, Notice::STALE, FieldErrors::new()).await;
    }
    let pw = form.password.clone().unwrap_or_default();
    let e = match password::set(&state.ctx, &client.caller(), &form.token, pw).await {
        Ok(()) => {
            // The names are a courtesy: the password is set whether or not they can be read now.
            let account = password::link_state(&state.ctx, &form.token).await.ok().and_then(|l| l.account);
            let (email, cname) = account.unzip();
            let ctx = context! { state => "done", console_url => cname.as_deref().and_then(|c| p.console(c)), email, cname };
            return p.render(StatusCode::OK, "password.html", ctx, None);
        }
        Err(e) => e,
    };
    match e {
        e @ flows::FlowError::Token { .. } => {
            password_view(p, HttpError::from(e).status(), &form.token, Notice::NONE, FieldErrors::new()).await
        }
        e => match Notice::of(&e) {
            Some(notice) => {
                let e = HttpError::from(e);
                let mut response = password_view(p, e.status(), &form.token, notice, FieldErrors::new()).await;
                e.decorate(&mut response);
                response
            }
            None => match password_error(e) {
                Ok(errors) => password_view(p, StatusCode::BAD_REQUEST, &form.token, Notice::NONE, errors).await,
                Err(e) => p.error(e),
            },
        },
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
    lang: Lang,
    headers: HeaderMap,
    query: Result<AppQuery<ActivationQuery>, HttpError>,
) -> Response {
    let p = Page::new(&state, &lang);
    let code = match query {
        Ok(AppQuery(q)) => q.signup_code.unwrap_or_default(),
        Err(e) => return p.error(e),
    };
    match super::akana::tenant_of(&state.ctx.settings, &headers) {
        Ok(cname) => activation_view(p, StatusCode::OK, &cname, &code, Notice::NONE, FieldErrors::new(), None).await,
        Err(e) => p.error(e),
    }
}

async fn activation_view(
    p: Page<'_>,
    status: StatusCode,
    cname: &domain::Cname,
    code: &str,
    notice: Notice,
    errors: FieldErrors,
    fault: Option<&str>,
) -> Response {
    match akana::pending_email(&p.state.ctx, cname, code).await {
        Ok(Some(email)) => p.form(status, "activate.html", ACTIVATION_PAGE, notice, context! { state => "ready", email, code, errors }),
        Ok(None) => p.render(status, "activate.html", context! { state => "dead", fault }, None),
        Err(e) => p.error(e),
    }
}

#[utoipa::path(post, path = ACTIVATION_PAGE, operation_id = "usher.ActivationPageSubmit", tag = "Pages",
    summary = "Completes the developer signup with a password.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn activation_submit(State(state): State<AppState>, client: ClientAddr, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let cname = match super::akana::tenant_of(&state.ctx.settings, req.headers()) {
        Ok(c) => c,
        Err(e) => return p.error(e),
    };
    let Submitted { form, fresh } = match read_form::<PageForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return activation_view(p, StatusCode::FORBIDDEN, &cname, &form.signup_code, Notice::STALE, FieldErrors::new(), None).await;
    }
    // Read before the code is spent: the page after names the account.
    let email = match akana::pending_email(&state.ctx, &cname, &form.signup_code).await {
        Ok(email) => email,
        Err(e) => return p.error(e),
    };
    let pw = form.password.clone().unwrap_or_default();
    let e = match akana::complete_signup(&state.ctx, &client.caller(), &cname, &form.signup_code, pw).await {
        Ok(()) => {
            let ctx = context! { state => "done", email, console_url => p.console(cname.as_str()) };
            return p.render(StatusCode::OK, "activate.html", ctx, None);
        }
        Err(e) => e,
    };
    let code = form.signup_code.as_str();
    match e {
        flows::FlowError::Token { purpose, fault } => {
            let status = HttpError::from(flows::FlowError::Token { purpose, fault }).status();
            activation_view(p, status, &cname, code, Notice::NONE, FieldErrors::new(), Some(fault_name(fault))).await
        }
        e => match Notice::of(&e) {
            Some(notice) => {
                let e = HttpError::from(e);
                let mut response = activation_view(p, e.status(), &cname, code, notice, FieldErrors::new(), None).await;
                e.decorate(&mut response);
                response
            }
            None => match password_error(e) {
                Ok(errors) => activation_view(p, StatusCode::BAD_REQUEST, &cname, code, Notice::NONE, errors, None).await,
                Err(e) => p.error(e),
            },
        },
    }
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[schema(as = usherCodeForm)]
struct CodeForm {
    /// The form's CSRF token; its HMAC must be the `usher_csrf` cookie set with the form.
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// The code printed in the email, typed as the person likes.
    #[serde(default)]
    code: String,
}

#[utoipa::path(get, path = CODE_PAGE, operation_id = "usher.CodePage", tag = "Pages",
    summary = "Asks for an email's short code and the address it was sent to.",
    responses((status = 200, description = "The page.", body = String, content_type = "text/html"), PageErrors, PageThrottled))]
async fn code_page(State(state): State<AppState>, lang: Lang) -> Response {
    code_form(Page::new(&state, &lang), StatusCode::OK, &CodeForm::default(), &FieldErrors::new(), Notice::NONE)
}

fn code_form(p: Page<'_>, status: StatusCode, form: &CodeForm, errors: &FieldErrors, notice: Notice) -> Response {
    p.form(status, "code.html", CODE_PAGE, notice, context! { values => form, errors })
}

#[utoipa::path(post, path = CODE_PAGE, operation_id = "usher.CodePageSubmit", tag = "Pages",
    summary = "Goes where the email's link goes (303). Spends nothing: the link's page does.",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the email's link."),
        (status = 400, description = "The page again, saying what is wrong.", body = String, content_type = "text/html"),
        PageErrors, PageThrottled))]
async fn code_submit(State(state): State<AppState>, lang: Lang, req: Request) -> Response {
    let p = Page::new(&state, &lang);
    let Submitted { form, fresh } = match read_form::<CodeForm>(&state, req).await {
        Ok(f) => f,
        Err(e) => return p.error(e),
    };
    if !fresh {
        return code_form(p, StatusCode::FORBIDDEN, &form, &FieldErrors::new(), Notice::STALE);
    }
    let mut errors = FieldErrors::new();
    let email = EmailAddress::parse("email", &form.email).map_err(|e| errors.insert("email", FieldError::of(&e.rule))).ok();
    if form.code.trim().is_empty() {
        errors.insert("code", FieldError::of(&Rule::Required));
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return code_form(p, StatusCode::BAD_REQUEST, &form, &errors, Notice::NONE);
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
            Err(e) => p.error(HttpError::Internal(anyhow::Error::from(e).context("a code's link is not a header value"))),
        },
        Err(flows::FlowError::CodeRefused) => {
            let errors = FieldErrors::from([("code", FieldError::page("rule-code-refused"))]);
            code_form(p, StatusCode::BAD_REQUEST, &form, &errors, Notice::NONE)
        }
        Err(e) if Notice::of(&e).is_some() => p.with_notice(e, |status, notice| code_form(p, status, &form, &FieldErrors::new(), notice)),
        Err(e) => p.error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        crate::i18n::add_to(&mut env, Arc::new(Catalogue::built_in().unwrap()));
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap();
        }
        env.add_template("problem.html", r#"{% import "forms.html" as f %}{{ f.message(label, e) }}"#).unwrap();
        env.add_template("wait.html", r#"{% import "forms.html" as f %}{{ f.wait(seconds, lasting=lasting) }}"#).unwrap();
        env
    }

    /// One of each rule; the match stops the build until a new rule is listed here too.
    fn every_rule() -> Vec<Rule> {
        let country = || "Germany".to_owned();
        let rules = vec![
            Rule::NotValid,
            Rule::Required,
            Rule::TooShort { min: 8 },
            Rule::TooLong { max: 256 },
            Rule::ControlCharacters,
            Rule::InvisibleCharacters,
            Rule::NotAName,
            Rule::NotAnEmailAddress,
            Rule::NotADnsLabel,
            Rule::IdnFormRefused,
            Rule::IdnFormNotXn,
            Rule::IdnNotPunycode,
            Rule::Reserved,
            Rule::NotATenantType,
            Rule::NotALanguageTag,
            Rule::UnknownCountry,
            Rule::ZipRequired { country: country() },
            Rule::ZipMismatch { country: country(), example: None },
            Rule::ZipMismatch { country: country(), example: Some("10115".into()) },
            Rule::NotASubdivision { country: country() },
            Rule::PasswordHasEmailName,
            Rule::PasswordBreached,
            Rule::PasswordCommon,
            Rule::PasswordCommonWithAdditions,
            Rule::PasswordPersonal,
            Rule::PasswordPatternWithAdditions,
            Rule::PasswordMisspeltWord,
            Rule::PasswordTooGuessable,
        ];
        for rule in &rules {
            match rule {
                Rule::NotValid
                | Rule::Required
                | Rule::TooShort { .. }
                | Rule::TooLong { .. }
                | Rule::ControlCharacters
                | Rule::InvisibleCharacters
                | Rule::NotAName
                | Rule::NotAnEmailAddress
                | Rule::NotADnsLabel
                | Rule::IdnFormRefused
                | Rule::IdnFormNotXn
                | Rule::IdnNotPunycode
                | Rule::Reserved
                | Rule::NotATenantType
                | Rule::NotALanguageTag
                | Rule::UnknownCountry
                | Rule::ZipRequired { .. }
                | Rule::ZipMismatch { .. }
                | Rule::NotASubdivision { .. }
                | Rule::PasswordHasEmailName
                | Rule::PasswordBreached
                | Rule::PasswordCommon
                | Rule::PasswordCommonWithAdditions
                | Rule::PasswordPersonal
                | Rule::PasswordPatternWithAdditions
                | Rule::PasswordMisspeltWord
                | Rule::PasswordTooGuessable => {}
            }
        }
        rules
    }

    fn problem(env: &Environment<'_>, lang: &str, label: &str, e: &FieldError) -> String {
        env.get_template("problem.html")
            .unwrap()
            .render(context! { lang, label, e })
            .unwrap_or_else(|err| panic!("{e:?} in {lang}: {err:#}"))
    }

    #[test]
    fn every_rule_a_page_shows_is_worded_in_every_language_by_its_kind_not_its_english() {
        let env = env();
        for lang in ["en", "de"] {
            let mut seen = BTreeSet::new();
            for rule in
                every_rule().iter().map(FieldError::of).chain(["rule-taken", "rule-terms", "rule-code-refused"].map(FieldError::page))
            {
                let words = problem(&env, lang, "Domain", &rule);
                assert!(!words.is_empty() && !words.contains('{') && !words.contains("is required in Germany ("), "{rule:?}: {words}");
                assert!(seen.insert(words.clone()), "{lang}: two rules say {words:?}");
            }
        }
        let required = FieldError::of(&Rule::Required);
        assert_eq!(problem(&env, "en", "Email", &required), "Email is required.");
        assert_eq!(problem(&env, "de", "E-Mail-Adresse", &required), "Bitte geben Sie „E-Mail-Adresse“ an.");
        let zip = FieldError::of(&Rule::ZipMismatch { country: "Germany".into(), example: Some("10115".into()) });
        assert_eq!(problem(&env, "en", "ZIP", &zip), "ZIP does not match the postal codes of Germany (for example 10115).");
        assert_eq!(
            problem(&env, "de", "Postleitzahl", &zip),
            "„Postleitzahl“ passt nicht zu den Postleitzahlen des gewählten Landes (zum Beispiel 10115)."
        );
        let long = FieldError::of(&Rule::TooLong { max: 63 });
        assert_eq!(problem(&env, "de", "Domain", &long), "„Domain“ darf höchstens 63 Zeichen lang sein.");
        // The API's words stay the clients'.
        assert_eq!(crate::domain::Invalid::new("email", Rule::Required).message, "is required");
    }

    #[test]
    fn a_wait_is_said_in_words_in_each_language_with_its_plural_forms() {
        let env = env();
        let say = |lang: &str, seconds: u64, lasting: bool| {
            env.get_template("wait.html").unwrap().render(context! { lang, seconds, lasting }).unwrap()
        };
        for (seconds, en, de) in [
            (0, "a second", "einer Sekunde"),
            (1, "a second", "einer Sekunde"),
            (45, "45 seconds", "45 Sekunden"),
            (60, "a minute", "einer Minute"),
            (61, "about 2 minutes", "etwa 2 Minuten"),
            (120, "2 minutes", "2 Minuten"),
            (3600, "an hour", "einer Stunde"),
            (7201, "about 3 hours", "etwa 3 Stunden"),
        ] {
            assert_eq!((say("en", seconds, false).as_str(), say("de", seconds, false).as_str()), (en, de), "{seconds} s");
        }
        // "The link works for …" takes another case in German.
        assert_eq!(say("de", 3600, true), "eine Stunde");
        assert_eq!(say("de", 86_400, true), "24 Stunden");
        assert_eq!(say("en", 86_400, true), "24 hours");
    }
}
