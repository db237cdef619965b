//! `neo keys new`: makes an API key for the REST API, prints it once with the
//! `[[api.keys]]` lines to paste into `neo.toml` (only its SHA-256 is
//! configured, so the key lives nowhere but with its holder).

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use neo_api::auth::{ApiConfig, ApiKeyConfig, NewKey, Role};
use neo_domain::Timestamp;

/// `neo keys ...`
#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new random API key: printed once, with the `[[api.keys]]` lines for neo.toml.
    New(NewArgs),
}

/// The role a new key gets.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Read endpoints and /metrics.
    Read,
    /// Also halt, resume, flatten and the risk check.
    Admin,
}

/// Who holds the new key and what it may do.
#[derive(Args)]
pub(crate) struct NewArgs {
    /// The holder's name (letters, digits, '-', '_', '.'); logs and the expiry gauge show it.
    #[arg(long)]
    name: String,
    /// What the key may call.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// When the key stops working, RFC 3339 (e.g. 2027-06-30T00:00:00Z); it warns 7 days ahead.
    #[arg(long)]
    expires: Option<String>,
}

pub(crate) fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::New(args) => new(&args),
    }
}

fn new(args: &NewArgs) -> anyhow::Result<ExitCode> {
    let role = match args.role {
        RoleArg::Read => Role::Read,
        RoleArg::Admin => Role::Admin,
    };
    let key = NewKey::generate()?;
    // The entry is checked as the config will check it, so what is printed loads.
    let entry = ApiKeyConfig {
        name: args.name.clone(),
        role: role.as_str().to_owned(),
        sha256: key.sha256().to_owned(),
        expires: args.expires.clone(),
    };
    let problems = ApiConfig {
        keys: vec![entry],
        public_metrics: false,
    }
    .validate();
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    let expires = args
        .expires
        .as_deref()
        .map(Timestamp::parse_rfc3339)
        .transpose()?;
    println!(
        "API key for {} ({role}); it is shown only this once, so hand it over now:\n",
        args.name
    );
    println!("    {}\n", key.expose());
    println!("Add these lines to neo.toml (only the key's SHA-256 is stored) and restart NEO:\n");
    println!("{}", key.config_lines(&args.name, role, expires));
    println!(
        "Callers send it as `Authorization: Bearer <key>`; `neo trading` reads it from --key or NEO_API_KEY."
    );
    Ok(ExitCode::SUCCESS)
}
