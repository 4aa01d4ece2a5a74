use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Where `store` logs each SQL statement, at debug.
const SQL: &str = "usher::sql";

pub fn init(format: &str) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// `RUST_LOG`, or `info` when it is unset or does not read. Every statement of every request would
/// drown what `RUST_LOG=debug` is asked for: statements are logged only when the filter names
/// their target (`RUST_LOG=debug,usher::sql=debug`).
fn filter(rust_log: Option<&str>) -> EnvFilter {
    let asked = rust_log.map(str::trim).filter(|s| !s.is_empty());
    let filter = asked.and_then(|spec| EnvFilter::try_new(spec).ok()).unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    match format!("{SQL}=off").parse() {
        Ok(off) if !asked.is_some_and(|spec| spec.contains(SQL)) => filter.add_directive(off),
        _ => filter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn logged(rust_log: &str) -> String {
        let out = Arc::new(Mutex::new(Vec::new()));
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(Some(rust_log)))
            .with_writer(move || Writer(writer.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "usher::sql", "a statement");
            tracing::debug!(target: "usher::outbox", "a debug line");
        });
        String::from_utf8(out.lock().unwrap().clone()).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sql_statements_are_logged_only_when_their_target_is_asked_for() {
        let debug = logged("debug");
        assert!(debug.contains("a debug line") && !debug.contains("a statement"), "{debug}");
        let usher = logged("usher=debug");
        assert!(usher.contains("a debug line") && !usher.contains("a statement"), "{usher}");
        let asked = logged("debug,usher::sql=debug");
        assert!(asked.contains("a debug line") && asked.contains("a statement"), "{asked}");
        assert!(logged("info").is_empty());
    }
}
