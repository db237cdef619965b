//! `neo store ...` and `neo bus ...`: point NEO at its database and broker and
//! prepare them (migrations, streams) before the services start.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use neo_bus::{JetStreamBus, NatsConfig};
use neo_pipeline::config::redacted_url as redacted;
use neo_store::{Store, Table};

#[derive(Subcommand)]
pub(crate) enum StoreCommand {
    /// Connect, apply the migrations, and print the row count of every table.
    Migrate {
        /// `sqlite://path/neo.db?mode=rwc` or `postgres://user@host:5432/db`.
        #[arg(long, env = "NEO_STORE_URL", hide_env_values = true)]
        url: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum BusCommand {
    /// Connect to NATS, create or update NEO's JetStream streams, and print them.
    Setup {
        /// Server URL(s), comma-separated.
        #[arg(long, env = "NEO_BUS_URL", default_value = "nats://127.0.0.1:4222")]
        url: String,
        /// User name (with NEO_BUS_PASSWORD).
        #[arg(long, env = "NEO_BUS_USER")]
        user: Option<String>,
        /// Password; read it from the environment rather than the command line.
        #[arg(long, env = "NEO_BUS_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Token authentication.
        #[arg(long, env = "NEO_BUS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Require TLS.
        #[arg(long)]
        tls: bool,
        /// A `.creds` file (user JWT and nkey seed) for operator-mode auth.
        #[arg(long, env = "NEO_BUS_CREDENTIALS_FILE")]
        credentials_file: Option<PathBuf>,
        /// The CA certificate (PEM) that signed the servers' certificates.
        #[arg(long)]
        root_ca: Option<PathBuf>,
        /// This client's certificate (PEM), for servers that verify clients.
        #[arg(long, requires = "client_key")]
        client_cert: Option<PathBuf>,
        /// Its private key (PEM).
        #[arg(long, requires = "client_cert")]
        client_key: Option<PathBuf>,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn store(command: StoreCommand) -> Result<ExitCode> {
    let StoreCommand::Migrate { url } = command;
    runtime()?.block_on(async {
        let store = Store::connect(&url)
            .await
            .with_context(|| format!("store {}", redacted(&url)))?;
        println!(
            "store {} ({:?}): migrations applied",
            redacted(&url),
            store.kind()
        );
        for table in Table::ALL {
            println!(
                "  {:<12} {:>12} rows",
                table.name(),
                store.count(table).await?
            );
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn bus(command: BusCommand) -> Result<ExitCode> {
    let BusCommand::Setup {
        url,
        user,
        password,
        token,
        tls,
        credentials_file,
        root_ca,
        client_cert,
        client_key,
    } = command;
    let config = NatsConfig {
        url: url.clone(),
        user,
        password,
        token,
        tls,
        credentials_file,
        root_ca,
        client_cert,
        client_key,
        ..NatsConfig::default()
    };
    runtime()?.block_on(async {
        let bus = JetStreamBus::connect(config)
            .await
            .with_context(|| format!("bus {}", redacted(&url)))?;
        println!("bus {}: streams created or updated", redacted(&url));
        for s in bus.stream_stats().await? {
            println!(
                "  {:<14} {:<14} {:>10} msgs {:>12} bytes {:>4} consumers",
                s.name, s.subjects, s.messages, s.bytes, s.consumers
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_appear_in_messages() {
        assert_eq!(
            redacted("postgres://neo:secret@db:5432/neo"),
            "postgres://***@db:5432/neo"
        );
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redacted("sqlite:///tmp/neo.db"), "sqlite:///tmp/neo.db");
    }
}
