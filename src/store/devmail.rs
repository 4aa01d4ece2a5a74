//! The development mailbox: delivered messages kept for `/dev/mail`.

use super::Conn;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct DevMessage {
    pub id: i64,
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: i64,
}

/// Keeps a message; delivering the same Message-ID again changes nothing.
pub async fn insert(conn: &mut Conn, m: &DevMessage) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dev_mailbox (message_id, recipient, subject, text_body, html_body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&m.message_id)
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.text)
    .bind(&m.html)
    .bind(m.created_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<DevMessage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, message_id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(DevMessage {
                id: r.try_get(0)?,
                message_id: r.try_get(1)?,
                to: r.try_get(2)?,
                subject: r.try_get(3)?,
                text: r.try_get(4)?,
                html: r.try_get(5)?,
                created_at: r.try_get(6)?,
            })
        })
        .collect()
}
