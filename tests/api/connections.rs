//! Exhausting the server, as the attack: clients that hold connections open
//! without finishing their requests. The real `usher serve` binary runs with
//! a file limit of 1,024 set for it alone (`setrlimit` in the child before
//! `exec`), on loopback only; every attack is bounded in count and time.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use usher::tokens::KeyRing;

const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
const FLOOD: usize = 1_100;

/// `usher serve` under a file limit of 1,024 (soft and hard, so usher
/// cannot raise it), on a database of its own. Killed when dropped.
struct Server {
    address: String,
    port: u16,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _db: Option<FreshDatabase>,
}

impl Server {
    async fn start(backend: Backend, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, db) = fresh_database(&backend, dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("http://127.0.0.1:{port}");
        let log = dir.path().join("usher.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = serve_command(port, &database_url, &KeyRing::generate_entry("k1").unwrap(), dir.path());
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| rlimit::setrlimit(rlimit::Resource::NOFILE, 1024, 1024));
        }
        let child = cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
        let mut server = Self { address, port, child, log, _dir: dir, _db: db };
        wait_until_serving(&mut server.child, &server.address, &server.log).await;
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- usher's log ---\n{}", self.log());
        }
    }
}

/// `n` connections from `from`, each sending half a request and nothing more.
async fn half_sent(to: SocketAddr, from: [u8; 4], n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let Ok(mut stream) = socket.connect(to).await else { continue };
        // A connection usher already closed may refuse the write; that is the point.
        let _ = stream.write_all(HALF_SENT).await;
        held.push(stream);
    }
    held
}

/// Waits until usher has closed every one of `streams` (EOF or reset).
async fn all_closed(streams: Vec<TcpStream>, within: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    let mut closed = 0;
    for mut s in streams {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                // An answer (408 or the like) before the close is fine.
                Ok(Ok(_)) => continue,
                Err(_) => return closed,
            }
        }
    }
    closed
}

async fn healthz_within(server: &Server, within: Duration) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    eventually("/healthz answers", within, async || {
        let r = client.get(format!("{}/healthz", server.address)).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    started.elapsed()
}

on_each_backend! {
    async fn eleven_hundred_half_sent_requests_under_a_1024_file_limit_leave_healthz_answering_and_are_closed(backend: Backend) {
        // No per-client cap, so the flood meets the global one, which usher
        // keeps below the file limit it was given.
        let server = Server::start(backend, &[("USHER_HTTP_MAX_CONNECTIONS_PER_CLIENT", "0")]).await;
        let flood = half_sent(server.addr(), [127, 0, 0, 1], FLOOD).await;
        assert!(flood.len() >= 1000, "only {} connections were made", flood.len());
        let waited = healthz_within(&server, Duration::from_secs(15)).await;
        assert!(waited <= Duration::from_secs(15), "{waited:?}");
        let closed = all_closed(flood, Duration::from_secs(15)).await;
        eprintln!("/healthz answered {waited:?} after the flood; {closed} of {FLOOD} half-sent connections closed");
        assert_eq!(closed, FLOOD, "every half-sent connection is closed by the header timeout or the cap");
        let log = server.log();
        assert!(log.contains("connection cap reached"), "the cap is logged:\n{log}");
        assert!(!log.contains("Too many open files"), "{log}");
    }

    async fn one_client_holding_connections_open_does_not_delay_another(backend: Backend) {
        let server = Server::start(backend, &[("USHER_HTTP_MAX_CONNECTIONS_PER_CLIENT", "16")]).await;
        let flood = half_sent(server.addr(), [127, 0, 0, 2], 200).await;
        let waited = healthz_within(&server, Duration::from_secs(2)).await;
        eprintln!("another client's /healthz answered after {waited:?}");
        assert!(waited < Duration::from_secs(2), "another client waited {waited:?}");
        assert_eq!(all_closed(flood, Duration::from_secs(15)).await, 200);
        assert!(server.log().contains("per-client connection cap reached"), "{}", server.log());
    }
}

/// Raw HTTP/1.1 against a TestApp: what it answers, and whether it then closed.
async fn raw(app: &TestApp, request: &[u8], within: Duration) -> (String, bool, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), closed, started.elapsed())
}

on_each_backend! {
    async fn a_request_framed_by_both_content_length_and_transfer_encoding_is_400_and_the_connection_closed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let smuggled = b"POST /no_auth/send_password_email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        let (answer, closed, _) = raw(&app, smuggled, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("\"code\":\"INVALID_INPUT\""), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        assert_eq!(answer.matches("HTTP/1.1").count(), 1, "the smuggled request is not answered: {answer}");
        assert!(closed);
    }

    async fn a_body_sent_a_byte_at_a_time_is_cut_off_after_the_body_timeout(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("http_body_timeout", "1s")]).await;
        let started = Instant::now();
        let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
        stream.write_all(b"POST /no_auth/send_password_email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // One byte every 200 ms, for at most 40 s: usher must hang up long before.
        let closed = loop {
            if started.elapsed() > Duration::from_secs(40) {
                break false;
            }
            let _ = stream.write_all(b" ").await;
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        };
        let answer = String::from_utf8_lossy(&answer);
        assert!(closed, "still open after {:?}", started.elapsed());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("too slowly"), "{answer}");
    }

    async fn an_idle_keep_alive_connection_and_a_silent_one_are_closed(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("http_keepalive_timeout", "1s"), ("http_header_timeout", "2s")]).await;
        let (answer, closed, took) = raw(&app, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 200") && closed, "{answer}");
        assert!(took < Duration::from_secs(3), "the idle keep-alive connection stayed {took:?}");
        let (answer, closed, took) = raw(&app, b"", Duration::from_secs(10)).await;
        assert!(closed && answer.is_empty(), "{answer}");
        assert!(took < Duration::from_secs(4), "a connection that sent nothing stayed {took:?}");
    }
}
