//! Starting every role in one process and stopping them in phases: HTTP stops
//! accepting first, then the feed and the stages finish what they hold, then
//! the relay drains the outbox, then the writer and the store close. A role
//! that dies ends the whole pipeline with its error, so the supervisor (`neo
//! run`) restarts everything from the store instead of limping on.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_api::auth::{ApiAuth, spawn_expiry_watch};
use neo_api::flags::FlagBook;
use neo_api::guard::{GuardConfig, Guards};
use neo_api::metrics::{Metrics, names};
use neo_api::server::{AppState, GatewayConfig, Live, Ticker, router, serve};
use neo_api::slo::SloBook;
use neo_bus::{Bus, ConsumerSpec, JetStreamBus, MemoryBus};
use neo_domain::contracts::{CandleV1, OrderIntentV1};
use neo_domain::subject::patterns;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::autonomy::Autonomy;
use neo_engine::desk::{AccountSummary, Desk};
use neo_engine::risk::{Refusal, TradingStatus};
use neo_engine::slo::SloName;
use neo_notify::Notifier;
use neo_stage::{
    RelayConfig, StageConfig, StageObserver, StageStats, replay_embedded, run_relay, run_stage,
};
use neo_store::{Store, WriterConfig};
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{BusKind, Config, redacted_url};
use crate::desk_stage::{DESK_CONSUMER, DeskStage, lock};
use crate::market::freshness::{Outlet, StaleWatch};
use crate::market::{MarketShare, run_source};
use crate::notify_stage::{NOTIFY_CONSUMER, NotifyStage, run_notify_stage};
use crate::restore::load;
use crate::{Clock, passphrase};

/// Why the pipeline could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Configuration or data directory trouble.
    #[error("{0}")]
    Setup(String),
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] neo_store::StoreError),
    /// The bus could not be reached.
    #[error("bus: {0}")]
    Bus(#[from] neo_bus::BusError),
    /// A role stopped with an error.
    #[error("{role} stopped: {reason}")]
    Role {
        /// Which role.
        role: &'static str,
        /// Why.
        reason: String,
    },
}

/// A started pipeline.
pub struct Running {
    /// Where HTTP listens.
    pub addr: SocketAddr,
    /// Where the webhook passphrase came from, for the start-up banner.
    pub passphrase_source: String,
    /// The store's URL with any password removed.
    pub store_display: String,
    shutdown: watch::Sender<bool>,
    http_stop: watch::Sender<bool>,
    tasks: JoinSet<(&'static str, Result<(), String>)>,
    store: Store,
    grace: Duration,
}

/// The bus's readiness check, without its type.
type BusHealth = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

struct LiveDesk {
    desk: Arc<Mutex<Desk>>,
    share: Arc<MarketShare>,
    bus: BusHealth,
    instruments: Vec<InstrumentId>,
    max_data_age: Duration,
}

impl Live for LiveDesk {
    fn tickers(&self) -> Vec<Ticker> {
        self.share.tickers()
    }
    fn portfolio(&self, now: Timestamp) -> Result<AccountSummary, String> {
        lock(&self.desk).summary(now).map_err(|e| e.to_string())
    }
    fn risk_check(&self, intent: OrderIntentV1, now: Timestamp) -> Result<(), Refusal> {
        lock(&self.desk).check(intent, now)
    }
    fn bus_ready(&self) -> Result<(), String> {
        (self.bus)()
    }
    fn trading_status(&self) -> TradingStatus {
        lock(&self.desk).trading_status().clone()
    }
    fn candles(&self, instrument: InstrumentId, count: usize) -> Vec<CandleV1> {
        self.share.candles(instrument, count)
    }
    fn briefing(&self, instrument: InstrumentId, now: Timestamp) -> Value {
        lock(&self.desk).briefing(instrument, now)
    }
    fn market(&self, now: Timestamp) -> Value {
        crate::market::freshness::details(&self.share, &self.instruments, self.max_data_age, now)
    }
}

fn role<E: std::fmt::Display>(
    name: &'static str,
    r: Result<(), E>,
) -> (&'static str, Result<(), String>) {
    (name, r.map_err(|e| e.to_string()))
}

/// Starts every role on `config`, storing data under `data_dir`.
pub async fn start(
    config: Config,
    data_dir: &Path,
    clock: Clock,
) -> Result<Running, PipelineError> {
    if let Some(problem) = config.server.exposure_problem(&config.api) {
        return Err(PipelineError::Setup(problem));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| PipelineError::Setup(format!("cannot create {}: {e}", data_dir.display())))?;
    // A replay runs NEO on the history's pace: every part of it sees the same fast clock.
    let clock = match config.market.clock_speed() {
        Some(speed) => crate::market::replay::accelerated(clock, speed),
        None => clock,
    };
    let mut gateway: GatewayConfig = config.gateway.clone();
    let passphrase_source = passphrase::ensure(&mut gateway, data_dir)?;
    let url = config.store_url(data_dir);
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    match config.bus.kind {
        BusKind::Embedded => {
            let bus = MemoryBus::new();
            Box::pin(launch(
                config,
                gateway,
                store,
                bus.clone(),
                Some(bus),
                clock,
                passphrase_source,
                &url,
                data_dir,
            ))
            .await
        }
        BusKind::Nats => {
            let bus = JetStreamBus::connect(config.bus.nats()).await?;
            Box::pin(launch(
                config,
                gateway,
                store,
                bus,
                None,
                clock,
                passphrase_source,
                &url,
                data_dir,
            ))
            .await
        }
    }
}

/// Counts a stage's outcomes in `neo_stage_messages_total` and its dead letters,
/// and in the daily-success and message-loss SLOs.
fn stage_metrics(stage: &'static str, slo: SloBook, clock: Clock) -> StageObserver {
    StageObserver(Arc::new(move |delta: &StageStats| {
        let now = clock();
        for _ in 0..delta.applied {
            slo.record(SloName::DailySuccess, true, now);
        }
        for _ in 0..delta.dead_lettered {
            slo.record(SloName::DailySuccess, false, now);
            slo.record(SloName::MessageLoss, false, now);
        }
        for (outcome, n) in [
            ("applied", delta.applied),
            ("duplicate", delta.duplicates),
            ("retried", delta.retried),
            ("dead_lettered", delta.dead_lettered),
        ] {
            if n > 0 {
                metrics::counter!(names::STAGE_MESSAGES, "stage" => stage, "outcome" => outcome)
                    .increment(n);
            }
        }
        if delta.dead_lettered > 0 {
            metrics::counter!(names::BUS_DEAD_LETTERS, "stage" => stage)
                .increment(delta.dead_lettered);
        }
    }))
}

#[allow(clippy::too_many_arguments)]
async fn launch<B: Bus>(
    config: Config,
    gateway: GatewayConfig,
    store: Store,
    bus: B,
    embedded: Option<MemoryBus>,
    clock: Clock,
    passphrase_source: String,
    url: &str,
    data_dir: &Path,
) -> Result<Running, PipelineError> {
    let now = clock();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (http_stop, http_stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // Transactions of at most 64 units: an accept never waits behind a huge desk batch
    // (measured: accept p99 at 1,000 alerts/s 20 ms with 512, 13 ms with 64).
    let (writer, writer_task) = store.writer(WriterConfig {
        max_units: 64,
        ..WriterConfig::default()
    });
    tasks.spawn(async move { role("writer", writer_task.await) });
    let metrics = Metrics::install().map_err(|e| PipelineError::Setup(e.to_string()))?;

    // The market first: its warm-up history makes the analyst's indicators ready.
    let instruments = config.market.instrument_ids();
    let crate::market::Warm {
        source,
        history,
        last_ticks,
        steps,
    } = crate::market::prepare(&config.market, data_dir, now, clock.clone())
        .await
        .map_err(|e| PipelineError::Setup(e.to_string()))?;
    let mut desk = Desk::new(config.desk.clone(), steps, now)
        .map_err(|e| PipelineError::Setup(e.to_string()))?;
    let mut autonomy = if config.strategy.enabled {
        Some(
            Autonomy::new(config.strategy.clone())
                .map_err(|e| PipelineError::Setup(e.to_string()))?,
        )
    } else {
        None
    };
    for candle in &history {
        desk.on_candle(candle);
        if let Some(autonomy) = &mut autonomy {
            // History warms the ensembles up; it is not traded.
            autonomy
                .observe(candle)
                .map_err(|e| PipelineError::Setup(e.to_string()))?;
        }
    }
    let state = load(&store)
        .await
        .map_err(|e| PipelineError::Setup(format!("restore: {e}")))?;
    desk.restore(state)
        .map_err(|e| PipelineError::Setup(format!("restore: {e}")))?;
    let seed = config
        .seed_flags()
        .map_err(|p| PipelineError::Setup(p.join("; ")))?;
    let flags = FlagBook::open(
        store.clone(),
        writer.clone(),
        seed,
        config.flags.rules(config.desk.brackets.reward_risk()),
    )
    .await
    .map_err(|e| PipelineError::Setup(format!("flags: {e}")))?;
    desk.set_flags(flags.flags());
    let slo = SloBook::new(&crate::config::objectives(&config.slo));
    let toolbox = crate::agents::McpToolbox::default();
    let orchestrator = crate::restore::orchestrator(&config.agents, &store, &toolbox, now).await?;
    let desk = Arc::new(Mutex::new(desk));
    let share = Arc::new(MarketShare::default());
    for tick in last_ticks {
        share.push_tick(tick);
    }
    for candle in &history {
        share.remember(candle);
    }

    let (notifier, workers) =
        Notifier::start(&config.notify).map_err(|e| PipelineError::Setup(e.to_string()))?;
    let channels = notifier.channels();
    let wake = Arc::new(Notify::new());

    // Subscribe the durables before anything is relayed or replayed into them.
    let desk_spec = ConsumerSpec::new(DESK_CONSUMER, patterns::desk_inputs());
    let notify_spec = ConsumerSpec::new(NOTIFY_CONSUMER, patterns::notifications());
    drop(bus.subscribe(desk_spec.clone()).await?);
    drop(bus.subscribe(notify_spec.clone()).await?);
    if let Some(memory) = &embedded {
        for (consumer, filter) in [
            (DESK_CONSUMER, patterns::desk_inputs()),
            (NOTIFY_CONSUMER, patterns::notifications()),
        ] {
            let n = replay_embedded(memory, &store, consumer, &filter)
                .await
                .map_err(|e| PipelineError::Setup(format!("replay: {e}")))?;
            if n > 0 {
                tracing::info!(
                    consumer,
                    replayed = n,
                    "resuming unfinished work from the store"
                );
            }
        }
    }

    let (key_notices, key_notice_task) =
        crate::key_notices::spawn(writer.clone(), channels.clone(), wake.clone());
    let (fb, ch, wk, c, rx) = (
        flags.clone(),
        channels.clone(),
        wake.clone(),
        clock.clone(),
        shutdown_rx.clone(),
    );
    tasks.spawn(async move { role("flags", crate::flag_watch::run(fb, ch, wk, c, rx).await) });
    let mut stage = DeskStage::new(desk.clone(), share.clone(), channels.clone(), clock.clone())
        .with_flags(flags.clone())
        .with_slo(slo.clone());
    if let Some(autonomy) = autonomy {
        stage = stage.with_autonomy(autonomy);
    }
    if let Some((orchestrator, memory)) = orchestrator {
        let activity = Arc::new(crate::agents::Activity::default());
        let providers = orchestrator
            .llm()
            .map(|llm| llm.providers().to_vec())
            .unwrap_or_default();
        let (a, fb, c, rx) = (
            activity.clone(),
            flags.clone(),
            clock.clone(),
            shutdown_rx.clone(),
        );
        let ollama = config.agents.ollama;
        tasks.spawn(async move {
            crate::agents::ollama_watch::run(providers, ollama, a, fb, c, rx).await;
            ("ollama", Ok(()))
        });
        let agents = crate::agents::DeskAgents::new(orchestrator, memory)
            .with_lifecycle(activity, flags.clone());
        stage = stage.with_agents(agents);
    }
    let stage_config = StageConfig {
        wait: Duration::from_millis(10),
        wake: Some(wake.clone()),
        observer: Some(stage_metrics(DESK_CONSUMER, slo.clone(), clock.clone())),
        ..StageConfig::new(desk_spec)
    };
    let (b, s, w, rx) = (
        bus.clone(),
        store.clone(),
        writer.clone(),
        shutdown_rx.clone(),
    );
    tasks.spawn(async move {
        role(
            "desk",
            run_stage(b, s, w, stage, stage_config, rx)
                .await
                .map(|_| ()),
        )
    });

    let notify = NotifyStage {
        bus: bus.clone(),
        store: store.clone(),
        writer: writer.clone(),
        notifier,
        consumer: notify_spec,
        max_in_flight: 1024,
        clock: clock.clone(),
        flags: Some(flags.clone()),
        slo: slo.clone(),
    };
    let rx = shutdown_rx.clone();
    tasks.spawn(async move {
        let r = run_notify_stage(notify, rx).await;
        workers.join().await;
        role("notify", r)
    });

    let (b, s, wk, rx) = (
        bus.clone(),
        store.clone(),
        wake.clone(),
        shutdown_rx.clone(),
    );
    tasks.spawn(async move {
        run_relay(b, s, RelayConfig::default(), wk, rx).await;
        ("relay", Ok(()))
    });

    let tick = Duration::from_millis(config.market.tick_ms);
    let (sh, c, rx) = (share.clone(), clock.clone(), shutdown_rx.clone());
    // Over NATS, market data is published for other processes; in one process nobody
    // else reads it, so the in-process bus is spared the traffic.
    let publisher = if embedded.is_none() {
        let (publisher, task) = crate::market::publish::Publisher::start(bus.clone());
        drop(task); // ends when the feed (the publisher's only holder) stops
        Some(publisher)
    } else {
        None
    };
    // A replay is history already: archiving it again would file it under today.
    let replaying = config.market.source == crate::config::MarketSource::Replay;
    let archiver = if config.market.archive && !replaying {
        let (root, candles) = (data_dir.join("market"), data_dir.join("history"));
        let (archiver, thread) = crate::market::archive::Archiver::start(
            &root,
            &candles,
            config.market.archive_days,
            c.clone(),
        )
        .map_err(|e| PipelineError::Setup(format!("market archive: {e}")))?;
        // Ends once the feed (the archiver's only holder) has stopped, after the last flush.
        tasks.spawn(async move {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            let r = match joined {
                Ok(Ok(())) => Ok(()),
                _ => Err("the archive thread panicked".to_owned()),
            };
            ("archive", r)
        });
        Some(archiver)
    } else {
        None
    };
    if embedded.is_none() {
        // Over NATS, alternative data published on alt.> is archived too.
        let (b, root, c2, rx2) = (
            bus.clone(),
            data_dir.join("market"),
            c.clone(),
            shutdown_rx.clone(),
        );
        tasks.spawn(
            async move { role("alt", crate::market::alt_sink::run(b, root, c2, rx2).await) },
        );
    }
    let out = Arc::new(crate::market::live::Fanout {
        share: sh,
        publisher,
        archiver,
        clock: c.clone(),
    });
    tasks.spawn(async move { role("market", run_source(source, out, c, tick, rx).await) });
    let max_age = Duration::from_secs(config.desk.risk.max_data_age_secs);
    let watch = StaleWatch::new(instruments.clone(), max_age, now);
    let outlet = Outlet {
        writer: writer.clone(),
        channels: channels.clone(),
        wake: wake.clone(),
    };
    let (sh, c, rx) = (share.clone(), clock.clone(), shutdown_rx.clone());
    tasks.spawn(async move {
        crate::market::freshness::run(watch, sh, outlet, c, rx).await;
        ("freshness", Ok(()))
    });

    if config.store.retention_days > 0 {
        let keep = Duration::from_secs(u64::from(config.store.retention_days) * 86_400);
        let (s, c, rx, embedded) = (
            store.clone(),
            clock.clone(),
            shutdown_rx.clone(),
            embedded.is_some(),
        );
        tasks.spawn(async move {
            crate::retention::run(s, keep, embedded, c, rx).await;
            ("retention", Ok(()))
        });
    }

    let reconciler = crate::reconcile::Reconciler {
        store: store.clone(),
        writer: writer.clone(),
        desk: desk.clone(),
        channels: channels.clone(),
        wake: wake.clone(),
        clock: clock.clone(),
        every: Duration::from_secs(config.positions.reconcile_secs),
    };
    let rx = shutdown_rx.clone();
    tasks.spawn(async move {
        reconciler.run(rx).await;
        ("reconcile", Ok(()))
    });

    let guards = Guards::new(&config.guard).map_err(|e| PipelineError::Setup(e.to_string()))?;
    let housekeeping = guards.spawn_housekeeping(Duration::from_secs(60));
    let (auth, api_housekeeping) = api_auth(&config)?;
    let (watched_keys, watch_clock) = (auth.keys().clone(), clock.clone());
    let upkeep = metrics.spawn_upkeep(Duration::from_secs(5));
    let (probe_bus, probe_store, probe_share) = (bus.clone(), store.clone(), share.clone());
    let (probe_slo, probe_clock, rx) = (slo.clone(), clock.clone(), shutdown_rx.clone());
    tasks.spawn(async move {
        let health = move || probe_bus.health();
        crate::slo_probe::run(probe_slo, probe_store, health, probe_share, probe_clock, rx).await;
        ("slo", Ok(()))
    });
    let health_bus = bus.clone();
    let live: Arc<dyn Live> = Arc::new(LiveDesk {
        desk,
        share,
        bus: Box::new(move || health_bus.health()),
        instruments,
        max_data_age: max_age,
    });
    let (limits, max_body_bytes) = (config.server.limits.clone(), gateway.max_body_bytes);
    let state = AppState::new(gateway, store.clone(), writer, clock)
        .with_live(live)
        .with_history(data_dir.join("history"), data_dir.join("market"))
        .with_probes(crate::probes::probes(&config))
        .with_wake(wake)
        .with_guards(guards)
        .with_auth(auth)
        .with_metrics(metrics)
        .with_flags(flags)
        .with_slo(slo);
    toolbox.serve(state.clone());
    let app = router(state);
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| PipelineError::Setup(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| PipelineError::Setup(e.to_string()))?;
    // Started once serving is sure, so a failed bind leaves no task behind.
    let expiry_watch = spawn_expiry_watch(
        watched_keys,
        watch_clock,
        Duration::from_secs(60),
        Some(key_notices),
    );
    let mut stop = http_stop_rx;
    tasks.spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let served = serve(listener, app, &limits, max_body_bytes, stopped).await;
        housekeeping.abort();
        api_housekeeping.abort();
        expiry_watch.abort();
        key_notice_task.abort();
        upkeep.abort();
        role("http", served)
    });

    Ok(Running {
        addr,
        passphrase_source,
        store_display: redacted_url(url),
        shutdown,
        http_stop,
        tasks,
        store,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
    })
}

/// The REST API's keys and its own rate limits (the guard's rates and proxies, no allow
/// list: that names webhook senders, not operators), with their housekeeping task.
fn api_auth(config: &Config) -> Result<(ApiAuth, tokio::task::JoinHandle<()>), PipelineError> {
    let limits = Guards::new(&GuardConfig {
        allow_ips: Vec::new(),
        ..config.guard.clone()
    })
    .map_err(|e| PipelineError::Setup(e.to_string()))?;
    let housekeeping = limits.spawn_housekeeping(Duration::from_secs(60));
    let auth = ApiAuth::new(&config.api)
        .map_err(|e| PipelineError::Setup(e.to_string()))?
        .with_limits(limits);
    Ok((auth, housekeeping))
}

impl Running {
    /// The store the pipeline writes to (tests close it to see the 503 path).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until `stop` resolves or a role dies, then shuts down in phases.
    /// Returns the first role failure, if any.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<(), PipelineError> {
        let failure = tokio::select! {
            () = stop => None,
            Some(joined) = self.tasks.join_next() => Some(describe(joined)),
        };
        let result = self.shutdown().await;
        match failure {
            Some((role, outcome)) => Err(PipelineError::Role {
                role,
                reason: outcome
                    .err()
                    .unwrap_or_else(|| "stopped unexpectedly".to_owned()),
            }),
            None => result,
        }
    }

    /// Stops HTTP, then the roles, each phase within the grace period.
    pub async fn shutdown(mut self) -> Result<(), PipelineError> {
        let _ = self.http_stop.send(true);
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::sleep(self.grace);
        tokio::pin!(deadline);
        let mut first_error = None;
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => match joined {
                    None => break,
                    Some(joined) => {
                        if let (role, Err(reason)) = describe(joined) {
                            first_error.get_or_insert(PipelineError::Role { role, reason });
                        }
                    }
                },
                () = &mut deadline => {
                    tracing::warn!(left = self.tasks.len(), "shutdown deadline passed; stopping the rest");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        self.store.close().await;
        first_error.map_or(Ok(()), Err)
    }
}

fn describe(
    joined: Result<(&'static str, Result<(), String>), tokio::task::JoinError>,
) -> (&'static str, Result<(), String>) {
    match joined {
        Ok(r) => r,
        Err(e) if e.is_panic() => ("task", Err(format!("panicked: {e}"))),
        Err(e) => ("task", Err(e.to_string())),
    }
}
