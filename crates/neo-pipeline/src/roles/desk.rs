//! The desk role: one active desk per account. A process takes the store's
//! desk lease before it restores the desk; while another holds it, it stands
//! by and takes over the moment the lease is free (the holder died or its
//! session was cut), after restoring from the store. An active desk that
//! loses its lease stops, so two desks never write for one account.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_agents::provider::ProviderKind;
use neo_bus::{Bus, ConsumerSpec};
use neo_domain::subject::patterns;
use neo_engine::autonomy::Autonomy;
use neo_engine::desk::Desk;
use neo_stage::{StageConfig, run_stage};
use neo_store::Lease;
use tokio::sync::watch;

use super::live::{LiveDesk, ProcessLive};
use super::view::Publisher;
use super::{Context, Tasks};
use crate::PipelineError;
use crate::desk_stage::{DESK_CONSUMER, DeskStage};
use crate::market::freshness::{Outlet, StaleWatch};
use crate::market::{MarketShare, Warm, run_source};

/// The store lease that elects the account's active desk.
pub(crate) const LEASE: &str = "desk";
/// How often a standby asks for the lease (failover takes at most this plus a restore).
const STANDBY_POLL: Duration = Duration::from_millis(250);
/// How often the active desk confirms it still holds the lease.
const LEASE_CHECK: Duration = Duration::from_secs(1);

/// Whether this process's desk is the active one (for `/ready`).
#[derive(Debug, Default)]
pub(crate) struct DeskState {
    active: AtomicBool,
}

impl DeskState {
    /// `active` or `standby`.
    pub(crate) fn describe(&self) -> &'static str {
        if self.active.load(Ordering::Relaxed) {
            "active"
        } else {
            "standby"
        }
    }

    fn set(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }
}

/// Starts the desk role: active now when the lease is free (so start-up problems
/// show at once), else standing by; either way supervised as the task `desk`.
pub(crate) async fn build<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    live: Arc<ProcessLive>,
) -> Result<Arc<DeskState>, PipelineError> {
    let state = Arc::new(DeskState::default());
    let first = match ctx.store.try_lease(LEASE).await? {
        Some(lease) => Some(activate(ctx, lease, &live).await?),
        None => {
            tracing::info!("another process holds the desk lease: standing by to take over");
            None
        }
    };
    state.set(first.is_some());
    tasks.spawn("desk", lead(ctx.clone(), live, state.clone(), first));
    Ok(state)
}

/// Leads while holding the lease; stands by while another process does. A lease
/// lost to a store outage or a cut session drops the desk (its state may be behind
/// what another desk wrote meanwhile) and waits to lead again, restored afresh.
async fn lead<B: Bus>(
    ctx: Context<B>,
    live: Arc<ProcessLive>,
    state: Arc<DeskState>,
    mut active: Option<Active>,
) -> Result<(), String> {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let current = match active.take() {
            Some(current) => current,
            None => {
                let Some(lease) = wait_for_lease(&ctx, &mut shutdown).await else {
                    return Ok(());
                };
                let started = tokio::time::Instant::now();
                let current = activate(&ctx, lease, &live)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::warn!(
                    restore_ms = started.elapsed().as_millis(),
                    "took over as the active desk"
                );
                current
            }
        };
        state.set(true);
        match current.run(shutdown.clone()).await {
            Ended::Shutdown => return Ok(()),
            Ended::Failed(reason) => return Err(reason),
            Ended::LostLease(reason) => {
                state.set(false);
                live.clear_desk();
                tracing::warn!(%reason, "lost the desk lease: the desk stopped and stands by");
            }
        }
    }
}

/// The lease once this process may lead, `None` at shutdown.
async fn wait_for_lease<B: Bus>(
    ctx: &Context<B>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Lease> {
    let mut failures = 0u32;
    loop {
        tokio::select! {
            () = tokio::time::sleep(STANDBY_POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return None;
        }
        match ctx.store.try_lease(LEASE).await {
            Ok(Some(lease)) => return Some(lease),
            Ok(None) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "a standby desk cannot reach the store");
                }
            }
        }
    }
}

/// The active desk: its lease and its own tasks.
struct Active {
    lease: Lease,
    tasks: Tasks,
}

/// How an active desk's run ended.
enum Ended {
    Shutdown,
    Failed(String),
    LostLease(String),
}

impl Active {
    /// Runs until shutdown, a task's end, or the lease's loss (then everything stops).
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Ended {
        let mut check = tokio::time::interval(LEASE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ended = loop {
            tokio::select! {
                _ = check.tick() => {
                    if let Err(e) = self.lease.check().await {
                        break Ended::LostLease(e.to_string());
                    }
                }
                next = self.tasks.next() => match next {
                    None => break Ended::Shutdown,
                    Some((name, Err(e))) => break Ended::Failed(format!("{name}: {e}")),
                    Some((name, Ok(()))) if !*shutdown.borrow() => {
                        break Ended::Failed(format!("{name} stopped unexpectedly"));
                    }
                    Some(_) => {}
                },
                _ = shutdown.changed() => {}
            }
        };
        if !matches!(ended, Ended::Shutdown) {
            self.tasks.abort_all();
        }
        while self.tasks.next().await.is_some() {}
        self.lease.release().await;
        ended
    }
}

/// Restores the desk from the store and starts its tasks, holding `lease`.
async fn activate<B: Bus>(
    ctx: &Context<B>,
    lease: Lease,
    live: &ProcessLive,
) -> Result<Active, PipelineError> {
    let config = &ctx.config;
    let Restored {
        desk,
        autonomy,
        source,
        share,
    } = restore(ctx).await?;
    let now = (ctx.clock)();
    let orchestrator =
        crate::restore::orchestrator(&config.agents, &ctx.store, &ctx.toolbox, now).await?;
    let mut tasks = Tasks::default();
    let mut stage = DeskStage::new(
        desk.clone(),
        share.clone(),
        ctx.channels.clone(),
        ctx.clock.clone(),
    )
    .with_flags(ctx.flags.clone())
    .with_slo(ctx.slo.clone());
    if let Some(autonomy) = autonomy {
        stage = stage.with_autonomy(autonomy);
    }
    if let Some((orchestrator, memory)) = orchestrator {
        stage = stage.with_agents(agents(ctx, &mut tasks, orchestrator, memory));
    }
    run_desk_stage(ctx, &mut tasks, stage);
    let (fb, ch, wk, c, rx) = (
        ctx.flags.clone(),
        ctx.channels.clone(),
        ctx.wake.clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    );
    tasks.spawn("flags", crate::flag_watch::run(fb, ch, wk, c, rx));
    market(ctx, &mut tasks, source, &share)?;
    upkeep(ctx, &mut tasks, &desk, &share);
    let max_data_age = Duration::from_secs(config.desk.risk.max_data_age_secs);
    let instruments = config.market.instrument_ids();
    if ctx.embedded.is_none() {
        // Gateways in other processes show what this desk publishes.
        let publisher = Publisher {
            desk: desk.clone(),
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
        share,
        instruments,
        max_data_age,
    }));
    Ok(Active { lease, tasks })
}

/// A desk restored from the store, warmed on the market's history, with its feed.
struct Restored {
    desk: Arc<Mutex<Desk>>,
    autonomy: Option<Autonomy>,
    source: crate::market::Source,
    share: Arc<MarketShare>,
}

/// The market first (its warm-up history makes the indicators ready), then the
/// desk's own state from the store.
async fn restore<B: Bus>(ctx: &Context<B>) -> Result<Restored, PipelineError> {
    let config = &ctx.config;
    let now = (ctx.clock)();
    let setup = |e: &dyn std::fmt::Display| PipelineError::Setup(e.to_string());
    let Warm {
        source,
        history,
        last_ticks,
        steps,
    } = crate::market::prepare(&config.market, &ctx.data_dir, now, ctx.clock.clone())
        .await
        .map_err(|e| setup(&e))?;
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
    let share = Arc::new(MarketShare::default());
    for tick in last_ticks {
        share.push_tick(tick);
    }
    for candle in &history {
        share.remember(candle);
    }
    Ok(Restored {
        desk: Arc::new(Mutex::new(desk)),
        autonomy,
        source,
        share,
    })
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

/// The feed and where its data goes: the desk's share, the bus (over NATS),
/// the archive; alternative data off the bus; each instrument's freshness.
fn market<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    source: crate::market::Source,
    share: &Arc<MarketShare>,
) -> Result<(), PipelineError> {
    let config = &ctx.config;
    let clock = ctx.clock.clone();
    // Over NATS, market data is published for other processes; in one process nobody
    // else reads it, so the in-process bus is spared the traffic.
    let publisher = if ctx.embedded.is_none() {
        let (publisher, task) = crate::market::publish::Publisher::start(ctx.bus.clone());
        drop(task); // ends when the feed (the publisher's only holder) stops
        Some(publisher)
    } else {
        None
    };
    // A replay is history already: archiving it again would file it under today.
    let replaying = config.market.source == crate::config::MarketSource::Replay;
    let archiver = if config.market.archive && !replaying {
        let (root, candles) = (ctx.data_dir.join("market"), ctx.data_dir.join("history"));
        let (archiver, thread) = crate::market::archive::Archiver::start(
            &root,
            &candles,
            config.market.archive_days,
            clock.clone(),
        )
        .map_err(|e| PipelineError::Setup(format!("market archive: {e}")))?;
        // Ends once the feed (the archiver's only holder) has stopped, after the last flush.
        tasks.spawn("archive", async move {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => Ok(()),
                _ => Err("the archive thread panicked"),
            }
        });
        Some(archiver)
    } else {
        None
    };
    if ctx.embedded.is_none() {
        // Over NATS, alternative data published on alt.> is archived too.
        let (b, root, c, rx) = (
            ctx.bus.clone(),
            ctx.data_dir.join("market"),
            clock.clone(),
            ctx.shutdown.clone(),
        );
        tasks.spawn("alt", crate::market::alt_sink::run(b, root, c, rx));
    }
    let out = Arc::new(crate::market::live::Fanout {
        share: share.clone(),
        publisher,
        archiver,
        clock: clock.clone(),
    });
    let tick = Duration::from_millis(config.market.tick_ms);
    let (c, rx) = (clock.clone(), ctx.shutdown.clone());
    tasks.spawn("market", run_source(source, out, c, tick, rx));
    let max_age = Duration::from_secs(config.desk.risk.max_data_age_secs);
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
    Ok(())
}

/// The active desk's housekeeping: retention, position reconciliation, SLO probes.
fn upkeep<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    desk: &Arc<Mutex<Desk>>,
    share: &Arc<MarketShare>,
) {
    let config = &ctx.config;
    if config.store.retention_days > 0 {
        let keep = Duration::from_secs(u64::from(config.store.retention_days) * 86_400);
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
