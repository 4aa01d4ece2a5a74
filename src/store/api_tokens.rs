use super::{Conn, StoreError};
use crate::args;
use serde::Serialize;

#[derive(Debug, Clone)]
pub(crate) struct ApiToken {
    pub(crate) id: String,
    pub(crate) tenant_cname: String,
    pub(crate) role: String,
    pub(crate) secret_hash: String,
    pub(crate) revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Listed {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) role: String,
    pub(crate) created_at: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
}

pub(crate) async fn insert(conn: &mut Conn, id: &str, tenant_id: &str, role: &str, secret_hash: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (id, tenant_id, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![id, tenant_id, role, secret_hash, now],
    )
    .await
    .map(|_| ())
}

crate::from_row!(ApiToken { id, tenant_cname: "cname", role, secret_hash, revoked_at });

pub(crate) async fn by_id(conn: &mut Conn, id: &str) -> Result<Option<ApiToken>, StoreError> {
    conn.fetch_optional(
        "SELECT a.id, t.cname, a.role, a.secret_hash, a.revoked_at FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = $1",
        args![id],
    )
    .await
}

pub(crate) async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    conn.execute("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", args![id, now]).await.map(|_| ())
}

pub async fn revoke(conn: &mut Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", args![id, now]).await? == 1)
}

crate::from_row!(Listed { id, tenant: "cname", role, created_at, last_used_at, revoked_at });

pub(crate) async fn list(conn: &mut Conn) -> Result<Vec<Listed>, StoreError> {
    conn.fetch_all(
        "SELECT a.id, t.cname, a.role, a.created_at, a.last_used_at, a.revoked_at FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id ORDER BY a.created_at, a.id",
        &[],
    )
    .await
}
