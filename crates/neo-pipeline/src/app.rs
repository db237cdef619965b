//! Starting NEO's roles in one process and stopping them in phases: HTTP
//! stops accepting first, then the feed and the stages finish what they hold,
//! then the relay drains the outbox, then the writer and the store close. A
//! role that dies ends the whole process with its error, so the supervisor
//! (`neo run`, or the orchestrator of `neo serve`) restarts it from the store
//! instead of limping on.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use neo_api::flags::FlagBook;
use neo_api::metrics::{Metrics, names};
use neo_api::server::GatewayConfig;
use neo_api::slo::SloBook;
use neo_bus::{Bus, ConsumerSpec, JetStreamBus, MemoryBus};
use neo_domain::subject::patterns;
use neo_engine::slo::SloName;
use neo_stage::{RelayConfig, StageObserver, StageStats, replay_embedded, run_relay};
use neo_store::{Store, WriterConfig};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::config::{BusKind, Config, redacted_url};
use crate::desk_stage::DESK_CONSUMER;
use crate::notify_stage::NOTIFY_CONSUMER;
use crate::roles::live::ProcessLive;
use crate::roles::market::Built;
use crate::roles::view::Follower;
use crate::roles::{Context, Role, Tasks, has};
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
    /// The market role's history could not be read (a desk following it over the bus).
    #[error("market history: {0}")]
    MarketHistory(#[from] crate::market::SnapshotError),
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
    tasks: Tasks,
    store: Store,
    grace: Duration,
}

/// Starts every role in this process on `config` (`neo run`), storing data under `data_dir`.
pub async fn start(
    config: Config,
    data_dir: &Path,
    clock: Clock,
) -> Result<Running, PipelineError> {
    // Boxed: the roles' start-up is a large future, kept off the caller's stack.
    Box::pin(start_roles(config, data_dir, clock, &Role::ALL)).await
}

/// Starts the chosen roles (`neo serve`), the others running in other processes:
/// that needs a bus and a store those processes share, NATS and PostgreSQL.
pub async fn serve(
    config: Config,
    data_dir: &Path,
    clock: Clock,
    roles: &[Role],
) -> Result<Running, PipelineError> {
    let mut problems = Vec::new();
    if config.bus.kind != BusKind::Nats {
        problems.push("[bus] kind = \"nats\" (the roles talk over NATS JetStream)");
    }
    let postgres = config
        .store
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres:") || u.starts_with("postgresql:"));
    if !postgres {
        problems.push("[store] url = \"postgres://...\" (the roles share one PostgreSQL)");
    }
    let g = &config.gateway;
    let keyed = g.passphrase.is_some() || !g.strategy_passphrases.is_empty();
    if has(roles, Role::Gateway) && !keyed && g.signing_secrets.is_empty() {
        // A generated one would differ per gateway machine.
        problems.push(
            "[gateway] passphrase (or NEO_GATEWAY__PASSPHRASE) so every gateway takes the same alerts",
        );
    }
    if roles.is_empty() {
        problems.push("at least one --role (gateway, desk, market, notify or all)");
    }
    if !problems.is_empty() {
        return Err(PipelineError::Setup(format!(
            "neo serve runs roles as separate processes and needs {}; `neo run` runs \
             every role in one process on the embedded defaults",
            problems.join(" and ")
        )));
    }
    Box::pin(start_roles(config, data_dir, clock, roles)).await
}

async fn start_roles(
    config: Config,
    data_dir: &Path,
    clock: Clock,
    roles: &[Role],
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
    // Only a gateway takes webhooks: other roles neither need nor make a passphrase.
    let passphrase_source = if has(roles, Role::Gateway) {
        passphrase::ensure(&mut gateway, data_dir)?
    } else {
        "none needed (no gateway role in this process)".to_owned()
    };
    let url = config.store_url(data_dir);
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let setup = Setup {
        config,
        gateway,
        store,
        clock,
        passphrase_source,
        store_display: redacted_url(&url),
        data_dir: data_dir.to_owned(),
    };
    match setup.config.bus.kind {
        BusKind::Embedded => {
            let bus = MemoryBus::new();
            Box::pin(launch(setup, bus.clone(), Some(bus), roles)).await
        }
        BusKind::Nats => {
            let bus = JetStreamBus::connect(setup.config.bus.nats()).await?;
            Box::pin(launch(setup, bus, None, roles)).await
        }
    }
}

/// What start-up prepared before the bus.
struct Setup {
    config: Config,
    gateway: GatewayConfig,
    store: Store,
    clock: Clock,
    passphrase_source: String,
    store_display: String,
    data_dir: std::path::PathBuf,
}

/// Counts a stage's outcomes in `neo_stage_messages_total` and its dead letters,
/// and in the daily-success and message-loss SLOs.
pub(crate) fn stage_metrics(stage: &'static str, slo: SloBook, clock: Clock) -> StageObserver {
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

/// Builds the shared context, then each chosen role, then the relay and HTTP.
async fn launch<B: Bus>(
    setup: Setup,
    bus: B,
    embedded: Option<MemoryBus>,
    roles: &[Role],
) -> Result<Running, PipelineError> {
    let Setup {
        config,
        gateway,
        store,
        clock,
        passphrase_source,
        store_display,
        data_dir,
    } = setup;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (http_stop, http_stop_rx) = watch::channel(false);
    let mut tasks = Tasks::default();
    // Transactions of at most 64 units: an accept never waits behind a huge desk batch
    // (measured: accept p99 at 1,000 alerts/s 20 ms with 512, 13 ms with 64).
    let (writer, writer_task) = store.writer(WriterConfig {
        max_units: 64,
        ..WriterConfig::default()
    });
    tasks.spawn("writer", writer_task);
    let metrics = Metrics::install().map_err(|e| PipelineError::Setup(e.to_string()))?;
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
    let ctx = Context {
        slo: SloBook::new(&crate::config::objectives(&config.slo)),
        channels: config.notify.channels(),
        config: Arc::new(config),
        data_dir,
        store: store.clone(),
        writer,
        bus,
        embedded,
        clock,
        shutdown: shutdown_rx,
        wake: Arc::new(Notify::new()),
        flags,
        toolbox: crate::agents::McpToolbox::default(),
    };
    subscribe(&ctx).await?;

    // Where the desk runs elsewhere (or may, on standby), HTTP shows its published view.
    let follower = ctx.embedded.is_none().then(|| {
        let follower = Arc::new(Follower::new(ctx.clock.clone()));
        let (f, s, rx) = (follower.clone(), store.clone(), ctx.shutdown.clone());
        tasks.spawn_quiet("follow", f.run(s, rx));
        follower
    });
    let health_bus = ctx.bus.clone();
    let live = Arc::new(ProcessLive::new(
        Box::new(move || health_bus.health()),
        follower,
    ));
    let market = if has(roles, Role::Market) {
        Some(crate::roles::market::build(&ctx, &mut tasks).await?)
    } else {
        None
    };
    let (local_market, market_state) = match market {
        Some(Built::Local(local)) => (Some(local), None),
        Some(Built::Elected(state)) => (None, Some(state)),
        None => (None, None),
    };
    let desk_state = if has(roles, Role::Desk) {
        Some(crate::roles::desk::build(&ctx, &mut tasks, live.clone(), local_market).await?)
    } else {
        let (fb, rx) = (ctx.flags.clone(), ctx.shutdown.clone());
        tasks.spawn_quiet("flags", crate::flag_watch::follow(fb, rx));
        None
    };
    if has(roles, Role::Notify) {
        crate::roles::notify::build(&ctx, &mut tasks)?;
    }
    let (b, s, wk, rx) = (
        ctx.bus.clone(),
        store.clone(),
        ctx.wake.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn_quiet("relay", async move {
        run_relay(b, s, RelayConfig::default(), wk, rx).await;
    });
    let chosen: Vec<Role> = roles.to_vec();
    let report = move || {
        let mut out = serde_json::Map::new();
        for role in &chosen {
            let state = match (role, &desk_state, &market_state) {
                (Role::Desk, Some(desk), _) => desk.describe(),
                (Role::Market, _, Some(market)) => market.describe(),
                _ => "running",
            };
            out.insert(role.as_str().to_owned(), json!(state));
        }
        serde_json::Value::Object(out)
    };
    let http = crate::roles::http::Http {
        gateway,
        full: has(roles, Role::Gateway),
        desk: has(roles, Role::Desk),
        live,
        metrics,
        roles: Arc::new(report),
        stop: http_stop_rx,
    };
    let addr = crate::roles::http::serve_http(&ctx, &mut tasks, http).await?;
    Ok(Running {
        addr,
        passphrase_source,
        store_display,
        shutdown,
        http_stop,
        tasks,
        store,
        grace: Duration::from_secs(ctx.config.server.shutdown_grace_secs),
    })
}

/// The stages' durable consumers and what each reads.
pub(crate) fn stage_consumers() -> [(&'static str, neo_domain::SubjectPattern); 2] {
    [
        (DESK_CONSUMER, patterns::desk_inputs()),
        (NOTIFY_CONSUMER, patterns::notifications()),
    ]
}

/// Creates the stages' durable consumers before anything is relayed into them (so
/// nothing published before a role starts is missed) and, on the in-process bus,
/// hands them what the store holds unfinished (nothing older than the retention:
/// its inbox rows may be gone, so it could not be told handled).
async fn subscribe<B: Bus>(ctx: &Context<B>) -> Result<(), PipelineError> {
    let expired = ctx.config.store.retention().map(|keep| {
        let keep = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
        (ctx.clock)().add_nanos(keep.saturating_neg())
    });
    for (consumer, filter) in stage_consumers() {
        drop(
            ctx.bus
                .subscribe(ConsumerSpec::new(consumer, filter.clone()))
                .await?,
        );
        if let Some(memory) = &ctx.embedded {
            let n = replay_embedded(memory, &ctx.store, consumer, &filter, expired)
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
    Ok(())
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
            Some(ended) = self.tasks.next() => Some(ended),
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

    /// Stops in three phases, each with its share of `[server] shutdown_grace_secs`:
    /// intake (HTTP finishes the requests in hand, a quarter), work (the feed, the
    /// stages, deliveries and the relay finish what they hold, a half), store (the
    /// writer commits what it was given, a quarter); then the store closes. A phase
    /// that overruns names its tasks still running and stops them.
    pub async fn shutdown(mut self) -> Result<(), PipelineError> {
        let quarter = self.grace / 4;
        let mut first_error = None;
        let _ = self.http_stop.send(true);
        self.phase("intake", quarter, |n| n == "http", &mut first_error)
            .await;
        let _ = self.shutdown.send(true);
        self.phase("work", quarter * 2, |n| n != "writer", &mut first_error)
            .await;
        self.phase("store", quarter, |_| true, &mut first_error)
            .await;
        self.store.close().await;
        first_error.map_or(Ok(()), Err)
    }

    /// Waits until no task `part` names runs, or the deadline (then stops them).
    async fn phase(
        &mut self,
        name: &'static str,
        deadline: Duration,
        part: impl Fn(&str) -> bool + Copy,
        first_error: &mut Option<PipelineError>,
    ) {
        let until = tokio::time::sleep(deadline);
        tokio::pin!(until);
        while self.tasks.running().iter().any(|n| part(n)) {
            tokio::select! {
                ended = self.tasks.next() => match ended {
                    None => return,
                    Some((role, Err(reason))) => {
                        first_error.get_or_insert(PipelineError::Role { role, reason });
                    }
                    Some(_) => {}
                },
                () = &mut until => {
                    let left: Vec<&str> = self.tasks.running().into_iter().filter(|n| part(n)).collect();
                    tracing::warn!(phase = name, ?left, "shutdown phase overran its deadline; stopping what is left");
                    self.tasks.abort_where(part);
                    while self.tasks.running().iter().any(|n| part(n)) && self.tasks.next().await.is_some() {}
                    return;
                }
            }
        }
    }
}
