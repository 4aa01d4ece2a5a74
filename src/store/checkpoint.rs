//! SQLite's WAL checkpoints, run beside the writer rather than inside its commits.
//!
//! By default the connection whose commit takes the WAL past 1,000 pages copies
//! them into the database file and fsyncs it, there and then: 3–6 ms in which
//! the writer commits nothing and every request queued behind it waits
//! (docs/benchmarks.md). A thread with a connection of its own runs a passive
//! checkpoint a little after commits instead; it never blocks the writer,
//! which keeps its automatic checkpoint as the backstop that lets the WAL
//! start over from its beginning: by then it finds almost every page copied
//! already.

use super::SqliteFile;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

/// At most one checkpoint this often: each one fsyncs the database file, and
/// a page changed by many commits in between is copied once.
const PACE: Duration = Duration::from_millis(10);

/// The writer's side: `committed` after each commit, never waiting.
#[derive(Clone)]
pub(super) struct Bell(SyncSender<()>);

impl Bell {
    pub(super) fn committed(&self) {
        // Full: a checkpoint is due already. Disconnected: the thread ended, and said why.
        let _ = self.0.try_send(());
    }
}

/// Starts the thread; it ends when the writer drops its `Bell`.
pub(super) fn start(file: Arc<SqliteFile>) -> anyhow::Result<Bell> {
    let (bell, rung) = sync_channel(1);
    std::thread::Builder::new().name("usher-sqlite-checkpoint".into()).spawn(move || run(&file, &rung))?;
    Ok(Bell(bell))
}

fn run(file: &SqliteFile, rung: &Receiver<()>) {
    let mut conn = None;
    while rung.recv().is_ok() {
        let c = match conn.take() {
            Some(c) => c,
            None => match file.open() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "the checkpoint thread cannot open the database; the writer's own checkpoints go on");
                    std::thread::sleep(PACE);
                    continue;
                }
            },
        };
        // Its first column is 1 when the writer's own checkpoint held the lock: the next ring tries again.
        match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(0)) {
            Ok(_) => conn = Some(c),
            Err(e) => tracing::warn!(error = %e, "a WAL checkpoint failed; the writer's own checkpoints go on"),
        }
        std::thread::sleep(PACE);
    }
}
