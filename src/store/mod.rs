//! The storage boundary: all SQL lives here, written once for both backends.

pub mod api_tokens;
pub mod audit;
mod checkpoint;
pub(crate) mod codes;
mod db;
pub mod devmail;
pub mod limits;
pub mod outbox;
pub mod retention;
pub mod signups;
pub mod tokens;
pub mod users;
mod writer;

pub use db::{Conn, FromRow, Row, StoreError, Value};
pub use writer::Priority;

use anyhow::Context;
use db::Inner;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::borrow::Cow;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every commit, counted and timed. On SQLite the time is the batch's `COMMIT`: the WAL's write
/// and fsync (and the writer's own checkpoint when one is due), which every request of the batch
/// waits for, so a slow disk shows here first (docs/benchmarks.md). A commit that wrote outbox rows
/// wakes the outbox worker (`Store::outbox_queued`): no flow has to remember to.
#[derive(Clone)]
pub(crate) struct Commits {
    count: Arc<AtomicU64>,
    seconds: Histogram,
    outbox_queued: Arc<Notify>,
}

impl Commits {
    fn new() -> Self {
        // 100 µs (a quick fsync) to about 3 s (a stalled disk).
        let seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        Self { count: Arc::new(AtomicU64::new(0)), seconds, outbox_queued: Arc::new(Notify::new()) }
    }

    /// After the commit, never before: the worker must find the rows it is woken for.
    fn record(&self, took: Duration, queued_outbox_rows: bool) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.seconds.observe(took.as_secs_f64());
        if queued_outbox_rows {
            self.outbox_queued.notify_one();
        }
    }
}

#[derive(Clone)]
pub struct Store {
    engine: Engine,
    commits: Commits,
    /// When a request last wrote, in ms since `opened` (plus one: 0 is never).
    last_foreground: Arc<AtomicU64>,
    opened: std::time::Instant,
}

#[derive(Clone)]
enum Engine {
    Sqlite { file: Arc<SqliteFile>, readers: Arc<Readers>, writer: writer::Handle },
    Postgres { pool: PgPool, options: Arc<PgConnectOptions> },
}

pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

struct SqliteFile {
    path: PathBuf,
    create: bool,
    busy_timeout: Duration,
}

impl SqliteFile {
    fn parse(url: &str, busy_timeout: Duration) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        anyhow::ensure!(
            !path.is_empty() && path != ":memory:",
            "database_url must name a SQLite file: every connection must see the same data"
        );
        // The file is created on first start; `mode=rw` (or `ro`) in the URL says not to.
        let create = !query.split('&').any(|kv| kv == "mode=rw" || kv == "mode=ro");
        Ok(Self { path: PathBuf::from(path), create, busy_timeout })
    }

    /// The database holds password hashes and the links of queued mail: a new file is created
    /// private before SQLite opens it (SQLite gives `-wal` and `-shm` the same permissions), and
    /// existing ones lose what others may do with them.
    fn make_private(&self) -> anyhow::Result<()> {
        if self.create {
            crate::private::create_empty(&self.path).with_context(|| format!("creating the database file {}", self.path.display()))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let path = PathBuf::from(name);
            let closed = crate::private::close_to_others(&path).with_context(|| format!("closing {} to others", path.display()))?;
            if let Some((was, now)) = closed {
                tracing::warn!(path = %path.display(), was = format!("{was:o}"), now = format!("{now:o}"), "a database file was open to others; it no longer is");
            }
        }
        Ok(())
    }

    /// `synchronous = FULL`: no answered request is lost to a power cut (WAL's NORMAL may lose the last).
    fn open(&self) -> Result<rusqlite::Connection, StoreError> {
        use rusqlite::OpenFlags;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if self.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every job runs in a savepoint, which copies each page it touches into the statement
        // journal; on disk (the default past 64 KiB) each copy is a write system call.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(conn)
    }

    fn sqlx_options(&self) -> sqlx::sqlite::SqliteConnectOptions {
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(self.create)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(self.busy_timeout)
    }
}

struct Readers {
    idle: Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
    acquire_timeout: Duration,
}

impl Readers {
    async fn lend(self: &Arc<Self>, file: &SqliteFile) -> Result<Lease, StoreError> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Busy("no read connection came free in time"))?
            .map_err(|_| StoreError::Busy("the read pool is closed"))?;
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = file.open()?;
                // A write here would take SQLite's lock behind the writer's back: make it an error.
                c.pragma_update(None, "query_only", "ON")?;
                c
            }
        };
        Ok(Lease { conn: Some(Conn::new(Inner::Sqlite(conn))), home: Some((self.clone(), permit)) })
    }
}

pub struct Lease {
    conn: Option<Conn>,
    home: Option<(Arc<Readers>, tokio::sync::OwnedSemaphorePermit)>,
}

impl Deref for Lease {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(Conn(Inner::Sqlite(c), _)), Some((readers, _permit))) = (self.conn.take(), self.home.take()) {
            readers.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(c);
        }
    }
}

impl Store {
    /// Must be called inside a Tokio runtime.
    pub async fn connect(url: &str, pool: PoolSettings) -> anyhow::Result<Self> {
        let commits = Commits::new();
        let engine = if url.starts_with("sqlite:") {
            let file = Arc::new(SqliteFile::parse(url, pool.acquire_timeout)?);
            file.make_private()?;
            let readers = Arc::new(Readers {
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(pool.max_connections.max(1) as usize)),
                acquire_timeout: pool.acquire_timeout,
            });
            let writer = writer::Handle::start(file.clone(), commits.clone())?;
            Engine::Sqlite { file, readers, writer }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).context("parsing database_url")?;
            // Statements are logged by `db` as `usher::sql`, on both backends.
            let options = options.log_statements(tracing::log::LevelFilter::Trace);
            let pool = PgPoolOptions::new()
                .max_connections(pool.max_connections.max(1))
                .acquire_timeout(pool.acquire_timeout)
                .connect_lazy_with(options.clone());
            Engine::Postgres { pool, options: Arc::new(options) }
        } else {
            anyhow::bail!("database_url must start with sqlite:// or postgres://");
        };
        Ok(Self { engine, commits, last_foreground: Arc::new(AtomicU64::new(0)), opened: std::time::Instant::now() })
    }

    /// Notified after each commit that wrote outbox rows (mail, webhooks, requests to resolve).
    pub fn outbox_queued(&self) -> Arc<Notify> {
        self.commits.outbox_queued.clone()
    }

    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Sqlite { .. } => Backend::Sqlite,
            Engine::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Through sqlx's migrator, so databases migrated by earlier releases carry on.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = migrator(self.backend());
        match &self.engine {
            Engine::Sqlite { file, .. } => {
                let mut conn = file.sqlx_options().connect().await.context("connecting to the database to migrate it")?;
                migrator.run_direct(&mut conn).await.context("running database migrations")?;
                conn.close().await.context("closing the migration connection")
            }
            Engine::Postgres { options, .. } => {
                let mut conn = options.connect().await.context("connecting to the database to migrate it")?;
                migrator.run_direct(&mut conn).await.context("running database migrations")?;
                conn.close().await.context("closing the migration connection")
            }
        }
    }

    /// Answers once durably committed; a failing job rolls back alone. A job must await nothing
    /// but the database: on SQLite every other write waits for it.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.write_with(Priority::Foreground, job).await
    }

    /// For the outbox worker: on SQLite its jobs give way to requests' ([`Priority`]).
    pub async fn write_background<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.write_with(Priority::Background, job).await
    }

    /// For a job that is one statement on PostgreSQL, which runs it in an implicit transaction of
    /// its own: one round trip, where `BEGIN`, the statement and `COMMIT` are three. A second
    /// statement in the job is refused (it would not be atomic with the first). On SQLite as
    /// [`Store::write`]: there a statement is a function call, not a round trip.
    pub async fn write_statement<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.write_as(Priority::Foreground, Shape::Statement, job).await
    }

    async fn write_with<T, E, F>(&self, priority: Priority, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.write_as(priority, Shape::Transaction, job).await
    }

    async fn write_as<T, E, F>(&self, priority: Priority, shape: Shape, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        if priority == Priority::Foreground {
            self.last_foreground.store(self.opened.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        }
        match &self.engine {
            Engine::Sqlite { writer, .. } => writer.submit(priority, job).await,
            Engine::Postgres { pool, .. } => {
                // A task of its own, so that the transaction runs to its COMMIT or ROLLBACK whatever
                // becomes of the caller: a request whose client hangs up drops its future, and a
                // transaction dropped between two statements left its pooled connection inside it
                // for the next request ("there is already a transaction in progress").
                let (pool, commits) = (pool.clone(), self.commits.clone());
                let write = async move {
                    match shape {
                        Shape::Transaction => postgres_transaction(&pool, &commits, priority, job).await,
                        Shape::Statement => postgres_statement(&pool, &commits, job).await,
                    }
                };
                tokio::spawn(write.instrument(tracing::Span::current()))
                    .await
                    .map_err(|e| E::from(StoreError::Aborted(format!("a write transaction's task failed: {e}"))))?
            }
        }
    }

    /// On SQLite the connection refuses to write.
    pub async fn acquire(&self) -> Result<Lease, StoreError> {
        match &self.engine {
            Engine::Sqlite { file, readers, .. } => readers.lend(file).await,
            Engine::Postgres { pool, .. } => Ok(Lease { conn: Some(Conn::new(Inner::Postgres(pool.acquire().await?))), home: None }),
        }
    }

    pub fn queued_writes(&self) -> usize {
        match &self.engine {
            Engine::Sqlite { writer, .. } => writer.queued(),
            Engine::Postgres { .. } => 0,
        }
    }

    /// A request wrote in the last 50 ms on SQLite: the worker then keeps its jobs small, because
    /// there each request waits for the whole batch its write lands in. Never on PostgreSQL, where
    /// a request's statement waits for no transaction of the worker's.
    pub fn requests_writing(&self) -> bool {
        if self.backend() == Backend::Postgres {
            return false;
        }
        let last = self.last_foreground.load(Ordering::Relaxed);
        last != 0 && self.opened.elapsed().as_millis() as u64 + 1 - last < 50
    }

    /// On SQLite a commit is a batch.
    pub fn commits(&self) -> u64 {
        self.commits.count.load(Ordering::Relaxed)
    }

    pub(crate) fn commit_durations(&self) -> Histogram {
        self.commits.seconds.clone()
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        conn.fetch_one::<(i64,)>("SELECT CAST(1 AS BIGINT)", &[]).await.map(|_| ())
    }
}

/// How a PostgreSQL write is sent.
#[derive(Clone, Copy)]
enum Shape {
    Transaction,
    Statement,
}

/// The worker's transactions are planned with index scans only, in the same round trip as their
/// `BEGIN`. Its reads of the outbox walk the `(status, next_attempt_at, id)` index in the order
/// they ask for and stop at their batch. Left to the planner, two things went wrong under load
/// (measured):
/// - A plan prepared while the outbox was nearly empty scans it whole, and is kept once the
///   table has grown: each claim then read every row, 2 ms a claim with nothing to claim.
/// - A row that moved on (to `dropped`, `sending`, `sent`) leaves its old index entry until
///   vacuum. An index scan marks such an entry dead once and then steps over it; a bitmap scan
///   visits its row's page again in every batch: 8 ms a batch to find nothing, past 30,000
///   resolved requests, before autovacuum came by.
///
/// Its other reads are key lookups, for which an index scan is the plan anyway.
const BEGIN_BACKGROUND: &str = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off";

async fn postgres_transaction<T, E, F>(pool: &PgPool, commits: &Commits, priority: Priority, job: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>>,
{
    let tx = match priority {
        Priority::Foreground => {
            db::log("BEGIN");
            pool.begin().await
        }
        Priority::Background => {
            db::log(BEGIN_BACKGROUND);
            pool.begin_with(BEGIN_BACKGROUND).await
        }
    };
    let tx = tx.map_err(StoreError::from)?;
    let mut conn = Conn::new(Inner::PostgresTx(tx));
    let done = job(&mut conn).await;
    let queued = conn.take_queued();
    let Conn(Inner::PostgresTx(tx), _) = conn else { unreachable!("the job gets back the transaction it was given") };
    let value = match done {
        Ok(value) => value,
        Err(e) => {
            // Said now, not left to the pool: the connection goes back outside any transaction.
            db::log("ROLLBACK");
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    let committing = std::time::Instant::now();
    db::log("COMMIT");
    tx.commit().await.map_err(StoreError::from)?;
    commits.record(committing.elapsed(), queued);
    Ok(value)
}

/// The statement's own time is its commit's: PostgreSQL commits it before it answers.
async fn postgres_statement<T, E, F>(pool: &PgPool, commits: &Commits, job: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>>,
{
    let conn = pool.acquire().await.map_err(StoreError::from)?;
    let mut conn = Conn::new(Inner::PostgresStatement { conn, ran: false });
    let started = std::time::Instant::now();
    let value = job(&mut conn).await?;
    commits.record(started.elapsed(), conn.take_queued());
    Ok(value)
}

/// Every file of `migrations/sqlite` or `migrations/postgres`, in number order (see `build.rs`).
mod migrations {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

fn migrator(backend: Backend) -> Migrator {
    let files = match backend {
        Backend::Sqlite => migrations::SQLITE,
        Backend::Postgres => migrations::POSTGRES,
    };
    let migrations = files
        .iter()
        .map(|(version, name, sql)| Migration::new(*version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false))
        .collect::<Vec<_>>();
    Migrator { migrations: Cow::Owned(migrations), ignore_missing: false, locking: true, no_tx: false }
}

/// What [`backup`] wrote.
pub struct Backup {
    pub from: PathBuf,
    pub bytes: u64,
}

/// A consistent copy of the SQLite database at `url` into the new file `to`, taken through a
/// connection of its own, so usher may go on serving: `VACUUM INTO` reads one snapshot while
/// writers carry on. The copy is private, as the database is, and checked
/// (`PRAGMA integrity_check`) before this answers. Blocks: run it off the runtime's threads.
pub fn backup(url: &str, to: &std::path::Path, busy_timeout: Duration) -> anyhow::Result<Backup> {
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "usher backup copies a SQLite database; back PostgreSQL up with its own tools: pg_dump -Fc \"$USHER_DATABASE_URL\" > usher.dump"
        );
    }
    let file = SqliteFile::parse(url, busy_timeout)?;
    anyhow::ensure!(file.path.is_file(), "there is no database at {} to back up", file.path.display());
    if std::fs::metadata(to).is_ok_and(|m| m.len() > 0) {
        anyhow::bail!("{} exists; give a new file name", to.display());
    }
    crate::private::create_empty(to).with_context(|| format!("creating {}", to.display()))?;
    let copied = (|| -> anyhow::Result<()> {
        use rusqlite::OpenFlags;
        let source = rusqlite::Connection::open_with_flags(&file.path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_context(|| format!("opening {}", file.path.display()))?;
        source.busy_timeout(busy_timeout)?;
        let target = to.to_str().context("the backup's path is not UTF-8")?;
        source.execute("VACUUM INTO ?1", [target]).context("copying the database (VACUUM INTO)")?;
        let copy = rusqlite::Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening the copy {}", to.display()))?;
        let verdict: Vec<String> = copy
            .prepare("PRAGMA integrity_check")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()
            .context("checking the copy (PRAGMA integrity_check)")?;
        anyhow::ensure!(verdict == ["ok"], "the copy fails PRAGMA integrity_check: {}", verdict.join("; "));
        Ok(())
    })();
    if let Err(e) = copied {
        // Half a copy must not be mistaken for a backup.
        let _ = std::fs::remove_file(to);
        return Err(e);
    }
    let bytes = std::fs::metadata(to).with_context(|| format!("reading {}", to.display()))?.len();
    Ok(Backup { from: file.path, bytes })
}

/// How a database stands against the migrations this release carries.
pub struct MigrationStatus {
    pub applied: usize,
    /// Carried here and not applied yet: `usher migrate` or `usher serve` applies them.
    pub pending: Vec<String>,
    /// Applied, but unknown to this release (a newer release's) or changed since: this release must not run on it.
    pub foreign: Vec<String>,
}

/// Reads which migrations the database at `url` has, changing nothing; `None` for a SQLite
/// file that does not exist yet.
pub async fn migration_status(url: &str, timeout: Duration) -> anyhow::Result<Option<MigrationStatus>> {
    use sqlx::migrate::Migrate;
    let within = |what| move |_| anyhow::anyhow!("{what} took longer than {}", humantime::format_duration(timeout));
    let (backend, applied) = if url.starts_with("sqlite:") {
        let file = SqliteFile::parse(url, timeout)?;
        if !file.path.exists() {
            return Ok(None);
        }
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file.path).read_only(true).busy_timeout(timeout);
        let mut conn = options.connect().await.with_context(|| format!("opening {}", file.path.display()))?;
        let (tables,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_one(&mut conn)
            .await?;
        let applied = if tables > 0 { conn.list_applied_migrations().await.context("reading the applied migrations")? } else { Vec::new() };
        (Backend::Sqlite, applied)
    } else {
        let options = PgConnectOptions::from_str(url).context("parsing database_url")?;
        let mut conn = tokio::time::timeout(timeout, options.connect()).await.map_err(within("connecting"))?.context("connecting")?;
        let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&mut conn).await?;
        let applied = if exists { conn.list_applied_migrations().await.context("reading the applied migrations")? } else { Vec::new() };
        (Backend::Postgres, applied)
    };
    let migrator = migrator(backend);
    let carried = |version: i64| migrator.migrations.iter().find(|m| m.version == version);
    let foreign = applied
        .iter()
        .filter_map(|a| match carried(a.version) {
            None => Some(format!("{} (unknown to this release)", a.version)),
            Some(m) if m.checksum != a.checksum => Some(format!("{} {} (changed since it was applied)", m.version, m.description)),
            Some(_) => None,
        })
        .collect();
    let pending = migrator
        .migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    Ok(Some(MigrationStatus { applied: applied.len(), pending, foreign }))
}

/// Whether a batch is written one row at a time: on SQLite, where a statement is a function call
/// and not a round trip, and for a batch of none or one, where the one-row statement is the simpler.
pub(crate) fn row_by_row(backend: Backend, rows: usize) -> bool {
    backend == Backend::Sqlite || rows <= 1
}

/// One column of a batch, for a statement that takes the batch as arrays (`unnest`).
pub(crate) fn column<'a, T, C>(rows: &'a [T], f: impl Fn(&'a T) -> C) -> Vec<C> {
    rows.iter().map(f).collect()
}

pub fn is_unique_violation(e: &StoreError) -> bool {
    e.is_unique_violation()
}
