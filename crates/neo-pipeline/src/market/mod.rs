//! Market data for the desk and `GET /v1/tickers`, from the simulation
//! ([`sim`]) or a venue's live feed ([`live`]), with each instrument's
//! freshness watched ([`freshness`]). Market data may be dropped when the desk
//! lags, but only ever an older tick of the same instrument (the newest one is
//! what matters); candles queue, and the oldest is dropped past a bound; both
//! are counted in `neo_market_dropped_total`.

pub mod alt_sink;
pub mod archive;
pub(crate) mod follow;
pub mod freshness;
pub mod live;
pub mod publish;
pub mod replay;
mod sim;
pub(crate) mod snapshot;

pub use sim::{FeedError, SimFeed, run_feed};
pub use snapshot::SnapshotError;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use neo_api::metrics::names;
use neo_api::server::Ticker;
use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{InstrumentId, Quantity, Timestamp};
use neo_engine::desk::InstrumentSteps;
use neo_engine::market::InstrumentSpec;
use tokio::sync::Notify;

/// Candles waiting for the desk before the oldest is dropped.
const CANDLE_QUEUE: usize = 4096;
/// Closed candles kept per instrument for the tools that read history (a day of minutes).
pub const CANDLE_HISTORY: usize = 1_440;
/// What the feed shares: the latest quotes, and what the desk has not consumed yet.
#[derive(Debug, Default)]
pub struct MarketShare {
    inner: Mutex<Shared>,
    /// Rung when new market data waits for the desk.
    pub ready: Notify,
}

#[derive(Debug, Default)]
struct Shared {
    latest: BTreeMap<InstrumentId, (TickV1, Quantity)>,
    pending_ticks: BTreeMap<InstrumentId, TickV1>,
    pending_candles: VecDeque<CandleV1>,
    history: BTreeMap<InstrumentId, VecDeque<CandleV1>>,
    feed: FeedStatus,
}

/// The live feed's connection, for `/ready` (the simulation is always "connected").
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedStatus {
    /// The venue, or none for the simulation.
    pub venue: Option<String>,
    /// Connected and subscribed now.
    pub connected: bool,
    /// Why the last connection or backfill failed, if one did.
    pub last_problem: Option<String>,
}

/// What the desk takes from the share in one go.
#[derive(Debug, Default)]
pub struct MarketBatch {
    /// Closed candles, oldest first.
    pub candles: Vec<CandleV1>,
    /// The newest tick per instrument.
    pub ticks: Vec<TickV1>,
}

impl MarketShare {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic elsewhere cannot leave the maps half-updated: every update is one insert.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a tick: the quote board, and the desk's slot for its instrument.
    pub fn push_tick(&self, tick: TickV1) {
        let mut s = self.lock();
        let volume = s
            .latest
            .get(&tick.instrument)
            .and_then(|(_, v)| v.checked_add(tick.size).ok())
            .unwrap_or(tick.size);
        s.latest.insert(tick.instrument, (tick.clone(), volume));
        if s.pending_ticks.insert(tick.instrument, tick).is_some() {
            metrics::counter!(names::MARKET_DROPPED, "kind" => "tick").increment(1);
        }
    }

    /// Keeps a closed candle in the instrument's recent history (warm-up candles too).
    pub fn remember(&self, candle: &CandleV1) {
        remember(&mut self.lock(), candle);
    }

    /// The instrument's newest `count` closed candles, oldest first.
    pub fn candles(&self, instrument: InstrumentId, count: usize) -> Vec<CandleV1> {
        let s = self.lock();
        let Some(history) = s.history.get(&instrument) else {
            return Vec::new();
        };
        let skip = history.len().saturating_sub(count);
        history.iter().skip(skip).cloned().collect()
    }

    /// Each of `instruments`' newest closed candle's opening time (those with one):
    /// what changed since a copy of the history was last written.
    pub fn newest_candles(
        &self,
        instruments: &[InstrumentId],
    ) -> BTreeMap<InstrumentId, Timestamp> {
        let s = self.lock();
        instruments
            .iter()
            .filter_map(|i| Some((*i, s.history.get(i)?.back()?.ts_open)))
            .collect()
    }

    /// Queues a closed candle for the desk, and keeps it in the history.
    pub fn push_candle(&self, candle: CandleV1) {
        let mut s = self.lock();
        remember(&mut s, &candle);
        if s.pending_candles.len() >= CANDLE_QUEUE {
            s.pending_candles.pop_front();
            metrics::counter!(names::MARKET_DROPPED, "kind" => "candle").increment(1);
        }
        s.pending_candles.push_back(candle);
    }

    /// For a desk starting on this share: the history it warms up on (every
    /// instrument's, oldest first). Candles not yet taken are dropped (they are in
    /// that history) and each instrument's latest quote is queued for it again.
    pub fn warm_start(&self) -> Vec<CandleV1> {
        let mut s = self.lock();
        s.pending_candles.clear();
        s.pending_ticks = s
            .latest
            .iter()
            .map(|(i, (tick, _))| (*i, tick.clone()))
            .collect();
        let mut all: Vec<CandleV1> = s.history.values().flatten().cloned().collect();
        all.sort_by_key(|c| c.ts_open);
        all
    }

    /// Everything the desk has not seen yet.
    pub fn take(&self) -> MarketBatch {
        let mut s = self.lock();
        MarketBatch {
            candles: s.pending_candles.drain(..).collect(),
            ticks: std::mem::take(&mut s.pending_ticks).into_values().collect(),
        }
    }

    /// The newest tick's time of each instrument that has one.
    pub fn last_seen(&self) -> BTreeMap<InstrumentId, Timestamp> {
        self.lock()
            .latest
            .iter()
            .map(|(i, (t, _))| (*i, t.ts_event))
            .collect()
    }

    /// The live feed's connection as last noted.
    pub fn feed_status(&self) -> FeedStatus {
        self.lock().feed.clone()
    }

    pub(crate) fn update_feed(&self, f: impl FnOnce(&mut FeedStatus)) {
        f(&mut self.lock().feed);
    }

    /// The quote board for `GET /v1/tickers`.
    pub fn tickers(&self) -> Vec<Ticker> {
        self.lock()
            .latest
            .values()
            .map(|(t, volume)| Ticker {
                instrument: t.instrument.to_string(),
                price: t.price,
                bid: t.bid,
                ask: t.ask,
                volume: *volume,
                ts: t.ts_event,
            })
            .collect()
    }
}

fn remember(s: &mut Shared, candle: &CandleV1) {
    let history = s.history.entry(candle.instrument).or_default();
    if history.len() >= CANDLE_HISTORY {
        history.pop_front();
    }
    history.push_back(candle.clone());
}

/// A bar's close as a tick (no size, no quote): an instrument's price until its stream speaks.
pub(crate) fn close_tick(c: &CandleV1) -> TickV1 {
    TickV1 {
        instrument: c.instrument,
        price: c.close,
        size: Quantity::ZERO,
        bid: None,
        ask: None,
        ts_event: c.ts_event,
    }
}

/// Each instrument's price and lot increments: the simulation's presets, or a
/// generic spec (a cent, one unit) for instruments it does not know.
pub fn steps(instruments: &[InstrumentId]) -> BTreeMap<InstrumentId, InstrumentSteps> {
    instruments
        .iter()
        .map(|i| {
            let s = InstrumentSpec::preset_or_generic(*i);
            let steps = InstrumentSteps {
                price_step: s.price_step,
                lot_step: s.lot_step,
            };
            (*i, steps)
        })
        .collect()
}

/// A ready market source and the history it warmed up on.
pub struct Warm {
    /// What runs from now on.
    pub source: Source,
    /// Closed candles before now, oldest first (the indicators' warm-up).
    pub history: Vec<CandleV1>,
    /// Each instrument's latest price before now.
    pub last_ticks: Vec<TickV1>,
    /// Each instrument's price and lot increments: the venue's listing where it
    /// gave one, else NEO's presets.
    pub steps: BTreeMap<InstrumentId, InstrumentSteps>,
}

/// Where prices come from once NEO runs.
pub enum Source {
    /// The seeded simulation.
    Sim(SimFeed),
    /// A venue's live feed.
    Live(neo_market::feed::Feed),
    /// A stored history played back.
    Replay(neo_market::replay::Replay),
}

/// Builds the configured source and its history up to `now`: simulated,
/// replayed from `data_dir`'s candle store (or the configured file), or fetched
/// from the venue (a venue that cannot be reached starts cold: the desk
/// refuses entries until its data arrives).
pub async fn prepare(
    config: &crate::config::MarketConfig,
    data_dir: &std::path::Path,
    now: Timestamp,
    clock: crate::Clock,
) -> Result<Warm, FeedError> {
    let instruments = config.instrument_ids();
    if config.source == crate::config::MarketSource::Replay {
        let path = config
            .replay
            .path
            .clone()
            .unwrap_or_else(|| data_dir.join("history"));
        let series = replay::load(&config.replay, &path, &instruments)?;
        let warmup = std::time::Duration::from_secs(u64::from(config.warmup_minutes) * 60);
        return replay::prepare(series, warmup, now).map(|warm| Warm {
            steps: steps(&instruments),
            ..warm
        });
    }
    let Some(feed_config) = config.feed() else {
        let warmup = i64::from(config.warmup_minutes) * 60_000_000_000;
        let mut feed = SimFeed::new(&instruments, config.seed, now.add_nanos(-warmup))?;
        let (history, last_ticks) = feed.warm_up(now)?;
        return Ok(Warm {
            source: Source::Sim(feed),
            history,
            last_ticks,
            steps: steps(&instruments),
        });
    };
    let venue = feed_config.venue;
    let mut feed = neo_market::feed::Feed::new(feed_config, clock);
    let (history, problems) = feed.warm_up().await;
    for problem in &problems {
        tracing::warn!(%venue, error = %problem, "no candle history at start; the feed will backfill once the venue answers");
    }
    // Each instrument's last close stands as its price until the stream's first tick.
    let mut last: BTreeMap<InstrumentId, TickV1> = BTreeMap::new();
    for c in &history {
        last.insert(c.instrument, close_tick(c));
    }
    tracing::info!(%venue, candles = history.len(), "market history fetched");
    let mut grid = steps(&instruments);
    let (listed, problems) = feed.increments().await;
    for problem in &problems {
        tracing::warn!(%venue, error = %problem, "no instrument listing; NEO's preset increments are used");
    }
    for (instrument, i) in listed {
        grid.insert(
            instrument,
            InstrumentSteps {
                price_step: i.price_step,
                lot_step: i.lot_step,
            },
        );
    }
    Ok(Warm {
        source: Source::Live(feed),
        history,
        last_ticks: last.into_values().collect(),
        steps: grid,
    })
}

/// Runs the source until shutdown, feeding `out`.
pub async fn run_source(
    source: Source,
    out: std::sync::Arc<live::Fanout>,
    clock: crate::Clock,
    tick: std::time::Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), FeedError> {
    match source {
        Source::Sim(feed) => run_feed(feed, out, clock, tick, shutdown).await,
        Source::Live(feed) => {
            feed.run(out, shutdown).await;
            Ok(())
        }
        Source::Replay(r) => replay::run(r, out, clock, tick, shutdown).await,
    }
}
