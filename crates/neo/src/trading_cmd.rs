//! `neo trading status|halt|resume|flatten`: the operator API of a running NEO
//! from the command line.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

use crate::api_client::ApiTarget;

/// `neo trading ...`
#[derive(Subcommand)]
pub(crate) enum TradingCommand {
    /// The trading state, since when, why and by whom.
    Status(ApiTarget),
    /// Stop new exposure (exits, reductions and flatten still pass).
    Halt(Change),
    /// Trade normally again (refused while the drawdown is beyond its limit).
    Resume(Change),
    /// Cancel every working order and close every position through risk.
    Flatten(Change),
}

/// A change and why.
#[derive(Args)]
pub(crate) struct Change {
    #[command(flatten)]
    target: ApiTarget,
    /// Why (shown in the state, the audit trail and the notifications).
    #[arg(long, default_value = "from the command line")]
    reason: String,
    /// Makes a retried command the same command (nothing happens twice).
    #[arg(long)]
    idempotency_key: Option<String>,
}

pub(crate) fn run(command: TradingCommand) -> anyhow::Result<ExitCode> {
    let runtime = crate::api_client::runtime()?;
    runtime.block_on(async {
        match command {
            TradingCommand::Status(t) => call(&t, "GET", "/v1/trading/state", None, None).await,
            TradingCommand::Halt(c) => {
                let body = json!({ "state": "halted", "reason": c.reason });
                change(&c, "/v1/trading/state", body).await
            }
            TradingCommand::Resume(c) => {
                let body = json!({ "state": "active", "reason": c.reason });
                change(&c, "/v1/trading/state", body).await
            }
            TradingCommand::Flatten(c) => {
                let body = json!({ "reason": c.reason });
                change(&c, "/v1/trading/flatten", body).await
            }
        }
    })
}

async fn change(c: &Change, path: &str, body: Value) -> anyhow::Result<ExitCode> {
    call(
        &c.target,
        "POST",
        path,
        Some(body),
        c.idempotency_key.as_deref(),
    )
    .await
}

/// Sends the request and prints the answer; a non-2xx answer exits 1.
async fn call(
    target: &ApiTarget,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let (status, answer) = target.fetch(method, path, body, &headers).await?;
    let trading = answer.get("trading").unwrap_or(&answer);
    if let Some(state) = trading["state"].as_str() {
        println!(
            "trading: {state} since {} by {}: {}",
            trading["since"].as_str().unwrap_or("?"),
            trading["by"].as_str().unwrap_or("?"),
            trading["reason"].as_str().unwrap_or("")
        );
    }
    if let Some(report) = answer.get("flatten") {
        println!("flatten: {report}");
    }
    let success = (200..300).contains(&status);
    if !success || status == 202 {
        println!("{status} {answer}");
    }
    Ok(if success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
