//! `neo run` (every role in one process, supervised), `neo serve` (chosen
//! roles, the others in other processes over NATS and PostgreSQL) and `neo
//! send-alert` (post a sample TradingView alert to a running NEO and show what
//! became of it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use neo_pipeline::config::{BusKind, Config, LogFormat, default_data_dir};
use neo_pipeline::{PipelineError, Role, wall_clock};
use serde_json::{Value, json};

/// `neo run` options.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// TOML config file (default: ./neo.toml when it exists; see neo.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the SQLite database and the generated passphrase live.
    #[arg(long, default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
}

/// `neo serve` options.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// A role to run here: gateway, desk, market, notify, or all (repeat for several).
    #[arg(long = "role", required = true, value_parser = parse_roles)]
    roles: Vec<Vec<Role>>,
    #[command(flatten)]
    run: RunArgs,
}

/// `all` or one role's name.
fn parse_roles(s: &str) -> Result<Vec<Role>, String> {
    if s.trim() == "all" {
        return Ok(Role::ALL.to_vec());
    }
    s.parse::<Role>()
        .map(|r| vec![r])
        .map_err(|e| e.to_string())
}

/// `neo send-alert` options.
#[derive(Args)]
pub(crate) struct SendAlertArgs {
    /// Base URL of the running NEO.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    url: String,
    /// The webhook passphrase (default: read from <data-dir>/passphrase, or NEO_GATEWAY__PASSPHRASE).
    #[arg(long, env = "NEO_GATEWAY__PASSPHRASE", hide_env_values = true)]
    passphrase: Option<String>,
    /// Where `neo run` saved its generated passphrase.
    #[arg(long, default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// TradingView ticker.
    #[arg(long, default_value = "BTCUSDT")]
    ticker: String,
    /// buy, sell, or an exit word (close, exit).
    #[arg(long, default_value = "buy")]
    action: String,
    /// Quantity (omit to let risk size it).
    #[arg(long)]
    quantity: Option<String>,
    /// The sender's alert id (resending the same id is recognised as a duplicate).
    #[arg(long)]
    id: Option<String>,
    /// Seconds to wait for the outcome (order, refusal) before giving up; 0 = do not wait.
    #[arg(long, default_value_t = 5)]
    wait: u64,
    /// An API key with the read role, to follow the alert's story when NEO has `[[api.keys]]`.
    #[arg(long = "key", env = "NEO_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Log lines as `[log] format` asks: text for a terminal, or JSON objects
/// carrying every field of the enclosing spans (`signal_id`, `stage`) for a
/// log pipeline; `NEO_LOG` sets the level (default `info`). With `[telemetry]
/// otlp_endpoint`, spans are exported over OTLP too.
fn logging(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let otlp = match &config.telemetry.otlp_endpoint {
        Some(endpoint) => Some(
            crate::telemetry::layer(endpoint, &config.telemetry.service_name)
                .context("cannot start the OTLP exporter")?,
        ),
        None => None,
    };
    let registry = tracing_subscriber::registry().with(filter).with(otlp);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let _ = match config.log.format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry
            .with(
                fmt.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init(),
    };
    Ok(())
}

/// Resolves once SIGINT or SIGTERM arrives.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    launch(&args, None)
}

pub(crate) fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut roles: Vec<Role> = args.roles.into_iter().flatten().collect();
    roles.sort();
    roles.dedup();
    launch(&args.run, Some(roles))
}

fn launch(args: &RunArgs, roles: Option<Vec<Role>>) -> anyhow::Result<ExitCode> {
    let file = args.config.clone().or_else(|| {
        let local = PathBuf::from("neo.toml");
        local.is_file().then_some(local)
    });
    let config = Config::load(file.as_deref(), std::env::vars())?;
    // TLS first: the OTLP exporter's client is built as logging starts.
    let _ = rustls::crypto::ring::default_provider().install_default();
    logging(&config)?;
    let roles = roles.as_deref();
    runtime()?.block_on(supervise(config, &args.data_dir, file.as_deref(), roles))
}

/// Runs the roles (`None`: all, in one process); a role that dies restarts them
/// from the store, with backoff.
async fn supervise(
    config: Config,
    data_dir: &Path,
    file: Option<&Path>,
    roles: Option<&[Role]>,
) -> anyhow::Result<ExitCode> {
    let mut restarts = 0u32;
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let running = match roles {
            None => neo_pipeline::start(config.clone(), data_dir, wall_clock()).await?,
            Some(roles) => {
                neo_pipeline::serve(config.clone(), data_dir, wall_clock(), roles).await?
            }
        };
        if restarts == 0 {
            banner(&config, &running, file, roles);
        }
        let stopped = std::cell::Cell::new(false);
        let result = running
            .run_until(async {
                (&mut stop).await;
                stopped.set(true);
            })
            .await;
        match result {
            Ok(()) if stopped.get() => {
                tracing::info!("stopped cleanly");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(()) => {}
            Err(e @ PipelineError::Role { .. }) if !stopped.get() => {
                restarts += 1;
                if restarts > 5 {
                    bail!("{e}; giving up after 5 restarts");
                }
                let wait = Duration::from_secs(1 << restarts.min(5));
                tracing::error!(error = %e, restart_in = ?wait, "a role stopped; restarting from the store");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e.into()),
        }
        if stopped.get() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

fn banner(
    config: &Config,
    running: &neo_pipeline::Running,
    file: Option<&Path>,
    roles: Option<&[Role]>,
) {
    let base = format!("http://{}", running.addr);
    let role_names = roles.map_or("all (one process)".to_owned(), |roles| {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    });
    let n = &config.notify;
    let channels: Vec<&str> = [
        (n.console.enabled, "console"),
        (n.slack.enabled, "slack"),
        (n.telegram.enabled, "telegram"),
        (n.webhook.enabled, "webhook"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let bus = match config.bus.kind {
        BusKind::Embedded => "embedded (in-process)",
        BusKind::Nats => "nats",
    };
    let config_file = file.map_or("defaults (no neo.toml)".to_owned(), |f| {
        f.display().to_string()
    });
    let market = format!(
        "{} {}",
        market_source(config),
        config.market.instruments.join(", ")
    );
    if config.log.format == LogFormat::Json {
        // Standard output stays one JSON object a line.
        tracing::info!(
            url = %base,
            roles = %role_names,
            config = %config_file,
            passphrase = %running.passphrase_source,
            store = %running.store_display,
            bus,
            market = %market,
            notifications = %channels.join(", "),
            api_keys = config.api.keys.len(),
            "NEO is running"
        );
        return;
    }
    println!("NEO is running at {base}");
    println!("  roles:         {role_names}");
    println!("  config:        {config_file}");
    println!("  store:         {}", running.store_display);
    println!("  bus:           {bus}");
    if roles.is_some_and(|r| !r.contains(&Role::Gateway)) {
        // No webhooks or REST API here: the orchestrator's probes only.
        println!("  probes:        {base}/health  {base}/ready  {base}/metrics");
        println!("Press Ctrl-C to stop.");
        return;
    }
    println!("  webhook:       POST {base}/v1/webhooks/tradingview");
    println!("  passphrase:    {}", running.passphrase_source);
    println!("  market:        {market}");
    println!("  notifications: {}", channels.join(", "));
    let keys = config.api.keys.len();
    if keys == 0 {
        println!("  REST API:      no [[api.keys]]: open to this machine only (loopback)");
    } else {
        println!("  REST API:      {keys} API key(s) configured: send Authorization: Bearer <key>");
    }
    println!("  API docs:      {base}/docs   metrics: {base}/metrics");
    println!("  try it:        neo send-alert   (in another terminal)");
    println!("Press Ctrl-C to stop.");
}

/// Where prices come from, in words.
fn market_source(config: &Config) -> String {
    let m = &config.market;
    if let Some(feed) = m.feed() {
        return format!("{} live ({})", feed.venue, feed.ws_url);
    }
    match m.clock_speed() {
        Some(speed) => {
            let path = m
                .replay
                .path
                .as_ref()
                .map_or("the candle store".to_owned(), |p| p.display().to_string());
            format!("replay of {path} at {speed}x (NEO's clock runs as fast)")
        }
        None => "simulated".to_owned(),
    }
}

pub(crate) fn send_alert(args: SendAlertArgs) -> anyhow::Result<ExitCode> {
    let passphrase = match args.passphrase.clone() {
        Some(p) => p,
        None => {
            let path = args.data_dir.join("passphrase");
            std::fs::read_to_string(&path)
                .with_context(|| format!("no --passphrase and cannot read {} (start `neo run` first, or pass --passphrase)", path.display()))?
                .trim()
                .to_owned()
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime()?.block_on(post_alert(args, passphrase))
}

async fn post_alert(args: SendAlertArgs, passphrase: String) -> anyhow::Result<ExitCode> {
    let mut alert = json!({
        "ticker": args.ticker,
        "exchange": "BINANCE",
        "action": args.action,
        "strategy": "neo-send-alert",
        "comment": "sample alert from neo send-alert",
        "passphrase": passphrase,
    });
    if let Some(q) = &args.quantity {
        alert["quantity"] = json!(q);
    }
    if let Some(id) = &args.id {
        alert["id"] = json!(id);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let base = args.url.trim_end_matches('/');
    let response = client
        .post(format!("{base}/v1/webhooks/tradingview"))
        .json(&alert)
        .send()
        .await
        .with_context(|| format!("cannot reach NEO at {base} (is `neo run` running?)"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    println!("{} {}", status.as_u16(), body);
    if !status.is_success() {
        return Ok(ExitCode::from(1));
    }
    let Some(id) = body["signal_id"].as_str() else {
        bail!("the answer has no signal_id");
    };
    println!("story: {base}/v1/signals/{id}");
    let story_url = format!("{base}/v1/signals/{id}");
    let key = args.api_key.as_deref();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait);
    while tokio::time::Instant::now() < deadline {
        let story = fetch_story(&client, &story_url, key).await?;
        if story["status"] != "accepted" && story["status"] != "decided"
            || story["refusals"].as_array().is_some_and(|r| !r.is_empty())
        {
            print_story(&story);
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if args.wait > 0 {
        print_story(&fetch_story(&client, &story_url, key).await?);
    }
    Ok(ExitCode::SUCCESS)
}

/// One signal's story, with the API key when one is given.
async fn fetch_story(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
) -> anyhow::Result<Value> {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await?;
    if matches!(response.status().as_u16(), 401 | 403) {
        bail!(
            "following the story needs an API key with the read role: pass --key or set NEO_API_KEY"
        );
    }
    Ok(response.json().await?)
}

fn print_story(story: &Value) {
    println!("status: {}", story["status"].as_str().unwrap_or("?"));
    for d in story["decisions"].as_array().into_iter().flatten() {
        println!(
            "decision: {} (confidence {:.2}, {}): {}",
            d["recommendation"].as_str().unwrap_or("?"),
            d["confidence"].as_f64().unwrap_or(0.0),
            d["severity"].as_str().unwrap_or("?"),
            d["rationale"].as_str().unwrap_or("")
        );
    }
    for r in story["refusals"].as_array().into_iter().flatten() {
        println!("refused: {}", r["message"].as_str().unwrap_or("?"));
    }
    for o in story["orders"].as_array().into_iter().flatten() {
        println!(
            "order: {} {} {} {} {}",
            o["role"].as_str().unwrap_or("?"),
            o["side"].as_str().unwrap_or("?"),
            o["quantity"].as_str().unwrap_or("?"),
            o["order_type"].as_str().unwrap_or("?"),
            o["status"].as_str().unwrap_or("?"),
        );
    }
    for f in story["fills"].as_array().into_iter().flatten() {
        println!(
            "fill: {} {} @ {}",
            f["side"].as_str().unwrap_or("?"),
            f["quantity"].as_str().unwrap_or("?"),
            f["price"].as_str().unwrap_or("?")
        );
    }
}
