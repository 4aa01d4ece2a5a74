use crate::limiter::client_key;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Kept back from the connection cap for the database pool, SMTP, templates and the log.
const RESERVED_FDS: u64 = 64;
const DRAIN: Duration = Duration::from_secs(30);
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
    pub trusted_proxies: Vec<IpNet>,
}

impl Limits {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            header_timeout: s.http_header_timeout,
            body_timeout: s.http_body_timeout,
            keepalive_timeout: s.http_keepalive_timeout,
            max_connections: s.http_max_connections,
            max_per_client: s.http_max_connections_per_client,
            trusted_proxies: s.trusted_proxies.clone(),
        }
    }

    pub fn fit_file_limit(mut self) -> Self {
        let limit = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not read or raise the open-file limit");
                return self;
            }
        };
        let room = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX).max(1);
        if room < self.max_connections {
            tracing::warn!(
                file_limit = limit,
                http_max_connections = room,
                configured = self.max_connections,
                "the open-file limit allows fewer connections than http_max_connections; raise `ulimit -n` to serve more"
            );
            self.max_connections = room;
        }
        tracing::info!(file_limit = limit, http_max_connections = self.max_connections, "connection limits");
        self
    }
}

#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    /// Counted by [`client_key`]: the addresses of one IPv6 /64 share one cap.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let ip = client_key(ip);
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let open = table.entry(ip).or_default();
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(ClientSlot { table: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = table.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

struct Refusals {
    last: Option<Instant>,
    total_cap: u64,
    client_cap: u64,
    accept_errors: u64,
}

impl Refusals {
    fn new() -> Self {
        Self { last: None, total_cap: 0, client_cap: 0, accept_errors: 0 }
    }

    fn note(&mut self, limits: &Limits) {
        if self.last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        if self.total_cap > 0 {
            tracing::warn!(
                refused = self.total_cap,
                http_max_connections = limits.max_connections,
                "connection cap reached: new connections are closed at once until some close"
            );
        }
        if self.client_cap > 0 {
            tracing::warn!(
                refused = self.client_cap,
                http_max_connections_per_client = limits.max_per_client,
                "per-client connection cap reached: a client's extra connections are closed at once"
            );
        }
        if self.accept_errors > 0 {
            tracing::warn!(errors = self.accept_errors, "accepting connections failed");
        }
        (self.total_cap, self.client_cap, self.accept_errors) = (0, 0, 0);
        self.last = Some(Instant::now());
    }
}

pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let (closing, closing_rx) = watch::channel(false);
    let mut refusals = Refusals::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: the descriptor is not there yet; retrying at once would spin.
                refusals.accept_errors += 1;
                refusals.note(&limits);
                tracing::debug!(error = %e, "accept error");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refusals.total_cap += 1;
            refusals.note(&limits);
            drop(stream);
            continue;
        };
        let trusted = limits.trusted_proxies.iter().any(|net| net.contains(&peer.ip()));
        let slot = if limits.max_per_client == 0 || trusted {
            None
        } else {
            match per_client.take(peer.ip(), limits.max_per_client) {
                Some(slot) => Some(slot),
                None => {
                    refusals.client_cap += 1;
                    refusals.note(&limits);
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, limits, mut closing) = (app.clone(), limits.clone(), closing_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, peer, app, &limits, &mut closing).await;
            drop((permit, slot));
        });
    }
    let _ = closing.send(true);
    drop(listener);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, open.acquire_many(all)).await.is_err() {
        tracing::warn!("some requests were still running {DRAIN:?} after the stop; they are cut off");
    }
    Ok(())
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router, limits: &Limits, closing: &mut watch::Receiver<bool>) {
    let activity = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone(), started });
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let req = req.map(|body| axum::body::Body::new(Deadline::new(body, body_timeout)));
            let response = app.oneshot(req).await.unwrap_or_else(|e| match e {});
            Ok::<_, Infallible>(crate::http::finish(response))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let idle = limits.keepalive_timeout;
    let mut shutting_down = false;
    loop {
        let since = Duration::from_millis(activity.load(Ordering::Relaxed));
        let quiet = started.elapsed().saturating_sub(since);
        let wake = idle.saturating_sub(quiet).max(Duration::from_millis(100));
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            _ = closing.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(wake), if !shutting_down => {
                // Quiet for `idle`: an idle connection closes now, a busy one after its answer.
                if quiet >= idle {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

struct Watched {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    started: Instant,
}

impl Watched {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A deadline, not an idle timer: a body trickled in a byte at a time is cut off too.
struct Deadline {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self { inner, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl hyper::body::Body for Deadline {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.inner.is_end_stream() {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err("the request body was not received within http_body_timeout".into())));
        }
        Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_of_one_ipv6_64_share_one_cap() {
        let table = Arc::new(PerClient::default());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let first = table.take(ip("2001:db8::1"), 2);
        let second = table.take(ip("2001:db8::2"), 2);
        assert!(first.is_some() && second.is_some());
        assert!(table.take(ip("2001:db8::3"), 2).is_none());
        assert!(table.take(ip("2001:db8:0:1::1"), 2).is_some(), "the next /64 is another client");
        drop(first);
        assert!(table.take(ip("2001:db8::4"), 2).is_some(), "a closed connection frees its place");
    }
}
