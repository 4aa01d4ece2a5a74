use super::AppState;
use crate::error::HttpError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../templates/assets/usher.css");

/// The pages' policy: [`CONTENT_SECURITY_POLICY`], with the logo's origin allowed for images when
/// `logo_url` names another host.
pub fn page_policy(logo_url: Option<&str>) -> String {
    match logo_url.filter(|u| !u.starts_with('/')).map(origin_of).filter(|o| !o.is_empty() && o != "null") {
        Some(origin) => CONTENT_SECURITY_POLICY.replace("img-src 'self'", &format!("img-src 'self' {origin}")),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

pub fn assets() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/assets/usher.css", get(|| async { asset(STYLESHEET, "text/css; charset=utf-8") }))
        .route("/assets/tenant_form.js", get(|| async { asset(TENANT_FORM_SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/assets/brand.css", get(brand))
}

/// The accent colour and the operator's stylesheet, which may change without a restart: checked
/// again by the browser each time it is used.
async fn brand(State(state): State<AppState>) -> Response {
    match state.pages.stylesheet() {
        Ok(css) => {
            let mut response = css.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// A file, since the CSP allows no inline script.
const TENANT_FORM_SCRIPT: &str = include_str!("../../templates/assets/tenant_form.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // It names no person and no token: caching it is harmless.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

pub async fn refuse_ambiguous_framing(req: Request, next: Next) -> Response {
    if !has_two_framings(req.headers()) {
        return next.run(req).await;
    }
    // RFC 9112 §6.3: a smuggling attempt or a broken proxy. The two could disagree
    // on where the next request starts, so the connection is closed too.
    let mut r = HttpError::invalid("body", "must not be framed by both Content-Length and Transfer-Encoding").into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

pub fn add_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // A page sets its own (it may allow the logo's origin).
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    // Answers carry addresses and tokens; none may sit in a shared cache.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn has_two_framings(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH)
}

/// The form's path, in characters an HTML attribute keeps as they are (`/signup/tenant` is `_signup_tenant`).
fn form_name(path: &str) -> String {
    path.replace('/', "_")
}

/// Long enough to fill in the longest form after a coffee; short enough that a token lifted from
/// a page is of little use.
pub const FORM_TOKEN_TTL_MS: i64 = 2 * 3600 * 1000;
/// Instances behind one load balancer may disagree on the time by this much.
const CLOCK_SKEW_MS: i64 = 60 * 1000;

#[derive(Clone)]
pub struct CsrfKey(Hmac<Sha256>);

impl CsrfKey {
    pub fn from_keys(keys: &crate::tokens::KeyRing) -> anyhow::Result<Self> {
        Self::new(&keys.derive("usher csrf v1")?)
    }

    fn new(secret: &[u8]) -> anyhow::Result<Self> {
        Ok(Self(<Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| anyhow::anyhow!("the CSRF key is unusable"))?))
    }

    /// A form's token names the form (the path it posts to) and when it was made, so that a token
    /// copied from one form does not pass another and a page left open for days must be reloaded.
    pub fn form_token(&self, form: &str, now_ms: i64) -> String {
        format!("{}.{now_ms}.{}", form_name(form), crate::tokens::random_id())
    }

    /// The token was made for `form`, within `FORM_TOKEN_TTL`, and the cookie is its HMAC.
    pub fn accepts(&self, form: &str, form_token: &str, cookie: &str, now_ms: i64) -> bool {
        let mut parts = form_token.rsplitn(3, '.');
        let (Some(_random), Some(made), Some(made_for)) = (parts.next(), parts.next(), parts.next()) else { return false };
        let Ok(made) = made.parse::<i64>() else { return false };
        let fresh = made <= now_ms + CLOCK_SKEW_MS && now_ms - made <= FORM_TOKEN_TTL_MS;
        made_for == form_name(form) && fresh && self.matches(form_token, cookie)
    }

    /// A value planted in the cookie (from a sibling subdomain, say) matches no token an attacker can write into a form.
    pub fn cookie_for(&self, form_token: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(form_token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn matches(&self, form_token: &str, cookie: &str) -> bool {
        if form_token.is_empty() || cookie.is_empty() {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(cookie) else { return false };
        let mut mac = self.0.clone();
        mac.update(form_token.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }
}

/// `Sec-Fetch-Site` (which pages cannot set) decides when present. The pages' `Referrer-Policy: no-referrer`
/// makes some browsers send `Origin: null` for their own forms, so `null` counts only where `Sec-Fetch-Site`
/// vouched. A request with neither header comes from no browser that could be tricked; the token still applies.
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text(header::ORIGIN) else { return true };
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(&origin_of(public_url)) {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    matches!((authority, text(header::HOST)), (Some(a), Some(host)) if a.eq_ignore_ascii_case(host))
}

fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

/// Browsers name the page a request comes from; API clients send neither header and are not affected.
/// A form on another site would otherwise make each of its visitors sign up the addresses it chose,
/// from as many client addresses as it has visitors.
pub async fn refuse_cross_site(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_cross_site(&req, &state.ctx.settings) {
        crate::metrics::refused("cross_site");
        return cross_site_refusal().into_response();
    }
    next.run(req).await
}

/// A state-changing request that a browser sent from another site's page (and no allowed origin's).
pub fn is_cross_site(req: &Request, settings: &crate::config::Settings) -> bool {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    changes_state && !same_origin(req.headers(), &settings.public_url) && !from_allowed_origin(req.headers(), &settings.allowed_origins)
}

pub fn cross_site_refusal() -> HttpError {
    HttpError::Forbidden("Requests from another site's pages are not accepted.".into())
}

fn from_allowed_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(|o| o.trim().trim_end_matches('/'));
    origin.is_some_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
}

/// `/metrics` and the dev mailbox tell what the request path hides (which addresses are known; live
/// links): they answer only a client on this host, never one elsewhere that a proxy speaks for.
/// Any other client is told there is no such endpoint.
pub async fn this_host_only(req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip());
    if peer.is_some_and(|p| is_loopback(p) && forwarded_from_this_host(req.headers())) {
        return next.run(req).await;
    }
    HttpError::NotFound("No such endpoint.".into()).into_response()
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Every address a proxy put in `X-Forwarded-For`, `X-Real-IP` or `Forwarded` is this host's, trusted
/// proxy or not: a proxy on this host that was not declared trusted still speaks for someone.
fn forwarded_from_this_host(headers: &HeaderMap) -> bool {
    let values = |name: &'static str| headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let plain = values("x-forwarded-for").into_iter().chain(values("x-real-ip")).flat_map(|v| v.split(',')).map(str::trim);
    let forwarded = values("forwarded").into_iter().flat_map(|v| v.split([',', ';'])).filter_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
    });
    plain.chain(forwarded).all(|hop| {
        // `Forwarded` writes IPv6 as "[::1]" and may add a port; X-Forwarded-For may add a port to IPv4.
        let host = hop.strip_prefix('[').and_then(|h| h.split_once(']')).map_or(hop, |(h, _)| h);
        let host = host.parse::<IpAddr>().ok().or_else(|| host.rsplit_once(':').and_then(|(h, _)| h.parse().ok()));
        host.is_some_and(is_loopback)
    })
}

/// With the dev mailbox on, a page of any site could reach a developer's local usher through a
/// host name that its DNS points at 127.0.0.1 (DNS rebinding) and read the mailbox. Such a request
/// names that site in `Host`; usher answers only the names it is known by.
pub async fn known_hosts_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    hosts_only(&state, req, next, false).await
}

/// As [`known_hosts_only`], and any IP address too: a page rebinds a name, never an address, and
/// Prometheus names the management listener by the address it scrapes.
pub async fn known_hosts_or_addresses_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    hosts_only(&state, req, next, true).await
}

async fn hosts_only(state: &AppState, req: Request, next: Next, any_address: bool) -> Response {
    let settings = &state.ctx.settings;
    if !settings.dev_mailbox {
        return next.run(req).await;
    }
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).map(host_name);
    let known = match host {
        None => true,
        Some(h) => {
            let public = url::Url::parse(&settings.public_url)
                .ok()
                .and_then(|u| u.host_str().map(|s| s.trim_matches(['[', ']']).to_ascii_lowercase()));
            let tenancy = settings.tenancy_base_domain.as_deref();
            h == "localhost"
                || h.parse::<IpAddr>().is_ok_and(|ip| any_address || is_loopback(ip))
                || public.is_some_and(|p| p == h)
                || tenancy.is_some_and(|base| h == base || h.strip_suffix(base).is_some_and(|sub| sub.ends_with('.')))
        }
    };
    if known {
        return next.run(req).await;
    }
    HttpError::invalid("host", "must be this server's name (the public URL's host) while the development mailbox is on").into_response()
}

/// The host of a `Host` header, lower-case, without port or IPv6 brackets.
pub(crate) fn host_name(value: &str) -> String {
    let value = value.trim();
    let host = match value.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => value.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(value, |(h, _)| h),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_form_token_passes_only_its_own_form_and_only_while_fresh() {
        let key = CsrfKey::new(&[7; 32]).unwrap();
        let now = 1_800_000_000_000;
        let token = key.form_token("/signup", now);
        let cookie = key.cookie_for(&token);
        assert!(key.accepts("/signup", &token, &cookie, now + FORM_TOKEN_TTL_MS));
        assert!(!key.accepts("/password", &token, &cookie, now), "another form");
        assert!(!key.accepts("/signup", &token, &cookie, now + FORM_TOKEN_TTL_MS + 1), "expired");
        assert!(!key.accepts("/signup", &token, &cookie, now - 2 * CLOCK_SKEW_MS), "made in the future");
        let forged = token.replacen(&now.to_string(), &(now + 3_600_000).to_string(), 1);
        assert!(!key.accepts("/signup", &forged, &cookie, now + FORM_TOKEN_TTL_MS + 1), "its time is under the HMAC");
        assert!(!key.accepts("/signup", "garbage", &key.cookie_for("garbage"), now));
    }

    #[test]
    fn only_requests_from_this_host_are_from_this_host() {
        assert!(forwarded_from_this_host(&headers(&[])));
        assert!(forwarded_from_this_host(&headers(&[("x-forwarded-for", "127.0.0.1, ::1")])));
        assert!(forwarded_from_this_host(&headers(&[("forwarded", "for=\"[::1]:4711\";proto=http")])));
        for (name, value) in [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "127.0.0.1, 203.0.113.9"),
            ("x-forwarded-for", "unknown"),
            ("x-real-ip", "198.51.100.4"),
            ("forwarded", "for=192.0.2.60;proto=https"),
            ("forwarded", "for=\"[2001:db8::1]:443\""),
        ] {
            assert!(!forwarded_from_this_host(&headers(&[(name, value)])), "{name}: {value}");
        }
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn host_names_lose_their_port_and_brackets() {
        assert_eq!(host_name("Example.COM:8080"), "example.com");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("evil.example."), "evil.example");
    }

    #[test]
    fn a_csrf_cookie_matches_only_the_token_it_was_made_for() {
        let key = CsrfKey::new(&[7; 32]).unwrap();
        let cookie = key.cookie_for("form-token");
        assert!(key.matches("form-token", &cookie));
        assert!(!key.matches("other-token", &cookie));
        assert!(!key.matches("form-token", "form-token"), "a cookie equal to the token is what an attacker would plant");
        assert!(!CsrfKey::new(&[8; 32]).unwrap().matches("form-token", &cookie));
        assert!(!key.matches("", ""));
    }

    #[test]
    fn forms_from_other_sites_are_recognised() {
        let public = "https://signup.example.com";
        assert!(same_origin(&headers(&[]), public));
        assert!(same_origin(&headers(&[("origin", "https://signup.example.com"), ("sec-fetch-site", "same-origin")]), public));
        assert!(same_origin(&headers(&[("origin", "https://acme.portal.example"), ("host", "acme.portal.example")]), public));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "signup.example.com")]), public));
        assert!(!same_origin(&headers(&[("origin", "null")]), public));
        assert!(same_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]), public));
        assert!(!same_origin(&headers(&[("origin", "https://signup.example.com"), ("sec-fetch-site", "cross-site")]), public));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")]), public));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")]), public));
    }
}
