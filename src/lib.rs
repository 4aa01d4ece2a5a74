//! usher: onboarding for a SaaS platform. See ARCHITECTURE.md for the map.

mod background;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contact;
pub mod domain;
pub mod error;
pub mod flows;
pub mod http;
pub mod limiter;
pub mod mail;
pub mod metrics;
pub mod passwords;
pub mod pwned;
pub mod server;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
