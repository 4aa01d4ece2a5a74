use super::{Backend, Conn, StoreError};
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

/// [`record`] for a batch of events, each with its time; one statement on PostgreSQL.
pub(crate) async fn record_many(conn: &mut Conn, backend: Backend, events: &[(i64, Event<'_>)]) -> Result<(), StoreError> {
    if super::row_by_row(backend, events.len()) {
        for (at, e) in events {
            record(conn, *at, e).await?;
        }
        return Ok(());
    }
    let at: Vec<i64> = events.iter().map(|(at, _)| *at).collect();
    let actors = super::column(events, |(_, e)| e.actor);
    let actions = super::column(events, |(_, e)| e.action);
    let targets = super::column(events, |(_, e)| e.target);
    let outcomes = super::column(events, |(_, e)| e.outcome);
    let addrs: Vec<Option<&str>> = events.iter().map(|(_, e)| e.client_addr).collect();
    let details: Vec<Option<&str>> = events.iter().map(|(_, e)| e.detail).collect();
    conn.execute(
        "INSERT INTO audit_events (at, actor, action, target, client_addr, outcome, detail)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
        args![&at, &actors, &actions, &targets, &addrs, &outcomes, &details],
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
