mod email;
mod names;

pub(crate) use email::EmailAddress;
pub use names::{Cname, UserState};
pub(crate) use names::{Locale, RESERVED_CNAMES, SignupState, TOS_VERSION_MAX, TenantType, idn_refusal};

/// A field's problem: the rule it broke, and the API's English words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub(crate) field: &'static str,
    /// What the API answers: clients match these words, so they stay as they are.
    pub(crate) message: String,
    /// Which rule, for the pages, which word it in the page's language.
    pub(crate) rule: Rule,
}

impl Invalid {
    pub(crate) fn new(field: &'static str, rule: Rule) -> Self {
        Self { field, message: rule.english(), rule }
    }

    /// A rule whose English words are another module's own (the contact directory's).
    pub(crate) fn worded(field: &'static str, rule: Rule, message: String) -> Self {
        Self { field, message, rule }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The rules a field can break, each a stable kind with what its wording needs: the API answers
/// [`Rule::english`], the pages the message of the catalogue their layer picks for the kind. Never
/// tell rules apart by their English words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Nothing more precise to say (a request without any problem named).
    NotValid,
    Required,
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    ControlCharacters,
    InvisibleCharacters,
    /// A person's name that a mail client would make a link of.
    NotAName,
    NotAnEmailAddress,
    NotADnsLabel,
    /// `??--` without internationalised names allowed.
    IdnFormRefused,
    /// `??--` that is not `xn--`, with internationalised names allowed.
    IdnFormNotXn,
    /// `xn--` that is no name's punycode.
    IdnNotPunycode,
    /// A tenant name kept for the platform or the operator.
    Reserved,
    NotATenantType,
    NotALanguageTag,
    UnknownCountry,
    /// The countries' names are the contact directory's (English).
    ZipRequired {
        country: String,
    },
    ZipMismatch {
        country: String,
        example: Option<String>,
    },
    NotASubdivision {
        country: String,
    },
    PasswordHasEmailName,
    PasswordBreached,
    PasswordCommon,
    PasswordCommonWithAdditions,
    PasswordPersonal,
    PasswordPatternWithAdditions,
    PasswordMisspeltWord,
    PasswordTooGuessable,
}

impl Rule {
    /// The API's words, read after the field's name.
    pub(crate) fn english(&self) -> String {
        match self {
            Self::NotValid => "is not valid".into(),
            Self::Required => "is required".into(),
            Self::TooShort { min } => format!("must be at least {min} characters"),
            Self::TooLong { max } => format!("must be at most {max} characters"),
            Self::ControlCharacters => "must not contain control characters or line breaks".into(),
            Self::InvisibleCharacters => "must not contain direction overrides or invisible characters".into(),
            Self::NotAName => "must be a name, without links, addresses or host names".into(),
            Self::NotAnEmailAddress => "is not a valid email address".into(),
            Self::NotADnsLabel => "must be a DNS label: 1 to 63 lower-case letters, digits or '-', not starting or ending with '-'".into(),
            Self::IdnFormRefused => {
                "must not have '--' as its third and fourth characters: that is the form of internationalised (xn--) names".into()
            }
            Self::IdnFormNotXn => {
                "must not have '--' as its third and fourth characters unless it is an internationalised (xn--) name".into()
            }
            Self::IdnNotPunycode => "is not a valid internationalised name: an xn-- name must be one's punycode form".into(),
            Self::Reserved => "is reserved; choose another".into(),
            Self::NotATenantType => "must be one of UNKNOWN, FREEMIUM, ENTERPRISE".into(),
            Self::NotALanguageTag => "must be a language tag such as en or en-US".into(),
            Self::UnknownCountry => "must be an ISO 3166-1 alpha-2 country code such as US or DE".into(),
            Self::ZipRequired { country } => format!("is required in {country}"),
            Self::ZipMismatch { country, example: None } => format!("does not match the postal codes of {country}"),
            Self::ZipMismatch { country, example: Some(e) } => format!("does not match the postal codes of {country} (for example {e})"),
            Self::NotASubdivision { country } => format!("is not an ISO 3166-2 subdivision of {country}"),
            Self::PasswordHasEmailName => "must not contain the name part of your email address".into(),
            Self::PasswordBreached => "has appeared in a data breach (Have I Been Pwned); choose another".into(),
            Self::PasswordCommon => "is too easy to guess: it is one of the most common passwords".into(),
            Self::PasswordCommonWithAdditions => "is too easy to guess: it is a common password with a few characters added".into(),
            Self::PasswordPersonal => "is too easy to guess: it is built from your own names or address".into(),
            Self::PasswordPatternWithAdditions => "is too easy to guess: it is a common word or pattern with a few characters added".into(),
            Self::PasswordMisspeltWord => {
                "is too easy to guess: it is a dictionary word, misspelt by a letter, with a few characters added".into()
            }
            Self::PasswordTooGuessable => "is too easy to guess: add more words or characters that are not common patterns".into(),
        }
    }
}

/// Every field's problem at once, in the order the fields were checked: a form shows them all,
/// an API answers the first, so both keep one set of rules.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Invalid>);

impl Problems {
    /// The value, or nothing with its problem noted.
    pub(crate) fn check<T>(&mut self, checked: Result<T, Invalid>) -> Option<T> {
        checked.map_err(|e| self.0.push(e)).ok()
    }

    pub(crate) fn into_vec(self) -> Vec<Invalid> {
        self.0
    }
}

/// The first of a request's problems: what an API answers.
pub(crate) fn first(problems: Vec<Invalid>) -> Invalid {
    problems.into_iter().next().unwrap_or_else(|| Invalid::new("body", Rule::NotValid))
}

pub(crate) fn required(field: &'static str, value: Option<String>, max: usize) -> Result<String, Invalid> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(Invalid::new(field, Rule::Required));
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
        return Err(Invalid::new(field, Rule::TooLong { max }));
    }
    if value.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err(Invalid::new(field, Rule::ControlCharacters));
    }
    if value.chars().any(is_format) {
        return Err(Invalid::new(field, Rule::InvisibleCharacters));
    }
    Ok(value)
}

/// Unicode's format characters (general category Cf, Unicode 16): bidirectional controls
/// (which make `moc.live` read as `evil.com`), zero-width characters, invisible tags and
/// the like. Text that goes out in mail must read as it is.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Mail repeats a name from the platform's own sender, so a name may hold nothing a mail
/// client would turn into a link.
pub(crate) fn person_name(field: &'static str, value: Option<String>, max: usize) -> Result<String, Invalid> {
    let name = required(field, value, max)?;
    if reads_as_link(&name) {
        return Err(Invalid::new(field, Rule::NotAName));
    }
    Ok(name)
}

/// Read as a link finder would: in NFKC, where fullwidth `．＠：／` are the ASCII they look like,
/// with the ideographic full stop `。` (and through NFKC its halfwidth form) as a dot, as IDNA
/// maps it. Then a name reads as a link if it has `://`, `www.`, `@`, or a dotted run of letters,
/// digits and `-` that is a host name ([`is_host`]), an IPv4 address, or is followed by a port
/// (`:443`) or a path (`/`).
fn reads_as_link(name: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let text: String = name.nfkc().map(|c| if c == '\u{3002}' { '.' } else { c }).flat_map(char::to_lowercase).collect();
    if text.contains("://") || text.contains("www.") || text.contains('@') {
        return true;
    }
    let in_run = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let chars: Vec<char> = text.chars().collect();
    let mut start = 0;
    while start < chars.len() {
        if !in_run(chars[start]) {
            start += 1;
            continue;
        }
        let end = chars[start..].iter().position(|&c| !in_run(c)).map_or(chars.len(), |n| start + n);
        let run: String = chars[start..end].iter().collect();
        let run = run.trim_matches(|c| c == '.' || c == '-');
        let labels: Vec<&str> = run.split('.').collect();
        let dotted = labels.len() >= 2 && labels.iter().all(|l| !l.is_empty());
        let port_or_path = match (chars.get(end), chars.get(end + 1)) {
            (Some(':'), Some(d)) => d.is_ascii_digit(),
            (Some('/'), _) => true,
            _ => false,
        };
        if dotted && (is_host(&labels) || is_ipv4(&labels) || port_or_path) {
            return true;
        }
        start = end;
    }
    false
}

/// A last label of two or more letters (`example.com`, `evil.пример`) or in punycode
/// (`xn--p1ai`), after a label of two or more characters. Initials (`J.R.R.`, `J.R.R.Tolkien`)
/// are not hosts: mail clients do not link them, and people write their names so. `Dr.Smith`
/// without the space is, as a link finder cannot tell it from a host.
fn is_host(labels: &[&str]) -> bool {
    let Some((last, before)) = labels.split_last() else { return false };
    let tld = (last.chars().count() >= 2 && last.chars().all(char::is_alphabetic)) || last.starts_with("xn--");
    tld && before.iter().any(|l| l.chars().count() >= 2)
}

fn is_ipv4(labels: &[&str]) -> bool {
    labels.len() == 4 && labels.iter().all(|l| (1..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_links_hosts_and_direction_overrides() {
        let name = |s: &str| person_name("first_name", Some(s.to_owned()), 128);
        for ok in [
            "Jane",
            "Mary-Jane O'Neil",
            "O'Brien",
            "Jean-Luc",
            "J.R.R.",
            "J.R.R. Tolkien",
            "J.R.R.Tolkien",
            "St. John",
            "Dr. Smith",
            "Dr. Ng",
            "José",
            "Zoë Ó Súilleabháin",
            "Nguyễn Văn A",
            "山田\u{3000}太郎",
            "Ιωάννης",
            "Martin Luther King Jr.",
            "Henry VIII",
            "Jane 3.14",
            "Mary-Kate 2nd",
        ] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Jane. URGENT: verify now at https://evil.example",
            "Jane evil.example",
            "see www.evil",
            "jane@evil.example",
            "Jane\u{202E}moc.live",
            "Ja\u{200B}ne",
            // Read as links by mail clients that apply IDNA's dots, fullwidth forms, ports and paths.
            "Jane evil.example:443/login",
            "Jane evil\u{3002}example",
            "Jane evil\u{FF0E}example",
            "Jane evil\u{FF61}example",
            "Jane evil\u{2024}example",
            "Jane 1.2.3.4:80",
            "Jane 1.2.3.4",
            "Jane a.b:8080",
            "Jane a.b/login",
            "Jane (evil.example)",
            "Jane,evil.example",
            "Jane evil.xn--p1ai",
            "Jane\u{FF20}evil",
            "Jane https\u{FF1A}\u{FF0F}\u{FF0F}evil",
            "Jane EVIL.EXAMPLE",
            "Dr.Smith",
            // Line breaks and other invisible characters.
            "Jane\u{2028}Click the link below",
            "Jane\u{2029}Doe",
            "Jane\u{00AD}Doe",
            "Jane\u{E0041}",
        ] {
            assert!(name(bad).is_err(), "{bad}");
        }
        assert!(required("company", Some("Acme\u{202E}".into()), 64).is_err(), "no field takes a direction override");
        assert!(required("company", Some("Acme\u{2028}Inc".into()), 64).is_err(), "nor a line separator");
    }
}
