//! The database side of one-time tokens: single use and supersession.

use super::Conn;
use crate::tokens::{Issued, Purpose};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Live,
    Used,
    Superseded,
    Expired,
    /// No row: never issued here, or pruned.
    Missing,
}

/// Stores a new token and supersedes every earlier live token of the same
/// purpose and subject, so only the newest link works.
pub async fn insert(conn: &mut Conn, purpose: Purpose, subject: &str, issued: &Issued) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE one_time_tokens SET superseded_at = $3
         WHERE purpose = $1 AND subject = $2 AND used_at IS NULL AND superseded_at IS NULL",
    )
    .bind(purpose.as_str())
    .bind(subject)
    .bind(issued.issued_at_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO one_time_tokens (id_hash, purpose, subject, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&issued.id_hash)
        .bind(purpose.as_str())
        .bind(subject)
        .bind(issued.issued_at_ms)
        .bind(issued.expires_at_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Spends a token. The check and the write are one statement, so of any
/// number of concurrent spends of one token exactly one sees `Live`.
pub async fn spend(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64) -> Result<TokenState, sqlx::Error> {
    let spent = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $3
         WHERE id_hash = $1 AND purpose = $2 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $3",
    )
    .bind(id_hash)
    .bind(purpose.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let found = if spent.rows_affected() == 1 { TokenState::Live } else { state(conn, id_hash, purpose, now).await? };
    // Counted when the statement ran: a transaction rolled back later still counts its try.
    crate::metrics::token_spend(found);
    Ok(found)
}

pub async fn state(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64) -> Result<TokenState, sqlx::Error> {
    let row = sqlx::query("SELECT used_at, superseded_at, expires_at FROM one_time_tokens WHERE id_hash = $1 AND purpose = $2")
        .bind(id_hash)
        .bind(purpose.as_str())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(TokenState::Missing);
    };
    let used: Option<i64> = row.try_get(0)?;
    let superseded: Option<i64> = row.try_get(1)?;
    let expires: i64 = row.try_get(2)?;
    Ok(if used.is_some() {
        TokenState::Used
    } else if superseded.is_some() {
        TokenState::Superseded
    } else if expires <= now {
        TokenState::Expired
    } else {
        TokenState::Live
    })
}
