//! SQLite's single writer thread: group commit, a savepoint per job (ARCHITECTURE.md, `store`).

use super::checkpoint::{self, Bell};
use super::db::Inner;
use super::{BoxFuture, Commits, Conn, SqliteFile, StoreError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

const MAX_BATCH: usize = 256;
/// Past this many waiting jobs a write is refused at once (503) instead of queueing without bound.
const MAX_WAITING: usize = 8192;

type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

struct Done {
    keep: bool,
    finish: Finish,
}

trait Work: Send {
    fn run(self: Box<Self>, conn: &mut Conn) -> BoxFuture<'_, Done>;
    fn refuse(self: Box<Self>, error: &StoreError);
}

struct Typed<T, E, F> {
    job: F,
    answer: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Work for Typed<T, E, F>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Conn) -> BoxFuture<'_, Done> {
        let Typed { job, answer } = *self;
        Box::pin(async move {
            match first_poll(job(conn), std::any::type_name::<F>()) {
                Ok(value) => Done {
                    keep: true,
                    finish: Box::new(move |commit_error| {
                        let _ = answer.send(match commit_error {
                            None => Ok(value),
                            Some(e) => Err(E::from(e.replicate())),
                        });
                    }),
                },
                Err(e) => Done {
                    keep: false,
                    finish: Box::new(move |_| {
                        let _ = answer.send(Err(e));
                    }),
                },
            }
        })
    }

    fn refuse(self: Box<Self>, error: &StoreError) {
        let _ = self.answer.send(Err(E::from(error.replicate())));
    }
}

/// On SQLite every statement runs on this thread and a job's future is done on its first poll. One
/// that is not awaits something else (a lock, a timer, the network) while it holds the one writer,
/// and every request behind it waits: it is refused, its savepoint rolled back, and named.
fn first_poll<T, E: From<StoreError>>(mut job: BoxFuture<'_, Result<T, E>>, name: &'static str) -> Result<T, E> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match job.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(done) => done,
        std::task::Poll::Pending => {
            tracing::error!(job = name, "a write job awaited something other than the database; it was refused");
            Err(E::from(StoreError::Aborted(format!("the write job {name} awaited something other than the database"))))
        }
    }
}

struct Job {
    work: Box<dyn Work>,
    /// The submitter's span, so the job's statements are logged under its request.
    span: tracing::Span,
}

/// A batch takes every waiting `Foreground` (request) job and one `Background` (worker) job:
/// a burst of requests is answered first, and the worker still moves a job a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Foreground,
    Background,
}

#[derive(Clone)]
pub(super) struct Handle {
    jobs: mpsc::Sender<Job>,
    background: mpsc::Sender<Job>,
}

impl Handle {
    pub(super) fn start(file: Arc<SqliteFile>, commits: Commits) -> anyhow::Result<Self> {
        let (jobs, rx) = mpsc::channel(MAX_WAITING);
        let (background, background_rx) = mpsc::channel(MAX_WAITING);
        // Jobs are futures (PostgreSQL's are async); here they complete on their first poll.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let bell = checkpoint::start(file.clone())?;
        std::thread::Builder::new()
            .name("usher-sqlite-writer".into())
            .spawn(move || runtime.block_on(run(file, rx, background_rx, commits, bell)))?;
        Ok(Self { jobs, background })
    }

    pub(super) fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity() + self.background.max_capacity() - self.background.capacity()
    }

    pub(super) async fn submit<T, E, F>(&self, priority: Priority, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let work = Box::new(Typed { job, answer });
        let queue = match priority {
            Priority::Foreground => &self.jobs,
            Priority::Background => &self.background,
        };
        queue
            .try_send(Job { work, span: tracing::Span::current() })
            .map_err(|_| E::from(StoreError::Busy("the writer's queue is full")))?;
        answered.await.map_err(|_| E::from(StoreError::Busy("the database writer stopped")))?
    }
}

async fn run(file: Arc<SqliteFile>, mut rx: mpsc::Receiver<Job>, mut background: mpsc::Receiver<Job>, commits: Commits, bell: Bell) {
    let mut conn: Option<Conn> = None;
    while let Some(jobs) = next_batch(&mut rx, &mut background).await {
        let c = match conn.take() {
            Some(c) => c,
            None => match file.open() {
                Ok(c) => Conn::new(Inner::Sqlite(c)),
                Err(e) => {
                    tracing::warn!(error = %e, "database writer cannot open the database");
                    refuse_all(jobs, &e);
                    continue;
                }
            },
        };
        // A task of its own, so that a panicking job costs its batch, not the writer.
        match tokio::spawn(apply(c, jobs, commits.clone(), bell.clone())).await {
            Ok(c) => conn = c,
            Err(e) => tracing::error!(error = %e, "a database write batch panicked; its transaction was rolled back"),
        }
    }
}

async fn next_batch(foreground: &mut mpsc::Receiver<Job>, background: &mut mpsc::Receiver<Job>) -> Option<Vec<Job>> {
    let (first, woken_by_background) = tokio::select! {
        biased;
        job = foreground.recv() => (job?, false),
        job = background.recv() => (job?, true),
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match foreground.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    let background_share = if woken_by_background && batch.len() == 1 { MAX_BATCH } else { batch.len() + 1 };
    while batch.len() < background_share {
        match background.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Returns the connection unless it broke. The commit is counted before any job is answered,
/// so a caller that has its answer already sees it in `Store::commits`.
async fn apply(mut conn: Conn, jobs: Vec<Job>, commits: Commits, bell: Bell) -> Option<Conn> {
    let mut finishers: Vec<Finish> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    let mut opening: &[&str] = &["BEGIN IMMEDIATE", "SAVEPOINT job"];
    let mut failure: Option<StoreError> = None;
    let mut queued = false;
    while let Some(job) = jobs.next() {
        if let Err(e) = run_all(&mut conn, opening).await {
            job.work.refuse(&e);
            failure = Some(e);
            break;
        }
        let done = job.work.run(&mut conn).instrument(job.span).await;
        // A job rolled back queued nothing.
        queued |= conn.take_queued() && done.keep;
        let last = jobs.peek().is_none();
        opening = match (done.keep, last) {
            (true, false) => &["RELEASE job", "SAVEPOINT job"],
            (false, false) => &["ROLLBACK TO job", "RELEASE job", "SAVEPOINT job"],
            (true, true) => &["RELEASE job", "COMMIT"],
            (false, true) => &["ROLLBACK TO job", "RELEASE job", "COMMIT"],
        };
        finishers.push(done.finish);
        if last {
            break;
        }
    }
    let committing = Instant::now();
    let failure = match failure {
        Some(e) => Some(e),
        None => run_all(&mut conn, opening).await.err(),
    };
    match failure {
        None => {
            commits.record(committing.elapsed(), queued);
            bell.committed();
            for finish in finishers {
                finish(None);
            }
            Some(conn)
        }
        Some(e) => {
            // No transaction may be left open for the next batch.
            let _ = conn.batch("ROLLBACK").await;
            refuse_all(jobs, &e);
            for finish in finishers {
                finish(Some(&e));
            }
            (!is_broken(&e)).then_some(conn)
        }
    }
}

/// One statement at a time, each cached once prepared (a `;`-separated batch is parsed on every call).
async fn run_all(conn: &mut Conn, statements: &[&str]) -> Result<(), StoreError> {
    for sql in statements {
        conn.execute(sql, &[]).await?;
    }
    Ok(())
}

fn refuse_all(jobs: impl IntoIterator<Item = Job>, error: &StoreError) {
    for job in jobs {
        job.work.refuse(error);
    }
}

fn is_broken(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(e, StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) if matches!(f.code, SystemIoFailure | CannotOpen | NotADatabase | DatabaseCorrupt))
}
