//! Redeeming an email's short code for the link it was printed next to. It spends nothing: the
//! link's page does, as when the link is followed.

use super::{Context, Ctx, FlowError};
use crate::domain::EmailAddress;
use crate::store;
use crate::tokens::MailCodes;
use subtle::ConstantTimeEq;

/// The link the email carries, or [`FlowError::CodeRefused`] whatever went wrong: a wrong code, an
/// unknown address, a dead, superseded, spent or expired code are not told apart. Known and
/// unknown addresses cost the same: one HMAC, the same statements.
pub(crate) async fn redeem(ctx: &Ctx, email: &EmailAddress, typed: &str) -> Result<String, FlowError> {
    let codes = ctx.keys.codes();
    let code_hash = codes.hash(&MailCodes::normalise(typed), email.normalized());
    let email_norm = email.normalized().to_owned();
    let found = {
        let (code_hash, email_norm) = (code_hash.clone(), email_norm.clone());
        transaction!(ctx, |_, conn, now| {
            let found = store::codes::take_try(conn, &email_norm, &code_hash, now).await.context("counting a code's try")?;
            let right = found.filter(|f| {
                f.live
                    && bool::from(f.code_hash.as_bytes().ct_eq(code_hash.as_bytes()) & f.email_norm.as_bytes().ct_eq(email_norm.as_bytes()))
            });
            if right.is_some() {
                store::codes::refund(conn, &email_norm).await.context("giving a right code's try back")?;
            }
            Ok(right.map(|f| f.sealed_link))
        })
        .await?
    };
    found.and_then(|sealed| codes.unseal(&sealed, &code_hash)).ok_or(FlowError::CodeRefused)
}
