//! The storage boundary. Flows call the functions of this module's children;
//! nothing above it writes SQL.
//!
//! One implementation serves both backends through sqlx's `Any` driver: the
//! queries are written in the SQL that SQLite and PostgreSQL share (`$N`
//! parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`, integer times), and
//! the few places where the backends must differ (the writer, claiming
//! outbox rows) branch on [`Backend`]. Each backend has its own migrations.

pub mod api_tokens;
pub mod audit;
pub mod devmail;
pub mod limits;
pub mod outbox;
pub mod retention;
pub mod signups;
pub mod tokens;
pub mod users;
mod writer;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Connection, Executor};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use sqlx::AnyConnection as Conn;

/// What a write job returns: a future borrowing the writer's connection.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Reads go to a pool; writes go through [`Store::write`]. On SQLite every
/// write of the instance is applied by one task on one connection, batched
/// into one transaction (group commit), so writers never fight for SQLite's
/// lock and one fsync covers many requests. On PostgreSQL each write is its
/// own pooled transaction: the server already commits concurrently.
#[derive(Clone)]
pub struct Store {
    reads: AnyPool,
    backend: Backend,
    options: AnyConnectOptions,
    writer: Option<writer::Handle>,
    commits: Arc<AtomicU64>,
    busy_timeout_ms: u128,
}

pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Store {
    /// Opens the database. Must be called inside a Tokio runtime: on SQLite
    /// it starts the writer task.
    pub async fn connect(url: &str, pool: PoolSettings) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            // Create the file on first start; an explicit mode in the URL wins.
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Backend::Postgres, url.to_owned())
        } else {
            anyhow::bail!("database_url must start with sqlite:// or postgres://");
        };
        let options = AnyConnectOptions::from_str(&url).context("parsing database_url")?;
        let busy_timeout_ms = pool.acquire_timeout.as_millis();
        let reads = AnyPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_pragmas(conn, busy_timeout_ms).await?;
                        // A write on a read connection would take SQLite's lock
                        // behind the writer's back; make it an error instead.
                        conn.execute("PRAGMA query_only = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        let commits = Arc::new(AtomicU64::new(0));
        let writer = match backend {
            Backend::Sqlite => Some(writer::Handle::start(options.clone(), busy_timeout_ms, commits.clone())),
            Backend::Postgres => None,
        };
        Ok(Self { reads, backend, options, writer, commits, busy_timeout_ms })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations, on a connection of their own: they open
    /// transactions of their own, which cannot nest in the writer's batch.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = Conn::connect_with(&self.options).await.context("connecting to the database to migrate it")?;
        if self.backend == Backend::Sqlite {
            sqlite_pragmas(&mut conn, self.busy_timeout_ms).await.context("configuring the migration connection")?;
        }
        migrator(self.backend).run_direct(&mut conn).await.context("running database migrations")?;
        conn.close().await.context("closing the migration connection")
    }

    /// Runs `job` in a write transaction and returns its result once the
    /// transaction is committed (on SQLite: durably, `synchronous = FULL`).
    /// A job that fails is rolled back alone; on SQLite, the other jobs of
    /// its batch still commit. A job awaits nothing but the database: on
    /// SQLite every other write waits for it.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(job).await,
            None => {
                let mut tx = self.reads.begin().await?;
                let value = job(&mut tx).await?;
                tx.commit().await?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(value)
            }
        }
    }

    /// A connection for reading. On SQLite it refuses to write.
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Any>, sqlx::Error> {
        self.reads.acquire().await
    }

    /// Writes waiting for SQLite's writer (always 0 on PostgreSQL).
    pub fn queued_writes(&self) -> usize {
        self.writer.as_ref().map_or(0, writer::Handle::queued)
    }

    /// Committed write transactions (SQLite: batches) since the start.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.reads.acquire().await?;
        conn.execute("SELECT 1").await.map(|_| ())
    }
}

/// `synchronous = FULL`: a commit returns only once it is on disk, so no
/// answered request is lost with a power cut (WAL's NORMAL may lose the last
/// transactions).
async fn sqlite_pragmas(conn: &mut Conn, busy_timeout_ms: u128) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute(format!("PRAGMA busy_timeout = {busy_timeout_ms}").as_str()).await?;
    Ok(())
}

fn migrator(backend: Backend) -> Migrator {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => &[
            (1, "init", include_str!("../../migrations/sqlite/0001_init.sql")),
            (2, "admin", include_str!("../../migrations/sqlite/0002_admin.sql")),
            (3, "hostile_clients", include_str!("../../migrations/sqlite/0003_hostile_clients.sql")),
            (4, "live_tokens", include_str!("../../migrations/sqlite/0004_live_tokens.sql")),
        ],
        Backend::Postgres => &[
            (1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
            (2, "admin", include_str!("../../migrations/postgres/0002_admin.sql")),
            (3, "hostile_clients", include_str!("../../migrations/postgres/0003_hostile_clients.sql")),
            (4, "live_tokens", include_str!("../../migrations/postgres/0004_live_tokens.sql")),
        ],
    };
    let migrations = files
        .iter()
        .map(|(version, name, sql)| Migration::new(*version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false))
        .collect::<Vec<_>>();
    Migrator { migrations: Cow::Owned(migrations), ignore_missing: false, locking: true, no_tx: false }
}

/// Whether an error means "the database cannot serve us now" (answer 503 and
/// let the client retry) rather than "this query is wrong" (a bug: 500).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            if let Ok(n) = code.parse::<i64>() {
                return matches!(n & 0xff, 5 | 6);
            }
            // PostgreSQL: connection exceptions, shutdown, too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }
        _ => false,
    }
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
