use super::{Conn, Error};
use crate::args;
use crate::domain::SignupState;

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

pub(crate) async fn insert(conn: &mut Conn, s: &NewSignup<'_>, now: i64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO signups (id, cname, email, email_norm, tenant_type, locale, details, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![s.id, s.cname, s.email, s.email_norm, s.tenant_type, s.locale, s.details, SignupState::Pending.as_str(), now],
    )
    .await
    .map(|_| ())
}

crate::from_row!(Signup { id, cname, email, tenant_type, locale, details, state => SignupState::parse, tenant_id });

pub(crate) async fn get(conn: &mut Conn, id: &str) -> Result<Option<Signup>, Error> {
    conn.fetch_optional("SELECT id, cname, email, tenant_type, locale, details, state, tenant_id FROM signups WHERE id = $1", args![id])
        .await
}

pub(crate) async fn complete(conn: &mut Conn, id: &str, tenant_id: &str, now: i64) -> Result<bool, Error> {
    let changed = conn
        .execute(
            "UPDATE signups SET state = $4, tenant_id = $2, completed_at = $3 WHERE id = $1 AND state = $5",
            args![id, tenant_id, now, SignupState::Completed.as_str(), SignupState::Pending.as_str()],
        )
        .await?;
    Ok(changed == 1)
}
