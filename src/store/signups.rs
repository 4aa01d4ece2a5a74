//! Pending and completed tenant signups.

use super::Conn;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Signup {
    pub id: String,
    pub cname: String,
    pub email: String,
    pub tenant_type: String,
    pub locale: String,
    /// JSON of what the signup form sent beyond the columns: company, address, names.
    pub details: String,
    pub state: String,
    pub tenant_id: Option<String>,
}

pub async fn insert(conn: &mut Conn, s: &Signup, email_norm: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signups (id, cname, email, email_norm, tenant_type, locale, details, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
    )
    .bind(&s.id)
    .bind(&s.cname)
    .bind(&s.email)
    .bind(email_norm)
    .bind(&s.tenant_type)
    .bind(&s.locale)
    .bind(&s.details)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Signup>, sqlx::Error> {
    let row = sqlx::query("SELECT id, cname, email, tenant_type, locale, details, state, tenant_id FROM signups WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Signup {
            id: r.try_get(0)?,
            cname: r.try_get(1)?,
            email: r.try_get(2)?,
            tenant_type: r.try_get(3)?,
            locale: r.try_get(4)?,
            details: r.try_get(5)?,
            state: r.try_get(6)?,
            tenant_id: r.try_get(7)?,
        })
    })
    .transpose()
}

/// Marks a pending signup completed; false if it already was.
pub async fn complete(conn: &mut Conn, id: &str, tenant_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE signups SET state = 'completed', tenant_id = $2, completed_at = $3 WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .bind(tenant_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
