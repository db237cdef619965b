//! `neo bench pipeline`: an open-loop load generator against a real `neo run`
//! pipeline started in this process (HTTP on loopback, the configured store, a
//! local mock Slack), or with `--bus-url`, against the roles as separate `neo
//! serve` processes over NATS and PostgreSQL. Alerts are posted at fixed rates; for each rate it reports
//! the accept latency (request sent to 202), webhook-to-Slack latency (request
//! sent to the mock receiving the message naming the signal), and whether every
//! accepted alert was decided (zero loss).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use clap::Args;
use neo_api::intake::Secret;
use neo_domain::MessageId;
use neo_pipeline::{Config, wall_clock};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;

/// `neo bench pipeline` options.
#[derive(Args)]
pub(crate) struct PipelineArgs {
    /// Alerts per second; several values run one after another (e.g. --rate 1000 --rate 5000).
    #[arg(long, default_values_t = vec![1000u32])]
    rate: Vec<u32>,
    /// Seconds at each rate.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Most requests open at once (the generator's connection budget).
    #[arg(long, default_value_t = 512)]
    in_flight: usize,
    /// Store URL (default: a fresh SQLite file in a temp directory).
    #[arg(long)]
    store_url: Option<String>,
    /// NATS URL: run gateway, desk and notify as separate `neo serve` processes over it
    /// (needs a PostgreSQL --store-url).
    #[arg(long)]
    bus_url: Option<String>,
    /// Print one JSON object per rate.
    #[arg(long)]
    json: bool,
    /// Also print the server's own latency histograms (accept, desk stage, to Slack) from /metrics.
    #[arg(long)]
    show_histograms: bool,
}

pub(crate) type Arrivals = Arc<Mutex<BTreeMap<MessageId, i64>>>;

/// Wall-clock nanoseconds: send and arrival times are compared across tasks.
fn now_nanos() -> i64 {
    wall_clock()().as_nanos()
}

#[allow(clippy::disallowed_methods)] // The schedule runs on wall time.
fn instant() -> Instant {
    Instant::now()
}

/// A Slack incoming webhook that notes when each signal's first message arrived.
pub(crate) async fn mock_slack(arrivals: Arrivals) -> anyhow::Result<SocketAddr> {
    let app = Router::new().fallback(move |body: Bytes| {
        let arrivals = arrivals.clone();
        async move {
            let at = now_nanos();
            let text = String::from_utf8_lossy(&body);
            if let Some(pos) = text.find("Signal: ")
                && let Some(id) = text.get(pos + 8..pos + 44).and_then(|s| s.parse().ok())
            {
                arrivals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(id)
                    .or_insert(at);
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// One rate's results.
#[derive(Debug, Serialize)]
struct RateReport {
    target_per_s: u32,
    achieved_per_s: f64,
    sent: usize,
    accepted: usize,
    errors: usize,
    lost: usize,
    drain_s: f64,
    accept_ms: Percentiles,
    webhook_to_slack_ms: Percentiles,
    slack_messages: usize,
    sustained: bool,
}

#[derive(Debug, Serialize, Default)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

pub(crate) fn percentiles(mut v: Vec<f64>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[i]
    };
    Percentiles {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        max: at(1.0),
    }
}

struct Sent {
    signal: Option<MessageId>,
    sent_at: i64,
    accept_ms: f64,
}

pub(crate) fn run(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench(args))
}

/// Where the load goes: a pipeline in this process, or separate role processes.
enum Target {
    Local(neo_pipeline::Running),
    Roles(crate::bench_roles::Roles),
}

async fn bench(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let arrivals: Arrivals = Arc::default();
    let slack = mock_slack(arrivals.clone()).await?;
    let dir: PathBuf = std::env::temp_dir().join(format!("neo-bench-{}", std::process::id()));
    let (target, base, store, shown) = match &args.bus_url {
        Some(bus) => {
            let url = args.store_url.as_deref().context(
                "--bus-url runs the roles as separate processes: give a PostgreSQL --store-url too",
            )?;
            let roles = crate::bench_roles::Roles::start(bus, url, slack).await?;
            let store = neo_store::Store::connect(url).await?;
            let base = roles.gateway.clone();
            (
                Target::Roles(roles),
                base,
                store,
                format!("{bus} and {}", redact(url)),
            )
        }
        None => {
            let running = Box::pin(neo_pipeline::start(
                local_config(args.store_url.clone(), slack),
                &dir,
                wall_clock(),
            ))
            .await?;
            let base = format!("http://{}", running.addr);
            let (store, shown) = (running.store().clone(), running.store_display.clone());
            (Target::Local(running), base, store, shown)
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.in_flight)
        .build()?;
    if !args.json {
        println!("pipeline at {base}, store {shown}, mock Slack at {slack}");
    }
    let mut reports = Vec::new();
    for (round, &rate) in args.rate.iter().enumerate() {
        let report = one_rate(&client, &base, rate, round, &args, &store, &arrivals).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
        reports.push(report);
    }
    if args.show_histograms {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        for line in text.lines().filter(|l| {
            l.contains("_bucket")
                && (l.contains("tradingview")
                    || l.contains("stage=\"desk\"")
                    || l.contains("slack"))
        }) {
            println!("{line}");
        }
    }
    match target {
        Target::Local(running) => {
            // The risk check needs the live desk: only a process holding it answers.
            let risk = risk_check_latency(&client, &base).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&json!({ "risk_check_ms": risk }))?
                );
            } else {
                println!(
                    "POST /v1/risk/check ms: p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}  (1000 sequential requests)",
                    risk.p50, risk.p95, risk.p99, risk.max
                );
            }
            running.shutdown().await?;
        }
        Target::Roles(roles) => drop(roles),
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !args.json {
        let best = reports
            .iter()
            .filter(|r| r.sustained)
            .map(|r| r.target_per_s)
            .max();
        match best {
            Some(r) => println!("highest rate sustained with 0 loss: {r} alerts/s"),
            None => println!("no rate was sustained with 0 loss"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The in-process pipeline's config: fast limits, Slack at the mock.
pub(crate) fn local_config(store_url: Option<String>, slack: SocketAddr) -> Config {
    let mut config = Config::default();
    config.server.port = 0;
    config.gateway.passphrase = Some(Secret::new(crate::bench_roles::PASSPHRASE));
    config.guard.rate_limit_per_ip = 0;
    config.guard.rate_limit_per_key = 0;
    config.store.url = store_url;
    config.notify.console.enabled = false;
    config.notify.slack.enabled = true;
    config.notify.slack.webhook_url = Some(neo_notify::Secret::new(format!("http://{slack}/hook")));
    config.notify.slack.rate_limit = 1_000_000;
    config.notify.slack.queue_capacity = 100_000;
    config.desk.risk.max_open_orders = 1_000_000;
    config
}

/// Alert `i` of a run tagged `tag`: buys and sells alternate on BTC and ETH, so
/// nearly every one reverses a position.
pub(crate) fn alert_body(i: u64, tag: &str) -> serde_json::Value {
    let (ticker, action) = match i % 4 {
        0 => ("BTCUSDT", "buy"),
        1 => ("ETHUSDT", "buy"),
        2 => ("BTCUSDT", "sell"),
        _ => ("ETHUSDT", "sell"),
    };
    json!({ "ticker": ticker, "action": action, "passphrase": crate::bench_roles::PASSPHRASE,
            "id": format!("{tag}-{i}"), "strategy": "bench" })
}

/// A URL without its password, for the banner.
fn redact(url: &str) -> String {
    neo_pipeline::config::redacted_url(url)
}

async fn one_rate(
    client: &reqwest::Client,
    base: &str,
    rate: u32,
    round: usize,
    args: &PipelineArgs,
    store: &neo_store::Store,
    arrivals: &Arrivals,
) -> anyhow::Result<RateReport> {
    let total = usize::try_from(u64::from(rate) * args.seconds)?;
    let permits = Arc::new(Semaphore::new(args.in_flight));
    let url = format!("{base}/v1/webhooks/tradingview");
    let start = instant();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let permit = permits.clone().acquire_owned().await?;
        let (client, url) = (client.clone(), url.clone());
        let body = alert_body(i as u64, &format!("bench-{round}"));
        tasks.spawn(async move {
            let sent_at = now_nanos();
            let t = instant();
            let answer = client.post(url).json(&body).send().await;
            let accept_ms = t.elapsed().as_secs_f64() * 1e3;
            drop(permit);
            let signal = match answer {
                Ok(r) if r.status().as_u16() == 202 => r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["signal_id"].as_str().and_then(|s| s.parse().ok())),
                _ => None,
            };
            Sent {
                signal,
                sent_at,
                accept_ms,
            }
        });
    }
    let mut sent = Vec::with_capacity(total);
    while let Some(r) = tasks.join_next().await {
        sent.push(r?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let accepted: Vec<&Sent> = sent.iter().filter(|s| s.signal.is_some()).collect();
    let ids: Vec<MessageId> = accepted.iter().filter_map(|s| s.signal).collect();
    let drain_start = instant();
    let mut lost = ids.len();
    while drain_start.elapsed() < Duration::from_secs(60) {
        let mut handled = 0;
        for chunk in ids.chunks(500) {
            handled += store
                .handled("desk", chunk)
                .await
                .context("reading the inbox")?
                .len();
        }
        lost = ids.len() - handled;
        if lost == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    #[allow(clippy::cast_precision_loss)]
    let slack: Vec<f64> = accepted
        .iter()
        .filter_map(|s| seen.get(&s.signal?).map(|at| (at - s.sent_at) as f64 / 1e6))
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let achieved = sent.len() as f64 / elapsed;
    let errors = sent.len() - accepted.len();
    Ok(RateReport {
        target_per_s: rate,
        achieved_per_s: achieved,
        sent: sent.len(),
        accepted: accepted.len(),
        errors,
        lost,
        drain_s,
        accept_ms: percentiles(accepted.iter().map(|s| s.accept_ms).collect()),
        slack_messages: slack.len(),
        webhook_to_slack_ms: percentiles(slack),
        sustained: lost == 0 && errors == 0 && achieved >= 0.95 * f64::from(rate) && drain_s < 5.0,
    })
}

/// Round-trip times of the dry-run risk check over HTTP, one request at a time.
async fn risk_check_latency(client: &reqwest::Client, base: &str) -> anyhow::Result<Percentiles> {
    let intent = json!({
        "id": "0199a2b3-0000-7000-8000-00000000aaaa", "decision_id": "0199a2b3-0000-7000-8000-00000000aaab",
        "signal_id": "0199a2b3-0000-7000-8000-00000000aaac", "instrument": "AAPL", "side": "buy",
        "quantity": "1", "order_type": "market", "time_in_force": "gtc",
        "ts_event": "2026-01-01T00:00:00Z"
    });
    let url = format!("{base}/v1/risk/check");
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = instant();
        let r = client.post(&url).json(&intent).send().await?;
        anyhow::ensure!(
            r.status().is_success(),
            "risk check answered {}",
            r.status()
        );
        let _ = r.bytes().await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(percentiles(times))
}

fn print_report(r: &RateReport) {
    println!(
        "rate {:>6}/s: achieved {:>8.0}/s, {} sent, {} accepted, {} errors, {} lost (drained in {:.1} s)",
        r.target_per_s, r.achieved_per_s, r.sent, r.accepted, r.errors, r.lost, r.drain_s
    );
    println!(
        "  accept ms:           p50 {:>7.2}  p95 {:>7.2}  p99 {:>7.2}  max {:>8.2}",
        r.accept_ms.p50, r.accept_ms.p95, r.accept_ms.p99, r.accept_ms.max
    );
    println!(
        "  webhook->Slack ms:   p50 {:>7.2}  p95 {:>7.2}  p99 {:>7.2}  max {:>8.2}  ({} messages)",
        r.webhook_to_slack_ms.p50,
        r.webhook_to_slack_ms.p95,
        r.webhook_to_slack_ms.p99,
        r.webhook_to_slack_ms.max,
        r.slack_messages
    );
}
