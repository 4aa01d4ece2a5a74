use super::{Conn, Error};
use crate::args;

pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn record(conn: &mut Conn, at: i64, e: &Event<'_>) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO audit_events (at, actor, action, target, client_addr, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![at, e.actor, e.action, e.target, e.client_addr, e.outcome, e.detail],
    )
    .await
    .map(|_| ())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

crate::from_row!(Listed { id, at, actor, action, target, client_addr, outcome, detail });

pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<Listed>, Error> {
    conn.fetch_all(
        "SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_events ORDER BY id DESC LIMIT $1",
        args![limit],
    )
    .await
}
