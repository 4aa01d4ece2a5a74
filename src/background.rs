use std::future::Future;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const NICENESS: i32 = 10;

/// Dropping it ends the thread, cancelling whatever is still running there.
pub struct Background<T> {
    pub task: JoinHandle<T>,
    _stop: oneshot::Sender<()>,
}

pub fn spawn<F>(name: &str, future: F) -> std::io::Result<Background<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let task = runtime.handle().spawn(future);
    let (stop, stopped) = oneshot::channel::<()>();
    std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        lower_priority();
        runtime.block_on(async {
            let _ = stopped.await;
        });
    })?;
    Ok(Background { task, _stop: stop })
}

fn lower_priority() {
    // On Linux a thread has a nice value of its own; `who` 0 is this thread.
    // SAFETY: setpriority reads no memory of ours; a failure leaves the
    // priority as it was, which is only slower under load, so it is logged.
    let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS) };
    if done != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower the outbox worker's priority");
    }
}
