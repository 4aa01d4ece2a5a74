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
    sqlx::query("INSERT INTO audit_events (at, actor, action, target, client_addr, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
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

/// The newest `limit` events, newest first.
pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<Listed>, sqlx::Error> {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_events ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                target: r.try_get(4)?,
                client_addr: r.try_get(5)?,
                outcome: r.try_get(6)?,
                detail: r.try_get(7)?,
            })
        })
        .collect()
}
