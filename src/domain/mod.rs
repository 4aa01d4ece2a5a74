mod email;
mod names;

pub(crate) use email::EmailAddress;
pub use names::{Cname, UserState};
pub(crate) use names::{Locale, RESERVED_CNAMES, SignupState, TenantType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

impl Invalid {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub(crate) fn required(field: &'static str, value: Option<String>, max: usize) -> Result<String, Invalid> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    bounded(field, value, max)
}

pub(crate) fn optional(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>, Invalid> {
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
    if value.chars().any(is_invisible_format) {
        return Err(Invalid::new(field, "must not contain direction overrides or invisible characters"));
    }
    Ok(value)
}

/// Bidirectional controls (which make `moc.live` read as `evil.com`) and
/// zero-width characters: text that goes out in mail must read as it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Mail repeats a name from the platform's own sender, so a name may hold no link or host name.
pub(crate) fn person_name(field: &'static str, value: Option<String>, max: usize) -> Result<String, Invalid> {
    let name = required(field, value, max)?;
    let lower = name.to_lowercase();
    let has_link = lower.contains("://") || lower.contains("www.") || lower.contains('@') || lower.split_whitespace().any(looks_like_host);
    if has_link {
        return Err(Invalid::new(field, "must be a name, without links, addresses or host names"));
    }
    Ok(name)
}

/// Initials (`J.R.R.`) and `St. John` are not hosts.
fn looks_like_host(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let host = word.split('/').next().unwrap_or(word);
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
        && labels[..labels.len() - 1].iter().any(|l| l.chars().count() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_links_hosts_and_direction_overrides() {
        let name = |s: &str| person_name("first_name", Some(s.to_owned()), 128);
        for ok in ["Jane", "Mary-Jane O'Neil", "J.R.R.", "St. John", "José", "Dr. Ng"] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Jane. URGENT: verify now at https://evil.example",
            "Jane evil.example",
            "see www.evil",
            "jane@evil.example",
            "Jane\u{202E}moc.live",
            "Ja\u{200B}ne",
        ] {
            assert!(name(bad).is_err(), "{bad}");
        }
        assert!(required("company", Some("Acme\u{202E}".into()), 64).is_err(), "no field takes a direction override");
    }
}
