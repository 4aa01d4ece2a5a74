//! The `usher` command line.

use crate::config::{Layers, Settings};
use crate::startup::{Application, open_store};
use crate::store;
use crate::tokens::KeyRing;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "usher",
    version,
    about = "Onboarding for a SaaS platform: signups, activation codes and password emails."
)]
pub struct Cli {
    /// TOML configuration file (also USHER_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and deliver queued email.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets masked) and check it.
    CheckConfig,
    /// Token keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The email outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random key as ID:KEY, for USHER_KEYS.
    Generate {
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// Only messages in this state: pending, sending, sent or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Put a failed message back in the queue.
    Retry { id: i64 },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let layers = Layers::load(cli.config.clone())?;
    match cli.command {
        Command::Keys {
            command: KeysCommand::Generate { id },
        } => {
            println!("{}", KeyRing::generate_entry(&id)?);
            Ok(())
        }
        Command::CheckConfig => {
            for line in layers.describe() {
                println!("{line}");
            }
            let settings = layers.parse()?;
            if let Some(keys) = &settings.keys {
                KeyRing::parse(keys.expose()).context("keys")?;
            }
            println!("# configuration is valid");
            Ok(())
        }
        Command::Serve => {
            let settings = layers.parse()?;
            crate::telemetry::init(&settings.log_format);
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => {
            let settings = layers.parse()?;
            crate::telemetry::init(&settings.log_format);
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Outbox { command } => outbox(layers.parse()?, command).await,
    }
}

async fn outbox(settings: Settings, command: OutboxCommand) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    let mut conn = store.acquire().await?;
    match command {
        OutboxCommand::List {
            status,
            limit,
            json,
        } => {
            let rows = store::outbox::list(&mut conn, status.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:>6}  {:<8}  {:<15}  {:>8}  {:<32}  last error",
                    "id", "status", "kind", "attempts", "to"
                );
                for r in rows {
                    println!(
                        "{:>6}  {:<8}  {:<15}  {:>8}  {:<32}  {}",
                        r.id,
                        r.status,
                        r.kind,
                        r.attempts,
                        r.to,
                        r.last_error.unwrap_or_default()
                    );
                }
            }
        }
        OutboxCommand::Retry { id } => {
            let now = crate::clock::Clock::default().now_ms();
            if !store::outbox::retry(&mut conn, id, now).await? {
                anyhow::bail!("no failed message with id {id}");
            }
            println!("message {id} queued again");
        }
    }
    Ok(())
}
