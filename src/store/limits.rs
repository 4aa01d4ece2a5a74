use super::{Conn, StoreError, Value};
use crate::args;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
pub(crate) const MINUTE_MS: i64 = 60 * 1000;

/// A zero interval checks none: on PostgreSQL two transactions may commit out of the order in which they
/// read the clock.
pub(crate) async fn take_email(
    conn: &mut Conn,
    key: &str,
    now: i64,
    interval: Duration,
    daily: u32,
) -> Result<Result<(), Duration>, StoreError> {
    let slot = EmailSlot { key, interval, daily };
    let taken: Option<(String,)> = conn.fetch_optional(&format!("{TAKE} RETURNING key"), &slot.args(now)).await?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    let held: (i64, i64, i64) = conn.fetch_one("SELECT last_at, day, day_count FROM email_limits WHERE key = $1", args![key]).await?;
    Ok(Err(slot.wait(now, held)))
}

/// One recipient's emails of one flow: at most one an `interval`, `daily` a UTC day.
pub(crate) struct EmailSlot<'a> {
    pub(crate) key: &'a str,
    pub(crate) interval: Duration,
    pub(crate) daily: u32,
}

/// Takes the slot, or leaves the row as it was (and locked until the transaction ends). Its
/// arguments are [`EmailSlot::args`]; its `VALUES` may be replaced by a `SELECT` of the same
/// six.
pub(crate) const TAKE: &str = "INSERT INTO email_limits (key, last_at, day, day_count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (key) DO UPDATE SET
                 day_count = CASE WHEN email_limits.day = excluded.day THEN email_limits.day_count + 1 ELSE 1 END,
                 day = excluded.day,
                 last_at = excluded.last_at
             WHERE ($6 = 0 OR email_limits.last_at <= $4)
               AND (email_limits.day <> excluded.day OR email_limits.day_count < $5)";

impl EmailSlot<'_> {
    /// `$1`…`$6` of [`TAKE`]. A zero interval checks none: on PostgreSQL two transactions may
    /// commit out of the order in which they read the clock.
    pub(crate) fn args(&self, now: i64) -> Vec<Value<'_>> {
        let interval_ms = crate::clock::ms(self.interval);
        args![self.key, now, now.div_euclid(DAY_MS), now - interval_ms, i64::from(self.daily), interval_ms].to_vec()
    }

    /// Whether the row `(last_at, day, day_count)` holds the slot at `now`, as [`TAKE`] decides.
    pub(crate) fn refuses(&self, now: i64, (last_at, row_day, count): (i64, i64, i64)) -> bool {
        let interval_ms = crate::clock::ms(self.interval);
        let too_soon = interval_ms != 0 && last_at > now - interval_ms;
        let day_full = row_day == now.div_euclid(DAY_MS) && count >= i64::from(self.daily);
        too_soon || day_full
    }

    /// The wait when another request took the slot at `now`: an interval, or with none the rest of
    /// the day (that request used its last email).
    pub(crate) fn taken_just_now(&self, now: i64) -> Duration {
        let wait_ms = if self.interval.is_zero() { (now.div_euclid(DAY_MS) + 1) * DAY_MS - now } else { crate::clock::ms(self.interval) };
        Duration::from_millis(wait_ms.max(1000) as u64)
    }

    /// How long until the slot is free, from the row that held it: `(last_at, day, day_count)`.
    pub(crate) fn wait(&self, now: i64, (last_at, row_day, count): (i64, i64, i64)) -> Duration {
        let day = now.div_euclid(DAY_MS);
        let wait_ms = if row_day == day && count >= i64::from(self.daily) {
            (day + 1) * DAY_MS - now
        } else {
            last_at + crate::clock::ms(self.interval) - now
        };
        Duration::from_millis(wait_ms.max(1000) as u64)
    }
}

/// Three parameters a row keeps each statement under PostgreSQL's 65,535.
pub const CLIENT_HITS_A_STATEMENT: usize = 1000;

/// At most [`CLIENT_HITS_A_STATEMENT`] clients: one statement.
pub(crate) async fn add_client_hits(conn: &mut Conn, window_start: i64, hits: &[(String, i64)]) -> Result<Vec<(String, i64)>, StoreError> {
    if hits.len() > CLIENT_HITS_A_STATEMENT {
        return Err(StoreError::Aborted(format!("{} clients' hits in one statement; at most {CLIENT_HITS_A_STATEMENT}", hits.len())));
    }
    let values: Vec<String> = (0..hits.len()).map(|i| format!("(${}, $1, ${})", 2 * i + 2, 2 * i + 3)).collect();
    let sql = format!(
        "INSERT INTO client_limits (client, window_start, hits) VALUES {}
         ON CONFLICT (client, window_start) DO UPDATE SET hits = client_limits.hits + excluded.hits
         RETURNING client, hits",
        values.join(", ")
    );
    let mut args = vec![super::Value::from(window_start)];
    for (client, n) in hits {
        args.push(client.into());
        args.push((*n).into());
    }
    conn.fetch_all::<(String, i64)>(&sql, &args).await
}
