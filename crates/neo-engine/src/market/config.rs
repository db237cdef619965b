//! The simulator's configuration: per-regime dynamics and per-instrument
//! specifications, with realistic presets and a validation that lists every problem.

use std::collections::BTreeSet;

use neo_domain::{Fixed, InstrumentId, Price, Quantity};
use serde::{Deserialize, Serialize};

use super::Regime;
use crate::risk::ConfigError;

/// How prices move while one regime lasts.
///
/// Per step of `h` seconds (`m = h / 60` minutes), the log price `x` moves by
/// `drift * sigma * m - mean_reversion * m * (x - level) - a * h * (x - x0) + vol_multiplier * sigma * sqrt(m) * Z`
/// where `sigma` is the instrument's per-minute volatility, `level` the log price
/// when the regime began, `x0` the initial log price, `a = ln 2 / anchor_half_life_secs`
/// and `Z` a standard normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeParams {
    /// Mean time spent in the regime (an exponential holding time), in seconds.
    pub mean_duration_secs: f64,
    /// Drift per minute, in units of the instrument's per-minute volatility.
    pub drift: f64,
    /// Volatility as a multiple of the instrument's.
    pub vol_multiplier: f64,
    /// Share of the distance to the level closed per minute (0 = none, 1 = all).
    pub mean_reversion: f64,
    /// Relative chance of switching *into* this regime when another one ends.
    pub weight: f64,
}

/// Parameters of each of the four regimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeSet {
    /// Slow rise at the instrument's ordinary volatility.
    pub trend_up: RegimeParams,
    /// Slow fall, twice as volatile (falls are more violent than rises).
    pub trend_down: RegimeParams,
    /// Calm: half the volatility, weakly reverting to where the range began.
    pub range: RegimeParams,
    /// Four times the ordinary volatility, no drift.
    pub high_volatility: RegimeParams,
}

/// Regimes told apart mostly by volatility (0.5, 1, 2 and 4 times the instrument's),
/// as in real markets: trends of about an hour drift 0.02 of a volatility per
/// minute (a drift an EMA cross cannot farm against the noise), calm ranges of
/// 90 minutes revert 0.3% of the way per minute (a lag-1 autocorrelation of about
/// -0.002), volatility bursts of 30.
impl Default for RegimeSet {
    fn default() -> Self {
        let trend = |drift, vol_multiplier| RegimeParams {
            mean_duration_secs: 3_600.0,
            drift,
            vol_multiplier,
            mean_reversion: 0.0,
            weight: 1.0,
        };
        RegimeSet {
            trend_up: trend(0.02, 1.0),
            trend_down: trend(-0.02, 2.0),
            range: RegimeParams {
                mean_duration_secs: 5_400.0,
                drift: 0.0,
                vol_multiplier: 0.5,
                mean_reversion: 0.003,
                weight: 1.5,
            },
            high_volatility: RegimeParams {
                mean_duration_secs: 1_800.0,
                drift: 0.0,
                vol_multiplier: 4.0,
                mean_reversion: 0.0,
                weight: 0.5,
            },
        }
    }
}

impl RegimeSet {
    /// The parameters of `regime`.
    pub fn get(&self, regime: Regime) -> &RegimeParams {
        match regime {
            Regime::TrendUp => &self.trend_up,
            Regime::TrendDown => &self.trend_down,
            Regime::Range => &self.range,
            Regime::HighVolatility => &self.high_volatility,
        }
    }
}

/// One simulated instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// Canonical symbol.
    pub instrument: InstrumentId,
    /// Mid price at the start.
    pub initial_price: Price,
    /// Tick size: every bid, ask and trade price is a multiple of it.
    pub price_step: Price,
    /// Standard deviation of one minute's log return in an ordinary regime (`trend_up`).
    pub volatility: f64,
    /// Quoted spread in ticks (ask - bid = spread_ticks * price_step).
    pub spread_ticks: u32,
    /// Mean trade size (sizes are log-normal around it).
    pub trade_size: Quantity,
    /// Lot size: every trade size is a positive multiple of it.
    pub lot_step: Quantity,
}

/// `mantissa * 10^-scale` as a constant, for presets (`dec(1, 2)` = 0.01).
const fn dec(mantissa: i128, scale: u32) -> Fixed {
    Fixed::from_raw(mantissa * 10i128.pow(9 - scale))
}

impl InstrumentSpec {
    /// A spec from exact parts; `None` only if a size were negative (presets never are).
    fn build(
        symbol: InstrumentId,
        parts: (Fixed, Fixed, f64, u32, Fixed, Fixed),
    ) -> Option<InstrumentSpec> {
        let (price, step, volatility, spread_ticks, size, lot) = parts;
        Some(InstrumentSpec {
            instrument: symbol,
            initial_price: Price::new(price).ok()?,
            price_step: Price::new(step).ok()?,
            volatility,
            spread_ticks,
            trade_size: Quantity::new(size).ok()?,
            lot_step: Quantity::new(lot).ok()?,
        })
    }

    /// Realistic defaults for the instruments NEO ships with (`BTC-USDT`, `ETH-USDT`,
    /// `EUR-USD`, `AAPL`); `None` for others. Volatilities are per minute
    /// (BTC about 0.08%, i.e. roughly 55% a year around the clock).
    pub fn preset(instrument: InstrumentId) -> Option<InstrumentSpec> {
        let parts = match instrument.as_str() {
            "BTC-USDT" => (dec(95_000, 0), dec(1, 2), 0.0008, 1, dec(5, 2), dec(1, 5)),
            "ETH-USDT" => (dec(3_500, 0), dec(1, 2), 0.001, 1, dec(5, 1), dec(1, 4)),
            "EUR-USD" => (
                dec(108, 2),
                dec(1, 5),
                0.00012,
                2,
                dec(50_000, 0),
                dec(1_000, 0),
            ),
            "AAPL" => (dec(230, 0), dec(1, 2), 0.0009, 1, dec(100, 0), dec(1, 0)),
            _ => return None,
        };
        Self::build(instrument, parts)
    }

    /// The preset when there is one, else a generic instrument at 100.00.
    pub fn preset_or_generic(instrument: InstrumentId) -> InstrumentSpec {
        Self::preset(instrument).unwrap_or(InstrumentSpec {
            instrument,
            initial_price: Price::new(dec(100, 0)).unwrap_or_default(),
            price_step: Price::new(dec(1, 2)).unwrap_or_default(),
            volatility: 0.001,
            spread_ticks: 1,
            trade_size: Quantity::new(dec(10, 0)).unwrap_or_default(),
            lot_step: Quantity::new(dec(1, 0)).unwrap_or_default(),
        })
    }
}

/// The simulated market: instruments, regime dynamics and the integration step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The instruments, in the order their ticks are produced.
    pub instruments: Vec<InstrumentSpec>,
    /// Dynamics per regime (shared by every instrument; each has its own chain).
    pub regimes: RegimeSet,
    /// Longest integration step in seconds: a longer gap between calls is simulated
    /// in sub-steps of at most this length (capped at 100 000 sub-steps per call).
    pub max_substep_secs: f64,
    /// Half-life of the log price's pull toward its initial value, in seconds: keeps
    /// a run of any length in a band around the preset price (default 30 days).
    pub anchor_half_life_secs: f64,
}

/// The anchor's default half-life: 30 days, far slower than any regime.
const ANCHOR_HALF_LIFE_SECS: f64 = 30.0 * 86_400.0;

/// NEO's four default instruments with their presets.
impl Default for SimConfig {
    fn default() -> Self {
        let ids = ["BTC-USDT", "ETH-USDT", "EUR-USD", "AAPL"]
            .iter()
            .filter_map(|s| InstrumentId::new(s).ok());
        SimConfig {
            instruments: ids.map(InstrumentSpec::preset_or_generic).collect(),
            regimes: RegimeSet::default(),
            max_substep_secs: 10.0,
            anchor_half_life_secs: ANCHOR_HALF_LIFE_SECS,
        }
    }
}

impl SimConfig {
    /// The given instruments with their presets (a generic spec for unknown ones).
    pub fn for_instruments(instruments: &[InstrumentId]) -> SimConfig {
        SimConfig {
            instruments: instruments
                .iter()
                .copied()
                .map(InstrumentSpec::preset_or_generic)
                .collect(),
            ..SimConfig::default()
        }
    }

    /// Every problem at once, so a config file is fixed in one pass.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        need(
            !self.instruments.is_empty(),
            "instruments must list at least one instrument".to_owned(),
        );
        self.instrument_problems(&mut need);
        self.regime_problems(&mut need);
        let total: f64 = Regime::ALL
            .iter()
            .map(|r| self.regimes.get(*r).weight)
            .sum();
        need(
            total.is_finite() && total > 0.0,
            "regimes: at least one weight must be above zero".to_owned(),
        );
        need(
            self.max_substep_secs.is_finite()
                && self.max_substep_secs > 0.0
                && self.max_substep_secs <= 3_600.0,
            format!(
                "max_substep_secs must be in (0, 3600], got {}",
                self.max_substep_secs
            ),
        );
        need(
            self.anchor_half_life_secs.is_finite()
                && (60.0..=1e12).contains(&self.anchor_half_life_secs),
            format!(
                "anchor_half_life_secs must be in [60, 1e12], got {}",
                self.anchor_half_life_secs
            ),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                section: "market sim",
                problems,
            })
        }
    }

    /// The instruments' problems (duplicates, prices, sizes, volatility).
    fn instrument_problems(&self, need: &mut impl FnMut(bool, String)) {
        let mut seen = BTreeSet::new();
        for spec in &self.instruments {
            let id = spec.instrument;
            need(seen.insert(id), format!("instrument {id} is listed twice"));
            need(
                spec.initial_price.value().is_positive(),
                format!(
                    "{id}: initial_price must be above zero, got {}",
                    spec.initial_price
                ),
            );
            need(
                spec.price_step.value().is_positive(),
                format!(
                    "{id}: price_step must be above zero, got {}",
                    spec.price_step
                ),
            );
            need(
                spec.volatility.is_finite() && spec.volatility > 0.0 && spec.volatility < 0.1,
                format!(
                    "{id}: volatility (per minute) must be in (0, 0.1), got {}",
                    spec.volatility
                ),
            );
            need(
                (1..=10_000).contains(&spec.spread_ticks),
                format!(
                    "{id}: spread_ticks must be 1 to 10000, got {}",
                    spec.spread_ticks
                ),
            );
            need(
                spec.lot_step.value().is_positive(),
                format!("{id}: lot_step must be above zero, got {}", spec.lot_step),
            );
            need(
                spec.trade_size >= spec.lot_step && spec.trade_size.value().is_positive(),
                format!(
                    "{id}: trade_size must be at least one lot ({}), got {}",
                    spec.lot_step, spec.trade_size
                ),
            );
        }
    }

    /// The regimes' problems (durations, drifts, volatilities, weights).
    fn regime_problems(&self, need: &mut impl FnMut(bool, String)) {
        for regime in Regime::ALL {
            let p = self.regimes.get(regime);
            need(
                p.mean_duration_secs.is_finite() && p.mean_duration_secs >= 1.0,
                format!(
                    "regimes.{regime}.mean_duration_secs must be at least 1, got {}",
                    p.mean_duration_secs
                ),
            );
            need(
                p.drift.is_finite() && p.drift.abs() <= 10.0,
                format!(
                    "regimes.{regime}.drift must be within -10..=10, got {}",
                    p.drift
                ),
            );
            need(
                p.vol_multiplier.is_finite() && p.vol_multiplier > 0.0 && p.vol_multiplier <= 100.0,
                format!(
                    "regimes.{regime}.vol_multiplier must be in (0, 100], got {}",
                    p.vol_multiplier
                ),
            );
            need(
                (0.0..=1.0).contains(&p.mean_reversion),
                format!(
                    "regimes.{regime}.mean_reversion must be in [0, 1], got {}",
                    p.mean_reversion
                ),
            );
            need(
                p.weight.is_finite() && p.weight >= 0.0,
                format!(
                    "regimes.{regime}.weight must be a number >= 0, got {}",
                    p.weight
                ),
            );
        }
    }
}
