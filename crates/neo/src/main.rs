//! The `neo` command line.

mod data_cmd;
mod schema_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// NEO turns trading signals into analysed, risk-sized, bracketed paper orders.
#[derive(Parser)]
#[command(name = "neo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Message contracts: list, show, validate, generate and compare JSON Schemas.
    Schema {
        #[command(subcommand)]
        command: schema_cmd::SchemaCommand,
    },
    /// Market data: compute technical indicators over an OHLCV CSV file.
    Data {
        #[command(subcommand)]
        command: data_cmd::DataCommand,
    },
    /// Print the version and the contract version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schema { command } => schema_cmd::run(command),
        Command::Data { command } => data_cmd::run(command),
        Command::Version => {
            let count = neo_domain::schema::registry().len();
            println!(
                "neo {} (contracts v1, {count} schemas)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(2)
        }
    }
}
