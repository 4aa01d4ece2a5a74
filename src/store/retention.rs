//! A row that still does something is never pruned, whatever its period:
//! a limit while it can refuse, a live token, an unsent message. The rows
//! to go are found on a read connection and deleted a chunk a write job,
//! so that a prune never holds up the requests behind SQLite's one writer.
//! Where no index serves the condition, the table is walked in key order a
//! step a read, so that no one read holds the runtime either (SQLite reads
//! run on the caller's thread).

use super::db::Column;
use super::{Store, StoreError, Value};
use crate::config::Retention;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
const CLIENT_WINDOW_MS: i64 = 2 * 60 * 1000;
/// Rows one write job deletes at most.
const CHUNK: usize = 512;
/// Keys per `DELETE … IN (…)`; a short chunk repeats its last key, so the
/// statement's text is always the same and stays prepared.
const KEYS_PER_STATEMENT: usize = 64;
/// Rows one read of a walk looks at: ~1 ms on SQLite, where both walked
/// tables are stored in key order (WITHOUT ROWID).
const WALK_STEP: usize = 2048;

/// Rows of `table` whose `condition` (over `$1`, `$2`, …) holds are deleted.
/// Tables keyed by more than one column are small and go in one statement.
struct Rule {
    table: &'static str,
    key: Option<Key>,
    condition: &'static str,
    args: Vec<i64>,
}

/// How a keyed table's rows to go are found.
#[derive(Clone, Copy)]
enum Key {
    /// By an index on `condition`; the integer key deletes them.
    Indexed(&'static str),
    /// By an index on `condition`; the text key deletes them.
    IndexedText(&'static str),
    /// No index serves `condition`: the table is walked in its text key's order.
    Walked(&'static str),
}

fn rules(now: i64, retention: &Retention) -> Vec<Rule> {
    let before = |period: Duration, floor_ms: i64| now - crate::clock::ms(period).max(floor_ms);
    let rule = |table, key, condition, args| Rule { table, key, condition, args };
    let mut rules = Vec::new();
    // An outbox row is due no later than it is sent or dropped, so
    // `next_attempt_at` (indexed with `status`) bounds the search.
    if let Some(p) = retention.sent_mail {
        let sql = "status = 'sent' AND next_attempt_at < $1 AND sent_at < $1";
        rules.push(rule("outbox", Some(Key::Indexed("id")), sql, vec![before(p, 0)]));
    }
    if let Some(p) = retention.dropped_requests {
        // A dropped request has no time of its own; it was dropped soon after it was made.
        let sql = "status = 'dropped' AND next_attempt_at < $1 AND created_at < $1";
        rules.push(rule("outbox", Some(Key::Indexed("id")), sql, vec![before(p, 0)]));
    }
    if let Some(p) = retention.dev_mailbox {
        rules.push(rule("dev_mailbox", Some(Key::Indexed("id")), "created_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.tokens {
        // A spent token's row may go before the token expires: without its row a token cannot be spent.
        let sql = "expires_at < $1 OR used_at < $1 OR superseded_at < $1";
        rules.push(rule("one_time_tokens", Some(Key::Walked("id_hash")), sql, vec![before(p, 0)]));
        // A code lives no longer than its link's token.
        rules.push(rule("mail_codes", Some(Key::Walked("code_hash")), "expires_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.limits {
        rules.push(rule("client_limits", None, "window_start < $1", vec![before(p, CLIENT_WINDOW_MS)]));
        let t = before(p, DAY_MS);
        // An index on `last_at` would cost every request a page; a walk once a minute costs less.
        let sql = "last_at < $1 AND day < $2";
        rules.push(rule("email_limits", Some(Key::Walked("key")), sql, vec![t, now.div_euclid(DAY_MS)]));
        let sql = "failed_since < $1 AND (locked_until IS NULL OR locked_until < $2)";
        rules.push(rule("login_failures", None, sql, vec![t, now]));
        // A row that killed codes still in the table keeps them dead.
        let sql = "last_at < $1 AND NOT EXISTS \
                   (SELECT 1 FROM mail_codes c WHERE c.email_norm = code_tries.email_norm AND c.created_at <= code_tries.dead_before)";
        rules.push(rule("code_tries", Some(Key::Walked("email_norm")), sql, vec![t]));
    }
    if let Some(p) = retention.unverified {
        // A lock-out row refers to its user; it goes first, with the limits.
        let sql = "verified_at IS NULL AND created_at < $1 AND NOT EXISTS (SELECT 1 FROM login_failures f WHERE f.user_id = users.id)";
        rules.push(rule("users", Some(Key::IndexedText("id")), sql, vec![before(p, 0)]));
        rules.push(rule("signups", Some(Key::IndexedText("id")), "state = 'pending' AND created_at < $1", vec![before(p, 0)]));
    }
    if let Some(p) = retention.audit {
        rules.push(rule("audit_events", Some(Key::Indexed("id")), "at < $1", vec![before(p, 0)]));
    }
    rules
}

/// Deletes what `retention` allows at `now`; returns how many rows went.
pub async fn prune(store: &Store, now: i64, retention: &Retention) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for rule in rules(now, retention) {
        deleted += match rule.key {
            None => {
                let (sql, args) = (format!("DELETE FROM {} WHERE {}", rule.table, rule.condition), rule.args);
                store.write_background(move |conn| Box::pin(async move { conn.execute(&sql, &ints(&args)).await })).await?
            }
            Some(Key::Indexed(column)) => prune_by_key::<i64>(store, &rule, column).await?,
            Some(Key::IndexedText(column)) => prune_by_key::<String>(store, &rule, column).await?,
            Some(Key::Walked(column)) => walk(store, &rule, column).await?,
        };
    }
    Ok(deleted)
}

async fn prune_by_key<K>(store: &Store, rule: &Rule, column: &str) -> Result<u64, StoreError>
where
    K: Column + Send + Sync + 'static,
    for<'k> Value<'k>: From<&'k K>,
{
    let find = format!("SELECT {column} FROM {} WHERE {} LIMIT {CHUNK}", rule.table, rule.condition);
    let mut deleted = 0;
    loop {
        let found: Vec<(K,)> = store.acquire().await?.fetch_all_replanned(&find, &ints(&rule.args)).await?;
        let n = found.len();
        if n == 0 {
            return Ok(deleted);
        }
        deleted += delete(store, rule, column, found.into_iter().map(|(k,)| k).collect()).await?;
        if n < CHUNK {
            return Ok(deleted);
        }
    }
}

/// Reads the whole table in key order, `WALK_STEP` rows a read, and deletes what
/// matches a chunk at a time.
async fn walk(store: &Store, rule: &Rule, column: &str) -> Result<u64, StoreError> {
    let after = rule.args.len() + 1;
    let step = format!(
        "SELECT {column}, CASE WHEN {} THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END FROM {} WHERE {column} > ${after} ORDER BY {column} LIMIT {WALK_STEP}",
        rule.condition, rule.table
    );
    // Every text key sorts after the empty string.
    let (mut last, mut matching, mut deleted) = (String::new(), Vec::new(), 0);
    loop {
        let mut args = ints(&rule.args);
        args.push(Value::from(&last));
        let rows: Vec<(String, i64)> = store.acquire().await?.fetch_all_replanned(&step, &args).await?;
        let done = rows.len() < WALK_STEP;
        if let Some((key, _)) = rows.last() {
            last = key.clone();
        }
        matching.extend(rows.into_iter().filter(|(_, matches)| *matches == 1).map(|(key, _)| key));
        while matching.len() >= CHUNK || (done && !matching.is_empty()) {
            let rest = matching.split_off(matching.len().min(CHUNK));
            deleted += delete(store, rule, column, std::mem::replace(&mut matching, rest)).await?;
        }
        if done {
            return Ok(deleted);
        }
        // The runtime serves requests between steps.
        tokio::task::yield_now().await;
    }
}

/// One background write job deletes `keys` (at most `CHUNK`), checking the condition again.
async fn delete<K>(store: &Store, rule: &Rule, column: &str, keys: Vec<K>) -> Result<u64, StoreError>
where
    K: Column + Send + Sync + 'static,
    for<'k> Value<'k>: From<&'k K>,
{
    let first = rule.args.len() + 1;
    let placeholders = (first..first + KEYS_PER_STATEMENT).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let sql = format!("DELETE FROM {} WHERE {column} IN ({placeholders}) AND ({})", rule.table, rule.condition);
    let args = rule.args.clone();
    store
        .write_background(move |conn| {
            Box::pin(async move {
                let mut deleted = 0;
                for chunk in keys.chunks(KEYS_PER_STATEMENT) {
                    let mut values = ints(&args);
                    values.extend((0..KEYS_PER_STATEMENT).map(|i| Value::from(&chunk[i.min(chunk.len() - 1)])));
                    deleted += conn.execute(&sql, &values).await?;
                }
                Ok::<_, StoreError>(deleted)
            })
        })
        .await
}

fn ints(args: &[i64]) -> Vec<Value<'static>> {
    args.iter().map(|&v| Value::from(v)).collect()
}
