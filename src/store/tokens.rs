use super::{Backend, Conn, StoreError};
use crate::args;
use crate::tokens::{Issued, Purpose, TokenState};

pub(crate) async fn insert(conn: &mut Conn, purpose: Purpose, subject: &str, issued: &Issued) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE one_time_tokens SET superseded_at = $3
         WHERE purpose = $1 AND subject = $2 AND used_at IS NULL AND superseded_at IS NULL",
        args![purpose.as_str(), subject, issued.issued_at_ms],
    )
    .await?;
    conn.execute(
        "INSERT INTO one_time_tokens (id_hash, purpose, subject, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![&issued.id_hash, purpose.as_str(), subject, issued.issued_at_ms, issued.expires_at_ms],
    )
    .await
    .map(|_| ())
}

/// A token to insert with [`insert_many`].
pub(crate) struct NewToken<'a> {
    pub(crate) purpose: Purpose,
    pub(crate) subject: &'a str,
    pub(crate) issued: &'a Issued,
}

/// [`insert`] for a batch, as if one by one in order: each supersedes its subject's earlier
/// tokens, so of two for one subject the later is the live one. Two statements on PostgreSQL
/// whatever the batch's size.
pub(crate) async fn insert_many(conn: &mut Conn, backend: Backend, tokens: &[NewToken<'_>]) -> Result<(), StoreError> {
    if super::row_by_row(backend, tokens.len()) {
        for t in tokens {
            insert(conn, t.purpose, t.subject, t.issued).await?;
        }
        return Ok(());
    }
    let same = |a: &NewToken<'_>, b: &NewToken<'_>| a.purpose == b.purpose && a.subject == b.subject;
    // Earlier rows go at the first new one's time; a new one goes at the time of the next for its subject.
    let first: Vec<&NewToken<'_>> =
        tokens.iter().enumerate().filter(|(i, t)| !tokens[..*i].iter().any(|e| same(e, t))).map(|(_, t)| t).collect();
    let superseded_at: Vec<Option<i64>> =
        tokens.iter().enumerate().map(|(i, t)| tokens[i + 1..].iter().find(|n| same(n, t)).map(|n| n.issued.issued_at_ms)).collect();
    let (purposes, subjects, at): (Vec<&str>, Vec<&str>, Vec<i64>) =
        first.iter().map(|t| (t.purpose.as_str(), t.subject, t.issued.issued_at_ms)).fold((vec![], vec![], vec![]), |mut v, (p, s, a)| {
            v.0.push(p);
            v.1.push(s);
            v.2.push(a);
            v
        });
    conn.execute(
        // Each subject's live tokens are looked up in the live index, one lookup a subject: the
        // `OFFSET 0` keeps the planner from joining the batch to the whole index instead, which
        // it did while a burst had outgrown the table's statistics (160–240 ms a batch).
        "UPDATE one_time_tokens SET superseded_at = old.at
         FROM (SELECT live.id_hash, d.at
               FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(purpose, subject, at),
               LATERAL (SELECT id_hash FROM one_time_tokens t
                        WHERE t.purpose = d.purpose AND t.subject = d.subject AND t.used_at IS NULL AND t.superseded_at IS NULL
                        OFFSET 0) AS live) AS old
         WHERE one_time_tokens.id_hash = old.id_hash",
        args![&purposes, &subjects, &at],
    )
    .await?;
    let ids: Vec<&str> = tokens.iter().map(|t| t.issued.id_hash.as_str()).collect();
    let purposes: Vec<&str> = tokens.iter().map(|t| t.purpose.as_str()).collect();
    let subjects: Vec<&str> = tokens.iter().map(|t| t.subject).collect();
    let issued: Vec<i64> = tokens.iter().map(|t| t.issued.issued_at_ms).collect();
    let expires: Vec<i64> = tokens.iter().map(|t| t.issued.expires_at_ms).collect();
    conn.execute(
        "INSERT INTO one_time_tokens (id_hash, purpose, subject, issued_at, expires_at, superseded_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])",
        args![&ids, &purposes, &subjects, &issued, &expires, &superseded_at],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn spend(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64) -> Result<TokenState, StoreError> {
    let spent = conn
        .execute(
            "UPDATE one_time_tokens SET used_at = $3
             WHERE id_hash = $1 AND purpose = $2 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $3",
            args![id_hash, purpose.as_str(), now],
        )
        .await?;
    if spent == 1 { Ok(TokenState::Live) } else { state(conn, id_hash, purpose, now).await }
}

pub(crate) async fn state(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64) -> Result<TokenState, StoreError> {
    let row: Option<(Option<i64>, Option<i64>, i64)> = conn
        .fetch_optional(
            "SELECT used_at, superseded_at, expires_at FROM one_time_tokens WHERE id_hash = $1 AND purpose = $2",
            args![id_hash, purpose.as_str()],
        )
        .await?;
    Ok(TokenState::of(row, now))
}

/// How a try at a token's password is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Try {
    Admitted,
    /// The window's tries are spent; the next is admitted this many milliseconds from now.
    Refused {
        retry_after_ms: i64,
    },
    /// Not live: there is nothing to try.
    Dead(TokenState),
}

/// `(used_at, superseded_at, expires_at, tries_since, tries)`.
type TriesRow = (Option<i64>, Option<i64>, i64, i64, i64);

/// At most `tries` tries in a window of `window_ms`, which opens at its first try.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TryCap {
    pub(crate) tries: i64,
    pub(crate) window_ms: i64,
}

/// Reads only: how a try would be answered at `now`.
pub(crate) async fn peek_try(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64, cap: TryCap) -> Result<Try, StoreError> {
    let row: Option<TriesRow> = conn
        .fetch_optional(
            "SELECT used_at, superseded_at, expires_at, tries_since, tries FROM one_time_tokens WHERE id_hash = $1 AND purpose = $2",
            args![id_hash, purpose.as_str()],
        )
        .await?;
    let state = TokenState::of(row.map(|(used, superseded, expires, _, _)| (used, superseded, expires)), now);
    Ok(match row {
        Some((_, _, _, since, tries)) if state == TokenState::Live && since > now - cap.window_ms && tries >= cap.tries => {
            Try::Refused { retry_after_ms: since + cap.window_ms - now }
        }
        _ if state == TokenState::Live => Try::Admitted,
        _ => Try::Dead(state),
    })
}

/// Counts a try, in one statement so that concurrent tries are each counted and at most `cap.tries` are
/// admitted in a window. A refused or dead try writes nothing.
pub(crate) async fn take_try(conn: &mut Conn, id_hash: &str, purpose: Purpose, now: i64, cap: TryCap) -> Result<Try, StoreError> {
    let counted: Option<(i64,)> = conn
        .fetch_optional(
            "UPDATE one_time_tokens SET
                 tries = CASE WHEN tries_since <= $4 THEN 1 ELSE tries + 1 END,
                 tries_since = CASE WHEN tries_since <= $4 THEN $3 ELSE tries_since END
             WHERE id_hash = $1 AND purpose = $2 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $3
               AND (tries_since <= $4 OR tries < $5)
             RETURNING tries",
            args![id_hash, purpose.as_str(), now, now - cap.window_ms, cap.tries],
        )
        .await?;
    if counted.is_some() {
        return Ok(Try::Admitted);
    }
    Ok(match peek_try(conn, id_hash, purpose, now, cap).await? {
        // Unreachable with one `now` in one transaction; a try that was not counted is not admitted.
        Try::Admitted => Try::Refused { retry_after_ms: 0 },
        other => other,
    })
}
