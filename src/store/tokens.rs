use super::{Conn, StoreError};
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
