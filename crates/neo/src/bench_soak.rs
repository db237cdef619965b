//! `neo bench soak`: a long run of trading alerts through a real `neo run`
//! pipeline in this process with retention applied, showing whether memory
//! and the database stay flat once retention applies. The retention window is
//! scaled down with the run (`--keep-secs`, swept every `--sweep-secs` by the
//! same code as the hourly pruner), so the run covers many windows as a day
//! at production retention would: what matters for flatness is run length
//! over the window, not the absolute time.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use neo_pipeline::wall_clock;
use neo_store::{Store, Table};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;

/// `neo bench soak` options.
#[derive(Args)]
pub(crate) struct SoakArgs {
    /// Alerts per second (buys and sells alternate on BTC and ETH; those the desk takes reverse a position).
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// The retention window: rows older than this are removed at each sweep.
    #[arg(long, default_value_t = 60)]
    keep_secs: u64,
    /// How often to sweep and sample.
    #[arg(long, default_value_t = 15)]
    sweep_secs: u64,
    /// Store URL (default: a fresh SQLite file in a temp directory).
    #[arg(long)]
    store_url: Option<String>,
    /// Print one JSON object per sample.
    #[arg(long)]
    json: bool,
}

#[allow(clippy::disallowed_methods)] // The schedule runs on wall time.
fn instant() -> Instant {
    Instant::now()
}

/// One sample after a sweep.
#[derive(Debug, Serialize)]
struct Sample {
    at_s: u64,
    accepted: u64,
    rss_mib: f64,
    db_mib: f64,
    removed: u64,
    signals: u64,
    orders: u64,
    fills: u64,
    audit: u64,
    inbox: u64,
    outbox: u64,
}

/// This process's resident memory (Linux), in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

pub(crate) fn run(args: SoakArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(soak(args))
}

async fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.rate > 0 && args.sweep_secs > 0,
        "--rate and --sweep-secs must be above 0"
    );
    let slack = crate::bench_pipeline::mock_slack(Arc::default()).await?;
    let dir: PathBuf = std::env::temp_dir().join(format!("neo-soak-{}", std::process::id()));
    // The soak sweeps itself at its scaled window; the hourly pruner stays off.
    let mut config = crate::bench_pipeline::local_config(args.store_url.clone(), slack);
    config.store.retention_days = 0;
    let running = Box::pin(neo_pipeline::start(config, &dir, wall_clock())).await?;
    let base = format!("http://{}", running.addr);
    let store = running.store().clone();
    if !args.json {
        println!(
            "soak: {} alerts/s for {} s, retention {} s swept every {} s; pipeline at {base}, store {}",
            args.rate, args.seconds, args.keep_secs, args.sweep_secs, running.store_display
        );
        println!(
            "{:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "s",
            "accepted",
            "rss MiB",
            "db MiB",
            "removed",
            "signals",
            "orders",
            "fills",
            "audit",
            "inbox",
            "outbox"
        );
    }
    let accepted = Arc::new(AtomicU64::new(0));
    let sender = tokio::spawn(send(
        base.clone(),
        args.rate,
        args.seconds,
        accepted.clone(),
    ));
    let start = instant();
    let keep = Duration::from_secs(args.keep_secs);
    let clock = wall_clock();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_secs(args.sweep_secs)).await;
        let swept = neo_pipeline::retention::prune_now(&store, keep, true, &clock)
            .await
            .context("sweeping the store")?;
        let sample = sample(&store, start, &accepted, swept.total()).await?;
        if args.json {
            println!("{}", serde_json::to_string(&sample)?);
        } else {
            print_sample(&sample);
        }
        samples.push(sample);
    }
    let errors = sender.await??;
    running.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    verdict(&samples, errors, args.json)?;
    Ok(ExitCode::SUCCESS)
}

async fn sample(
    store: &Store,
    start: Instant,
    accepted: &AtomicU64,
    removed: u64,
) -> anyhow::Result<Sample> {
    #[allow(clippy::cast_precision_loss)]
    let db_mib = store.size_bytes().await? as f64 / (1024.0 * 1024.0);
    Ok(Sample {
        at_s: start.elapsed().as_secs(),
        accepted: accepted.load(Ordering::Relaxed),
        rss_mib: rss_mib(),
        db_mib,
        removed,
        signals: store.count(Table::Signals).await?,
        orders: store.count(Table::Orders).await?,
        fills: store.count(Table::Fills).await?,
        audit: store.count(Table::AuditEvents).await?,
        inbox: store.count(Table::Inbox).await?,
        outbox: store.count(Table::Outbox).await?,
    })
}

fn print_sample(s: &Sample) {
    println!(
        "{:>6} {:>9} {:>8.1} {:>8.2} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        s.at_s,
        s.accepted,
        s.rss_mib,
        s.db_mib,
        s.removed,
        s.signals,
        s.orders,
        s.fills,
        s.audit,
        s.inbox,
        s.outbox
    );
}

/// Growth over the second half of the run, once retention has applied for a while.
fn verdict(samples: &[Sample], errors: u64, json: bool) -> anyhow::Result<()> {
    let (Some(mid), Some(last)) = (samples.get(samples.len() / 2), samples.last()) else {
        anyhow::bail!("the run was too short to sample: raise --seconds or lower --sweep-secs");
    };
    let rows = |s: &Sample| s.signals + s.orders + s.fills + s.audit + s.inbox + s.outbox;
    let summary = json!({
        "second_half_s": last.at_s - mid.at_s,
        "alerts": last.accepted - mid.accepted,
        "rss_mib": [mid.rss_mib, last.rss_mib],
        "db_mib": [mid.db_mib, last.db_mib],
        "rows": [rows(mid), rows(last)],
        "send_errors": errors,
    });
    if json {
        println!("{summary}");
    } else {
        println!(
            "second half ({} s, {} alerts): RSS {:.1} -> {:.1} MiB, database {:.2} -> {:.2} MiB, rows {} -> {}; {} send errors",
            last.at_s - mid.at_s,
            last.accepted - mid.accepted,
            mid.rss_mib,
            last.rss_mib,
            mid.db_mib,
            last.db_mib,
            rows(mid),
            rows(last),
            errors
        );
    }
    Ok(())
}

/// Posts `rate` alerts a second for `seconds`; counts the accepted ones, returns the errors.
async fn send(
    base: String,
    rate: u32,
    seconds: u64,
    accepted: Arc<AtomicU64>,
) -> anyhow::Result<u64> {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/webhooks/tradingview");
    let permits = Arc::new(Semaphore::new(64));
    let errors = Arc::new(AtomicU64::new(0));
    let start = instant();
    let total = u64::from(rate) * seconds;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        #[allow(clippy::cast_precision_loss)]
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let permit = permits.clone().acquire_owned().await?;
        let body = crate::bench_pipeline::alert_body(i, "soak");
        let (client, url, accepted, errors) = (
            client.clone(),
            url.clone(),
            accepted.clone(),
            errors.clone(),
        );
        tasks.spawn(async move {
            let answer = client.post(url).json(&body).send().await;
            drop(permit);
            match answer {
                Ok(r) if r.status().as_u16() == 202 => accepted.fetch_add(1, Ordering::Relaxed),
                _ => errors.fetch_add(1, Ordering::Relaxed),
            };
        });
        // Keep the set small: finished posts are collected as the run goes.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(errors.load(Ordering::Relaxed))
}
