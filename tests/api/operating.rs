//! Issue 10: what an operator of usher relies on — safe defaults, logs that
//! read well in a file, `/metrics`, key rotation, retention.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use std::process::{Child, Stdio};
use std::time::Duration;
use usher::tokens::KeyRing;

/// `usher serve` with its standard error in a file (not a terminal), on a
/// database of its own. Killed when dropped.
struct Served {
    address: String,
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _db: Option<FreshDatabase>,
}

impl Served {
    async fn start(backend: Backend, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, db) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("usher.db").display()), None),
            Backend::Postgres(admin) => {
                let db = FreshDatabase::create(&admin).await;
                (db.url.clone(), Some(db))
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("usher.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = serve_command(port, &database_url, &KeyRing::generate_entry("k1").unwrap(), dir.path());
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v.replace("{port}", &port.to_string()));
        }
        let child = cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
        let mut served = Self { address: format!("http://127.0.0.1:{port}"), child, log, _dir: dir, _db: db };
        let client = reqwest::Client::new();
        eventually("usher serve is ready", Duration::from_secs(20), async || {
            if let Some(status) = served.child.try_wait().unwrap() {
                panic!("usher exited ({status}):\n{}", served.log());
            }
            let r = client.get(format!("{}/readyz", served.address)).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        })
        .await;
        served
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- usher's log ---\n{}", self.log());
        }
    }
}

on_each_backend! {
    async fn a_network_listener_with_the_dev_transport_warns_and_hides_the_dev_mailbox(backend: Backend) {
        let served = Served::start(backend, &[("USHER_LISTEN", "0.0.0.0:{port}")]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "/dev/mail would hand every signup link to the network");
        let log = served.log();
        assert!(log.contains("WARN") && log.contains("mail_transport is dev on a non-loopback address"), "{log}");
        assert!(!log.contains('\u{1b}'), "no colour codes in a log written to a file: {log:?}");
    }

    async fn the_dev_mailbox_on_a_network_listener_is_served_when_asked_for_explicitly(backend: Backend) {
        let served = Served::start(backend, &[("USHER_LISTEN", "0.0.0.0:{port}"), ("USHER_DEV_MAILBOX", "true")]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(served.log().contains("/dev/mail shows every link"), "{}", served.log());
    }

    async fn a_loopback_listener_serves_the_dev_mailbox_without_a_warning(backend: Backend) {
        let served = Served::start(backend, &[]).await;
        let r = reqwest::get(format!("{}/dev/mail.json", served.address)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!served.log().contains("WARN"), "{}", served.log());
    }
}
