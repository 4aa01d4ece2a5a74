use crate::clock::Clock;
use crate::config::{MailTransport, Settings};
use crate::flows::{Ctx, Shared};
use crate::http::{self, AppState};
use crate::i18n::Catalogue;
use crate::limiter::ClientLimiter;
use crate::mail::templates::Templates;
use crate::mail::transport::Transport;
use crate::outbox::{Worker, WorkerSettings};
use crate::passwords::Hasher;
use crate::store::{Backend, PoolSettings, Store};
use crate::tokens::{self, KeyRing};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct Application {
    listener: TcpListener,
    /// `management_listen`'s: the operations routes, served there instead of on `listener`.
    management: Option<TcpListener>,
    state: AppState,
    worker: Option<Worker>,
}

/// Where the database is, and why when it is not where the settings say. Reads, creates nothing.
pub(crate) struct DatabaseLocation {
    pub(crate) url: String,
    /// The file of an older release, read where it was left, with what to do about it.
    pub(crate) legacy: Option<String>,
}

/// Older releases put the SQLite database in the working directory; a file found there, and
/// none in the data directory, is the one with the data.
pub(crate) fn database_location(settings: &Settings) -> DatabaseLocation {
    let url = settings.database_url.expose().to_owned();
    if settings.database_url_given {
        return DatabaseLocation { url, legacy: None };
    }
    let (current, legacy) = (settings.default_database(), std::path::PathBuf::from(LEGACY_DATABASE));
    let same = matches!((current.canonicalize(), legacy.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if current.exists() || same || !legacy.is_file() {
        return DatabaseLocation { url, legacy: None };
    }
    let at = std::env::current_dir().map(|d| d.join(LEGACY_DATABASE)).unwrap_or_else(|_| legacy.clone());
    let advice = format!(
        "reading the database {} where older releases put it (the working directory): stop usher and move it, with any -wal and -shm \
         file, to {} (or set USHER_DATABASE_URL to where it is)",
        at.display(),
        current.display()
    );
    DatabaseLocation { url: format!("sqlite://{}", at.display()), legacy: Some(advice) }
}

const LEGACY_DATABASE: &str = "usher.db";

/// Creates the data directory, private, if it is missing (one that exists is left as it is).
pub(crate) fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    crate::private::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {} (USHER_DATA_DIR)", settings.data_dir.display()))
}

/// Opens and migrates the database where [`database_location`] finds it.
pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    prepare_data_dir(settings)?;
    let location = database_location(settings);
    if let Some(advice) = &location.legacy {
        tracing::warn!("{advice}");
    }
    let store = Store::connect(
        &location.url,
        PoolSettings { max_connections: settings.database_max_connections, acquire_timeout: settings.database_acquire_timeout },
    )
    .await?;
    store.migrate().await?;
    Ok(store)
}

impl Application {
    pub(crate) async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        if let Some(refusal) = settings.unsafe_to_serve() {
            anyhow::bail!(refusal);
        }
        let store = open_store(&settings).await?;
        // From here on the settings name the database opened, for the start-up line.
        settings.database_url = crate::config::Secret::new(database_location(&settings).url);
        settings.database_url_given = true;
        let keys = KeyRing::load_or_generate(settings.keys.as_ref().map(|k| k.expose()), &settings.data_dir)?;
        let transport = Transport::from_settings(&settings)?;
        let catalogue = Arc::new(Catalogue::load(settings.messages_dir.as_deref())?);
        for fallback in catalogue.fallbacks() {
            tracing::warn!(messages_dir = ?settings.messages_dir, "{fallback}");
        }
        // What must fit in the lease is a renewal (every third of it), which may wait database_acquire_timeout
        // for a connection: with less left, a slow database lets another instance send twice.
        if settings.mail_lease * 2 / 3 < settings.database_acquire_timeout {
            // Not an error: tests and small setups use short leases on purpose.
            tracing::warn!(
                lease = ?settings.mail_lease,
                database_acquire_timeout = ?settings.database_acquire_timeout,
                "mail_lease is shorter than 1.5 times database_acquire_timeout: a lease renewal held up by a slow database may come too late, and another instance may send the same message (with the same Message-ID or webhook-id)"
            );
        }
        let mailbox_on = settings.management_listen.unwrap_or(settings.listen);
        if settings.mail_transport == MailTransport::Dev && !(settings.listen.ip().is_loopback() && mailbox_on.ip().is_loopback()) {
            tracing::warn!(
                listen = %settings.listen,
                management_listen = ?settings.management_listen,
                dev_mailbox = settings.dev_mailbox,
                "mail_transport is dev on a non-loopback address: no email leaves this machine{}",
                if settings.dev_mailbox { ", and /dev/mail shows every link to anyone who can reach it" } else { " (/dev/mail is off; USHER_DEV_MAILBOX=true turns it on)" }
            );
        }
        if let Some(host) = crate::mail::transport::credentials_in_clear(&settings) {
            tracing::warn!(
                host,
                "SMTP credentials are sent unencrypted: smtp_url has tls=none and a user name for a host that is not this machine; use tls=starttls or tls=tls"
            );
        }
        let listener = TcpListener::bind(settings.listen).await.with_context(|| format!("listening on {}", settings.listen))?;
        if settings.listen.port() == 0 {
            // The system chose the port: URLs derived from the listen address name the one it chose.
            let (asked, bound) = (format!("http://{}", settings.listen), format!("http://{}", listener.local_addr()?));
            for url in [&mut settings.public_url, &mut settings.console_url] {
                if let Some(rest) = url.strip_prefix(&asked) {
                    *url = format!("{bound}{rest}");
                }
            }
        }
        let management = match settings.management_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("listening on {addr} (management_listen)"))?),
            None => None,
        };
        let settings = Arc::new(settings);
        let keys = Arc::new(keys);
        let ctx = Ctx::new(Shared {
            store: store.clone(),
            clock: clock.clone(),
            keys: keys.clone(),
            hasher: Hasher::new(settings.password_hash_workers, settings.password_hash_queue, settings.password_min_score)
                .with_pwned_check(crate::pwned::PwnedCheck::from_settings(&settings)?),
            settings: settings.clone(),
            catalogue: catalogue.clone(),
        });
        let worker = Worker {
            id: format!("{}-{}", hostname(), tokens::random_id()),
            store,
            clock: clock.clone(),
            keys,
            transport: Arc::new(transport),
            templates: Arc::new(Templates::new(settings.mail_templates_dir.clone(), catalogue.clone())?),
            webhooks: crate::webhooks::Sender::from_settings(&settings)?.map(Arc::new),
            settings: Arc::new(WorkerSettings {
                retry_min: settings.mail_retry_min,
                retry_max: settings.mail_retry_max,
                max_attempts: settings.mail_max_attempts,
                poll_interval: settings.mail_poll_interval,
                lease: settings.mail_lease,
                // A batch is sent concurrently; lettre's pool size caps only idle
                // connections, so the batch is what bounds open SMTP connections.
                batch: match settings.mail_transport {
                    MailTransport::Smtp => i64::from(settings.smtp_pool_size.max(1)),
                    MailTransport::Dev | MailTransport::File => 64,
                },
                public_url: settings.public_url.clone(),
                from: settings.mail_from.as_str().to_owned(),
                signup_link_ttl: settings.signup_link_ttl,
                password_link_ttl: settings.password_link_ttl,
                activation_code_ttl: settings.activation_code_ttl,
                retention: settings.retention.clone(),
                webhook_urls: settings.webhook_urls.clone(),
            }),
            wake: ctx.store.outbox_queued(),
        };
        let limiter = ClientLimiter::new(settings.limit_client_per_minute, clock);
        let csrf = http::security::CsrfKey::from_keys(&ctx.keys)?;
        let pages = http::pages::Pages::new(csrf, &ctx.settings, ctx.catalogue.clone())?;
        let state = AppState { ctx, pages: Arc::new(pages), limiter };
        Ok(Self { listener, management, state, worker: Some(worker) })
    }

    pub fn port(&self) -> u16 {
        self.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The management listener's port, when `management_listen` is set.
    pub fn management_port(&self) -> Option<u16> {
        self.management.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn take_worker(&mut self) -> Option<Worker> {
        self.worker.take()
    }

    pub fn ctx(&self) -> &Ctx {
        &self.state.ctx
    }

    pub(crate) async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stopping, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = stopping.send(true);
        });
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        };
        let stop = stopped(stop_rx.clone());
        let worker_id = self.worker.as_ref().map(|w| w.id.clone());
        let mut worker = self.worker.take().map(|w| crate::background::spawn("usher-worker", w.run(stop_rx.clone()))).transpose()?;
        // One instance on SQLite: its own counts are the whole truth.
        let sync = (self.state.ctx.store.backend() == Backend::Postgres)
            .then(|| tokio::spawn(self.state.limiter.clone().run_sync(self.state.ctx.store.clone())));
        let addr = self.local_addr()?;
        let (store, clock) = (self.state.ctx.store.clone(), self.state.ctx.clock.clone());
        let grace = self.state.ctx.settings.shutdown_grace;
        let settings = &self.state.ctx.settings;
        tracing::info!(
            listen = %addr,
            public_url = %settings.public_url,
            database = %crate::config::redact_url(settings.database_url.expose()),
            mail = %Transport::describe(settings),
            "usher is listening"
        );
        let limits = crate::server::Limits::from_settings(&self.state.ctx.settings).fit_file_limit();
        let management = match self.management {
            Some(listener) => {
                tracing::info!(addr = %listener.local_addr()?, "usher serves /metrics, /healthz and /readyz on the management listener");
                let app = http::management_router(self.state.clone());
                Some(tokio::spawn(crate::server::serve(listener, app, limits.clone(), stopped(stop_rx.clone()))))
            }
            None => None,
        };
        let app = http::router(self.state);
        let served = crate::server::serve(self.listener, app, limits, stop).await;
        let managed = match management {
            Some(task) => task.await.context("the management listener's task").and_then(|r| r.context("serving the management listener")),
            None => Ok(()),
        };
        if let Some(background) = worker.as_mut() {
            if tokio::time::timeout(grace, &mut background.task).await.is_err() {
                tracing::warn!(after = ?grace, "the batch being sent did not finish; releasing it");
                background.task.abort();
            }
        }
        if let Some(id) = worker_id {
            let now = clock.now_ms();
            match store.write(move |conn| Box::pin(async move { crate::store::outbox::release(conn, &id, now).await })).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(released = n, "handed claimed mail back to the queue"),
                Err(e) => tracing::warn!(error = %e, "releasing claimed mail failed; it is sent again when its lease runs out"),
            }
        }
        drop(worker);
        if let Some(task) = sync {
            task.abort();
        }
        managed?;
        served.context("serving HTTP")
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "usher".to_owned())
}
