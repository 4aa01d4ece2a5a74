use super::{Conn, Error, Value};
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
const CLIENT_WINDOW_MS: i64 = 2 * 60 * 1000;

#[derive(Debug, Clone, Default)]
pub struct Retention {
    pub(crate) sent_mail: Option<Duration>,
    pub(crate) dropped_requests: Option<Duration>,
    pub(crate) dev_mailbox: Option<Duration>,
    pub(crate) tokens: Option<Duration>,
    pub(crate) limits: Option<Duration>,
    pub(crate) audit: Option<Duration>,
}

pub(crate) async fn prune(conn: &mut Conn, now: i64, retention: &Retention) -> Result<u64, Error> {
    let before = |period: Duration, floor_ms: i64| now - crate::clock::ms(period).max(floor_ms);
    // Parameters are bound, never formatted: these statements are fixed text.
    let mut statements: Vec<(&str, Vec<i64>)> = Vec::new();
    if let Some(p) = retention.sent_mail {
        statements.push(("DELETE FROM outbox WHERE status = 'sent' AND sent_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.dropped_requests {
        // A dropped request has no time of its own; it was dropped soon after it was made.
        statements.push(("DELETE FROM outbox WHERE status = 'dropped' AND created_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.dev_mailbox {
        statements.push(("DELETE FROM dev_mailbox WHERE created_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.tokens {
        let t = before(p, 0);
        // A spent token's row may go before the token expires: without its row a token cannot be spent.
        statements.push(("DELETE FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1 OR superseded_at < $1", vec![t]));
    }
    if let Some(p) = retention.limits {
        statements.push(("DELETE FROM client_limits WHERE window_start < $1", vec![before(p, CLIENT_WINDOW_MS)]));
        let t = before(p, DAY_MS);
        statements.push(("DELETE FROM email_limits WHERE last_at < $1 AND day < $2", vec![t, now.div_euclid(DAY_MS)]));
        statements
            .push(("DELETE FROM login_failures WHERE failed_since < $1 AND (locked_until IS NULL OR locked_until < $2)", vec![t, now]));
    }
    if let Some(p) = retention.audit {
        statements.push(("DELETE FROM audit_events WHERE at < $1", vec![before(p, 0)]));
    }
    let mut deleted = 0;
    for (sql, binds) in statements {
        let args: Vec<Value> = binds.into_iter().map(Value::from).collect();
        deleted += conn.execute(sql, &args).await?;
    }
    Ok(deleted)
}
