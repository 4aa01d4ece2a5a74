use super::{Backend, Conn, StoreError};
use crate::args;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DevMessage {
    pub(crate) id: i64,
    pub(crate) message_id: String,
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    pub(crate) created_at: i64,
}

/// Delivering the same Message-ID again changes nothing.
pub(crate) async fn insert(conn: &mut Conn, m: &DevMessage) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO dev_mailbox (message_id, recipient, subject, text_body, html_body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING",
        args![&m.message_id, &m.to, &m.subject, &m.text, &m.html, m.created_at],
    )
    .await
    .map(|_| ())
}

/// [`insert`] for a batch, one statement on PostgreSQL.
pub(crate) async fn insert_many(conn: &mut Conn, backend: Backend, messages: &[&DevMessage]) -> Result<(), StoreError> {
    if super::row_by_row(backend, messages.len()) {
        for m in messages {
            insert(conn, m).await?;
        }
        return Ok(());
    }
    let column = |f: fn(&DevMessage) -> &str| messages.iter().map(|m| f(m)).collect::<Vec<&str>>();
    let (ids, to, subjects, texts, htmls) = (
        column(|m| m.message_id.as_str()),
        column(|m| m.to.as_str()),
        column(|m| m.subject.as_str()),
        column(|m| m.text.as_str()),
        column(|m| m.html.as_str()),
    );
    let created: Vec<i64> = messages.iter().map(|m| m.created_at).collect();
    conn.execute(
        "INSERT INTO dev_mailbox (message_id, recipient, subject, text_body, html_body, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
         ON CONFLICT (message_id) DO NOTHING",
        args![&ids, &to, &subjects, &texts, &htmls, &created],
    )
    .await
    .map(|_| ())
}

crate::from_row!(DevMessage { id, message_id, to: "recipient", subject, text: "text_body", html: "html_body", created_at });

pub(crate) async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<DevMessage>, StoreError> {
    conn.fetch_all(
        "SELECT id, message_id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox ORDER BY id DESC LIMIT $1",
        args![limit],
    )
    .await
}
