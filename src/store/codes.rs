//! `mail_codes`: the short codes printed next to links, by their keyed hash.

use super::{Conn, StoreError};
use crate::args;
use crate::tokens::TokenState;

/// Wrong codes an address may type; the next try finds its codes dead.
pub(crate) const MAX_FAILED_TRIES: i64 = 5;

pub(crate) struct NewCode<'a> {
    pub(crate) code_hash: &'a str,
    pub(crate) email_norm: &'a str,
    pub(crate) token_id_hash: &'a str,
    pub(crate) sealed_link: &'a str,
    pub(crate) expires_at: i64,
    pub(crate) now: i64,
}

/// In the transaction that mints the link's token: the token's row supersedes the subject's earlier
/// tokens, and so their codes, which follow their token's state.
pub(crate) async fn insert(conn: &mut Conn, code: &NewCode<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO mail_codes (code_hash, email_norm, token_id_hash, sealed_link, expires_at, failed_tries, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
        args![code.code_hash, code.email_norm, code.token_id_hash, code.sealed_link, code.expires_at, code.now],
    )
    .await
    .map(|_| ())
}

pub(crate) struct Found {
    pub(crate) code_hash: String,
    pub(crate) email_norm: String,
    pub(crate) sealed_link: String,
    pub(crate) live: bool,
}

/// `(code_hash, email_norm, sealed_link, expires_at, failed_tries, used_at, superseded_at, token expires_at)`.
type CodeRow = (String, String, String, i64, i64, Option<i64>, Option<i64>, Option<i64>);

/// Every try is counted first, for every code of the address, whatever the code typed: on PostgreSQL
/// the rows stay locked until the try is answered, so concurrent tries cannot pass the cap together.
/// The same statements run for a known and an unknown address. A right code is given its try back
/// ([`refund`]); a wrong one keeps it.
pub(crate) async fn take_try(conn: &mut Conn, email_norm: &str, code_hash: &str, now: i64) -> Result<Option<Found>, StoreError> {
    conn.execute(
        "UPDATE mail_codes SET failed_tries = failed_tries + 1 WHERE email_norm = $1 AND failed_tries <= $2",
        args![email_norm, MAX_FAILED_TRIES],
    )
    .await?;
    let row: Option<CodeRow> = conn
        .fetch_optional(
            "SELECT c.code_hash, c.email_norm, c.sealed_link, c.expires_at, c.failed_tries, t.used_at, t.superseded_at, t.expires_at
             FROM mail_codes c LEFT JOIN one_time_tokens t ON t.id_hash = c.token_id_hash
             WHERE c.code_hash = $1",
            args![code_hash],
        )
        .await?;
    Ok(row.map(|(code_hash, email_norm, sealed_link, expires_at, tries, used, superseded, token_expires)| {
        let token = TokenState::of(token_expires.map(|e| (used, superseded, e)), now);
        let live = tries <= MAX_FAILED_TRIES && expires_at > now && token == TokenState::Live;
        Found { code_hash, email_norm, sealed_link, live }
    }))
}

/// A right code's try is not a wrong one. Codes already past the cap stay dead.
pub(crate) async fn refund(conn: &mut Conn, email_norm: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE mail_codes SET failed_tries = failed_tries - 1 WHERE email_norm = $1 AND failed_tries BETWEEN 1 AND $2",
        args![email_norm, MAX_FAILED_TRIES],
    )
    .await
    .map(|_| ())
}
