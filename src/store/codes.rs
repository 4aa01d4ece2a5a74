//! `mail_codes`: the short codes printed next to links, by their keyed hash.

use super::{Backend, Conn, StoreError};
use crate::args;
use crate::tokens::TokenState;

/// Wrong codes an address may type; the next try kills the codes mailed to it so far.
pub(crate) const MAX_FAILED_TRIES: i64 = 5;

pub(crate) struct NewCode<'a> {
    pub(crate) code_hash: &'a str,
    pub(crate) email_norm: &'a str,
    pub(crate) token_id_hash: &'a str,
    pub(crate) sealed_link: &'a str,
    pub(crate) expires_at: i64,
    pub(crate) now: i64,
}

/// A [`NewCode`] that owns its parts, made before the transaction that stores it.
pub(crate) struct OwnedCode {
    pub(crate) code_hash: String,
    pub(crate) email_norm: String,
    pub(crate) token_id_hash: String,
    pub(crate) sealed_link: String,
    pub(crate) expires_at: i64,
    pub(crate) now: i64,
}

impl OwnedCode {
    pub(crate) fn borrowed(&self) -> NewCode<'_> {
        NewCode {
            code_hash: &self.code_hash,
            email_norm: &self.email_norm,
            token_id_hash: &self.token_id_hash,
            sealed_link: &self.sealed_link,
            expires_at: self.expires_at,
            now: self.now,
        }
    }
}

/// In the transaction that mints the link's token: the token's row supersedes the subject's earlier
/// tokens, and so their codes, which follow their token's state.
pub(crate) async fn insert(conn: &mut Conn, code: &NewCode<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO mail_codes (code_hash, email_norm, token_id_hash, sealed_link, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![code.code_hash, code.email_norm, code.token_id_hash, code.sealed_link, code.expires_at, code.now],
    )
    .await
    .map(|_| ())
}

/// [`insert`] for a batch: one statement on PostgreSQL.
pub(crate) async fn insert_many(conn: &mut Conn, backend: Backend, codes: &[NewCode<'_>]) -> Result<(), StoreError> {
    if super::row_by_row(backend, codes.len()) {
        for code in codes {
            insert(conn, code).await?;
        }
        return Ok(());
    }
    let hashes: Vec<&str> = codes.iter().map(|c| c.code_hash).collect();
    let emails: Vec<&str> = codes.iter().map(|c| c.email_norm).collect();
    let tokens: Vec<&str> = codes.iter().map(|c| c.token_id_hash).collect();
    let links: Vec<&str> = codes.iter().map(|c| c.sealed_link).collect();
    let expires: Vec<i64> = codes.iter().map(|c| c.expires_at).collect();
    let created: Vec<i64> = codes.iter().map(|c| c.now).collect();
    conn.execute(
        "INSERT INTO mail_codes (code_hash, email_norm, token_id_hash, sealed_link, expires_at, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])",
        args![&hashes, &emails, &tokens, &links, &expires, &created],
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

/// `(code_hash, email_norm, sealed_link, expires_at, created_at, used_at, superseded_at, token expires_at)`.
type CodeRow = (String, String, String, i64, i64, Option<i64>, Option<i64>, Option<i64>);

/// Every try is counted first, in `code_tries`, whatever the code typed and whoever the address
/// belongs to: the same row is written for a known and an unknown address, so neither the
/// statements nor the work (a changed page, a commit to make durable) tell them apart. The try
/// past `MAX_FAILED_TRIES` wrong ones kills the codes mailed so far. A right code is given its
/// try back ([`refund`]); a wrong one keeps it. On PostgreSQL the address's row stays locked until
/// the try is answered, so concurrent tries cannot pass the cap together.
pub(crate) async fn take_try(conn: &mut Conn, email_norm: &str, code_hash: &str, now: i64) -> Result<Option<Found>, StoreError> {
    let (dead_before,): (i64,) = conn
        .fetch_one(
            "INSERT INTO code_tries (email_norm, failed, dead_before, last_at) VALUES ($1, 1, 0, $2)
             ON CONFLICT (email_norm) DO UPDATE SET
                failed = CASE WHEN code_tries.failed + 1 > $3 THEN 0 ELSE code_tries.failed + 1 END,
                dead_before = CASE WHEN code_tries.failed + 1 > $3 THEN $2 ELSE code_tries.dead_before END,
                last_at = $2
             RETURNING dead_before",
            args![email_norm, now, MAX_FAILED_TRIES],
        )
        .await?;
    let row: Option<CodeRow> = conn
        .fetch_optional(
            "SELECT c.code_hash, c.email_norm, c.sealed_link, c.expires_at, c.created_at, t.used_at, t.superseded_at, t.expires_at
             FROM mail_codes c LEFT JOIN one_time_tokens t ON t.id_hash = c.token_id_hash
             WHERE c.code_hash = $1",
            args![code_hash],
        )
        .await?;
    Ok(row.map(|(code_hash, email_norm, sealed_link, expires_at, created_at, used, superseded, token_expires)| {
        let token = TokenState::of(token_expires.map(|e| (used, superseded, e)), now);
        let live = created_at > dead_before && expires_at > now && token == TokenState::Live;
        Found { code_hash, email_norm, sealed_link, live }
    }))
}

/// A right code's try is not a wrong one.
pub(crate) async fn refund(conn: &mut Conn, email_norm: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE code_tries SET failed = failed - 1 WHERE email_norm = $1 AND failed > 0", args![email_norm]).await.map(|_| ())
}
