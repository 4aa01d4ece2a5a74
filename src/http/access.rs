//! What every request leaves behind: its span (carrying its request id, so that every line it logs
//! names it), one access line, its `X-Request-Id` answer header and its count in the metrics.

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";
const REQUEST_ID_MAX: usize = 64;

#[derive(Clone)]
pub struct Observed {
    pub routes: Arc<RouteNames>,
    pub trusted_proxies: Arc<[IpNet]>,
}

/// The documented template of each route registered under another (`routes_positionally`'s `{p3}`).
#[derive(Default)]
pub struct RouteNames(HashMap<String, String>);

impl RouteNames {
    pub fn of<'a>(documented: impl Iterator<Item = &'a String>, base_path: &str) -> Self {
        let mut names = HashMap::new();
        for path in documented {
            let routed = super::openapi::positional(path);
            if routed != *path {
                names.insert(format!("{base_path}{routed}"), format!("{base_path}{path}"));
                names.insert(routed, path.clone());
            }
        }
        Self(names)
    }

    fn name(&self, req: &Request) -> String {
        match req.extensions().get::<MatchedPath>() {
            Some(matched) => self.0.get(matched.as_str()).cloned().unwrap_or_else(|| matched.as_str().to_owned()),
            None => "unmatched".to_owned(),
        }
    }
}

pub async fn observe(State(observed): State<Observed>, req: Request, next: Next) -> Response {
    let route = observed.routes.name(&req);
    let method = method_label(req.method());
    let id = request_id(&req, &observed.trusted_proxies);
    // The path only: a query string may hold a token.
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.uri().path(),
        route = %route,
        request_id = %id.to_str().unwrap_or_default(),
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(target: "usher::access", status, ms = (took.as_secs_f64() * 1e6).round() / 1e3, "answered"));
    crate::metrics::request(route, method, status, took);
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A trusted proxy's id, when it is one usher would have made up itself; a new one otherwise, so
/// that a client cannot write what it likes into the log.
fn request_id(req: &Request, trusted: &[IpNet]) -> HeaderValue {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip());
    let from_proxy = peer.is_some_and(|p| trusted.iter().any(|net| net.contains(&p)));
    let given = req.headers().get(REQUEST_ID).filter(|v| from_proxy && sane(v.as_bytes()));
    given
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown")))
}

fn sane(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= REQUEST_ID_MAX && id.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
}

/// An unknown method would otherwise be a label value a client chose.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_short_and_plain() {
        assert!(sane(b"0192f3c1-7d2e-7abc-9def-0123456789ab"));
        assert!(sane(b"req_42.a"));
        assert!(!sane(b""));
        assert!(!sane(&[b'a'; 65]));
        assert!(!sane(b"a b"));
        assert!(!sane(b"id\"} forged=1"));
    }

    #[test]
    fn positional_routes_are_named_by_their_documented_template() {
        let documented = ["/contact/{country_code}/states".to_owned(), "/plain".to_owned()];
        let names = RouteNames::of(documented.iter(), "/base");
        assert_eq!(names.0.get("/contact/{p2}/states").map(String::as_str), Some("/contact/{country_code}/states"));
        assert_eq!(names.0.get("/base/contact/{p2}/states").map(String::as_str), Some("/base/contact/{country_code}/states"));
        assert!(!names.0.contains_key("/plain"));
    }
}
