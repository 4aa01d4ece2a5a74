use super::{Invalid, Rule};

/// Kept as given, for display; [`EmailAddress::normalized`] is the lookup key: trimmed, domain (and by default local part) lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmailAddress {
    display: String,
    normalized: String,
}

pub(crate) const MAX_EMAIL_LEN: usize = 1024;

impl EmailAddress {
    pub(crate) fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let display = raw.trim();
        if display.is_empty() {
            return Err(Invalid::new(field, Rule::Required));
        }
        if display.len() > MAX_EMAIL_LEN {
            return Err(Invalid::new(field, Rule::TooLong { max: MAX_EMAIL_LEN }));
        }
        if !matches_seed_pattern(display) || !within_rfc_5321(display) {
            return Err(Invalid::new(field, Rule::NotAnEmailAddress));
        }
        Ok(Self { display: display.to_owned(), normalized: display.to_ascii_lowercase() })
    }

    pub(crate) fn parse_field(field: &'static str, raw: Option<&str>) -> Result<Self, Invalid> {
        Self::parse(field, raw.unwrap_or_default())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.display
    }

    pub(crate) fn normalized(&self) -> &str {
        &self.normalized
    }

    pub(crate) fn local_part(&self) -> &str {
        self.normalized.split('@').next().unwrap_or_default()
    }

    pub(crate) fn mailbox_key(&self) -> String {
        let (local, domain) = self.normalized.rsplit_once('@').unwrap_or((&self.normalized, ""));
        let local = local.split('+').next().unwrap_or(local);
        let local = if DOTLESS_DOMAINS.contains(&domain) { local.replace('.', "") } else { local.to_owned() };
        let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
        format!("{local}@{domain}")
    }

    pub(crate) fn from_trusted(display: String) -> Self {
        let normalized = display.to_ascii_lowercase();
        Self { display, normalized }
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

const DOTLESS_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];

/// RFC 5321 §4.5.3.1 and RFC 1035 limits, which F5's email pattern lets through though no mail server takes them.
fn within_rfc_5321(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    let local_ok = local.len() <= 64 && !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len()) && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    local_ok && domain.len() <= 253 && domain.split('.').all(label_ok)
}

fn matches_seed_pattern(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty() && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    // The pattern's domain part is greedy, so the TLD is whatever follows the last dot.
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b));
    let tld_ok = tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    local_ok && host_ok && tld_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_seed_pattern_accepts() {
        for ok in ["hello@example.com", "a.b+c%d_e-f@sub.example.co", "X@Y.ZZ", "jane.saoirse@acmepaymentscorp.com"] {
            assert!(EmailAddress::parse("email", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_the_seed_pattern_refuses() {
        for bad in
            ["", "plain", "@example.com", "a@b", "a@b.c", "a@b.c0m", "a b@example.com", "a@exa mple.com", "a@@example.com", "é@example.com"]
        {
            assert!(EmailAddress::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_what_rfc_5321_refuses_although_the_seed_pattern_allows_it() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("jane@{}.com", "a".repeat(64));
        for bad in [
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
            "jane@example..com",
            "jane@-example.com",
            "jane@example-.com",
            &long_local,
            &long_label,
        ] {
            assert!(EmailAddress::parse("email", bad).is_err(), "{bad}");
        }
        assert!(EmailAddress::parse("email", &format!("{}@example.com", "a".repeat(64))).is_ok());
    }

    #[test]
    fn plus_tags_and_ignored_dots_fold_into_one_mailbox_key() {
        let key = |s: &str| EmailAddress::parse("email", s).unwrap().mailbox_key();
        assert_eq!(key("Victim+1@Example.com"), "victim@example.com");
        assert_eq!(key("victim+2@example.com"), key("victim@example.com"));
        assert_eq!(key("j.a.n.e+x@googlemail.com"), "jane@gmail.com");
        assert_eq!(key("j.ane@example.com"), "j.ane@example.com", "other domains keep their dots");
    }

    #[test]
    fn normalises_case_but_keeps_the_original_for_display() {
        let email = EmailAddress::parse("email", "  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(email.normalized(), "jane.doe@example.com");
        assert_eq!(email.local_part(), "jane.doe");
    }

    #[test]
    fn refuses_addresses_longer_than_1024_characters() {
        let long = format!("{}@example.com", "a".repeat(1020));
        assert_eq!(EmailAddress::parse("email", &long).unwrap_err().field, "email");
    }
}
