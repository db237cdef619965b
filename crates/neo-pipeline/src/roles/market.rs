//! The market role: the one source of prices (the simulation, a venue's feed
//! or a replay), its archive and alternative data. Over NATS one process is
//! the active market (the store lease `market`) and publishes everything on
//! `market.*`, with a snapshot of its history in the store for desks that
//! start later; the others stand by. In one process on the in-process bus
//! (`neo run`) it simply runs, and the desk reads its share directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use neo_bus::Bus;
use neo_domain::InstrumentId;
use neo_engine::desk::InstrumentSteps;
use neo_store::Lease;

use super::leader::{Active, LeaderState, Leadership};
use super::{Context, Tasks};
use crate::PipelineError;
use crate::config::MarketSource;
use crate::market::live::Fanout;
use crate::market::snapshot::Snapshots;
use crate::market::{MarketShare, Warm, run_source};

/// The store lease that elects the account's active market.
const LEASE: &str = "market";

/// A market running in this process, which a desk here reads directly.
pub(crate) struct LocalMarket {
    pub(crate) share: Arc<MarketShare>,
    pub(crate) steps: BTreeMap<InstrumentId, InstrumentSteps>,
}

/// What the market role became in this process.
pub(crate) enum Built {
    /// Running here for good (the in-process bus): a desk here reads it.
    Local(Arc<LocalMarket>),
    /// Elected over the store: active or standing by.
    Elected(Arc<LeaderState>),
}

/// Starts the market role: on the in-process bus at once; over NATS, active now
/// when the lease is free (so start-up problems show at once), else standing by;
/// supervised as the task `market`.
pub(crate) async fn build<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
) -> Result<Built, PipelineError> {
    if ctx.embedded.is_some() {
        return Ok(Built::Local(Arc::new(start(ctx, tasks).await?)));
    }
    let state = Arc::new(LeaderState::default());
    let leadership = Leadership {
        lease: LEASE,
        store: ctx.store.clone(),
        state: state.clone(),
        activate: {
            let ctx = ctx.clone();
            move |lease| activate(ctx.clone(), lease)
        },
        on_lost: || {},
    };
    leadership
        .start(true, tasks, "market", ctx.shutdown.clone())
        .await?;
    Ok(Built::Elected(state))
}

/// Starts the market's tasks holding `lease`, with its snapshot writer.
async fn activate<B: Bus>(ctx: Context<B>, lease: Lease) -> Result<Option<Active>, PipelineError> {
    let mut tasks = Tasks::default();
    let local = start(&ctx, &mut tasks).await?;
    let snapshots = Snapshots {
        share: local.share.clone(),
        steps: local.steps.clone(),
        instruments: ctx.config.market.instrument_ids(),
        writer: ctx.writer.clone(),
        clock: ctx.clock.clone(),
    };
    tasks.spawn_quiet("market_snapshot", snapshots.run(ctx.shutdown.clone()));
    Ok(Some(Active { lease, tasks }))
}

/// Warms the configured source up and runs it, fanning out to a share, the
/// archive and (over NATS) the bus; over NATS, archives alternative data too.
async fn start<B: Bus>(ctx: &Context<B>, tasks: &mut Tasks) -> Result<LocalMarket, PipelineError> {
    let config = &ctx.config;
    let clock = ctx.clock.clone();
    let Warm {
        source,
        history,
        last_ticks,
        steps,
    } = crate::market::prepare(&config.market, &ctx.data_dir, clock(), clock.clone())
        .await
        .map_err(|e| PipelineError::Setup(e.to_string()))?;
    let share = Arc::new(MarketShare::default());
    for tick in last_ticks {
        share.push_tick(tick);
    }
    for candle in &history {
        share.remember(candle);
    }
    // Over NATS, market data is published for other processes; in one process nobody
    // else reads it, so the in-process bus is spared the traffic.
    let publisher = ctx.embedded.is_none().then(|| {
        let (publisher, task) = crate::market::publish::Publisher::start(ctx.bus.clone());
        drop(task); // ends when the feed (the publisher's only holder) stops
        publisher
    });
    let archiver = archiver(ctx, tasks)?;
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
    let out = Arc::new(Fanout {
        share: share.clone(),
        publisher,
        archiver,
        clock: clock.clone(),
    });
    let tick = Duration::from_millis(config.market.tick_ms);
    let rx = ctx.shutdown.clone();
    tasks.spawn("feed", run_source(source, out, clock, tick, rx));
    Ok(LocalMarket { share, steps })
}

/// The Parquet archive and its thread's task, unless `[market] archive` is off
/// or the source is a replay (history already: archived again it would be filed under today).
fn archiver<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
) -> Result<Option<crate::market::archive::Archiver>, PipelineError> {
    let config = &ctx.config.market;
    if !config.archive || config.source == MarketSource::Replay {
        return Ok(None);
    }
    let (root, candles) = (ctx.data_dir.join("market"), ctx.data_dir.join("history"));
    let (archiver, thread) = crate::market::archive::Archiver::start(
        &root,
        &candles,
        config.archive_days,
        ctx.clock.clone(),
    )
    .map_err(|e| PipelineError::Setup(format!("market archive: {e}")))?;
    // Ends once the feed (the archiver's only holder) has stopped, after the last flush.
    tasks.spawn("archive", async move {
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err("the archive thread panicked"),
        }
    });
    Ok(Some(archiver))
}
