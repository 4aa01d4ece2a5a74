use super::AppState;
use crate::error::HttpError;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

pub const BODY_LIMIT: usize = 64 * 1024;

pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(HttpError::UnsupportedMediaType { expected: "application/json" });
        }
        let bytes = body(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(AppQuery)
            .map_err(|_| HttpError::invalid("query", "is not a valid query string for this endpoint"))
    }
}

pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| AppPath(p))
            .map_err(|_| HttpError::invalid("path", "must be percent-encoded UTF-8"))
    }
}

pub(crate) async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, HttpError> {
    axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            HttpError::PayloadTooLarge
        } else {
            // Most often the body timeout (http_body_timeout): sent too slowly.
            HttpError::invalid("body", "could not be read: it was cut off or sent too slowly")
        }
    })
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            HttpError::invalid("body", "is not valid JSON")
        } else if path.is_empty() || path == "." {
            HttpError::invalid("body", "must be a JSON object")
        } else {
            // The path is the client's own field name; leak it into a 'static
            // field only through the fixed list below, never from user input.
            HttpError::invalid(known_field(&path), format!("({path}) has the wrong type"))
        }
    })
}

fn known_field(path: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "email",
        "token",
        "password",
        "cname",
        "namespace",
        "tenant_type",
        "account_details",
        "company_details",
        "user_details",
        "mailing_address",
    ];
    // The innermost field usher names: a wrong type inside `mailing_address` is reported on it.
    path.rsplit('.').find_map(|segment| FIELDS.iter().copied().find(|f| *f == segment)).unwrap_or("body")
}

pub(crate) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The peer or, when the peer is a trusted proxy, the right-most `X-Forwarded-For` address that is not one.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(Self(client_ip(peer, &parts.headers, &state.ctx.settings.trusted_proxies)))
    }
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim);
    let hops: Vec<IpAddr> = forwarded.filter_map(|s| s.parse().ok()).collect();
    hops.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(proxy, &h, &proxies).to_string(), "203.0.113.9");
        assert_eq!(client_ip(stranger, &h, &proxies), stranger);
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
    }
}
