//! The append-only audit trail.

use super::Conn;

pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn record(conn: &mut Conn, at: i64, e: &Event<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, client_addr, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target)
    .bind(e.client_addr)
    .bind(e.outcome)
    .bind(e.detail)
    .execute(conn)
    .await
    .map(|_| ())
}
