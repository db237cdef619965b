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
    /// Remove now what `[store] retention_days` removes hourly in a running NEO:
    /// inbox, relayed outbox, audit rows, settled orders and signals older than
    /// the retention, and old fills once the desk keeps its books in its memory.
    Prune {
        /// `sqlite://path/neo.db?mode=rwc` or `postgres://user@host:5432/db`.
        #[arg(long, env = "NEO_STORE_URL", hide_env_values = true)]
        url: String,
        /// Keep this many days (at least 8, as `[store] retention_days`: longer
        /// than the bus keeps a message, so a redelivery still finds its inbox row).
        #[arg(long)]
        days: u32,
        /// The store serves NEO over NATS (its outbox is not the in-process bus's
        /// log, so relayed rows need not wait for every consumer's checkpoint).
        #[arg(long)]
        nats: bool,
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
    let url = match command {
        StoreCommand::Migrate { url } => url,
        StoreCommand::Prune { url, days, nats } => return prune(&url, days, nats),
    };
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

/// `neo store prune`: one sweep now, with the counts of what went.
fn prune(url: &str, days: u32, nats: bool) -> Result<ExitCode> {
    let least = neo_pipeline::config::MIN_RETENTION_DAYS;
    anyhow::ensure!(
        days >= least,
        "--days {days}: keep at least {least} days (longer than the bus keeps a message)"
    );
    // Pruning never makes a store: a mistyped SQLite path is an error, not a new file.
    if let Some(path) = sqlite_file(url) {
        anyhow::ensure!(
            path.is_file(),
            "no SQLite store at {}: nothing to prune",
            path.display()
        );
    }
    runtime()?.block_on(async {
        let store = Store::connect(url)
            .await
            .with_context(|| format!("store {}", redacted(url)))?;
        let keep = std::time::Duration::from_secs(u64::from(days) * 86_400);
        let clock = neo_pipeline::wall_clock();
        let swept = neo_pipeline::retention::prune_now(&store, keep, !nats, &clock)
            .await
            .with_context(|| format!("pruning {}", redacted(url)))?;
        println!(
            "store {}: removed what is older than {days} days",
            redacted(url)
        );
        let fills = [("fills", swept.fills)];
        for (kind, n) in swept.rows.by_kind().into_iter().chain(fills) {
            println!("  {kind:<12} {n:>12} rows");
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The file of a `sqlite:` URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
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
