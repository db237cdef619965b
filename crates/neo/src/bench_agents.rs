//! `neo bench agents`: what the orchestrator adds to a signal beside the
//! provider's own time. A local server answers like OpenAI's Chat Completions
//! instantly; the same request is timed raw (client to server and back) and
//! through the orchestrator (prompt, chain, breaker, verdict parsing, budget,
//! deadline), one signal at a time and in batches; the overhead is the
//! difference.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use clap::Args;
use neo_agents::budget::Ledger;
use neo_agents::config::{AgentKind, AgentsConfig};
use neo_agents::orchestrator::{Ask, Orchestrator};
use neo_domain::contracts::SignalEventV1;
use serde::Serialize;
use serde_json::{Value, json};

use crate::bench_pipeline::{Percentiles, percentiles};

/// `neo bench agents` options.
#[derive(Args)]
pub(crate) struct AgentsArgs {
    /// Signals to time in each mode.
    #[arg(long, default_value_t = 2_000)]
    signals: usize,
    /// Signals per batch in the batched mode (the desk stage's batch consults at once).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    signals: usize,
    raw_round_trip_ms: Percentiles,
    orchestrated_ms: Percentiles,
    overhead_p50_ms: f64,
    overhead_p99_ms: f64,
    batch: usize,
    batched_per_signal_ms: Percentiles,
}

#[allow(clippy::disallowed_methods)] // A benchmark runs on wall time.
fn instant() -> Instant {
    Instant::now()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The instant model: a fixed, valid verdict with its usage.
async fn answer() -> axum::Json<Value> {
    let verdict = json!({ "recommendation": "buy", "confidence": 0.6, "rationale": "Bench.",
        "instrument": "BTC-USDT", "stop_loss": null, "take_profit": null });
    axum::Json(json!({
        "choices": [{ "index": 0, "finish_reason": "stop",
            "message": { "role": "assistant", "content": verdict.to_string() } }],
        "usage": { "prompt_tokens": 900, "completion_tokens": 60 }
    }))
}

fn signal(i: usize) -> anyhow::Result<SignalEventV1> {
    Ok(serde_json::from_value(json!({
        "id": format!("0199a2b3-0000-7000-8000-{i:012}"),
        "source": "tradingview", "instrument": "BTC-USDT", "side": "buy",
        "signal_type": "entry", "priority": "normal", "strategy": "bench",
        "ts_event": "2026-12-07T10:00:00Z", "original": { "ticker": "BTCUSDT", "action": "buy" }
    }))?)
}

/// Runs the benchmark.
pub(crate) fn run(args: &AgentsArgs) -> anyhow::Result<ExitCode> {
    let rt = crate::api_client::runtime()?;
    let report = rt.block_on(measure(args))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} signals against an instant OpenAI-compatible mock:\n  raw round trip  p50 {:.3} ms  p99 {:.3} ms\n  orchestrated    p50 {:.3} ms  p99 {:.3} ms\n  overhead        p50 {:.3} ms  p99 {:.3} ms\n  batches of {}: per signal p50 {:.3} ms  p99 {:.3} ms",
            report.signals,
            report.raw_round_trip_ms.p50,
            report.raw_round_trip_ms.p99,
            report.orchestrated_ms.p50,
            report.orchestrated_ms.p99,
            report.overhead_p50_ms,
            report.overhead_p99_ms,
            report.batch,
            report.batched_per_signal_ms.p50,
            report.batched_per_signal_ms.p99,
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(args: &AgentsArgs) -> anyhow::Result<Report> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/v1/chat/completions", post(answer));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = AgentsConfig::default();
    config.enabled.push(AgentKind::Llm);
    config.llm.providers = vec![serde_json::from_value(json!({
        "name": "instant", "kind": "openai", "base_url": format!("http://{addr}/v1"),
        "model": "bench", "price_in_per_m": 1.0, "price_out_per_m": 2.0
    }))?];
    let orchestrator = Orchestrator::new(&config, Ledger::default(), None)?;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/chat/completions");
    let body = json!({ "model": "bench", "messages": [] });
    let market = json!({ "indicators": { "rsi": 51.0 } });
    let now = neo_pipeline::wall_clock()();
    let ask = |i: usize| -> anyhow::Result<Ask> {
        Ok(Ask {
            signal: signal(i)?,
            market: market.clone(),
            llm_on: true,
            enforce_budget: true,
        })
    };
    // Warm both paths (connections, allocator) before timing.
    for i in 0..50 {
        client.post(&url).json(&body).send().await?.bytes().await?;
        orchestrator.consult_all(vec![ask(i)?], now).await;
    }
    let (mut raw, mut orchestrated) = (Vec::new(), Vec::new());
    for i in 0..args.signals {
        let t = instant();
        client.post(&url).json(&body).send().await?.bytes().await?;
        raw.push(ms(t.elapsed()));
        let t = instant();
        let answers = orchestrator.consult_all(vec![ask(i)?], now).await;
        orchestrated.push(ms(t.elapsed()));
        let answered = answers.first().is_some_and(|c| c.answer.is_ok());
        anyhow::ensure!(
            answered,
            "the instant mock's verdict was not taken: {answers:?}"
        );
    }
    let batch = args.batch.max(1);
    let mut batched = Vec::new();
    for start in (0..args.signals).step_by(batch) {
        let asks = (start..start + batch)
            .map(ask)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let t = instant();
        orchestrator.consult_all(asks, now).await;
        #[allow(clippy::cast_precision_loss)]
        batched.push(ms(t.elapsed()) / batch as f64);
    }
    let (raw, orchestrated) = (percentiles(raw), percentiles(orchestrated));
    Ok(Report {
        signals: args.signals,
        overhead_p50_ms: orchestrated.p50 - raw.p50,
        overhead_p99_ms: orchestrated.p99 - raw.p99,
        raw_round_trip_ms: raw,
        orchestrated_ms: orchestrated,
        batch,
        batched_per_signal_ms: percentiles(batched),
    })
}
