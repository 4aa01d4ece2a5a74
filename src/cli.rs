use crate::config::{Layers, Settings};
use crate::startup::{Application, open_store};
use crate::store;
use crate::tokens::KeyRing;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "usher", version, about = "Onboarding for a SaaS platform: signups, activation codes and password emails.")]
pub struct Cli {
    /// TOML configuration file (also USHER_CONFIG).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the HTTP API and deliver queued email.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets masked) and check it: the database and its
    /// migrations, the keys, the mail settings. Exits non-zero on a problem.
    CheckConfig {
        /// Also connect to the SMTP server (EHLO) and to each webhook URL.
        #[arg(long)]
        connect: bool,
    },
    /// Copy the SQLite database, consistent, into a new FILE while usher serves; the copy is
    /// checked before this exits. On PostgreSQL use pg_dump.
    Backup { file: PathBuf },
    /// Mail.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
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
    /// API tokens for the admin endpoints.
    ApiToken {
        #[command(subcommand)]
        command: ApiTokenCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiTokenCommand {
    /// Create a token; its secret is printed once, alone on the last line.
    Create {
        /// The tenant's cname.
        #[arg(long)]
        tenant: String,
        /// admin or user.
        #[arg(long)]
        role: String,
    },
    /// List tokens (never their secrets).
    List {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// Ids are random URL-safe base64, so one may start with `-`.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Clear a user's verify_password lock-out and wrong tries, from every client.
    Unlock {
        /// The tenant's cname.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TenantCommand {
    /// Allow or refuse developer self-signup (Akana signupUser) for a tenant.
    DeveloperSignup {
        /// The tenant's cname.
        tenant: String,
        /// on or off.
        setting: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List events, newest first.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MailCommand {
    /// Send a test message through the configured transport now, outside the outbox, and
    /// print what the server answered; exits non-zero if it was not accepted.
    Test {
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Print a new random key as ID:KEY, for USHER_KEYS.
    Generate {
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Put a new signing key first and keep the others verifying. Rewrites
    /// the development key file, or, with USHER_KEYS set, prints its new
    /// value (the last line of standard output) to set on every instance.
    Rotate {
        /// The new key's id (default: `k` and the next number).
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
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
        Command::Keys { command: KeysCommand::Generate { id } } => {
            println!("{}", KeyRing::generate_entry(&id)?);
            Ok(())
        }
        Command::Keys { command: KeysCommand::Rotate { id } } => {
            let settings = layers.parse()?;
            let rotated = KeyRing::rotate(settings.keys.as_ref().map(|k| k.expose()), &settings.data_dir, id.as_deref())?;
            let longest = settings.signup_link_ttl.max(settings.password_link_ttl).max(settings.activation_code_ttl);
            match &rotated.file {
                Some(path) => eprintln!("{} now signs; {} keeps the older keys. Restart usher to use it.", rotated.new_id, path.display()),
                None => eprintln!("{} signs in this ring: set USHER_KEYS to it on every instance and restart them.", rotated.new_id),
            }
            eprintln!(
                "Keep the older keys for {} after the restart (the longest token lifetime), then remove them.",
                humantime::format_duration(longest)
            );
            println!("{}", rotated.spec.expose());
            Ok(())
        }
        Command::CheckConfig { connect } => {
            use crate::preflight::Level;
            for line in layers.describe() {
                println!("{line}");
            }
            let settings = layers.parse()?;
            let found = crate::preflight::check(&settings, connect).await;
            for f in &found {
                let level = match f.level {
                    Level::Ok => "ok",
                    Level::Warning => "warning",
                    Level::Problem => "problem",
                };
                println!("# {level}: {}", f.text);
            }
            let problems = found.iter().filter(|f| f.level == Level::Problem).count();
            if problems > 0 {
                anyhow::bail!("{problems} problem(s) in the configuration; each `# problem:` line above names its setting");
            }
            println!("# configuration is valid");
            Ok(())
        }
        Command::Serve => {
            let settings = layers.parse()?;
            crate::telemetry::init(&settings.log_format);
            Application::build(settings).await?.run_until_stopped().await
        }
        Command::Migrate => {
            let settings = layers.parse()?;
            crate::telemetry::init(&settings.log_format);
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Mail { command: MailCommand::Test { to } } => mail_test(&layers.parse()?, &to).await,
        Command::Backup { file } => {
            let settings = layers.parse()?;
            let url = crate::startup::database_location(&settings).url;
            let timeout = settings.database_acquire_timeout;
            let to = file.clone();
            let backup = tokio::task::spawn_blocking(move || store::backup(&url, &to, timeout)).await.context("backing up")??;
            println!(
                "wrote {} ({} bytes), a copy of {} that passes PRAGMA integrity_check",
                file.display(),
                backup.bytes,
                backup.from.display()
            );
            Ok(())
        }
        Command::Outbox { command } => outbox(layers.parse()?, command).await,
        Command::ApiToken { command } => api_token(layers.parse()?, command).await,
        Command::User { command: UserCommand::Unlock { tenant, email } } => {
            let store = open_store(&layers.parse()?).await?;
            let cname = crate::domain::Cname::parse("tenant", &tenant).map_err(|e| anyhow::anyhow!("--tenant {}", e.message))?;
            let email = crate::domain::EmailAddress::parse("email", &email).map_err(|e| anyhow::anyhow!("--email {}", e.message))?;
            let cleared = crate::flows::admin::unlock(&store, &cname, &email).await?;
            println!("{email} in {cname} is unlocked ({cleared} lock-out records cleared)");
            Ok(())
        }
        Command::Tenant { command: TenantCommand::DeveloperSignup { tenant, setting } } => {
            let allowed = match setting.as_str() {
                "on" => true,
                "off" => false,
                _ => anyhow::bail!("the setting must be on or off"),
            };
            let store = open_store(&layers.parse()?).await?;
            let done =
                store.write(move |conn| Box::pin(async move { store::users::set_developer_signup(conn, &tenant, allowed).await })).await?;
            if !done {
                anyhow::bail!("no such tenant");
            }
            println!("developer self-signup is {setting}");
            Ok(())
        }
        Command::Audit { command: AuditCommand::List { limit, json } } => {
            let store = open_store(&layers.parse()?).await?;
            let mut conn = store.acquire().await?;
            let rows = store::audit::list(&mut conn, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in rows {
                    let at = crate::clock::rfc3339(r.at);
                    let addr = r.client_addr.unwrap_or_default();
                    println!("{at}  {:<28} {:<32} {:<24} {:<14} {addr}", r.actor, r.action, r.target, r.outcome);
                }
            }
            Ok(())
        }
    }
}

async fn mail_test(settings: &Settings, to: &str) -> anyhow::Result<()> {
    use crate::mail::transport::{Envelope, SendError, Sent, Transport};
    let to = crate::domain::EmailAddress::parse("to", to).map_err(|e| anyhow::anyhow!("--to {}", e.message))?;
    let transport = Transport::from_settings(settings)?;
    let message_id = crate::mail::new_message_id(settings.mail_from.normalized().rsplit('@').next().unwrap_or("localhost"));
    let now = crate::clock::Clock::default().now_ms();
    let envelope = Envelope { message_id: &message_id, from: settings.mail_from.as_str(), to: to.as_str(), now };
    eprintln!("sending a test message to {to} through {}", Transport::describe(settings));
    match transport.send_answered(&envelope, &crate::mail::test_message()).await {
        Ok((sent, answer)) => {
            if let Sent::ToDevMailbox(message) = sent {
                let store = open_store(settings).await?;
                store.write(move |conn| Box::pin(async move { store::devmail::insert(conn, &message).await })).await?;
            }
            println!("{message_id} sent: {answer}");
            Ok(())
        }
        Err(SendError { permanent, hint }) => {
            anyhow::bail!("the test message was not sent{}: {hint}", if permanent { " (refused)" } else { "" })
        }
    }
}

async fn api_token(settings: Settings, command: ApiTokenCommand) -> anyhow::Result<()> {
    use crate::flows::admin::{Role, create_token};
    let store = open_store(&settings).await?;
    let now = crate::clock::Clock::default().now_ms();
    match command {
        ApiTokenCommand::Create { tenant, role } => {
            let role = Role::parse(&role).context("--role must be admin or user")?;
            let cname = crate::domain::Cname::parse("tenant", &tenant).map_err(|e| anyhow::anyhow!("--tenant {}", e.message))?;
            let (id, secret) = create_token(&store, now, &cname, role).await?;
            println!("created {} token {id} for tenant {cname}; its secret is shown once, below:", role.as_str());
            println!("{secret}");
        }
        ApiTokenCommand::List { json } => {
            let mut conn = store.acquire().await?;
            let rows = store::api_tokens::list(&mut conn).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<24} {:<20} {:<6} {:<22} {:<22} revoked", "id", "tenant", "role", "created", "last used");
                let t = |ms: Option<i64>| ms.map(crate::clock::rfc3339).unwrap_or_else(|| "-".to_owned());
                for r in rows {
                    println!(
                        "{:<24} {:<20} {:<6} {:<22} {:<22} {}",
                        r.id,
                        r.tenant,
                        r.role,
                        t(Some(r.created_at)),
                        t(r.last_used_at),
                        t(r.revoked_at)
                    );
                }
            }
        }
        ApiTokenCommand::Revoke { id } => {
            let token = id.clone();
            let revoked = store.write(move |conn| Box::pin(async move { store::api_tokens::revoke(conn, &token, now).await })).await?;
            if !revoked {
                anyhow::bail!("no active token with id {id}");
            }
            println!("token {id} revoked");
        }
    }
    Ok(())
}

async fn outbox(settings: Settings, command: OutboxCommand) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    match command {
        OutboxCommand::List { status, limit, json } => {
            let mut conn = store.acquire().await?;
            let status = status
                .map(|s| {
                    store::outbox::Status::parse(&s)
                        .with_context(|| format!("no outbox status {s:?}: one of requested, pending, sending, sent, failed, dropped"))
                })
                .transpose()?;
            let rows = store::outbox::list(&mut conn, status, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:>6}  {:<8}  {:<15}  {:>8}  {:<32}  last error", "id", "status", "kind", "attempts", "to");
                for r in rows {
                    println!(
                        "{:>6}  {:<8}  {:<15}  {:>8}  {:<32}  {}",
                        r.id,
                        r.status.as_str(),
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
            if !store.write(move |conn| Box::pin(async move { store::outbox::retry(conn, id, now).await })).await? {
                anyhow::bail!("no failed message with id {id}");
            }
            println!("message {id} queued again");
        }
    }
    Ok(())
}
