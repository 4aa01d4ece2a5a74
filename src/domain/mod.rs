//! Domain types: values that have been parsed and checked once, at the edge.
//!
//! Nothing in here knows about HTTP or SQL. A function that takes an
//! [`EmailAddress`] never has to ask whether it is well formed.

mod email;
mod names;

pub use email::EmailAddress;
pub use names::{Cname, Locale, TenantType, UserState};

/// Why a value was refused, with the name of the field the client sent it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A required string field: present, trimmed, non-empty and at most `max` characters.
pub fn required(field: &'static str, value: Option<String>, max: usize) -> Result<String, Invalid> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    bounded(field, value, max)
}

/// An optional string field, trimmed; empty counts as absent.
pub fn optional(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>, Invalid> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => bounded(field, v, max).map(Some),
    }
}

fn bounded(field: &'static str, value: String, max: usize) -> Result<String, Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value)
}
