use super::{Conn, StoreError};
use crate::args;

pub(crate) struct Event<'a> {
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) target: &'a str,
    pub(crate) client_addr: Option<&'a str>,
    pub(crate) outcome: &'a str,
    pub(crate) detail: Option<&'a str>,
}

pub(crate) async fn record(conn: &mut Conn, at: i64, e: &Event<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_events (at, actor, action, target, client_addr, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![at, e.actor, e.action, e.target, e.client_addr, e.outcome, e.detail],
    )
    .await
    .map(|_| ())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub(crate) id: i64,
    pub(crate) at: i64,
    pub actor: String,
    pub action: String,
    pub(crate) target: String,
    pub(crate) client_addr: Option<String>,
    pub outcome: String,
    pub(crate) detail: Option<String>,
}

crate::from_row!(Listed { id, at, actor, action, target, client_addr, outcome, detail });

pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<Listed>, StoreError> {
    conn.fetch_all(
        "SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_events ORDER BY id DESC LIMIT $1",
        args![limit],
    )
    .await
}
