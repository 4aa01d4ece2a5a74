//! The storage boundary. Flows call the functions of this module's children;
//! nothing above it writes SQL.
//!
//! One implementation serves both backends through sqlx's `Any` driver: the
//! queries are written in the SQL that SQLite and PostgreSQL share (`$N`
//! parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`, integer times), and
//! the few places where the backends must differ (transaction start, claiming
//! outbox rows) branch on [`Backend`]. Each backend has its own migrations.

pub mod api_tokens;
pub mod audit;
pub mod devmail;
pub mod limits;
pub mod outbox;
pub mod signups;
pub mod tokens;
pub mod users;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

pub use sqlx::AnyConnection as Conn;
pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Store {
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
        let pool = AnyPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(format!("PRAGMA busy_timeout = {busy_timeout_ms}").as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        migrator(self.backend).run(&self.pool).await.context("running database migrations")
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads before it writes
    /// cannot upgrade its lock once another writer committed, and fails
    /// instead of waiting.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        conn.execute("SELECT 1").await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn migrator(backend: Backend) -> Migrator {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => &[
            (1, "init", include_str!("../../migrations/sqlite/0001_init.sql")),
            (2, "admin", include_str!("../../migrations/sqlite/0002_admin.sql")),
        ],
        Backend::Postgres => &[
            (1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
            (2, "admin", include_str!("../../migrations/postgres/0002_admin.sql")),
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
