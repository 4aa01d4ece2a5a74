use super::{Country, Subdivision, directory};
use serde::Serialize;

/// In the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum ContactErr {
    ECONTACT_VALIDATE_OK,
    ECONTACT_EMPTY_COUNTRY,
    ECONTACT_UNKNOWN_COUNTRY,
    ECONTACT_EMPTY_ZIP_CODE,
    ECONTACT_INVALID_ZIP,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    Country,
    StateCode,
    ZipCode,
}

impl AddressField {
    pub fn name(self) -> &'static str {
        match self {
            Self::Country => "country",
            Self::StateCode => "state_code",
            Self::ZipCode => "zip_code",
        }
    }

    pub fn signup_path(self) -> &'static str {
        match self {
            Self::Country => "company_details.mailing_address.country",
            Self::StateCode => "company_details.mailing_address.state_code",
            Self::ZipCode => "company_details.mailing_address.zip_code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: AddressField,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RawAddress<'a> {
    pub country: Option<&'a str>,
    pub state_code: Option<&'a str>,
    pub zip_code: Option<&'a str>,
}

#[derive(Debug)]
pub struct Verdict {
    pub err: ContactErr,
    pub errors: Vec<FieldError>,
    pub country: Option<&'static Country>,
    pub subdivision: Option<&'static Subdivision>,
}

#[derive(Debug, Clone, Copy)]
pub struct MailingAddress {
    pub country: &'static Country,
    pub subdivision: Option<&'static Subdivision>,
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_result(self) -> Result<MailingAddress, FieldError> {
        match (self.errors.into_iter().next(), self.country) {
            (Some(e), _) => Err(e),
            (None, Some(country)) => Ok(MailingAddress { country, subdivision: self.subdivision }),
            (None, None) => Err(FieldError { field: AddressField::Country, message: "is required".into() }),
        }
    }
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

pub fn check(raw: RawAddress<'_>) -> Verdict {
    let mut verdict = Verdict { err: ContactErr::ECONTACT_VALIDATE_OK, errors: Vec::new(), country: None, subdivision: None };
    let refuse = |v: &mut Verdict, err, field, message: String| {
        if v.err == ContactErr::ECONTACT_VALIDATE_OK {
            v.err = err;
        }
        v.errors.push(FieldError { field, message });
    };
    let Some(code) = present(raw.country) else {
        refuse(&mut verdict, ContactErr::ECONTACT_EMPTY_COUNTRY, AddressField::Country, "is required".into());
        return verdict;
    };
    let Some(country) = directory().country(code) else {
        let message = "must be an ISO 3166-1 alpha-2 country code such as US or DE".into();
        refuse(&mut verdict, ContactErr::ECONTACT_UNKNOWN_COUNTRY, AddressField::Country, message);
        return verdict;
    };
    verdict.country = Some(country);
    match (country.zip_regex(), present(raw.zip_code)) {
        (Some(_), None) => {
            refuse(&mut verdict, ContactErr::ECONTACT_EMPTY_ZIP_CODE, AddressField::ZipCode, format!("is required in {}", country.name));
        }
        // Patterns are written in capitals ("SW1A 1AA"); people type either.
        (Some(rule), Some(zip)) if !rule.is_match(&zip.to_uppercase()) => {
            let example = country.zip_example.map(|e| format!(" (for example {e})")).unwrap_or_default();
            let message = format!("does not match the postal codes of {}{example}", country.name);
            refuse(&mut verdict, ContactErr::ECONTACT_INVALID_ZIP, AddressField::ZipCode, message);
        }
        // A country without postal codes takes whatever is given: there is no rule to hold it to.
        _ => {}
    }
    if let Some(state) = present(raw.state_code) {
        match country.subdivision(state) {
            Some(s) => verdict.subdivision = Some(s),
            None => verdict.errors.push(FieldError {
                field: AddressField::StateCode,
                message: format!("is not an ISO 3166-2 subdivision of {}", country.name),
            }),
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(country: &str, zip: &str) -> ContactErr {
        check(RawAddress { country: Some(country), zip_code: Some(zip), state_code: None }).err
    }

    #[test]
    fn the_checks_run_in_f5s_order() {
        use ContactErr::*;
        assert_eq!(err("", "98101"), ECONTACT_EMPTY_COUNTRY);
        assert_eq!(err("ZZ", ""), ECONTACT_UNKNOWN_COUNTRY);
        assert_eq!(err("USA", "98101"), ECONTACT_UNKNOWN_COUNTRY);
        assert_eq!(err("US", " "), ECONTACT_EMPTY_ZIP_CODE);
        assert_eq!(err("US", "9810"), ECONTACT_INVALID_ZIP);
        assert_eq!(err("us", "98101-1234"), ECONTACT_VALIDATE_OK);
        assert_eq!(err("GB", "sw1a 1aa"), ECONTACT_VALIDATE_OK);
        assert_eq!(err("DE", "10115"), ECONTACT_VALIDATE_OK);
        assert_eq!(err("AE", ""), ECONTACT_VALIDATE_OK);
    }

    #[test]
    fn a_subdivision_of_another_country_is_refused_by_name() {
        let v = check(RawAddress { country: Some("DE"), zip_code: Some("10115"), state_code: Some("WA") });
        assert_eq!(v.err, ContactErr::ECONTACT_VALIDATE_OK);
        assert_eq!(v.errors[0].field, AddressField::StateCode);
        assert!(!v.is_valid());
    }
}
