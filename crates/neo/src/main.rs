//! The `neo` command line.

mod agents_cmd;
mod api_client;
mod backtest_cmd;
mod backtest_report;
mod bench_agents;
mod bench_pipeline;
mod bench_roles;
mod bench_soak;
mod data_check;
mod data_cmd;
mod doctor_cmd;
mod flags_cmd;
mod keys_cmd;
mod mcp_cmd;
mod ops_cmd;
mod report_cmd;
mod risk_cmd;
mod run_cmd;
mod schema_cmd;
mod slo_cmd;
mod telemetry;
mod trading_cmd;

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
    /// Run NEO: webhook intake, analyst, risk, paper OMS, notifications and the API, in one process.
    Run(run_cmd::RunArgs),
    /// Run chosen roles (gateway, desk, market, notify, or all) as one process of a
    /// distributed NEO over NATS JetStream and PostgreSQL; one desk and one market
    /// are active per account, others stand by and take over.
    Serve(run_cmd::ServeArgs),
    /// Post a sample TradingView alert to a running NEO and show what became of it.
    SendAlert(run_cmd::SendAlertArgs),
    /// Message contracts: list, show, validate, generate and compare JSON Schemas.
    Schema {
        #[command(subcommand)]
        command: schema_cmd::SchemaCommand,
    },
    /// Market data: validate, summarise, ingest and export OHLCV CSV or Parquet files; technical indicators and point-in-time features.
    Data {
        #[command(subcommand)]
        command: data_cmd::DataCommand,
    },
    /// Backtest a strategy on an OHLCV file or the simulated market, through the same
    /// risk engine, paper OMS and portfolio as live trading.
    Backtest(backtest_cmd::BacktestArgs),
    /// Risk: `neo risk size` shows what the desk would trade for an edge, a drawdown and an account.
    Risk {
        #[command(subcommand)]
        command: risk_cmd::RiskCommand,
    },
    /// Operator control of a running NEO: status, halt, resume, flatten.
    Trading {
        #[command(subcommand)]
        command: trading_cmd::TradingCommand,
    },
    /// Feature flags of a running NEO: list, show, set (staged rollout, rollback), history.
    Flags {
        #[command(subcommand)]
        command: flags_cmd::FlagsCommand,
    },
    /// Service level objectives of a running NEO: target, live value, error budget, burn rate.
    Slo(flags_cmd::Target),
    /// Reports on a running NEO: `execution` (slippage, fill ratio, latency).
    Report {
        #[command(subcommand)]
        command: report_cmd::ReportCommand,
    },
    /// LLM agents: `test` runs them on one signal (nothing placed), `budget` shows the API spend.
    Agents {
        #[command(subcommand)]
        command: agents_cmd::AgentsCommand,
    },
    /// NEO's MCP tools over stdio, for desktop MCP clients: bridges to a running NEO's `/mcp`.
    Mcp(api_client::ApiTarget),
    /// Check a running NEO: its endpoints and every dependency (store, bus, market feed,
    /// notification channels, LLM providers) as a pass/fail table; exit 1 on any failure.
    Doctor(doctor_cmd::DoctorArgs),
    /// API keys for the REST API: `neo keys new --name N --role read|admin` makes one.
    Keys {
        #[command(subcommand)]
        command: keys_cmd::KeysCommand,
    },
    /// The database: apply migrations and show what it holds (SQLite or PostgreSQL).
    Store {
        #[command(subcommand)]
        command: ops_cmd::StoreCommand,
    },
    /// The NATS JetStream bus: create or update NEO's streams and show them.
    Bus {
        #[command(subcommand)]
        command: ops_cmd::BusCommand,
    },
    /// Measure the hot paths (risk check, sizing, OMS intent to fill, indicators, validation);
    /// `neo bench pipeline` load-tests the whole pipeline over HTTP; `neo bench soak`
    /// runs it long with retention applied.
    Bench {
        #[command(subcommand)]
        what: Option<BenchWhat>,
        /// Print one JSON object keyed by benchmark name.
        #[arg(long)]
        json: bool,
        /// Milliseconds to spend on each benchmark.
        #[arg(long, default_value_t = 1000)]
        time_ms: u64,
        /// Only benchmarks whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Print the version and the contract version.
    Version,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Post alerts at fixed rates to an in-process `neo run` with a mock Slack; report
    /// accept and webhook-to-Slack latency and loss.
    Pipeline(bench_pipeline::PipelineArgs),
    /// Time what the agents' orchestrator adds per signal beside the provider's own
    /// time, against an instant OpenAI-compatible mock.
    Agents(bench_agents::AgentsArgs),
    /// Run trading alerts for a long while through an in-process `neo run` with a
    /// scaled-down retention swept as the hourly pruner does; sample memory, the
    /// database's size and its rows to show both stay flat once retention applies.
    Soak(bench_soak::SoakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Serve(args) => run_cmd::serve(args),
        Command::SendAlert(args) => run_cmd::send_alert(args),
        Command::Schema { command } => schema_cmd::run(command),
        Command::Backtest(args) => backtest_cmd::run(&args),
        Command::Data { command } => data_cmd::run(command),
        Command::Risk { command } => risk_cmd::run(command),
        Command::Trading { command } => trading_cmd::run(command),
        Command::Keys { command } => keys_cmd::run(command),
        Command::Flags { command } => flags_cmd::run(command),
        Command::Slo(target) => slo_cmd::run(&target),
        Command::Report { command } => report_cmd::run(command),
        Command::Mcp(target) => mcp_cmd::run(&target),
        Command::Doctor(args) => doctor_cmd::run(&args),
        Command::Agents { command } => agents_cmd::run(command),
        Command::Store { command } => ops_cmd::store(command),
        Command::Bus { command } => ops_cmd::bus(command),
        Command::Bench {
            what: Some(BenchWhat::Pipeline(args)),
            ..
        } => bench_pipeline::run(args),
        Command::Bench {
            what: Some(BenchWhat::Agents(args)),
            ..
        } => bench_agents::run(&args),
        Command::Bench {
            what: Some(BenchWhat::Soak(args)),
            ..
        } => bench_soak::run(args),
        Command::Bench {
            what: None,
            json,
            time_ms,
            filter,
        } => bench(json, time_ms, filter.as_deref()),
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

fn bench(json: bool, time_ms: u64, filter: Option<&str>) -> anyhow::Result<ExitCode> {
    let results = neo::bench::run_all(filter, std::time::Duration::from_millis(time_ms))
        .map_err(anyhow::Error::msg)?;
    if results.is_empty() {
        anyhow::bail!("no benchmark matches {filter:?}");
    }
    if json {
        println!("{}", serde_json::to_string(&results)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>14}",
        "benchmark", "p50 ns", "p99 ns", "max ns", "ops/s"
    );
    for (name, s) in &results {
        println!(
            "{name:<22} {:>12.1} {:>12.1} {:>12.1} {:>14.0}",
            s.p50_ns, s.p99_ns, s.max_ns, s.ops_per_s
        );
    }
    Ok(ExitCode::SUCCESS)
}
