use crate::clock::Clock;
use crate::store::{self, Store};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SYNC_EVERY: Duration = Duration::from_millis(250);
const MINUTE_MS: i64 = store::limits::MINUTE_MS;

/// What a per-client budget is kept for: an IPv4 address, or the /64 of an IPv6 one. A /64 is
/// what one host or subscriber is given (SLAAC needs a whole one), so inside it a client can
/// take a fresh address for every request; counted by /128 it would have 2^64 budgets. An
/// IPv4-mapped address (`::ffff:192.0.2.1`, from a dual-stack socket) is its IPv4 address.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[derive(Default)]
struct Count {
    mine: i64,
    /// The part of `mine` already reported to the database.
    reported: i64,
    /// Admitted by the other instances, as of the last report.
    others: i64,
}

#[derive(Default)]
struct Window {
    start: i64,
    clients: HashMap<IpAddr, Count>,
}

#[derive(Clone)]
pub struct ClientLimiter {
    per_minute: i64,
    clock: Clock,
    window: Arc<Mutex<Window>>,
}

impl ClientLimiter {
    /// `per_minute == 0` admits everything.
    pub fn new(per_minute: u32, clock: Clock) -> Self {
        Self { per_minute: i64::from(per_minute), clock, window: Arc::default() }
    }

    pub fn admit(&self, client: IpAddr) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let client = client_key(client);
        let now = self.clock.now_ms();
        let start = now - now.rem_euclid(MINUTE_MS);
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if window.start != start {
            // Entries of a past window can no longer limit anything.
            window.start = start;
            window.clients.clear();
        }
        let count = window.clients.entry(client).or_default();
        if count.mine + count.others >= self.per_minute {
            return Err(Duration::from_millis((start + MINUTE_MS - now).max(1000) as u64));
        }
        count.mine += 1;
        Ok(())
    }

    pub async fn sync(&self, store: &Store) -> Result<(), store::StoreError> {
        let (start, deltas) = {
            let window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut deltas: Vec<(String, i64)> =
                window.clients.iter().filter(|(_, c)| c.mine > c.reported).map(|(ip, c)| (ip.to_string(), c.mine - c.reported)).collect();
            // Every instance locks the rows it adds to in one order, so two syncing at once wait
            // at most for each other's statement and never deadlock.
            deltas.sort_unstable();
            (window.start, deltas)
        };
        if deltas.is_empty() {
            return Ok(());
        }
        let sent: HashMap<String, i64> = deltas.iter().cloned().collect();
        // A statement for each thousand clients, outside any transaction: nothing holds the rows past it.
        let mut totals = Vec::with_capacity(deltas.len());
        for chunk in deltas.chunks(store::limits::CLIENT_HITS_A_STATEMENT) {
            let chunk = chunk.to_vec();
            totals.extend(
                store
                    .write_statement(move |conn| Box::pin(async move { store::limits::add_client_hits(conn, start, &chunk).await }))
                    .await?,
            );
        }
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if window.start != start {
            return Ok(());
        }
        for (client, total) in totals {
            let (Ok(ip), Some(delta)) = (client.parse::<IpAddr>(), sent.get(&client)) else { continue };
            if let Some(count) = window.clients.get_mut(&ip) {
                count.reported += delta;
                count.others = (total - count.reported).max(0);
            }
        }
        Ok(())
    }

    pub async fn run_sync(self, store: Store) {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sync(&store).await {
                tracing::warn!(error = %e, "sharing per-client request counts failed; counting locally until it works again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_refused_past_the_limit_until_the_next_minute() {
        let clock = Clock::default();
        let limiter = ClientLimiter::new(3, clock.clone());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.admit(ip).is_ok());
        }
        let wait = limiter.admit(ip).unwrap_err();
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60), "{wait:?}");
        assert!(limiter.admit(other).is_ok(), "clients are counted apart");
        clock.advance(Duration::from_secs(60));
        assert!(limiter.admit(ip).is_ok());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_by_the_ipv4_address() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.1"), "192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::1"), "::");
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_one_budget() {
        let limiter = ClientLimiter::new(2, Clock::default());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(limiter.admit(ip("2001:db8::1")).is_ok());
        assert!(limiter.admit(ip("2001:db8::2")).is_ok());
        assert!(limiter.admit(ip("2001:db8::3")).is_err());
        assert!(limiter.admit(ip("2001:db8:0:1::1")).is_ok(), "the next /64 is another client");
    }

    #[test]
    fn a_limit_of_zero_admits_everything() {
        let limiter = ClientLimiter::new(0, Clock::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.admit(ip).is_ok()));
    }
}
