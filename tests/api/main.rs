//! usher's integration suite: the real server over HTTP, on SQLite and on
//! PostgreSQL, with mail read back from the dev mailbox or a real SMTP server.

mod helpers;

mod admin;
mod akana;
mod delivery;
mod errors;
mod limits;
mod pages;
mod password;
mod signup;
mod validate_registration;
