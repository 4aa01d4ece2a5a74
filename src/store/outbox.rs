//! `requested` → `pending` | `dropped`; `pending` → `sending` → `sent` | `pending` | `failed`.
//! A `sending` row whose lease ran out belongs to a dead worker: any worker may claim it.

use super::limits::EmailSlot;
use super::{Backend, Conn, StoreError, Value};
use crate::args;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Requested,
    Pending,
    Sending,
    Sent,
    Failed,
    Dropped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requested, Self::Pending, Self::Sending, Self::Sent, Self::Failed, Self::Dropped].into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Sent | Self::Failed | Self::Dropped)
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

pub struct Envelope<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub tenant: Option<&'a str>,
    pub locale: &'a str,
    pub payload: &'a str,
}

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub tenant: Option<String>,
    pub locale: String,
    pub payload: String,
    pub attempts: i64,
}

#[derive(Debug, Clone)]
pub struct Requested {
    pub id: i64,
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: i64,
    pub to: String,
    pub kind: String,
    pub status: Status,
    pub attempts: i64,
    pub message_id: String,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

pub async fn enqueue(conn: &mut Conn, message_id: &str, m: &Envelope<'_>, status: Status, now: i64) -> Result<(), StoreError> {
    conn.queued_outbox_row();
    conn.execute(
        "INSERT INTO outbox (message_id, kind, recipient, tenant, locale, payload, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
        args![message_id, m.kind, m.recipient, m.tenant, m.locale, m.payload, status.as_str(), now],
    )
    .await
    .map(|_| ())
}

/// What must not be so for a request to be queued: checked in the statement that queues it.
#[derive(Debug, Clone)]
pub(crate) enum Unless {
    Nothing,
    /// A new tenant's name belongs to a tenant already.
    CnameTaken(String),
    /// `cname` is no tenant open to developer signups (the default tenant always is).
    PortalClosed {
        cname: String,
        default_tenant: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    Yes,
    /// The recipient's slot is taken; it frees in this long.
    Limited(Duration),
    /// What [`Unless`] names is so; nothing was written.
    Stopped,
}

/// Queues a request to be resolved by the worker, if `unless` is not so and the recipient's
/// slot is free. On PostgreSQL this is one statement, so a request costs one round trip and
/// one commit: the check, the slot and the row are its common table expressions, and what the
/// outer `SELECT` reads of the slot's row is as it stood before the statement.
pub(crate) async fn request(
    conn: &mut Conn,
    backend: Backend,
    unless: &Unless,
    slot: &EmailSlot<'_>,
    message_id: &str,
    m: &Envelope<'_>,
    now: i64,
) -> Result<Queued, StoreError> {
    if backend == Backend::Sqlite {
        let stopped = match unless {
            Unless::Nothing => false,
            Unless::CnameTaken(cname) => {
                conn.fetch_optional::<(i64,)>("SELECT 1 FROM tenants WHERE cname = $1", args![cname]).await?.is_some()
            }
            Unless::PortalClosed { cname, default_tenant } => conn
                .fetch_optional::<(i64,)>(&format!("SELECT 1 FROM tenants WHERE {PORTAL_OPEN}"), args![cname, default_tenant])
                .await?
                .is_none(),
        };
        if stopped {
            return Ok(Queued::Stopped);
        }
        if let Err(wait) = super::limits::take_email(conn, slot.key, now, slot.interval, slot.daily).await? {
            return Ok(Queued::Limited(wait));
        }
        enqueue(conn, message_id, m, Status::Requested, now).await?;
        return Ok(Queued::Yes);
    }
    let (stop, stop_args) = match unless {
        Unless::Nothing => ("SELECT 1 WHERE false", vec![]),
        Unless::CnameTaken(cname) => ("SELECT 1 FROM tenants WHERE cname = $13", vec![Value::from(cname)]),
        Unless::PortalClosed { cname, default_tenant } => (
            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE cname = $13 AND (developer_signup <> 0 OR cname = $14))",
            vec![Value::from(cname), Value::from(default_tenant)],
        ),
    };
    let take = super::limits::TAKE.replace("VALUES ($1, $2, $3, 1)", "SELECT $1, $2, $3, 1 WHERE NOT EXISTS (SELECT 1 FROM stop)");
    let sql = format!(
        "WITH stop AS ({stop}),
         slot AS ({take} RETURNING key),
         queued AS (
             INSERT INTO outbox (message_id, kind, recipient, tenant, locale, payload, status, attempts, next_attempt_at, created_at)
             SELECT $7, $8, $9, $10, $11, $12, 'requested', 0, $2, $2 FROM slot
             RETURNING id
         )
         SELECT (SELECT COUNT(*) FROM stop), (SELECT COUNT(*) FROM queued), held.last_at, held.day, held.day_count
         FROM (SELECT 1) AS one LEFT JOIN email_limits AS held ON held.key = $1"
    );
    let mut args = slot.args(now);
    args.extend(args![message_id, m.kind, m.recipient, m.tenant, m.locale, m.payload].iter().copied());
    args.extend(stop_args);
    let (stopped, queued, last_at, day, count): (i64, i64, Option<i64>, Option<i64>, Option<i64>) = conn.fetch_one(&sql, &args).await?;
    Ok(match (stopped, queued, last_at, day, count) {
        (1.., _, _, _, _) => Queued::Stopped,
        (_, 1.., _, _, _) => {
            conn.queued_outbox_row();
            Queued::Yes
        }
        (_, _, Some(last_at), Some(day), Some(count)) if slot.refuses(now, (last_at, day, count)) => {
            Queued::Limited(slot.wait(now, (last_at, day, count)))
        }
        // The statement's snapshot shows a free slot (or none) that a concurrent request took
        // just before this one could, which the conflict's own check saw: it is held from now.
        _ => Queued::Limited(slot.taken_just_now(now)),
    })
}

/// A portal takes developer signups: `$1` its name, `$2` the default tenant's.
const PORTAL_OPEN: &str = "cname = $1 AND (developer_signup <> 0 OR cname = $2)";

crate::from_row!(Requested { id, payload, created_at });

const TAKE_REQUESTED_SQLITE: &str =
    "SELECT id, payload, created_at FROM outbox WHERE status = 'requested' ORDER BY next_attempt_at, id LIMIT $1";

/// Oldest first, in the order of the `(status, next_attempt_at)` index (on PostgreSQL it ends in
/// `id`; SQLite's ends in the rowid anyway; a request's `next_attempt_at` is when it was made), so
/// a batch reads its own rows and no more: ordered by
/// `id`, every waiting row was read and sorted, and a backlog made each batch slower than the last.
/// On PostgreSQL the rows stay locked until the caller's transaction ends, so two instances never
/// resolve one request twice.
pub async fn take_requested(conn: &mut Conn, backend: Backend, limit: i64) -> Result<Vec<Requested>, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT id, payload, created_at FROM outbox WHERE status = 'requested'
             ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED"
        }
        Backend::Sqlite => TAKE_REQUESTED_SQLITE,
    };
    conn.fetch_all(sql, args![limit]).await
}

pub async fn resolve(conn: &mut Conn, id: i64, r: &Envelope<'_>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET status = 'pending', kind = $2, recipient = $3, tenant = $4, locale = $5, payload = $6, attempts = 0, last_error = NULL
         WHERE id = $1 AND status = 'requested'",
        args![id, r.kind, r.recipient, r.tenant, r.locale, r.payload],
    )
    .await
    .map(|_| ())
}

/// [`resolve`] for a batch of `(id, envelope)`; one statement on PostgreSQL.
pub async fn resolve_many(conn: &mut Conn, backend: Backend, resolved: &[(i64, Envelope<'_>)]) -> Result<(), StoreError> {
    if super::row_by_row(backend, resolved.len()) {
        for (id, r) in resolved {
            resolve(conn, *id, r).await?;
        }
        return Ok(());
    }
    let ids: Vec<i64> = resolved.iter().map(|(id, _)| *id).collect();
    let kinds = super::column(resolved, |(_, r)| r.kind);
    let recipients = super::column(resolved, |(_, r)| r.recipient);
    let locales = super::column(resolved, |(_, r)| r.locale);
    let payloads = super::column(resolved, |(_, r)| r.payload);
    let tenants: Vec<Option<&str>> = resolved.iter().map(|(_, r)| r.tenant).collect();
    conn.execute(
        "UPDATE outbox SET status = 'pending', kind = r.kind, recipient = r.recipient, tenant = r.tenant, locale = r.locale,
                payload = r.payload, attempts = 0, last_error = NULL
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(id, kind, recipient, tenant, locale, payload)
         WHERE outbox.id = r.id AND outbox.status = 'requested'",
        args![&ids, &kinds, &recipients, &tenants, &locales, &payloads],
    )
    .await
    .map(|_| ())
}

/// [`drop_request`] for a batch; one statement on PostgreSQL.
pub async fn drop_requests(conn: &mut Conn, backend: Backend, ids: &[i64], reason: &str) -> Result<(), StoreError> {
    if super::row_by_row(backend, ids.len()) {
        for id in ids {
            drop_request(conn, *id, reason).await?;
        }
        return Ok(());
    }
    let ids = ids.to_vec();
    conn.execute(
        "UPDATE outbox SET status = 'dropped', last_error = $2 WHERE id = ANY($1::bigint[]) AND status = 'requested'",
        args![&ids, reason],
    )
    .await
    .map(|_| ())
}

pub async fn drop_request(conn: &mut Conn, id: i64, reason: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE outbox SET status = 'dropped', last_error = $2 WHERE id = $1 AND status = 'requested'", args![id, reason])
        .await
        .map(|_| ())
}

pub async fn resolution_failed(conn: &mut Conn, id: i64, error: &str, max_attempts: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE status END
         WHERE id = $1 AND status = 'requested'",
        args![id, error, max_attempts],
    )
    .await
    .map(|_| ())
}

crate::from_row!(Claimed { id, message_id, kind, recipient, tenant, locale, payload, attempts });

const CLAIM_SQLITE: &str = "WITH expired AS (
             SELECT id FROM outbox WHERE status = 'sending' AND lease_until < $3 LIMIT $4
         ), due AS (
             SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 ORDER BY next_attempt_at, id LIMIT $4
         )
         UPDATE outbox SET status = 'sending', claimed_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM expired UNION ALL SELECT id FROM due LIMIT $4)
         RETURNING id, message_id, kind, recipient, tenant, locale, payload, attempts";

/// Rows whose lease ran out first (a dead worker's; there are at most a few batches of them), then
/// due rows oldest first. Each part walks the `(status, next_attempt_at)` index and stops at its
/// limit; one `OR` ordered by `id` read and sorted every due row, so a claim cost grew with the backlog.
/// On PostgreSQL `SKIP LOCKED` lets workers claim side by side without waiting on each other;
/// SQLite has one writer, so its statement is atomic.
pub async fn claim(
    conn: &mut Conn,
    backend: Backend,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    const POSTGRES: &str = "WITH expired AS (
             SELECT id FROM outbox WHERE status = 'sending' AND lease_until < $3 LIMIT $4 FOR UPDATE SKIP LOCKED
         ), due AS (
             SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3
             ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
         )
         UPDATE outbox SET status = 'sending', claimed_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM expired UNION ALL SELECT id FROM due LIMIT $4)
         RETURNING id, message_id, kind, recipient, tenant, locale, payload, attempts";
    let sql = match backend {
        Backend::Postgres => POSTGRES,
        Backend::Sqlite => CLAIM_SQLITE,
    };
    conn.fetch_all(sql, args![worker, lease_until, now, limit]).await
}

/// The sending worker's heartbeat; returns how many rows it still holds.
pub async fn renew(conn: &mut Conn, worker: &str, lease_until: i64) -> Result<u64, StoreError> {
    conn.execute("UPDATE outbox SET lease_until = $2 WHERE claimed_by = $1 AND status = 'sending'", args![worker, lease_until]).await
}

/// At shutdown, as if never claimed. A send cut short may have reached the server: it is sent
/// again with the same Message-ID, so clients that de-duplicate by it show it once.
pub async fn release(conn: &mut Conn, worker: &str, now: i64) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE outbox SET status = 'pending', claimed_by = NULL, lease_until = NULL, next_attempt_at = $2,
                attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
         WHERE claimed_by = $1 AND status = 'sending'",
        args![worker, now],
    )
    .await
}

/// False if `worker` lost the claim. `next_attempt_at` becomes the time sent, so the prune step
/// finds old sent rows through the `(status, next_attempt_at)` index.
pub async fn mark_sent(conn: &mut Conn, id: i64, worker: &str, now: i64, scrubbed_payload: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE outbox SET status = 'sent', sent_at = $3, next_attempt_at = $3, payload = $4, lease_until = NULL, last_error = NULL
             WHERE id = $1 AND claimed_by = $2 AND status = 'sending'",
            args![id, worker, now, scrubbed_payload],
        )
        .await?;
    Ok(changed == 1)
}

/// A sent message, for [`mark_sent_many`].
pub struct Sent<'a> {
    pub id: i64,
    pub at: i64,
    pub scrubbed_payload: &'a str,
}

/// [`mark_sent`] for a batch, one statement on PostgreSQL; the ids `worker` still held.
pub async fn mark_sent_many(conn: &mut Conn, backend: Backend, worker: &str, sent: &[Sent<'_>]) -> Result<Vec<i64>, StoreError> {
    if super::row_by_row(backend, sent.len()) {
        let mut kept = Vec::with_capacity(sent.len());
        for s in sent {
            if mark_sent(conn, s.id, worker, s.at, s.scrubbed_payload).await? {
                kept.push(s.id);
            }
        }
        return Ok(kept);
    }
    let ids: Vec<i64> = sent.iter().map(|s| s.id).collect();
    let at: Vec<i64> = sent.iter().map(|s| s.at).collect();
    let payloads: Vec<&str> = sent.iter().map(|s| s.scrubbed_payload).collect();
    let kept: Vec<(i64,)> = conn
        .fetch_all(
            "UPDATE outbox SET status = 'sent', sent_at = d.at, next_attempt_at = d.at, payload = d.payload, lease_until = NULL, last_error = NULL
             FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS d(id, at, payload)
             WHERE outbox.id = d.id AND outbox.claimed_by = $1 AND outbox.status = 'sending'
             RETURNING outbox.id",
            args![worker, &ids, &at, &payloads],
        )
        .await?;
    Ok(kept.into_iter().map(|(id,)| id).collect())
}

pub async fn mark_retry(conn: &mut Conn, id: i64, worker: &str, next_attempt_at: i64, error: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $3, last_error = $4, lease_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND status = 'sending'",
            args![id, worker, next_attempt_at, error],
        )
        .await?;
    Ok(changed == 1)
}

/// The payload stays whole, so `outbox retry` can still send a link that works.
pub async fn mark_failed(conn: &mut Conn, id: i64, worker: &str, error: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE outbox SET status = 'failed', last_error = $3, lease_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND status = 'sending'",
            args![id, worker, error],
        )
        .await?;
    Ok(changed == 1)
}

pub struct Gauges {
    pub by_status: Vec<(String, i64)>,
    /// A request row is due from its creation, a `sending` one from its lease's end.
    pub oldest_due_ms: Option<i64>,
}

pub async fn gauges(conn: &mut Conn, now: i64) -> Result<Gauges, StoreError> {
    let rows: Vec<(String, i64, Option<i64>)> = conn
        .fetch_all(
            "SELECT status, COUNT(*),
                    MIN(CASE WHEN status = 'requested' THEN created_at
                             WHEN status = 'pending' AND next_attempt_at <= $1 THEN next_attempt_at
                             WHEN status = 'sending' AND lease_until < $1 THEN lease_until END)
             FROM outbox GROUP BY status",
            args![now],
        )
        .await?;
    let oldest_due_ms = rows.iter().filter_map(|(_, _, due)| *due).min();
    Ok(Gauges { by_status: rows.into_iter().map(|(status, count, _)| (status, count)).collect(), oldest_due_ms })
}

crate::from_row!(Listed { id, to: "recipient", kind, status => Status::parse, attempts, message_id, last_error, created_at, sent_at });

pub async fn list(conn: &mut Conn, status: Option<Status>, limit: i64) -> Result<Vec<Listed>, StoreError> {
    conn.fetch_all(
        "SELECT id, recipient, kind, status, attempts, message_id, last_error, created_at, sent_at FROM outbox
         WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
        args![status.map(Status::as_str), limit],
    )
    .await
}

/// A request whose resolution failed is resolved again.
pub async fn retry(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    conn.queued_outbox_row();
    let changed = conn
        .execute(
            "UPDATE outbox SET attempts = 0, next_attempt_at = $2, claimed_by = NULL,
                    status = CASE WHEN kind LIKE '%request' THEN 'requested' ELSE 'pending' END
             WHERE id = $1 AND status = 'failed'",
            args![id, now],
        )
        .await?;
    Ok(changed == 1)
}

/// The outbox rows the previous release wrote, frozen in `tests/fixtures/previous_release/outbox.tsv`:
/// the unit tests next to each stored type compare what it writes today with them.
#[cfg(test)]
pub(crate) mod previous_release {
    pub(crate) struct Row {
        pub(crate) status: &'static str,
        pub(crate) kind: &'static str,
        pub(crate) recipient: &'static str,
        pub(crate) tenant: Option<&'static str>,
        pub(crate) locale: &'static str,
        pub(crate) payload: &'static str,
    }

    const FILE: &str = include_str!("../../tests/fixtures/previous_release/outbox.tsv");

    pub(crate) fn rows() -> Vec<Row> {
        FILE.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                let f: Vec<&'static str> = line.split('\t').collect();
                assert_eq!(f.len(), 6, "outbox.tsv: six tab-separated columns expected: {line}");
                Row { status: f[0], kind: f[1], recipient: f[2], tenant: (f[3] != "\\N").then_some(f[3]), locale: f[4], payload: f[5] }
            })
            .collect()
    }

    /// The `type` of a row's payload: a variant's serde tag, or a webhook's event.
    pub(crate) fn tag(row: &Row) -> String {
        let payload: serde_json::Value = serde_json::from_str(row.payload).unwrap_or_else(|e| panic!("outbox.tsv: {e}: {}", row.payload));
        payload["type"].as_str().unwrap_or_else(|| panic!("outbox.tsv: no type in {}", row.payload)).to_owned()
    }

    /// The frozen row of `tag`; fails, saying why, when there is none.
    pub(crate) fn row(tag: &str) -> Row {
        let mut found = rows().into_iter().filter(|r| self::tag(r) == tag);
        let row = found.next().unwrap_or_else(|| {
            panic!(
                "tests/fixtures/previous_release/outbox.tsv has no row of type {tag}. A renamed variant or event changes what is \
                 stored: add a new versioned variant instead and keep reading the old one. A new one needs its frozen row there."
            )
        });
        assert!(found.next().is_none(), "outbox.tsv: two rows of type {tag}");
        row
    }

    /// What a test says when `written` differs from the frozen row.
    pub(crate) fn changed(what: &str, written: &str, frozen: &str) -> String {
        format!(
            "{what} is now written as\n  {written}\nbut the previous release stored\n  {frozen}\n\
             This changes what is stored: rows already queued would no longer be read after an upgrade. \
             Add a new versioned variant instead, and keep reading the old one (see ARCHITECTURE.md, `mail`)."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{CLAIM_SQLITE, TAKE_REQUESTED_SQLITE};

    /// Each batch reads its own rows through the `(status, next_attempt_at)` index and stops. A sort
    /// ("USE TEMP B-TREE") reads every waiting row first: under a backlog each batch was slower than
    /// the last, and claims took a quarter of the writer's time (docs/benchmarks.md).
    #[test]
    fn claims_and_request_batches_walk_the_index_and_sort_nothing() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for migration in super::super::migrator(super::Backend::Sqlite).iter() {
            conn.execute_batch(&migration.sql).unwrap();
        }
        for sql in [CLAIM_SQLITE, TAKE_REQUESTED_SQLITE] {
            let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let steps: Vec<String> = plan
                .query_map(rusqlite::params_from_iter(std::iter::repeat_n(0_i64, plan.parameter_count())), |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(steps.iter().any(|s| s.contains("INDEX outbox_due")), "{sql}: {steps:?}");
            assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE") || s.starts_with("SCAN outbox")), "{sql}: {steps:?}");
        }
    }
}
