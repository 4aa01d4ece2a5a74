//! usher's integration suite: the real server over HTTP, on SQLite and on
//! PostgreSQL, with mail read back from the dev mailbox or a real SMTP server.

// clippy.toml lets #[test] functions unwrap; the helpers and the test bodies
// that on_each_backend! wraps are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod accessibility;
mod admin;
mod akana;
mod akana_shapes;
mod branding;
mod browser;
mod codes;
mod conformance;
mod connections;
mod constant_work;
mod contact;
mod delivery;
mod errors;
mod hostile;
mod languages;
mod layers;
mod limits;
mod mail_delivery;
mod migrations;
mod openapi;
mod operating;
mod pages;
mod password;
mod scale_out;
mod signup;
mod signup_pages;
mod stored_rows;
mod strangers;
mod validate_registration;
mod webhooks;
