use super::AppState;
use crate::error::Error;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../templates/assets/usher.css");

pub fn assets() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/assets/usher.css", get(|| async { asset(STYLESHEET, "text/css; charset=utf-8") }))
        .route("/assets/tenant_form.js", get(|| async { asset(TENANT_FORM_SCRIPT, "text/javascript; charset=utf-8") }))
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
    let mut r = Error::invalid("body", "must not be framed by both Content-Length and Transfer-Encoding").into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

pub fn add_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    // Answers carry addresses and tokens; none may sit in a shared cache.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn has_two_framings(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH)
}

#[derive(Clone)]
pub struct CsrfKey(Hmac<Sha256>);

impl CsrfKey {
    pub fn from_keys(keys: &crate::tokens::KeyRing) -> anyhow::Result<Self> {
        Self::new(&keys.derive("usher csrf v1")?)
    }

    fn new(secret: &[u8]) -> anyhow::Result<Self> {
        Ok(Self(<Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| anyhow::anyhow!("the CSRF key is unusable"))?))
    }

    /// A value planted in the cookie (from a sibling subdomain, say) matches no token an attacker can write into a form.
    pub fn cookie_for(&self, form_token: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(form_token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn matches(&self, form_token: &str, cookie: &str) -> bool {
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

pub fn refused_form() -> Error {
    Error::Forbidden("The form expired or came from another site. Open the link from the email again.".into())
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
