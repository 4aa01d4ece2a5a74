use super::{Conn, StoreError};
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

crate::from_row!(DevMessage { id, message_id, to: "recipient", subject, text: "text_body", html: "html_body", created_at });

pub(crate) async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<DevMessage>, StoreError> {
    conn.fetch_all(
        "SELECT id, message_id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox ORDER BY id DESC LIMIT $1",
        args![limit],
    )
    .await
}
