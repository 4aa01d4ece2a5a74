//! Structured logs through `tracing`. No secret reaches a log line: tokens
//! travel in bodies and query strings, which are never logged, and secret
//! settings are wrapped in types whose `Debug` redacts them.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// `format` is `text` or `json`; the level comes from `RUST_LOG` (default `info`).
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in a file or pipe.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
