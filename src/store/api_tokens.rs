//! API tokens of the admin endpoints. The secret itself is never stored.

use super::Conn;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub tenant_id: String,
    pub tenant_cname: String,
    pub role: String,
    pub secret_hash: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: String,
    pub tenant: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert(conn: &mut Conn, id: &str, tenant_id: &str, role: &str, secret_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_tokens (id, tenant_id, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(tenant_id)
        .bind(role)
        .bind(secret_hash)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn by_id(conn: &mut Conn, id: &str) -> Result<Option<ApiToken>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT a.id, a.tenant_id, t.cname, a.role, a.secret_hash, a.revoked_at FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let revoked_at: Option<i64> = r.try_get(5)?;
        Ok(ApiToken {
            id: r.try_get(0)?,
            tenant_id: r.try_get(1)?,
            tenant_cname: r.try_get(2)?,
            role: r.try_get(3)?,
            secret_hash: r.try_get(4)?,
            revoked: revoked_at.is_some(),
        })
    })
    .transpose()
}

pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(id).bind(now).execute(conn).await.map(|_| ())
}

pub async fn revoke(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL").bind(id).bind(now).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list(conn: &mut Conn) -> Result<Vec<Listed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.id, t.cname, a.role, a.created_at, a.last_used_at, a.revoked_at FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id ORDER BY a.created_at, a.id",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get(0)?,
                tenant: r.try_get(1)?,
                role: r.try_get(2)?,
                created_at: r.try_get(3)?,
                last_used_at: r.try_get(4)?,
                revoked_at: r.try_get(5)?,
            })
        })
        .collect()
}
