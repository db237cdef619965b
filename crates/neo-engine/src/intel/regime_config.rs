//! The regime detector's configuration: what it assumes about each regime, with
//! defaults fitted on the simulator and a validation that lists every problem.

use serde::{Deserialize, Serialize};

use super::likelihood::BarLikelihood;
use crate::market::Regime;
use crate::risk::ConfigError;

/// What the detector assumes about one regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeModel {
    /// Mean log return per bar in base volatilities (an uptrend is positive).
    pub drift: f64,
    /// Per-bar volatility as a multiple of the base volatility (`trend_up` is 1).
    pub volatility: f64,
    /// Mean length of the regime in bars; sets the chance of staying each bar.
    pub mean_duration_bars: f64,
    /// Relative chance of switching into this regime when another one ends.
    pub weight: f64,
}

/// The detector's parameters; the defaults were fitted on `SimBars` seeds 101-104,
/// and the candle reading (the default) through the analyst on the simulator's
/// one-minute candles.
///
/// Fit (200 000 one-minute bars per seed, true regimes known): per-regime mean and
/// spread of the returns against trend_up's volatility, mean episode lengths and the
/// switch counts; see docs/STRATEGY.md. Durations are in bars, so another bar
/// interval needs its own fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeDetectorConfig {
    /// The rising trend.
    pub trend_up: RegimeModel,
    /// The falling trend.
    pub trend_down: RegimeModel,
    /// The mean-reverting range.
    pub range: RegimeModel,
    /// The volatility burst.
    pub high_volatility: RegimeModel,
    /// Share of the distance to the range's starting level closed per bar.
    pub range_reversion: f64,
    /// How much of each bar the likelihood reads, and how the bars were made:
    /// `candle` (the default) for candles of many trades, `four_trades` for the
    /// simulator's bar generator, `close_to_close` for any other source.
    pub bar_likelihood: BarLikelihood,
    /// Bars used to seed the base volatility before the first verdict (>= 2).
    pub warmup_bars: u32,
    /// Half-life, in bars, of the base volatility's online estimate.
    pub scale_halflife_bars: f64,
    /// Exponent on each bar's likelihood (1 = plain Bayes; below 1 trusts a bar less).
    pub tempering: f64,
    /// Model each trade's scatter around the efficient price (bid-ask bounce, tick
    /// rounding), estimated online from the negative autocovariance of trade moves.
    pub trade_noise: bool,
    /// Span, in bars, of the exponential mean and variance of log returns that
    /// measure the drift (see `drift_t`).
    pub drift_window_bars: f64,
    /// Drift, in standard errors of that mean, that makes a trend in its direction
    /// whatever the volatility says: the simulator's
    /// trends drift too little to see (0.02 volatilities a bar), a real market's
    /// strong trends do not.
    pub drift_t: f64,
}

impl Default for RegimeDetectorConfig {
    fn default() -> Self {
        let model = |drift, volatility, mean_duration_bars, weight| RegimeModel {
            drift,
            volatility,
            mean_duration_bars,
            weight,
        };
        RegimeDetectorConfig {
            trend_up: model(0.02, 1.0, 60.0, 1.0),
            trend_down: model(-0.02, 2.0, 60.0, 1.0),
            range: model(0.0, 0.5, 90.0, 1.5),
            high_volatility: model(0.0, 4.0, 30.0, 0.5),
            range_reversion: 0.003,
            bar_likelihood: BarLikelihood::Candle,
            warmup_bars: 20,
            scale_halflife_bars: 2_000.0,
            tempering: 1.0,
            trade_noise: true,
            drift_window_bars: 20.0,
            drift_t: 4.0,
        }
    }
}

impl RegimeDetectorConfig {
    /// The defaults reading [`SimBars`](crate::market::SimBars)' four-trade bars
    /// (the default reads candles of many trades, as live feeds and NEO's own
    /// candles are).
    pub fn for_sim_bars() -> Self {
        RegimeDetectorConfig {
            bar_likelihood: BarLikelihood::FourTrades,
            ..RegimeDetectorConfig::default()
        }
    }

    /// The model of `regime`.
    pub fn get(&self, regime: Regime) -> &RegimeModel {
        match regime {
            Regime::TrendUp => &self.trend_up,
            Regime::TrendDown => &self.trend_down,
            Regime::Range => &self.range,
            Regime::HighVolatility => &self.high_volatility,
        }
    }

    /// Every problem at once, each a sentence, so a config is fixed in one pass.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for regime in Regime::ALL {
            let m = self.get(regime);
            if !(m.drift.is_finite() && m.drift.abs() <= 10.0) {
                problems.push(format!(
                    "{regime}.drift must be within -10..=10, got {}",
                    m.drift
                ));
            }
            if !(m.volatility.is_finite() && m.volatility > 0.0 && m.volatility <= 100.0) {
                problems.push(format!(
                    "{regime}.volatility must be in (0, 100], got {}",
                    m.volatility
                ));
            }
            if !(m.mean_duration_bars.is_finite() && m.mean_duration_bars >= 1.0) {
                problems.push(format!(
                    "{regime}.mean_duration_bars must be at least 1, got {}",
                    m.mean_duration_bars
                ));
            }
            if !(m.weight.is_finite() && m.weight > 0.0) {
                problems.push(format!(
                    "{regime}.weight must be above zero, got {}",
                    m.weight
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.range_reversion) {
            problems.push(format!(
                "range_reversion must be in [0, 1], got {}",
                self.range_reversion
            ));
        }
        if !(2..=100_000).contains(&self.warmup_bars) {
            problems.push(format!(
                "warmup_bars must be 2 to 100000, got {}",
                self.warmup_bars
            ));
        }
        if !(self.scale_halflife_bars.is_finite() && self.scale_halflife_bars >= 1.0) {
            problems.push(format!(
                "scale_halflife_bars must be at least 1, got {}",
                self.scale_halflife_bars
            ));
        }
        if !(self.tempering.is_finite() && self.tempering > 0.0 && self.tempering <= 10.0) {
            problems.push(format!(
                "tempering must be in (0, 10], got {}",
                self.tempering
            ));
        }
        if !(self.drift_window_bars.is_finite() && self.drift_window_bars >= 2.0) {
            problems.push(format!(
                "drift_window_bars must be at least 2, got {}",
                self.drift_window_bars
            ));
        }
        if !(self.drift_t.is_finite() && self.drift_t > 0.0) {
            problems.push(format!("drift_t must be above zero, got {}", self.drift_t));
        }
        problems
    }

    /// `Ok` or every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                section: "regime detector",
                problems,
            })
        }
    }
}
