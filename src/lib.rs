//! usher: onboarding for a SaaS platform. See ARCHITECTURE.md for the map.

mod background;
pub mod cli;
pub mod clock;
pub mod config;
mod contact;
pub mod domain;
mod error;
pub mod flows;
mod http;
pub mod i18n;
mod limiter;
pub mod mail;
mod metrics;
pub mod outbox;
mod passwords;
mod preflight;
mod private;
mod pwned;
mod server;
pub mod startup;
pub mod store;
mod telemetry;
pub mod tokens;
mod webhooks;
