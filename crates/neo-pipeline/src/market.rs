//! The simulated market shell: steps the core's `SimMarket` on a timer, turns
//! ticks into one-minute candles, and hands both to the desk stage and to
//! `GET /v1/tickers`. Market data may be dropped when the desk lags, but only
//! ever an older tick of the same instrument (the newest one is what matters);
//! candles queue, and the oldest is dropped past a bound; both are counted in
//! `neo_market_dropped_total`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use neo_api::metrics::names;
use neo_api::server::Ticker;
use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{InstrumentId, Quantity, Timestamp};
use neo_engine::desk::InstrumentSteps;
use neo_engine::market::{CandleAggregator, InstrumentSpec, SimConfig, SimMarket};
use tokio::sync::{Notify, watch};

use crate::Clock;

/// Candles waiting for the desk before the oldest is dropped.
const CANDLE_QUEUE: usize = 4096;
/// Closed candles kept per instrument for the tools that read history (a day of minutes).
pub const CANDLE_HISTORY: usize = 1_440;
/// Seconds between simulated ticks during warm-up.
const WARMUP_STEP_SECS: i64 = 10;

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

    /// Everything the desk has not seen yet.
    pub fn take(&self) -> MarketBatch {
        let mut s = self.lock();
        MarketBatch {
            candles: s.pending_candles.drain(..).collect(),
            ticks: std::mem::take(&mut s.pending_ticks).into_values().collect(),
        }
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

/// The seeded simulation and its candle aggregator.
#[derive(Debug)]
pub struct SimFeed {
    sim: SimMarket,
    candles: CandleAggregator,
    specs: Vec<InstrumentSpec>,
}

/// Why the feed could not start or step.
#[derive(Debug, thiserror::Error)]
#[error("market feed: {0}")]
pub struct FeedError(String);

impl SimFeed {
    /// A simulation of `instruments` from `start`.
    pub fn new(
        instruments: &[InstrumentId],
        seed: u64,
        start: Timestamp,
    ) -> Result<Self, FeedError> {
        let config = SimConfig::for_instruments(instruments);
        let specs = config.instruments.clone();
        let sim = SimMarket::new(config, seed, start).map_err(|e| FeedError(e.to_string()))?;
        let candles = CandleAggregator::new("1m").map_err(|e| FeedError(e.to_string()))?;
        Ok(SimFeed {
            sim,
            candles,
            specs,
        })
    }

    /// Each instrument's price and lot increments, for the desk.
    pub fn steps(&self) -> BTreeMap<InstrumentId, InstrumentSteps> {
        self.specs
            .iter()
            .map(|s| {
                let steps = InstrumentSteps {
                    price_step: s.price_step,
                    lot_step: s.lot_step,
                };
                (s.instrument, steps)
            })
            .collect()
    }

    /// Moves to `now`; returns the ticks and any candles they closed.
    pub fn step(&mut self, now: Timestamp) -> Result<(Vec<TickV1>, Vec<CandleV1>), FeedError> {
        let ticks = self.sim.step(now).map_err(|e| FeedError(e.to_string()))?;
        let mut closed = Vec::new();
        for tick in &ticks {
            if let Ok(Some(candle)) = self.candles.push(tick) {
                closed.push(candle);
            }
        }
        Ok((ticks, closed))
    }

    /// Simulates from the start up to `now` in 10-second steps: the history the
    /// indicators warm up on. Returns the candles and the last tick of each instrument.
    pub fn warm_up(&mut self, now: Timestamp) -> Result<(Vec<CandleV1>, Vec<TickV1>), FeedError> {
        let mut candles = Vec::new();
        let mut last = BTreeMap::new();
        let mut t = self.sim.now();
        while t < now {
            t = t.add_nanos(WARMUP_STEP_SECS * 1_000_000_000).min(now);
            let (ticks, closed) = self.step(t)?;
            candles.extend(closed);
            for tick in ticks {
                last.insert(tick.instrument, tick);
            }
        }
        Ok((candles, last.into_values().collect()))
    }
}

/// Steps the feed every `tick` until shutdown, sharing ticks and candles.
pub async fn run_feed(
    mut feed: SimFeed,
    share: Arc<MarketShare>,
    clock: Clock,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), FeedError> {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        let now = clock();
        let (ticks, candles) = feed.step(now)?;
        for candle in candles {
            share.push_candle(candle);
        }
        for t in ticks {
            share.push_tick(t);
        }
        share.ready.notify_one();
    }
}
