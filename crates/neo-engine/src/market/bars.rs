//! Exact OHLCV bars, and a stream of them drawn from the simulated market with
//! the regime really in force at each close, so a backtest can score regime
//! detection against the truth (`neo backtest --data sim:seed=N,bars=M`).

use neo_domain::contracts::CandleV1;
use neo_domain::{Fixed, InstrumentId, Price, Quantity, Timestamp};

use super::config::{InstrumentSpec, SimConfig};
use super::{Regime, SimMarket, interval_nanos};
use crate::risk::ConfigError;

/// One bar in exact numbers, without the per-bar allocations of [`CandleV1`]
/// (a backtest holds millions of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ohlcv {
    /// When the bar opened.
    pub ts_open: Timestamp,
    /// When the bar closed (the time its close became known).
    pub ts_close: Timestamp,
    /// First price.
    pub open: Price,
    /// Highest price.
    pub high: Price,
    /// Lowest price.
    pub low: Price,
    /// Last price.
    pub close: Price,
    /// Traded quantity.
    pub volume: Quantity,
}

impl Ohlcv {
    /// The bar as the contract the OMS and the candle consumers take.
    pub fn candle(&self, instrument: InstrumentId, interval: &str) -> CandleV1 {
        CandleV1 {
            instrument,
            interval: interval.to_owned(),
            ts_open: self.ts_open,
            ts_event: self.ts_close,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
        }
    }
}

impl From<&CandleV1> for Ohlcv {
    fn from(candle: &CandleV1) -> Self {
        Ohlcv {
            ts_open: candle.ts_open,
            ts_close: candle.ts_event,
            open: candle.open,
            high: candle.high,
            low: candle.low,
            close: candle.close,
            volume: candle.volume,
        }
    }
}

/// What to simulate: `sim:seed=N,bars=M[,interval=1m][,instrument=X]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimBarsConfig {
    /// Seed of the market's random streams.
    pub seed: u64,
    /// How many bars to produce.
    pub bars: u64,
    /// Bar length (`1m`, `15m`, `1h`, ...).
    pub interval: String,
    /// The simulated instrument (a preset when NEO has one, else generic at 100.00).
    pub instrument: InstrumentId,
    /// Trades sampled per bar (its open, high, low and close come from them).
    pub ticks_per_bar: u32,
    /// Time of the first bar's open.
    pub start: Timestamp,
}

impl SimBarsConfig {
    /// Seed, length and instrument with the defaults: 1-minute bars, 4 trades a
    /// bar, starting 2024-01-01T00:00:00Z.
    pub fn new(seed: u64, bars: u64, instrument: InstrumentId) -> Self {
        SimBarsConfig {
            seed,
            bars,
            interval: "1m".to_owned(),
            instrument,
            ticks_per_bar: 4,
            start: Timestamp::from_nanos(1_704_067_200_000_000_000),
        }
    }
}

/// A simulated bar and the regime in force at its close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimBar {
    /// The bar.
    pub bar: Ohlcv,
    /// The market's hidden regime when the bar closed.
    pub regime: Regime,
}

/// Bars from a seeded [`SimMarket`]; the same config gives the same bars, byte for byte.
#[derive(Debug, Clone)]
pub struct SimBars {
    market: SimMarket,
    instrument: InstrumentId,
    step_nanos: i64,
    ticks_per_bar: u32,
    next_open: Timestamp,
    remaining: u64,
}

impl SimBars {
    /// A stream of `config.bars` bars; refused when the interval or tick count is unusable.
    pub fn new(config: &SimBarsConfig) -> Result<Self, ConfigError> {
        let interval = interval_nanos(&config.interval).ok_or_else(|| ConfigError {
            section: "sim bars",
            problems: vec![format!(
                "interval = {:?}: expected a number and a unit (1m, 15m, 1h, 1d)",
                config.interval
            )],
        })?;
        let ticks = i64::from(config.ticks_per_bar);
        if ticks == 0 || interval % ticks != 0 {
            return Err(ConfigError {
                section: "sim bars",
                problems: vec![format!(
                    "ticks_per_bar = {}: must be at least 1 and divide the interval",
                    config.ticks_per_bar
                )],
            });
        }
        let sim = SimConfig {
            instruments: vec![InstrumentSpec::preset_or_generic(config.instrument)],
            ..SimConfig::default()
        };
        Ok(SimBars {
            market: SimMarket::new(sim, config.seed, config.start)?,
            instrument: config.instrument,
            step_nanos: interval / ticks,
            ticks_per_bar: config.ticks_per_bar,
            next_open: config.start,
            remaining: config.bars,
        })
    }
}

impl Iterator for SimBars {
    type Item = SimBar;

    fn next(&mut self) -> Option<SimBar> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let ts_open = self.next_open;
        let mut bar: Option<Ohlcv> = None;
        let mut volume = Fixed::ZERO;
        let mut now = ts_open;
        for _ in 0..self.ticks_per_bar {
            now = now.add_nanos(self.step_nanos);
            let tick = self.market.step(now).ok()?.into_iter().next()?;
            volume = volume.checked_add(tick.size.value()).ok()?;
            let p = tick.price;
            bar = Some(match bar {
                None => Ohlcv {
                    ts_open,
                    ts_close: now,
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: Quantity::ZERO,
                },
                Some(b) => Ohlcv {
                    high: b.high.max(p),
                    low: b.low.min(p),
                    close: p,
                    ts_close: now,
                    ..b
                },
            });
        }
        self.next_open = now;
        let mut bar = bar?;
        bar.volume = Quantity::new(volume).ok()?;
        let regime = self.market.true_regime(&self.instrument)?;
        Some(SimBar { bar, regime })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}
