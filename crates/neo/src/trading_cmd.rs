//! `neo trading status|halt|resume|flatten`: the operator API of a running NEO
//! from the command line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// `neo trading ...`
#[derive(Subcommand)]
pub(crate) enum TradingCommand {
    /// The trading state, since when, why and by whom.
    Status(Target),
    /// Stop new exposure (exits, reductions and flatten still pass).
    Halt(Change),
    /// Trade normally again (refused while the drawdown is beyond its limit).
    Resume(Change),
    /// Cancel every working order and close every position through risk.
    Flatten(Change),
}

/// Where NEO listens.
#[derive(Args)]
pub(crate) struct Target {
    /// Base URL of the running NEO.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    url: String,
    /// The API key (status needs read, the changes admin), sent as `Authorization: Bearer`;
    /// not needed while NEO has no `[[api.keys]]` and serves loopback only.
    #[arg(long = "key", env = "NEO_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

/// A change and why.
#[derive(Args)]
pub(crate) struct Change {
    #[command(flatten)]
    target: Target,
    /// Why (shown in the state, the audit trail and the notifications).
    #[arg(long, default_value = "from the command line")]
    reason: String,
    /// Makes a retried command the same command (nothing happens twice).
    #[arg(long)]
    idempotency_key: Option<String>,
}

pub(crate) fn run(command: TradingCommand) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
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
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let base = target.url.trim_end_matches('/');
    let mut request = match method {
        "GET" => client.get(format!("{base}{path}")),
        _ => client.post(format!("{base}{path}")),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(api_key) = &target.api_key {
        request = request.bearer_auth(api_key);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach NEO at {base} (is `neo run` running?)"))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
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
    if !status.is_success() || status.as_u16() == 202 {
        println!("{} {answer}", status.as_u16());
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
