//! The simulated market: per instrument, a geometric random walk whose drift,
//! volatility and mean reversion follow a hidden Markov chain of regimes, with a
//! slow pull of the log price toward its initial value (the anchor).
//!
//! Realism rules (checked by `market/tests_realism.rs`): one-minute returns are
//! uncorrelated (no regime drifts more than a few hundredths of its volatility per
//! minute, and the range's reversion is weak), so no simple rule such as an
//! EMA cross can farm the simulator; regimes differ mostly by volatility; and the
//! anchor (a half-life of weeks) keeps the price in a band of its initial value
//! however long the run, so exact prices never overflow or reach zero.
//!
//! The caller supplies time ([`SimMarket::step`]), so a backtest can run it as
//! fast as it likes and a live shell can tick it from a real clock; the same seed
//! and the same times give the same ticks, byte for byte. Each instrument draws
//! from its own random stream (derived from the seed and its symbol), so adding an
//! instrument does not change the paths of the others.
//!
//! Determinism note: the draws use `ln`, `sin`, `cos` and `exp` from the platform's
//! math library; runs are byte-identical on one platform, and across platforms
//! unless two libms differ in a last bit that then changes a rounded price.

use std::collections::BTreeMap;

use neo_domain::contracts::TickV1;
use neo_domain::{Fixed, InstrumentId, Price, Quantity, Rounding, Timestamp};

use super::Regime;
use super::config::{InstrumentSpec, RegimeSet, SimConfig};
use super::rng::Xoshiro256;
use crate::risk::ConfigError;

/// Most sub-steps one call integrates, so an absurd gap cannot stall the caller.
const MAX_SUBSTEPS: u64 = 100_000;
/// Log-normal spread of trade sizes around their mean.
const SIZE_SIGMA: f64 = 0.75;
/// The mid stays within this factor of its initial price (a guard, not a model).
const PRICE_BAND: f64 = 1_000.0;

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The caller's clock went backwards; the simulator only moves forward.
    #[error("time went backwards: last step at {last}, asked for {now}")]
    TimeWentBackwards {
        /// The previous step's time.
        last: Timestamp,
        /// The time asked for.
        now: Timestamp,
    },
}

/// The hidden and visible state of one instrument.
#[derive(Debug, Clone)]
struct InstrumentState {
    spec: InstrumentSpec,
    rng: Xoshiro256,
    regime: Regime,
    /// Natural log of the mid price.
    log_mid: f64,
    /// Log price a range reverts to (where the current range began).
    level: f64,
    /// The initial log price, which the anchor pulls toward.
    anchor: f64,
    log_floor: f64,
    log_ceiling: f64,
    last: Option<TickV1>,
}

/// FNV-1a of a symbol: mixes the instrument into its random stream's seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl InstrumentState {
    fn new(spec: InstrumentSpec, seed: u64, regimes: &RegimeSet) -> Self {
        let mut rng = Xoshiro256::seed_from(seed ^ fnv1a(spec.instrument.as_str()));
        let regime = pick_weighted(&mut rng, regimes, None).unwrap_or(Regime::Range);
        let log_mid = spec.initial_price.value().to_f64().ln();
        let band = PRICE_BAND.ln();
        InstrumentState {
            spec,
            rng,
            regime,
            log_mid,
            level: log_mid,
            anchor: log_mid,
            log_floor: log_mid - band,
            log_ceiling: log_mid + band,
            last: None,
        }
    }

    /// Advances the hidden state by `secs` seconds (one sub-step); `anchor_rate` is
    /// the share of the distance to the anchor closed per second.
    fn advance(&mut self, secs: f64, regimes: &RegimeSet, anchor_rate: f64) {
        let params = regimes.get(self.regime);
        let switch_probability = 1.0 - (-secs / params.mean_duration_secs).exp();
        if self.rng.next_f64() < switch_probability
            && let Some(next) = pick_weighted(&mut self.rng, regimes, Some(self.regime))
        {
            self.regime = next;
            self.level = self.log_mid;
        }
        let p = regimes.get(self.regime);
        let minutes = secs / 60.0;
        let sigma = self.spec.volatility;
        let pull = (p.mean_reversion * minutes).min(1.0) * (self.log_mid - self.level)
            + (anchor_rate * secs).min(1.0) * (self.log_mid - self.anchor);
        let shock = p.vol_multiplier * sigma * minutes.sqrt() * self.rng.next_normal();
        let next = self.log_mid + p.drift * sigma * minutes - pull + shock;
        self.log_mid = next.clamp(self.log_floor, self.log_ceiling);
    }

    /// A trade at the bid or the ask (a random aggressor) with the quote around it.
    fn tick(&mut self, now: Timestamp) -> Option<TickV1> {
        let step = self.spec.price_step.value();
        let spread = Fixed::from_int(i64::from(self.spec.spread_ticks))
            .checked_mul(step)
            .ok()?;
        let half_spread = spread.to_f64() / 2.0;
        let raw_bid = Fixed::from_f64(self.log_mid.exp() - half_spread, Rounding::Floor).ok()?;
        let bid = raw_bid.round_to_step(step, Rounding::Floor).ok()?.max(step);
        let ask = bid.checked_add(spread).ok()?;
        let buyer_aggressor = self.rng.next_f64() < 0.5;
        let price = if buyer_aggressor { ask } else { bid };
        let size = self.trade_size();
        let tick = TickV1 {
            instrument: self.spec.instrument,
            price: Price::new(price).ok()?,
            size,
            bid: Some(Price::new(bid).ok()?),
            ask: Some(Price::new(ask).ok()?),
            ts_event: now,
        };
        self.last = Some(tick.clone());
        Some(tick)
    }

    /// Log-normal around the mean size, rounded to whole lots, at least one lot.
    fn trade_size(&mut self) -> Quantity {
        let z = self.rng.next_normal();
        let factor = (SIZE_SIGMA * z - SIZE_SIGMA * SIZE_SIGMA / 2.0).exp();
        let lot = self.spec.lot_step.value();
        let size = Fixed::from_f64(
            self.spec.trade_size.value().to_f64() * factor,
            Rounding::HalfEven,
        )
        .and_then(|s| s.round_to_step(lot, Rounding::HalfEven))
        .unwrap_or(lot)
        .max(lot);
        Quantity::new(size).unwrap_or(self.spec.lot_step)
    }
}

/// Draws a regime by weight, excluding `except` (the one that just ended); `None`
/// when every candidate weighs zero (then the regime does not change).
fn pick_weighted(
    rng: &mut Xoshiro256,
    regimes: &RegimeSet,
    except: Option<Regime>,
) -> Option<Regime> {
    let candidates = Regime::ALL.iter().filter(|r| Some(**r) != except);
    let total: f64 = candidates.clone().map(|r| regimes.get(*r).weight).sum();
    if total <= 0.0 {
        return None;
    }
    let mut target = rng.next_f64() * total;
    let mut chosen = None;
    for regime in candidates {
        let weight = regimes.get(*regime).weight;
        if weight <= 0.0 {
            continue;
        }
        chosen = Some(*regime);
        if target < weight {
            break;
        }
        target -= weight;
    }
    chosen
}

/// A seeded, regime-switching market for a set of instruments.
#[derive(Debug, Clone)]
pub struct SimMarket {
    regimes: RegimeSet,
    max_substep_secs: f64,
    /// Share of the distance to the anchor closed per second.
    anchor_rate: f64,
    instruments: Vec<InstrumentState>,
    index: BTreeMap<InstrumentId, usize>,
    now: Timestamp,
}

impl SimMarket {
    /// A market at `start`; the same config and seed always give the same market.
    pub fn new(config: SimConfig, seed: u64, start: Timestamp) -> Result<Self, ConfigError> {
        config.validate()?;
        let instruments: Vec<InstrumentState> = config
            .instruments
            .into_iter()
            .map(|spec| InstrumentState::new(spec, seed, &config.regimes))
            .collect();
        let index = instruments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.spec.instrument, i))
            .collect();
        Ok(SimMarket {
            regimes: config.regimes,
            max_substep_secs: config.max_substep_secs,
            anchor_rate: std::f64::consts::LN_2 / config.anchor_half_life_secs,
            instruments,
            index,
            now: start,
        })
    }

    /// Moves the market to `now` and returns one tick per instrument (config order),
    /// stamped `now`. Calling again with the same time gives fresh ticks at the same
    /// mid (a bid/ask bounce); an earlier time is refused.
    pub fn step(&mut self, now: Timestamp) -> Result<Vec<TickV1>, SimError> {
        if now < self.now {
            return Err(SimError::TimeWentBackwards {
                last: self.now,
                now,
            });
        }
        #[allow(clippy::cast_precision_loss)]
        let secs = now.nanos_since(self.now) as f64 / 1e9;
        self.now = now;
        if secs > 0.0 {
            let wanted = (secs / self.max_substep_secs).ceil();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let substeps = (wanted as u64).clamp(1, MAX_SUBSTEPS);
            #[allow(clippy::cast_precision_loss)]
            let h = secs / substeps as f64;
            for state in &mut self.instruments {
                for _ in 0..substeps {
                    state.advance(h, &self.regimes, self.anchor_rate);
                }
            }
        }
        Ok(self
            .instruments
            .iter_mut()
            .filter_map(|s| s.tick(now))
            .collect())
    }

    /// The regime an instrument is really in (what detection is scored against).
    pub fn true_regime(&self, instrument: &InstrumentId) -> Option<Regime> {
        self.state(instrument).map(|s| s.regime)
    }

    /// The latest tick of an instrument (for `/v1/tickers`), `None` before the first step.
    pub fn last_tick(&self, instrument: &InstrumentId) -> Option<&TickV1> {
        self.state(instrument).and_then(|s| s.last.as_ref())
    }

    /// The exact (unrounded) mid, for analytics and tests only.
    pub fn mid(&self, instrument: &InstrumentId) -> Option<f64> {
        self.state(instrument).map(|s| s.log_mid.exp())
    }

    /// The simulated instruments, in tick order.
    pub fn instruments(&self) -> impl Iterator<Item = &InstrumentId> + '_ {
        self.instruments.iter().map(|s| &s.spec.instrument)
    }

    /// The time of the last step.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    fn state(&self, instrument: &InstrumentId) -> Option<&InstrumentState> {
        self.index
            .get(instrument)
            .and_then(|i| self.instruments.get(*i))
    }
}
