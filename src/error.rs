use crate::domain::Invalid;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{message}")]
    Token { code: &'static str, message: &'static str },
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error("{message}")]
    Conflict { code: &'static str, message: Cow<'static, str> },
    #[error("method not allowed")]
    MethodNotAllowed { allow: Cow<'static, str> },
    #[error("not acceptable")]
    NotAcceptable,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported content type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    #[error("service unavailable: {reason}")]
    Unavailable { reason: &'static str, retry_after: Duration, cause: Option<anyhow::Error> },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Invalid> for HttpError {
    fn from(i: Invalid) -> Self {
        Self::Invalid { field: i.field, message: i.message }
    }
}

impl HttpError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } | Self::Token { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "INVALID_INPUT",
            Self::Token { code, .. } | Self::Conflict { code, .. } => code,
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden(_) => "PERMISSION_DENIED",
            Self::NotFound(_) => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType { .. } => "UNSUPPORTED_MEDIA_TYPE",
            Self::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Never built from an internal error's text.
    pub fn public_message(&self) -> Cow<'static, str> {
        match self {
            Self::Invalid { field, message } => format!("{field} {message}").into(),
            Self::Token { message, .. } => Cow::Borrowed(message),
            Self::Unauthenticated => "An API token is required: send Authorization: APIToken <secret>.".into(),
            Self::Forbidden(m) | Self::NotFound(m) => m.clone(),
            Self::Conflict { message, .. } => message.clone(),
            Self::MethodNotAllowed { allow } => format!("This path answers only {allow}.").into(),
            Self::NotAcceptable => "The Accept header names no media type this endpoint can answer with.".into(),
            Self::PayloadTooLarge => "The request body is larger than this endpoint accepts.".into(),
            Self::UnsupportedMediaType { expected } => format!("Send the body as {expected}.").into(),
            Self::TooManyRequests { .. } => "Too many requests; try again after the time in Retry-After.".into(),
            Self::Unavailable { reason, .. } => {
                format!("Temporarily unavailable: {reason}. Try again after the time in Retry-After.").into()
            }
            Self::Internal(_) => "An internal error occurred; it has been logged.".into(),
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

#[derive(Clone)]
pub struct Failure {
    pub internal: bool,
    pub error: Arc<anyhow::Error>,
}

impl HttpError {
    pub fn decorate(self, response: &mut Response) {
        let headers = response.headers_mut();
        match &self {
            Self::TooManyRequests { retry_after } | Self::Unavailable { retry_after, .. } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Self::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        let failure = match self {
            Self::Internal(e) => Failure { internal: true, error: Arc::new(e) },
            Self::Unavailable { cause: Some(e), .. } => Failure { internal: false, error: Arc::new(e) },
            _ => return,
        };
        response.extensions_mut().insert(failure);
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code(),
            message: self.public_message().into_owned(),
            field: match &self {
                Self::Invalid { field, .. } => Some(field),
                Self::Token { code: "CODE_INVALID", .. } => Some("code"),
                Self::Token { .. } => Some("token"),
                _ => None,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        self.decorate(&mut response);
        response
    }
}
