use crate::contact::ContactErr;
use crate::domain::TenantType;
use crate::flows::signup::RegistrationErr;
use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "usher",
        description = "Self-hosted onboarding for a SaaS platform. Two wire dialects: the F5 Distributed Cloud signup API \
            and the Akana users API (form-encoded, or JSON).\n\n\
            Every path is served at the root and again under the configured `base_path` (`USHER_BASE_PATH`, for example \
            `/api/v1/api/production/us-east-1/namespaces/default`), except `/healthz`, `/readyz` and `/metrics`, which are \
            served at the root only. The `servers` list names both.\n\n\
            Every error answer is `ErrorBody` (`{\"code\", \"message\", \"field\"?}`); the pages answer their own errors as \
            HTML. A method a path does not answer is 405 `METHOD_NOT_ALLOWED` with an `Allow` header, an unknown path 404 \
            `NOT_FOUND`. Unauthenticated routes share a per-client rate limit (429 with `Retry-After`).",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&AdminSecuritySchemes),
    tags(
        (name = "F5 XC", description = "The F5 Distributed Cloud signup dialect: signup, registration validation, password emails."),
        (name = "F5 XC admin", description = "F5 XC endpoints behind an API token: the admin password emails, verify_password."),
        (name = "F5 XC contact", description = "The contact directory: address validation and the lists a signup form reads."),
        (name = "Akana", description = "The Akana API Platform users dialect: developer self-signup."),
        (name = "Codes", description = "The short code every email with a link prints next to it, redeemed for that link."),
        (name = "Pages", description = "Server-rendered pages and their CSRF-protected form posts."),
        (name = "Operations", description = "Health, readiness, metrics and this document.")
    )
)]
struct Base;

pub fn document(paths: Document, base_path: &str) -> Document {
    let mut doc = Base::openapi();
    doc.merge(paths);
    let root = ServerBuilder::new().url("/").description(Some("every path")).build();
    let mut servers = vec![root];
    if !base_path.is_empty() {
        let prefixed = ServerBuilder::new()
            .url(base_path)
            .description(Some("the configured base_path: every path but /healthz, /readyz and /metrics"))
            .build();
        servers.insert(0, prefixed);
    }
    doc.servers = Some(servers);
    doc
}

/// matchit wants one parameter name per position, and F5's documents name them by meaning.
pub fn routes_positionally<S: Clone + Send + Sync + 'static>(
    mut router: OpenApiRouter<S>,
    (schemas, paths, method_router): UtoipaMethodRouter<S>,
) -> OpenApiRouter<S> {
    for (path, item) in paths.paths {
        router = router.route(&positional(&path), method_router.clone());
        let doc = router.get_openapi_mut();
        match doc.paths.paths.get_mut(&path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(path, item);
            }
        }
    }
    router.get_openapi_mut().components.get_or_insert_with(Default::default).schemas.extend(schemas);
    router
}

pub fn positional(path: &str) -> String {
    let segments = path.split('/').enumerate();
    let named = segments.map(|(i, s)| if s.starts_with('{') && s.ends_with('}') { format!("{{p{i}}}") } else { s.to_owned() });
    named.collect::<Vec<_>>().join("/")
}

#[derive(Clone)]
pub struct Served(pub Arc<str>);

pub fn router<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "usher.OpenApi",
    summary = "This document.",
    tag = "Operations",
    responses((status = 200, description = "This OpenAPI 3.1 document.", body = Object))
)]
async fn openapi_json(Extension(Served(doc)): Extension<Served>) -> Response {
    let mut response = doc.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // It names no person and no token.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// Every error answer's body: a stable `code`, a `message` for a person, and the offending `field` of invalid input.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// What went wrong, for a program: `INVALID_INPUT`, `TOKEN_EXPIRED`, `CNAME_TAKEN`, `UNAUTHENTICATED`, …
    #[schema(pattern = "^[A-Z][A-Z0-9_]*$", example = "INVALID_INPUT")]
    code: String,
    /// What went wrong, for a person. Never internal text, a token or a password.
    #[schema(example = "email must be a valid email address")]
    message: String,
    /// The offending field of an invalid input (400).
    #[schema(nullable = false, example = "email")]
    field: Option<String>,
}

struct AdminSecuritySchemes;

impl Modify for AdminSecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let api_token = ApiKeyValue::with_description(
            "Authorization",
            "`Authorization: APIToken <secret>`, F5 XC's convention; the secret comes from `usher api-token create`.",
        );
        components.add_security_scheme("APIToken", SecurityScheme::ApiKey(ApiKey::Header(api_token)));
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("`Authorization: Bearer <secret>`: the same API token.".into());
        components.add_security_scheme("Bearer", SecurityScheme::Http(bearer));
    }
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    /// `INVALID_INPUT` with the offending `field`, or `TOKEN_INVALID`, `TOKEN_EXPIRED`, `TOKEN_SUPERSEDED` or `TOKEN_USED` with `"field": "token"`, or `CODE_INVALID` with `"field": "code"`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not of the type this route reads.
    #[response(status = 415)]
    WrongType(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BadParameter {
    /// `INVALID_INPUT` with the offending `field`, or a token that cannot be used.
    #[response(status = 400)]
    BadRequest(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Throttled {
    /// `TOO_MANY_REQUESTS`: this client, or emails to this recipient, are over the limit; nothing was queued.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    TooMany(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Unavailable {
    /// `INTERNAL`: logged with its cause, which is not sent.
    #[response(status = 500)]
    Internal(ErrorBody),
    /// `UNAVAILABLE`: the database is unreachable or the password-hashing queue is full.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    Unavailable(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum AdminErrors {
    /// `UNAUTHENTICATED`: no API token, or an unknown or revoked one.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// `PERMISSION_DENIED`: the token's role is not `admin`, or the namespace is not `system`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `NOT_FOUND`: no user with that email in the token's tenant.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum NotFound {
    /// `NOT_FOUND`.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Conflict {
    /// `SIGNUP_COMPLETED`, `CNAME_TAKEN` or `USER_EXISTS`.
    #[response(status = 409)]
    Conflict(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum AkanaErrors {
    /// `NOT_FOUND`: the `Host` names no developer portal, or the portal takes no self-signup.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `NOT_ACCEPTABLE`: `Accept` names none of `application/json` and `application/vnd.soa.v71+json`,
    /// `v72`, `v80`, `v81`.
    #[response(status = 406)]
    NotAcceptable(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum PageErrors {
    /// The form again with every problem beside its field, or a page telling what was wrong with a query or link.
    #[response(status = 400, content_type = "text/html")]
    BadRequest(String),
    /// The form's anti-forgery token was refused (the form again, its values kept, asking to send it again), or the
    /// form came from another site (`Origin` refused: a page saying so).
    #[response(status = 403, content_type = "text/html")]
    Forbidden(String),
    /// No developer portal is served at this `Host`.
    #[response(status = 404, content_type = "text/html")]
    NotFound(String),
    /// The signup is already completed, or its domain was taken meanwhile.
    #[response(status = 409, content_type = "text/html")]
    Conflict(String),
    /// The form is over 64 KiB.
    #[response(status = 413, content_type = "text/html")]
    TooLarge(String),
    /// The form is not `application/x-www-form-urlencoded`.
    #[response(status = 415, content_type = "text/html")]
    WrongType(String),
    /// An internal error, logged.
    #[response(status = 500, content_type = "text/html")]
    Internal(String),
    /// The database is unreachable or the password-hashing queue is full.
    #[response(status = 503, content_type = "text/html", headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    Unavailable(String),
}

/// The per-client limit answers `ErrorBody` before any page is made; the per-recipient limit, a page.
pub struct PageThrottled;

impl IntoResponses for PageThrottled {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let retry_after = HeaderBuilder::new().schema(u64::schema()).description(Some("Seconds to wait.")).build();
        let response = ResponseBuilder::new()
            .description("Too many requests from this client, or emails to this recipient: a page saying when to try again.")
            .content("text/html", ContentBuilder::new().schema(Some(String::schema())).build())
            .header("Retry-After", retry_after)
            .build();
        BTreeMap::from([("429".to_owned(), response.into())])
    }
}

fn string_enum<T: serde::Serialize>(variants: &[T], description: &str) -> RefOr<Schema> {
    let values: Vec<serde_json::Value> = variants.iter().filter_map(|v| serde_json::to_value(v).ok()).collect();
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).description(Some(description)).into()
}

impl PartialSchema for RegistrationErr {
    fn schema() -> RefOr<Schema> {
        use RegistrationErr::*;
        // A new variant fails to compile here until it is listed.
        let listed = |e: RegistrationErr| match e {
            ETOKEN_OK | ETOKEN_FAILED | ETOKEN_NOTFOUND | ETOKEN_USED | ETOKEN_EXPIRED | EUSER_EXISTS => e,
        };
        let all = [ETOKEN_OK, ETOKEN_FAILED, ETOKEN_NOTFOUND, ETOKEN_USED, ETOKEN_EXPIRED, EUSER_EXISTS].map(listed);
        string_enum(
            &all,
            "The `err` of `validate_registration`, the first that applies of ETOKEN_FAILED, ETOKEN_NOTFOUND, ETOKEN_USED, ETOKEN_EXPIRED, \
             EUSER_EXISTS, else ETOKEN_OK: the values of F5's `schemasignupErrorCode` that `validate_registration` answers with; \
             `valid_registration` is true only for `ETOKEN_OK`.",
        )
    }
}

impl ToSchema for RegistrationErr {
    fn name() -> Cow<'static, str> {
        "signupValidateRegistrationErr".into()
    }
}

impl PartialSchema for ContactErr {
    fn schema() -> RefOr<Schema> {
        use ContactErr::*;
        let listed = |e: ContactErr| match e {
            ECONTACT_VALIDATE_OK | ECONTACT_EMPTY_COUNTRY | ECONTACT_UNKNOWN_COUNTRY | ECONTACT_EMPTY_ZIP_CODE | ECONTACT_INVALID_ZIP => e,
        };
        let all = [ECONTACT_VALIDATE_OK, ECONTACT_EMPTY_COUNTRY, ECONTACT_UNKNOWN_COUNTRY, ECONTACT_EMPTY_ZIP_CODE, ECONTACT_INVALID_ZIP]
            .map(listed);
        string_enum(&all, "The values of F5's `schemasignupErrorCode` that `validate_contact` answers with.")
    }
}

impl ToSchema for ContactErr {
    fn name() -> Cow<'static, str> {
        "signupValidateContactErr".into()
    }
}

impl PartialSchema for TenantType {
    fn schema() -> RefOr<Schema> {
        use TenantType::*;
        let listed = |t: TenantType| match t {
            Unknown | Freemium | Enterprise => t,
        };
        string_enum(
            &[Unknown, Freemium, Enterprise].map(listed),
            "F5's `TenantType`. In a request `UNKNOWN` (the default) matches any type, and a signup that asks for it \
             creates a `FREEMIUM` tenant.",
        )
    }
}

impl ToSchema for TenantType {
    fn name() -> Cow<'static, str> {
        "schemaTenantType".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apis_modules_route_only_through_their_annotations() {
        let modules = [
            ("f5xc", include_str!("f5xc.rs")),
            ("admin", include_str!("admin.rs")),
            ("akana", include_str!("akana.rs")),
            ("contact", include_str!("contact.rs")),
            ("health", include_str!("health.rs")),
            ("pages", include_str!("pages.rs")),
            ("pages::forms", include_str!("pages/forms.rs")),
        ];
        for (name, source) in modules {
            assert!(!source.contains(".route("), "{name} routes a path outside routes!, so /openapi.json would miss it");
        }
    }

    #[test]
    fn parameters_are_routed_by_position() {
        assert_eq!(positional("/no_auth/countries/{prefix}"), "/no_auth/countries/{p3}");
        assert_eq!(positional("/no_auth/countries/{country_code}/states/{prefix}"), "/no_auth/countries/{p3}/states/{p5}");
        assert_eq!(positional("/no_auth/countries"), "/no_auth/countries");
    }
}
