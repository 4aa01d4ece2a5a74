use super::{Invalid, Rule};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cname(String);

impl Cname {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Invalid::new(field, Rule::Required));
        }
        let bytes = s.as_bytes();
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok =
            bytes.len() <= 63 && edge_ok(bytes[0]) && edge_ok(bytes[bytes.len() - 1]) && bytes.iter().all(|&b| edge_ok(b) || b == b'-');
        if !ok {
            return Err(Invalid::new(field, Rule::NotADnsLabel));
        }
        Ok(Self(s.to_owned()))
    }

    /// A new tenant's name as F5's signup takes it (`domain`): a DNS label of at most
    /// [`NEW_TENANT_NAME_MAX`] characters. Tenants that already exist keep longer names.
    pub(crate) fn parse_new_tenant(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let cname = Self::parse(field, raw)?;
        if cname.0.len() > NEW_TENANT_NAME_MAX {
            return Err(Invalid::new(field, Rule::TooLong { max: NEW_TENANT_NAME_MAX }));
        }
        Ok(cname)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// F5's signup documents (`signupAccountMeta.domain`, `XCSaaSSignupRequest.domain`): `max_len: 17`.
pub(crate) const NEW_TENANT_NAME_MAX: usize = 17;

/// F5's signup document (`signupAccountMeta.tos_version`): `max_len: 12`.
pub(crate) const TOS_VERSION_MAX: usize = 12;

impl std::fmt::Display for Cname {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a new tenant may not take `cname`, a valid DNS label, for IDNA's sake: `--` in its third
/// and fourth characters is the form IDNA reserves (RFC 5891 §4.2.3.1), and its `xn--` names are
/// punycode that browsers and consoles show in other scripts (`xn--cme-5cd` shows as `аcme`, its
/// `а` Cyrillic). With `allow_idn` an `xn--` name is taken if it is the ASCII form of an
/// internationalised name, which says nothing of whether it looks like another tenant's.
/// Tenants that already have such names keep them: this is asked only of new ones.
pub(crate) fn idn_refusal(cname: &str, allow_idn: bool) -> Option<Rule> {
    if cname.get(2..4) != Some("--") {
        return None;
    }
    if !allow_idn {
        return Some(Rule::IdnFormRefused);
    }
    let Some(encoded) = cname.strip_prefix("xn--") else {
        return Some(Rule::IdnFormNotXn);
    };
    // The decoded name must be non-ASCII (else it is an ASCII name in disguise) and encode back to
    // exactly this label under IDNA's rules, which refuse what no browser would show as a name.
    let valid = idna::punycode::decode_to_string(encoded)
        .is_some_and(|decoded| !decoded.is_ascii() && idna::domain_to_ascii_strict(&decoded).is_ok_and(|ascii| ascii == cname));
    (!valid).then_some(Rule::IdnNotPunycode)
}

/// Beyond the service's own names, F5's would let a stranger pass for the platform: `ves`,
/// `volterra` and `f5` are the names F5's signup documents refuse (`not_in`).
pub(crate) const RESERVED_CNAMES: &[&str] = &["default", "www", "api", "admin", "ves", "volterra", "f5", "ves-io", "f5xc"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TenantType {
    Unknown,
    Freemium,
    Enterprise,
}

impl TenantType {
    pub(crate) fn parse(field: &'static str, raw: Option<&str>) -> Result<Self, Invalid> {
        match raw.map(str::trim) {
            None | Some("") | Some("UNKNOWN") => Ok(Self::Unknown),
            Some("FREEMIUM") => Ok(Self::Freemium),
            Some("ENTERPRISE") => Ok(Self::Enterprise),
            Some(_) => Err(Invalid::new(field, Rule::NotATenantType)),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Freemium => "FREEMIUM",
            Self::Enterprise => "ENTERPRISE",
        }
    }

    pub(crate) fn for_new_tenant(self) -> Self {
        match self {
            Self::Unknown => Self::Freemium,
            other => other,
        }
    }

    pub(crate) fn matches(self, stored: Self) -> bool {
        self == Self::Unknown || self == stored
    }

    pub(crate) fn from_stored(s: &str) -> Self {
        Self::parse("tenant_type", Some(s)).unwrap_or(Self::Unknown)
    }
}

/// It names a template directory, so only letters, digits and `-` get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locale(String);

impl Locale {
    pub(crate) fn parse(field: &'static str, raw: Option<&str>) -> Result<Self, Invalid> {
        let s = raw.map(str::trim).unwrap_or_default().replace('_', "-");
        if s.is_empty() {
            return Ok(Self::default());
        }
        let mut parts = s.split('-');
        let lang_ok = parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
        let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !(lang_ok && rest_ok) || s.len() > 35 {
            return Err(Invalid::new(field, Rule::NotALanguageTag));
        }
        Ok(Self(s))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Locale {
    fn default() -> Self {
        Self("en".to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    Pending,
    Active,
    Disabled,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Active, Self::Disabled].into_iter().find(|v| v.as_str() == s)
    }
}

impl PartialEq<&str> for UserState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignupState {
    Pending,
    Completed,
}

impl SignupState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Completed].into_iter().find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cname_is_a_dns_label() {
        for ok in ["a", "example", "ex-ample-1", &"a".repeat(63)] {
            assert!(Cname::parse("domain", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Example", "a_b", "a.b", &"a".repeat(64)] {
            assert!(Cname::parse("domain", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_tenants_name_has_at_most_17_characters() {
        assert!(Cname::parse_new_tenant("domain", &"a".repeat(17)).is_ok());
        let refused = Cname::parse_new_tenant("domain", &"a".repeat(18)).unwrap_err();
        assert_eq!((refused.field, refused.message.as_str()), ("domain", "must be at most 17 characters"));
        assert!(Cname::parse("cname", &"a".repeat(18)).is_ok(), "an existing tenant's name is not held to it");
    }

    #[test]
    fn new_tenant_names_in_idnas_reserved_form_are_refused_unless_valid_idn_is_allowed() {
        for name in ["acme", "a-b", "ab-cd", "a--b", "abc--d"] {
            assert_eq!(idn_refusal(name, false), None, "{name}");
        }
        for name in ["xn--cme-5cd", "xn--dfault-3of", "xn--mnchen-3ya", "ab--cd", "xn--zz"] {
            assert!(idn_refusal(name, false).is_some(), "{name}");
        }
        for name in ["xn--mnchen-3ya", "xn--cme-5cd", "xn--dfault-3of"] {
            assert_eq!(idn_refusal(name, true), None, "{name} is valid punycode");
        }
        // Not punycode (it overflows); ASCII in disguise; control characters once decoded; another `??--`.
        for name in ["xn--99999999", "xn--acme-", "xn--acme", "xn--a", "ab--cd", "rz--tanium"] {
            assert!(idn_refusal(name, true).is_some(), "{name}");
        }
    }

    #[test]
    fn unknown_tenant_type_matches_any_and_defaults() {
        assert_eq!(TenantType::parse("t", None).unwrap(), TenantType::Unknown);
        assert!(TenantType::Unknown.matches(TenantType::Enterprise));
        assert!(!TenantType::Freemium.matches(TenantType::Enterprise));
        assert!(TenantType::parse("t", Some("GOLD")).is_err());
    }

    #[test]
    fn locale_names_only_safe_directories() {
        assert_eq!(Locale::parse("locale", Some("pt_BR")).unwrap().as_str(), "pt-BR");
        assert_eq!(Locale::parse("locale", None).unwrap().as_str(), "en");
        for bad in ["../etc", "e", "en/US", "english-language-of-england-and-more-stuff"] {
            assert!(Locale::parse("locale", Some(bad)).is_err(), "{bad}");
        }
    }
}
