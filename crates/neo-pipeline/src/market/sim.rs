//! The simulated market shell: steps the core's `SimMarket` on a timer, turns
//! ticks into one-minute candles, and hands both to the share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::InstrumentSteps;
use neo_engine::market::{CandleAggregator, InstrumentSpec, SimConfig, SimMarket};
use tokio::sync::watch;

use neo_market::event::MarketEvent;

use super::live::Fanout;
use crate::Clock;

/// Seconds between simulated ticks during warm-up.
const WARMUP_STEP_SECS: i64 = 10;

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
pub struct FeedError(pub(super) String);

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
        let instruments: Vec<InstrumentId> = self.specs.iter().map(|s| s.instrument).collect();
        super::steps(&instruments)
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
    out: Arc<Fanout>,
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
        let closed = candles.into_iter().map(|candle| MarketEvent::Candle {
            candle,
            closed: true,
        });
        let events = closed
            .chain(ticks.into_iter().map(MarketEvent::Tick))
            .collect();
        out.deliver("sim", events);
    }
}
