//! Rate limits kept in the database, so that every instance shares them.
//! Each check is one atomic upsert: no read-then-write race between instances.

use super::Conn;
use sqlx::Row;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
const MINUTE_MS: i64 = 60 * 1000;

/// Counts one email of a flow to a recipient, unless that would break the
/// interval or the daily cap; then says how long to wait.
pub async fn take_email(conn: &mut Conn, key: &str, now: i64, interval: Duration, daily: u32) -> Result<Result<(), Duration>, sqlx::Error> {
    let interval_ms = crate::clock::ms(interval);
    let day = now.div_euclid(DAY_MS);
    let taken = sqlx::query(
        "INSERT INTO email_limits (key, last_at, day, day_count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (key) DO UPDATE SET
             day_count = CASE WHEN email_limits.day = excluded.day THEN email_limits.day_count + 1 ELSE 1 END,
             day = excluded.day,
             last_at = excluded.last_at
         WHERE email_limits.last_at <= $4
           AND (email_limits.day <> excluded.day OR email_limits.day_count < $5)
         RETURNING key",
    )
    .bind(key)
    .bind(now)
    .bind(day)
    .bind(now - interval_ms)
    .bind(i64::from(daily))
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    let row = sqlx::query("SELECT last_at, day, day_count FROM email_limits WHERE key = $1").bind(key).fetch_one(conn).await?;
    let (last_at, row_day, count): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let wait_ms = if row_day == day && count >= i64::from(daily) { (day + 1) * DAY_MS - now } else { last_at + interval_ms - now };
    Ok(Err(Duration::from_millis(wait_ms.max(1000) as u64)))
}

/// Counts one request of a client in the current minute.
pub async fn hit_client(conn: &mut Conn, client: &str, now: i64, per_minute: u32) -> Result<Result<(), Duration>, sqlx::Error> {
    let window = now - now.rem_euclid(MINUTE_MS);
    let row = sqlx::query(
        "INSERT INTO client_limits (client, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (client, window_start) DO UPDATE SET hits = client_limits.hits + 1
         RETURNING hits",
    )
    .bind(client)
    .bind(window)
    .fetch_one(conn)
    .await?;
    let hits: i64 = row.try_get(0)?;
    if hits > i64::from(per_minute) {
        return Ok(Err(Duration::from_millis((window + MINUTE_MS - now).max(1000) as u64)));
    }
    Ok(Ok(()))
}

/// Drops windows that can no longer limit anything.
pub async fn prune(conn: &mut Conn, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM client_limits WHERE window_start < $1").bind(now - 2 * MINUTE_MS).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM email_limits WHERE day < $1").bind(now.div_euclid(DAY_MS) - 1).execute(conn).await?;
    Ok(())
}
