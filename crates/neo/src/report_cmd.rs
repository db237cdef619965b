//! `neo report execution`: a running NEO's execution quality over a time range
//! (slippage against the arrival price, fill ratio, decision-to-fill latency)
//! by instrument, side and order type, from `GET /v1/execution/quality`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::flags_cmd::{Target, fetch};

/// What `neo report` reports on.
#[derive(Subcommand)]
pub(crate) enum ReportCommand {
    /// Execution quality: slippage vs arrival in bps, fill ratio and decision-to-fill
    /// latency by instrument, side and order type, over [--from, --to).
    Execution(ExecutionArgs),
}

/// `neo report execution` arguments.
#[derive(Args)]
pub(crate) struct ExecutionArgs {
    /// Orders created and fills made at or after this time (RFC 3339, a date, or Unix seconds).
    #[arg(long)]
    from: Option<String>,
    /// ... and before this time.
    #[arg(long)]
    to: Option<String>,
    /// Only this instrument (BTC-USDT).
    #[arg(long)]
    instrument: Option<String>,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::Execution(args) = command;
    let mut query: Vec<String> = Vec::new();
    for (name, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("instrument", &args.instrument),
    ] {
        if let Some(v) = value {
            query.push(format!("{name}={}", encode(v)));
        }
    }
    let path = if query.is_empty() {
        "/v1/execution/quality".to_owned()
    } else {
        format!("/v1/execution/quality?{}", query.join("&"))
    };
    let runtime = crate::api_client::runtime()?;
    let (status, answer) = runtime.block_on(fetch(&args.target, "GET", &path, None))?;
    if args.target.json || !(200..300).contains(&status) {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        if !(200..300).contains(&status) {
            println!("NEO answered {status}");
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12} {:<5} {:<10} {:>6} {:>6} {:>7} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "instrument",
        "side",
        "type",
        "orders",
        "fills",
        "filled",
        "slip bps",
        "p95 bps",
        "worst",
        "lat p50",
        "lat p95"
    );
    for g in answer["groups"].as_array().into_iter().flatten() {
        println!("{}", line(g));
    }
    println!("{}", line(&answer["total"]));
    Ok(ExitCode::SUCCESS)
}

fn line(g: &Value) -> String {
    let f = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or("-".to_owned(), |x| format!("{x:.digits$}"))
    };
    let name = |v: &Value| match v.as_str() {
        Some("") | None => "all".to_owned(),
        Some(s) => s.to_owned(),
    };
    let ratio = g["fill_ratio"]
        .as_f64()
        .map_or("-".to_owned(), |r| format!("{:.0}%", r * 100.0));
    let ms = |v: &Value| v.as_f64().map_or("-".to_owned(), |x| format!("{x:.0}ms"));
    format!(
        "{:<12} {:<5} {:<10} {:>6} {:>6} {:>7} {:>9} {:>9} {:>9} {:>10} {:>10}",
        name(&g["instrument"]),
        name(&g["side"]),
        name(&g["order_type"]),
        g["orders"],
        g["fills"],
        ratio,
        f(&g["slippage_bps"]["mean"], 2),
        f(&g["slippage_bps"]["p95"], 2),
        f(&g["slippage_bps"]["max"], 2),
        ms(&g["latency_ms"]["p50"]),
        ms(&g["latency_ms"]["p95"]),
    )
}

/// Percent-encodes a query value (times carry `:` and `+`).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
