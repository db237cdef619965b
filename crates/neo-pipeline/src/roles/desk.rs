//! The desk role: one active desk per account. A process takes the store's
//! desk lease before it restores the desk; while another holds it, it stands
//! by and takes over the moment the lease is free (the holder died or its
//! session was cut), after restoring from the store. An active desk that
//! loses its lease stops, so two desks never write for one account. Its
//! market is the one in this process (the in-process bus) or the active
//! market role's, followed over the bus.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_agents::provider::ProviderKind;
use neo_bus::{Bus, ConsumerSpec};
use neo_domain::contracts::CandleV1;
use neo_domain::subject::patterns;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::autonomy::Autonomy;
use neo_engine::desk::{Desk, InstrumentSteps};
use neo_stage::{StageConfig, run_stage};
use neo_store::Lease;

use super::leader::{Active, LeaderState, Leadership};
use super::live::{LiveDesk, ProcessLive};
use super::market::LocalMarket;
use super::view::Publisher;
use super::{Context, Tasks};
use crate::PipelineError;
use crate::desk_reads::DeskReads;
use crate::desk_stage::{DESK_CONSUMER, DeskStage};
use crate::market::freshness::{Outlet, StaleWatch};
use crate::market::{MarketShare, close_tick, follow};

/// The store lease that elects the account's active desk.
pub(crate) const LEASE: &str = "desk";

/// Starts the desk role: active now when the lease is free (so start-up problems
/// show at once), else standing by; either way supervised as the task `desk`.
/// `market` is this process's own market on the in-process bus; without one the
/// desk follows the market role over the bus.
pub(crate) async fn build<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    live: Arc<ProcessLive>,
    market: Option<Arc<LocalMarket>>,
) -> Result<Arc<LeaderState>, PipelineError> {
    let state = Arc::new(LeaderState::default());
    let leadership = Leadership {
        lease: LEASE,
        store: ctx.store.clone(),
        state: state.clone(),
        activate: {
            let (ctx, live, market) = (ctx.clone(), live.clone(), market.clone());
            move |lease| {
                let (ctx, live, market) = (ctx.clone(), live.clone(), market.clone());
                async move { activate(ctx, lease, live, market).await }
            }
        },
        on_lost: {
            let live = live.clone();
            move || live.clear_desk()
        },
    };
    // A desk that follows the market role over the bus may wait for its first
    // history: it takes the lease in its lead task, so the process starts meanwhile.
    leadership
        .start(market.is_some(), tasks, "desk", ctx.shutdown.clone())
        .await?;
    Ok(state)
}

/// Restores the desk from the store and starts its tasks, holding `lease`;
/// `None` when shutdown came while it waited for the market's history.
async fn activate<B: Bus>(
    ctx: Context<B>,
    lease: Lease,
    live: Arc<ProcessLive>,
    market: Option<Arc<LocalMarket>>,
) -> Result<Option<Active>, PipelineError> {
    let mut tasks = Tasks::default();
    let Some(Restored {
        desk,
        autonomy,
        share,
    }) = restore(&ctx, &mut tasks, market.as_deref()).await?
    else {
        lease.release().await;
        return Ok(None);
    };
    let config = &ctx.config;
    let now = (ctx.clock)();
    let orchestrator =
        crate::restore::orchestrator(&config.agents, &ctx.store, &ctx.toolbox, now).await?;
    let instruments = config.market.instrument_ids();
    // HTTP reads the copy the stage publishes after every step, never the locked desk.
    let reads = Arc::new(DeskReads::new(instruments.clone()));
    reads.publish(&crate::desk_stage::lock(&desk), now, true);
    let mut stage = DeskStage::new(
        desk.clone(),
        share.clone(),
        ctx.channels.clone(),
        ctx.clock.clone(),
    )
    .with_flags(ctx.flags.clone())
    .with_slo(ctx.slo.clone())
    .with_reads(reads.clone());
    if let Some(autonomy) = autonomy {
        stage = stage.with_autonomy(autonomy);
    }
    if let Some((orchestrator, memory)) = orchestrator {
        stage = stage.with_agents(agents(&ctx, &mut tasks, orchestrator, memory));
    }
    run_desk_stage(&ctx, &mut tasks, stage);
    let (fb, ch, wk, c, rx) = (
        ctx.flags.clone(),
        ctx.channels.clone(),
        ctx.wake.clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn("flags", crate::flag_watch::run(fb, ch, wk, c, rx));
    freshness(&ctx, &mut tasks, &share);
    upkeep(&ctx, &mut tasks, &desk, &share);
    let max_data_age = Duration::from_secs(config.desk.risk.max_data_age_secs);
    if ctx.embedded.is_none() {
        // Gateways in other processes show what this desk publishes.
        let publisher = Publisher {
            reads: reads.clone(),
            share: share.clone(),
            writer: ctx.writer.clone(),
            clock: ctx.clock.clone(),
            instruments: instruments.clone(),
            max_data_age,
        };
        tasks.spawn_quiet("view", publisher.run(ctx.shutdown.clone()));
    }
    live.set_desk(Arc::new(LiveDesk {
        desk,
        reads,
        share,
        instruments,
        max_data_age,
    }));
    Ok(Some(Active { lease, tasks }))
}

/// A desk restored from the store, warmed on the market's history, with the share it reads.
struct Restored {
    desk: Arc<Mutex<Desk>>,
    autonomy: Option<Autonomy>,
    share: Arc<MarketShare>,
}

/// The market's history first (it makes the indicators ready), then the desk's
/// own state from the store. `None` when shutdown came while it waited.
async fn restore<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    market: Option<&LocalMarket>,
) -> Result<Option<Restored>, PipelineError> {
    let config = &ctx.config;
    let now = (ctx.clock)();
    let setup = |e: &dyn std::fmt::Display| PipelineError::Setup(e.to_string());
    let Some(MarketInput {
        history,
        steps,
        share,
    }) = market_input(ctx, tasks, market).await?
    else {
        return Ok(None);
    };
    let mut desk = Desk::new(config.desk.clone(), steps, now).map_err(|e| setup(&e))?;
    let mut autonomy = if config.strategy.enabled {
        Some(Autonomy::new(config.strategy.clone()).map_err(|e| setup(&e))?)
    } else {
        None
    };
    for candle in &history {
        desk.on_candle(candle);
        if let Some(autonomy) = &mut autonomy {
            // History warms the ensembles up; it is not traded.
            autonomy.observe(candle).map_err(|e| setup(&e))?;
        }
    }
    let restored = crate::restore::load(&ctx.store)
        .await
        .map_err(|e| PipelineError::Setup(format!("restore: {e}")))?;
    desk.restore(restored)
        .map_err(|e| PipelineError::Setup(format!("restore: {e}")))?;
    desk.set_flags(ctx.flags.flags());
    Ok(Some(Restored {
        desk: Arc::new(Mutex::new(desk)),
        autonomy,
        share,
    }))
}

/// What the desk starts on: the history it warms up on, the instruments'
/// increments and the share it reads market data from.
struct MarketInput {
    history: Vec<CandleV1>,
    steps: BTreeMap<InstrumentId, InstrumentSteps>,
    share: Arc<MarketShare>,
}

/// This process's market's input, or one fed from the bus after the market
/// role's stored history (waited for; `None` at shutdown).
async fn market_input<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    market: Option<&LocalMarket>,
) -> Result<Option<MarketInput>, PipelineError> {
    if let Some(local) = market {
        return Ok(Some(MarketInput {
            history: local.share.warm_start(),
            steps: local.steps.clone(),
            share: local.share.clone(),
        }));
    }
    let mut shutdown = ctx.shutdown.clone();
    let Some(warm) = follow::wait_warm(&ctx.store, &mut shutdown).await? else {
        return Ok(None);
    };
    let following = follow::subscribe(&ctx.bus, &warm, (ctx.clock)()).await?;
    let share = Arc::new(MarketShare::default());
    let history = warm.history();
    let mut newest: BTreeMap<InstrumentId, Timestamp> = BTreeMap::new();
    for candle in &history {
        share.remember(candle);
        newest.insert(candle.instrument, candle.ts_open);
    }
    // Each instrument's last close stands as its price until the bus gives its quote.
    for candles in warm.candles.values() {
        if let Some(last) = candles.last() {
            share.push_tick(close_tick(last));
        }
    }
    let (sh, rx) = (share.clone(), ctx.shutdown.clone());
    tasks.spawn("market_ticks", follow::ticks(following.ticks, sh, rx));
    let (sh, rx) = (share.clone(), ctx.shutdown.clone());
    tasks.spawn(
        "market_candles",
        follow::candles(following.candles, sh, newest, rx),
    );
    let (st, sh, c, rx) = (
        ctx.store.clone(),
        share.clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn_quiet("market_feed", follow::follow_feed(st, sh, c, rx));
    Ok(Some(MarketInput {
        history,
        steps: warm.steps,
        share,
    }))
}

/// The desk stage on its durable consumer, waking the relay after each commit.
fn run_desk_stage<B: Bus>(ctx: &Context<B>, tasks: &mut Tasks, stage: DeskStage) {
    let stage_config = StageConfig {
        wait: Duration::from_millis(10),
        wake: Some(ctx.wake.clone()),
        observer: Some(crate::app::stage_metrics(
            DESK_CONSUMER,
            ctx.slo.clone(),
            ctx.clock.clone(),
        )),
        ..StageConfig::new(ConsumerSpec::new(DESK_CONSUMER, patterns::desk_inputs()))
    };
    let (b, s, w, rx) = (
        ctx.bus.clone(),
        ctx.store.clone(),
        ctx.writer.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn("stage", async move {
        run_stage(b, s, w, stage, stage_config, rx)
            .await
            .map(|_| ())
    });
}

/// The LLM agents beside the desk, with the watch on local models.
fn agents<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    orchestrator: Arc<neo_agents::orchestrator::Orchestrator>,
    memory: neo_agents::context::AgentMemory,
) -> crate::agents::DeskAgents {
    let activity = Arc::new(crate::agents::Activity::default());
    let providers = orchestrator
        .llm()
        .map(|llm| llm.providers().to_vec())
        .unwrap_or_default();
    let (a, fb, c, rx) = (
        activity.clone(),
        ctx.flags.clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    );
    // Only local models have a lifecycle to look after.
    if providers.iter().any(|p| p.kind == ProviderKind::Ollama) {
        let ollama = ctx.config.agents.ollama;
        tasks.spawn_quiet(
            "ollama",
            crate::agents::ollama_watch::run(providers, ollama, a, fb, c, rx),
        );
    }
    crate::agents::DeskAgents::new(orchestrator, memory).with_lifecycle(activity, ctx.flags.clone())
}

/// Each instrument's freshness: a stale one is told on every channel (and risk
/// refuses entries on it), whichever process its data comes from.
fn freshness<B: Bus>(ctx: &Context<B>, tasks: &mut Tasks, share: &Arc<MarketShare>) {
    let config = &ctx.config;
    let max_age = Duration::from_secs(config.desk.risk.max_data_age_secs);
    let clock = ctx.clock.clone();
    let watch = StaleWatch::new(config.market.instrument_ids(), max_age, clock());
    let outlet = Outlet {
        writer: ctx.writer.clone(),
        channels: ctx.channels.clone(),
        wake: ctx.wake.clone(),
    };
    let (sh, rx) = (share.clone(), ctx.shutdown.clone());
    tasks.spawn_quiet(
        "freshness",
        crate::market::freshness::run(watch, sh, outlet, clock, rx),
    );
}

/// The active desk's housekeeping: retention, position reconciliation, SLO probes.
fn upkeep<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    desk: &Arc<Mutex<Desk>>,
    share: &Arc<MarketShare>,
) {
    let config = &ctx.config;
    if let Some(keep) = config.store.retention() {
        let (s, c, rx) = (ctx.store.clone(), ctx.clock.clone(), ctx.shutdown.clone());
        let embedded = ctx.embedded.is_some();
        tasks.spawn_quiet("retention", crate::retention::run(s, keep, embedded, c, rx));
    }
    let reconciler = crate::reconcile::Reconciler {
        store: ctx.store.clone(),
        writer: ctx.writer.clone(),
        desk: desk.clone(),
        channels: ctx.channels.clone(),
        wake: ctx.wake.clone(),
        clock: ctx.clock.clone(),
        every: Duration::from_secs(config.positions.reconcile_secs),
    };
    tasks.spawn_quiet("reconcile", reconciler.run(ctx.shutdown.clone()));
    let bus = ctx.bus.clone();
    let (slo, store, sh, c, rx) = (
        ctx.slo.clone(),
        ctx.store.clone(),
        share.clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn_quiet("slo", async move {
        let health = move || bus.health();
        crate::slo_probe::run(slo, store, health, sh, c, rx).await;
    });
}
