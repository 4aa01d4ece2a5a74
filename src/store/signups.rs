use super::{Backend, Conn, StoreError};
use crate::args;
use crate::domain::SignupState;
use crate::tokens::Purpose;
use crate::tokens::TokenState;

#[derive(Debug, Clone)]
pub(crate) struct Signup {
    pub(crate) id: String,
    pub(crate) cname: String,
    pub(crate) email: String,
    pub(crate) tenant_type: String,
    pub(crate) locale: String,
    pub(crate) details: String,
    pub(crate) state: SignupState,
    pub(crate) tenant_id: Option<String>,
}

pub(crate) struct NewSignup<'a> {
    pub(crate) id: &'a str,
    pub(crate) cname: &'a str,
    pub(crate) email: &'a str,
    pub(crate) email_norm: &'a str,
    pub(crate) tenant_type: &'a str,
    pub(crate) locale: &'a str,
    pub(crate) details: &'a str,
}

/// A [`NewSignup`] that owns its parts, made before the transaction that stores it.
pub(crate) struct NewSignupOwned {
    pub(crate) id: String,
    pub(crate) cname: String,
    pub(crate) email: String,
    pub(crate) email_norm: String,
    pub(crate) tenant_type: String,
    pub(crate) locale: String,
    pub(crate) details: String,
}

impl NewSignupOwned {
    pub(crate) fn borrowed(&self) -> NewSignup<'_> {
        NewSignup {
            id: &self.id,
            cname: &self.cname,
            email: &self.email,
            email_norm: &self.email_norm,
            tenant_type: &self.tenant_type,
            locale: &self.locale,
            details: &self.details,
        }
    }
}

pub(crate) async fn insert(conn: &mut Conn, s: &NewSignup<'_>, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO signups (id, cname, email, email_norm, tenant_type, locale, details, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![s.id, s.cname, s.email, s.email_norm, s.tenant_type, s.locale, s.details, SignupState::Pending.as_str(), now],
    )
    .await
    .map(|_| ())
}

/// [`insert`] for a batch of signups, each with its time; one statement on PostgreSQL.
pub(crate) async fn insert_many(conn: &mut Conn, backend: Backend, signups: &[(NewSignup<'_>, i64)]) -> Result<(), StoreError> {
    if super::row_by_row(backend, signups.len()) {
        for (s, at) in signups {
            insert(conn, s, *at).await?;
        }
        return Ok(());
    }
    let ids = super::column(signups, |(s, _)| s.id);
    let cnames = super::column(signups, |(s, _)| s.cname);
    let emails = super::column(signups, |(s, _)| s.email);
    let norms = super::column(signups, |(s, _)| s.email_norm);
    let types = super::column(signups, |(s, _)| s.tenant_type);
    let locales = super::column(signups, |(s, _)| s.locale);
    let details = super::column(signups, |(s, _)| s.details);
    let at: Vec<i64> = signups.iter().map(|(_, at)| *at).collect();
    conn.execute(
        "INSERT INTO signups (id, cname, email, email_norm, tenant_type, locale, details, state, created_at)
         SELECT id, cname, email, email_norm, tenant_type, locale, details, $8, at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $9::bigint[])
             AS n(id, cname, email, email_norm, tenant_type, locale, details, at)",
        args![&ids, &cnames, &emails, &norms, &types, &locales, &details, SignupState::Pending.as_str(), &at],
    )
    .await
    .map(|_| ())
}

/// What `validate_registration` weighs, read in one statement, so it is one
/// snapshot with no transaction around it.
pub(crate) struct Registration {
    pub(crate) email_norm: String,
    pub(crate) tenant_type: String,
    pub(crate) state: SignupState,
    pub(crate) token: TokenState,
    pub(crate) email_has_account: bool,
}

struct RegistrationRow {
    email_norm: String,
    tenant_type: String,
    state: SignupState,
    used_at: Option<i64>,
    superseded_at: Option<i64>,
    expires_at: Option<i64>,
    has_account: i64,
}

crate::from_row!(RegistrationRow { email_norm, tenant_type, state => SignupState::parse, used_at, superseded_at, expires_at, has_account });

pub(crate) async fn registration(
    conn: &mut Conn,
    signup_id: &str,
    token_hash: &str,
    email_norm: &str,
    now: i64,
) -> Result<Option<Registration>, StoreError> {
    let row: Option<RegistrationRow> = conn
        .fetch_optional(
            "SELECT s.email_norm, s.tenant_type, s.state, t.used_at, t.superseded_at, t.expires_at,
                    CASE WHEN EXISTS (SELECT 1 FROM users WHERE email_norm = $4 AND verified_at IS NOT NULL) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS has_account
             FROM signups s LEFT JOIN one_time_tokens t ON t.id_hash = $2 AND t.purpose = $3
             WHERE s.id = $1",
            args![signup_id, token_hash, Purpose::Signup.as_str(), email_norm],
        )
        .await?;
    Ok(row.map(|r| Registration {
        email_norm: r.email_norm,
        tenant_type: r.tenant_type,
        state: r.state,
        token: TokenState::of(r.expires_at.map(|expires| (r.used_at, r.superseded_at, expires)), now),
        email_has_account: r.has_account != 0,
    }))
}

crate::from_row!(Signup { id, cname, email, tenant_type, locale, details, state => SignupState::parse, tenant_id });

pub(crate) async fn get(conn: &mut Conn, id: &str) -> Result<Option<Signup>, StoreError> {
    conn.fetch_optional("SELECT id, cname, email, tenant_type, locale, details, state, tenant_id FROM signups WHERE id = $1", args![id])
        .await
}

pub(crate) async fn complete(conn: &mut Conn, id: &str, tenant_id: &str, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE signups SET state = $4, tenant_id = $2, completed_at = $3 WHERE id = $1 AND state = $5",
            args![id, tenant_id, now, SignupState::Completed.as_str(), SignupState::Pending.as_str()],
        )
        .await?;
    Ok(changed == 1)
}
