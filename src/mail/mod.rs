pub mod templates;
pub mod transport;

use crate::i18n::Chosen;
use crate::store::{self, Conn, outbox::Envelope, outbox::Status};
use crate::tokens::Purpose;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum Intent {
    SignupLinkV1 { token: String, cname: String, first_name: String, expires_at: i64 },
    AccountExistsV1 {},
    PasswordLinkV1 { token: String, cname: String, first_name: String, expires_at: i64 },
    ActivationCodeV1 { token: String, tenant: String, first_name: String, expires_at: i64 },
    SignupLinkV2 { signup_id: String, cname: String, first_name: String },
    PasswordLinkV2 { user_id: String, cname: String, first_name: String },
    ActivationCodeV2 { user_id: String, tenant: String, first_name: String },
}

pub(crate) struct LinkToMint<'a> {
    pub(crate) purpose: Purpose,
    pub(crate) subject: &'a str,
}

pub(crate) struct Minted {
    pub(crate) token: String,
    pub(crate) expires_at_ms: i64,
    /// The short code printed next to the link (`XXXX-XXXX`), typed at [`CODE_PAGE`].
    pub(crate) code: Option<String>,
}

pub(crate) const SIGNUP_PAGE: &str = "/signup";
pub(crate) const PASSWORD_PAGE: &str = "/password";
pub(crate) const ACTIVATION_PAGE: &str = "/activate";
pub(crate) const CODE_PAGE: &str = "/code";

impl Intent {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::SignupLinkV1 { .. } | Self::SignupLinkV2 { .. } => "signup_link",
            Self::AccountExistsV1 {} => "account_exists",
            Self::PasswordLinkV1 { .. } | Self::PasswordLinkV2 { .. } => "password_link",
            Self::ActivationCodeV1 { .. } | Self::ActivationCodeV2 { .. } => "activation_code",
        }
    }

    pub(crate) fn link_to_mint(&self) -> Option<LinkToMint<'_>> {
        let (purpose, subject) = match self {
            Self::SignupLinkV2 { signup_id, .. } => (Purpose::Signup, signup_id),
            Self::PasswordLinkV2 { user_id, .. } => (Purpose::Password, user_id),
            Self::ActivationCodeV2 { user_id, .. } => (Purpose::Activation, user_id),
            _ => return None,
        };
        Some(LinkToMint { purpose, subject })
    }

    /// The link a minted token makes, as the email carries it.
    pub(crate) fn link(&self, public_url: &str, token: &str) -> Option<String> {
        let page = match self {
            Self::SignupLinkV2 { .. } => SIGNUP_PAGE,
            Self::PasswordLinkV2 { .. } => PASSWORD_PAGE,
            // Akana clients expect the code under `signupCode=`.
            Self::ActivationCodeV2 { .. } => return Some(format!("{public_url}{ACTIVATION_PAGE}?signupCode={token}")),
            _ => return None,
        };
        Some(format!("{public_url}{page}?token={token}"))
    }

    pub(crate) fn scrubbed(&self) -> Self {
        let mut copy = self.clone();
        match &mut copy {
            Self::SignupLinkV1 { token, .. } | Self::PasswordLinkV1 { token, .. } | Self::ActivationCodeV1 { token, .. } => {
                *token = String::new()
            }
            _ => {}
        }
        copy
    }

    /// Sending it would mail a link that cannot work (a row scrubbed when it failed, by an older usher,
    /// then put back by `outbox retry`).
    pub(crate) fn lost_its_secret(&self) -> bool {
        match self {
            Self::SignupLinkV1 { token, .. } | Self::PasswordLinkV1 { token, .. } | Self::ActivationCodeV1 { token, .. } => {
                token.is_empty()
            }
            _ => false,
        }
    }

    /// What the templates see. `locale` is the one stored with the message, `lang` the catalogue's
    /// language chosen for it (what `t` speaks), and `expires_at` is written in that language.
    pub(crate) fn context(&self, public_url: &str, locale: &str, language: Chosen<'_>, minted: Option<&Minted>) -> minijinja::Value {
        let link = |page: &str, token: &str| format!("{public_url}{page}?token={token}");
        let (token, expires_at) = minted.map_or(("", 0), |m| (m.token.as_str(), m.expires_at_ms));
        let minted_link = self.link(public_url, token).unwrap_or_default();
        let when = |at_ms: i64| language.date_time(at_ms);
        let common = minijinja::context! {
            locale, lang => language.tag(),
            typed_code => minted.and_then(|m| m.code.clone()), code_page => format!("{public_url}{CODE_PAGE}"),
        };
        let ctx = match self {
            Self::SignupLinkV1 { token, cname, first_name, expires_at } => minijinja::context! {
                link => link(SIGNUP_PAGE, token), cname, first_name, expires_at => when(*expires_at),
            },
            Self::AccountExistsV1 {} => minijinja::context! {},
            Self::PasswordLinkV1 { token, cname, first_name, expires_at } => minijinja::context! {
                link => link(PASSWORD_PAGE, token), cname, first_name, expires_at => when(*expires_at),
            },
            // Akana clients expect the code under `signupCode=`.
            Self::ActivationCodeV1 { token, tenant, first_name, expires_at } => minijinja::context! {
                link => format!("{public_url}{ACTIVATION_PAGE}?signupCode={token}"), code => token, tenant, first_name,
                expires_at => when(*expires_at),
            },
            Self::SignupLinkV2 { cname, first_name, .. } => minijinja::context! {
                link => minted_link, cname, first_name, expires_at => when(expires_at),
            },
            Self::PasswordLinkV2 { cname, first_name, .. } => minijinja::context! {
                link => minted_link, cname, first_name, expires_at => when(expires_at),
            },
            Self::ActivationCodeV2 { tenant, first_name, .. } => minijinja::context! {
                link => minted_link, code => token, tenant, first_name, expires_at => when(expires_at),
            },
        };
        minijinja::context! { ..ctx, ..common }
    }
}

pub(crate) struct Outgoing<'a> {
    pub(crate) intent: Intent,
    pub(crate) to: &'a str,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) locale: &'a str,
}

pub(crate) async fn enqueue(conn: &mut Conn, now: i64, mail_domain: &str, out: Outgoing<'_>) -> Result<String, store::StoreError> {
    let payload = serde_json::to_string(&out.intent).map_err(|e| store::StoreError::Aborted(format!("encoding an intent: {e}")))?;
    let envelope = Envelope { kind: out.intent.kind(), recipient: out.to, tenant: out.tenant, locale: out.locale, payload: &payload };
    insert(conn, now, mail_domain, &envelope, Status::Pending).await
}

pub(crate) async fn insert(
    conn: &mut Conn,
    now: i64,
    mail_domain: &str,
    envelope: &Envelope<'_>,
    status: Status,
) -> Result<String, store::StoreError> {
    let message_id = new_message_id(mail_domain);
    store::outbox::enqueue(conn, &message_id, envelope, status, now).await?;
    Ok(message_id)
}

/// What `usher mail test` sends: fixed words, so that nothing but the transport is tested.
pub(crate) fn test_message() -> templates::Rendered {
    const TEXT: &str = "This is a test message from usher (usher mail test). It arrived, so the mail settings work.";
    templates::Rendered {
        subject: "usher test message".to_owned(),
        text: TEXT.to_owned(),
        html: format!("<!doctype html><html><body><p>{TEXT}</p></body></html>"),
    }
}

/// A Message-ID in `mail_from`'s domain, as every message usher sends has.
pub(crate) fn new_message_id(mail_domain: &str) -> String {
    // Time-ordered (v7): a batch's new ids land on the last page of the
    // unique index instead of a random page each.
    format!("<{}@{}>", uuid::Uuid::now_v7().simple(), mail_domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::previous_release;

    #[test]
    fn a_scrubbed_intent_keeps_no_secret() {
        let intent =
            Intent::PasswordLinkV1 { token: "v4.local.secret".into(), cname: "acme".into(), first_name: "Jo".into(), expires_at: 0 };
        let stored = serde_json::to_string(&intent.scrubbed()).unwrap();
        assert!(!stored.contains("secret"), "{stored}");
        assert!(stored.contains("PasswordLinkV1"));
        assert!(!intent.lost_its_secret() && intent.scrubbed().lost_its_secret());
        assert!(!Intent::AccountExistsV1 {}.scrubbed().lost_its_secret());
    }

    /// One of each variant, with the values of its frozen row.
    fn one_of_each() -> Vec<Intent> {
        let expires_at = 1_893_456_000_000;
        let all = vec![
            Intent::SignupLinkV1 { token: "frozen-signup-token".into(), cname: "initech".into(), first_name: "Ann".into(), expires_at },
            Intent::AccountExistsV1 {},
            Intent::PasswordLinkV1 { token: "frozen-password-token".into(), cname: "acme".into(), first_name: "Cy".into(), expires_at },
            Intent::ActivationCodeV1 { token: "frozen-activation-code".into(), tenant: "acme".into(), first_name: "Di".into(), expires_at },
            Intent::SignupLinkV2 { signup_id: "Zr0zEnS1gnUpXw4kQm7bTg".into(), cname: "umbrella".into(), first_name: "Eve".into() },
            Intent::PasswordLinkV2 { user_id: "Zr0zEnUs3rFayQm7bTg4kw".into(), cname: "acme".into(), first_name: "Fay".into() },
            Intent::ActivationCodeV2 { user_id: "Zr0zEnUs3rGusQm7bTg4kw".into(), tenant: "acme".into(), first_name: "Gus".into() },
        ];
        // A new variant does not compile here until it has a sample, and then a frozen row.
        for intent in &all {
            match intent {
                Intent::SignupLinkV1 { .. }
                | Intent::AccountExistsV1 {}
                | Intent::PasswordLinkV1 { .. }
                | Intent::ActivationCodeV1 { .. }
                | Intent::SignupLinkV2 { .. }
                | Intent::PasswordLinkV2 { .. }
                | Intent::ActivationCodeV2 { .. } => {}
            }
        }
        all
    }

    #[test]
    fn intents_are_written_exactly_as_the_previous_release_wrote_them() {
        for intent in one_of_each() {
            let tag = serde_json::to_value(&intent).unwrap()["type"].as_str().unwrap().to_owned();
            let frozen = previous_release::row(&tag);
            let written = serde_json::to_string(&intent).unwrap();
            assert_eq!(written, frozen.payload, "{}", previous_release::changed(&format!("a {tag} payload"), &written, frozen.payload));
            assert_eq!(
                intent.kind(),
                frozen.kind,
                "{}",
                previous_release::changed(&format!("a {tag} row's kind"), intent.kind(), frozen.kind)
            );
            assert_eq!(frozen.status, "pending");
        }
    }

    #[test]
    fn every_frozen_intent_row_is_still_read() {
        let rows: Vec<_> =
            previous_release::rows().into_iter().filter(|r| !r.kind.ends_with("request") && !r.kind.starts_with("webhook:")).collect();
        assert_eq!(rows.len(), one_of_each().len(), "one frozen row for each variant, and no row without its variant");
        for row in rows {
            let read: Intent = serde_json::from_str(row.payload)
                .unwrap_or_else(|e| panic!("a {} row of the previous release is unreadable ({e}): {}", row.kind, row.payload));
            assert_eq!(read.kind(), row.kind, "{}", row.payload);
            assert!(!read.lost_its_secret(), "{}", row.payload);
        }
    }

    #[test]
    fn stored_intents_stay_readable() {
        let row = r#"{"type":"SignupLinkV1","token":"t","cname":"acme","first_name":"Jo","expires_at":1}"#;
        let intent: Intent = serde_json::from_str(row).unwrap();
        assert_eq!(intent.kind(), "signup_link");
    }
}
