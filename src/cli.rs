//! The command line: `icebroker [--config FILE] <command>`. `serve` is the default.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::api_keys::{ApiKeyService, PlaintextApiKey, Scope};
use crate::config::Settings;
use crate::startup::{self, Application};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "icebroker",
    version,
    about = "OAuth-brokering reverse proxy for Snowflake"
)]
pub struct Cli {
    /// TOML configuration file (see icebroker.example.toml). Environment variables
    /// ICEBROKER_<SECTION>__<KEY> override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker.
    Serve,
    /// Manage API keys directly in the data dir (while the broker is stopped).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Vault maintenance.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Run the broker together with snowsim and a ready, connected `demo` connection.
    Demo {
        /// Port of the embedded snowsim on 127.0.0.1.
        #[arg(long, default_value_t = 8765)]
        sim_port: u16,
    },
    /// Run snowsim, the local Snowflake double (OAuth server, SQL API v2, keypair JWT).
    Snowsim {
        /// Port on 127.0.0.1 (0 = any free port).
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// snowsim TOML configuration (accounts, users, integrations); default: the demo account.
        #[arg(long = "sim-config", value_name = "FILE")]
        sim_config: Option<PathBuf>,
        /// Serve https with a generated CA written into this directory.
        #[arg(long, value_name = "DIR")]
        tls: Option<PathBuf>,
    },
    /// Print the version.
    Version,
    /// Print the SQL an admin runs in Snowflake: `sql list`, or `sql <template> [--connection
    /// NAME] [--set NAME=VALUE]…` (templates in sql/, embedded).
    Sql(crate::sqltpl::cli::SqlArgs),
}

/// `icebroker api-key …`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once.
    Create {
        /// Human label.
        #[arg(long)]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum, default_value = "service")]
        scope: ScopeArg,
        /// Limit the key to a connection (repeatable; default: all).
        #[arg(long = "connection", value_name = "NAME")]
        connections: Vec<String>,
    },
    /// List keys (metadata only).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (`key_…`).
        id: String,
    },
    /// Print a fresh, well-formed key without storing it (for ICEBROKER_ADMIN_KEY).
    Generate,
}

/// `icebroker vault …`.
#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Make a new data key active, re-seal every record under it, then retire the old keys.
    RotateKey {
        /// Keep the old data keys in the key ring (for opening) instead of retiring them.
        #[arg(long)]
        keep_old: bool,
    },
}

/// Scope as a CLI value.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// Manage connections and keys.
    Admin,
    /// Links, proxy, tools, endpoints.
    Service,
}

impl From<ScopeArg> for Scope {
    fn from(value: ScopeArg) -> Self {
        match value {
            ScopeArg::Admin => Scope::Admin,
            ScopeArg::Service => Scope::Service,
        }
    }
}

/// Runs the parsed command to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Version = command {
        println!("icebroker {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Command::ApiKey(ApiKeyCommand::Generate) = command {
        let key = PlaintextApiKey::generate().context("generating a key")?;
        println!("{}", key.expose());
        return Ok(());
    }
    if let Command::Sql(args) = command {
        return crate::sqltpl::cli::run(cli.config.as_deref(), args);
    }
    if let Command::Snowsim {
        port,
        sim_config,
        tls,
    } = &command
    {
        crate::telemetry::init(&crate::config::LogSettings::default());
        return actix_web::rt::System::new()
            .block_on(crate::snowsim::serve(
                sim_config.as_deref(),
                *port,
                tls.as_deref(),
            ))
            .context("snowsim");
    }
    let settings = Settings::load(cli.config.as_deref())?;
    // The master key must not linger in the environment of this process (SECURITY.md SS-6);
    // no other thread exists yet.
    std::env::remove_var("ICEBROKER_MASTER_KEY");
    crate::telemetry::init(&settings.log);
    actix_web::rt::System::new().block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Demo { sim_port } => crate::demo::run(settings, sim_port).await,
            Command::ApiKey(cmd) => api_key(settings, cmd).await,
            Command::Vault(VaultCommand::RotateKey { keep_old }) => {
                rotate_key(settings, !keep_old).await
            }
            Command::Version | Command::Snowsim { .. } | Command::Sql(_) => Ok(()),
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let public_url = settings.public_url();
    let mut app = Application::build(settings).await?;
    if let Some(key) = app.take_bootstrap_key() {
        // Printed exactly once, on the first start of an empty vault; only its hash is kept.
        eprintln!(
            "\n================================================================\n\
             First start: created an admin API key. It is shown only now.\n\n    {}\n\n\
             Use it as `Authorization: Bearer <key>`.\n\
             ================================================================\n",
            key.expose()
        );
    }
    tracing::info!(%public_url, port = app.port(), "icebroker listening");
    app.run_until_stopped().await?;
    Ok(())
}

async fn api_key(settings: Settings, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let (vault, _) = startup::open_vault(&settings).await?;
    let keys = ApiKeyService::load(vault)?;
    match cmd {
        ApiKeyCommand::Create {
            name,
            scope,
            connections,
        } => {
            let (record, key) = keys.create(&name, scope.into(), connections).await?;
            println!("id:    {}", record.id);
            println!("scope: {:?}", record.scope);
            println!("key:   {}", key.expose());
            println!("(store the key now; it cannot be shown again)");
        }
        ApiKeyCommand::List => {
            println!(
                "{:<22} {:<8} {:<14} {:<24} CONNECTIONS",
                "ID", "SCOPE", "PREFIX", "NAME"
            );
            for r in keys.list() {
                let connections = if r.connections.is_empty() {
                    "*".to_owned()
                } else {
                    r.connections.join(",")
                };
                let scope = format!("{:?}", r.scope).to_lowercase();
                println!(
                    "{:<22} {:<8} {:<14} {:<24} {}",
                    r.id, scope, r.prefix, r.name, connections
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            let record = keys.revoke(&id).await?;
            println!("revoked {} ({})", record.id, record.name);
        }
        ApiKeyCommand::Generate => {}
    }
    Ok(())
}

async fn rotate_key(settings: Settings, retire_old: bool) -> anyhow::Result<()> {
    let (vault, _) = startup::open_vault(&settings).await?;
    let report = vault.rotate_key(retire_old).await?;
    println!("{report:#?}");
    Ok(())
}
