//! Forecasting models: each turns closed bars into `P(up)`, the probability that the
//! close `h` bars from now is above this bar's close (`h` = the ensemble's horizon).
//!
//! All work on natural-log prices, so they are scale-free, do O(1) work per bar
//! (amortised for the breakout's rolling extremes) and never allocate after
//! construction. Every output is clamped into `[1e-6, 1 - 1e-6]`. `Phi` is the
//! standard normal distribution function. The gains were fitted on `SimBars` seeds
//! 101-104 (minimum Brier score at the default horizon); see docs/STRATEGY.md.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::math::{clamp_probability, normal_cdf};
use super::regime::{RegimePosterior, horizon_factors};
use crate::indicators::{BollingerBands, Ema, Indicator, IndicatorError, StdDev};

/// One closed bar as the models see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<'a> {
    /// Log of the open.
    pub open: f64,
    /// Log of the high.
    pub high: f64,
    /// Log of the low.
    pub low: f64,
    /// Log of the close.
    pub close: f64,
    /// The regime detector's belief after this bar (`None` while it warms up).
    pub regime: Option<&'a RegimePosterior>,
}

/// The extension point of the ensemble: anything that forecasts `P(up)` from bars.
pub trait Model: std::fmt::Debug + Send {
    /// Stable short name, used in forecasts and metrics.
    fn name(&self) -> &'static str;

    /// Feeds the next closed bar; `P(up over the horizon)` in (0, 1), or `None` while
    /// warming up.
    fn update(&mut self, bar: &Observation<'_>) -> Option<f64>;
}

/// Momentum (trend following): trends persist, so extrapolate the recent drift.
///
/// An EMA of period `n` lags a steady drift `mu` by `(n - 1) / 2` bars, so
/// `mu_hat = (EMA_fast - EMA_slow) / ((slow - fast) / 2)` estimates the drift per bar
/// and `P(up) = Phi(gain * sqrt(h) * mu_hat / sigma_hat)`, with `sigma_hat` the
/// standard deviation of the last `vol_period` log returns; `gain < 1` shrinks the
/// noisy estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumConfig {
    /// Whether the ensemble runs this model.
    pub enabled: bool,
    /// Fast EMA period (bars).
    pub fast: usize,
    /// Slow EMA period (bars), above `fast`.
    pub slow: usize,
    /// Bars of returns in the realized volatility.
    pub vol_period: usize,
    /// Shrinkage of the drift's z-score (>= 0).
    pub gain: f64,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig {
            enabled: true,
            fast: 10,
            slow: 40,
            vol_period: 60,
            gain: 0.5,
        }
    }
}

/// The momentum model (see [`MomentumConfig`]).
#[derive(Debug, Clone)]
pub struct Momentum {
    fast: Ema,
    slow: Ema,
    vol: StdDev,
    prev_close: Option<f64>,
    lag: f64,
    scale: f64,
}

impl Momentum {
    /// A momentum model forecasting `horizon` bars ahead.
    pub fn new(config: &MomentumConfig, horizon: u32) -> Result<Self, IndicatorError> {
        #[allow(clippy::cast_precision_loss)]
        let lag = (config.slow as f64 - config.fast as f64) / 2.0;
        Ok(Momentum {
            fast: Ema::new(config.fast)?,
            slow: Ema::new(config.slow)?,
            vol: StdDev::new(config.vol_period)?,
            prev_close: None,
            lag: lag.max(0.5),
            scale: config.gain * f64::from(horizon).sqrt(),
        })
    }
}

impl Model for Momentum {
    fn name(&self) -> &'static str {
        "momentum"
    }

    fn update(&mut self, bar: &Observation<'_>) -> Option<f64> {
        let fast = self.fast.update(bar.close);
        let slow = self.slow.update(bar.close);
        let vol = match self.prev_close.replace(bar.close) {
            Some(prev) => self.vol.update(bar.close - prev),
            None => None,
        };
        let (fast, slow, vol) = (fast?, slow?, vol?);
        let z = if vol > 0.0 {
            (fast - slow) / self.lag / vol
        } else {
            0.0
        };
        Some(clamp_probability(normal_cdf(self.scale * z)))
    }
}

/// Mean reversion: prices stretched away from their recent mean come back.
///
/// `z = (close - SMA_n) / SD_n` (Bollinger's %b in standard deviations, on log
/// closes) and `P(up) = Phi(-gain * z)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeanReversionConfig {
    /// Whether the ensemble runs this model.
    pub enabled: bool,
    /// Bollinger period (bars, >= 2).
    pub period: usize,
    /// How strongly a stretch predicts a return (>= 0).
    pub gain: f64,
}

impl Default for MeanReversionConfig {
    fn default() -> Self {
        MeanReversionConfig {
            enabled: true,
            period: 20,
            gain: 0.05,
        }
    }
}

/// The mean-reversion model (see [`MeanReversionConfig`]).
#[derive(Debug, Clone)]
pub struct MeanReversion {
    bands: BollingerBands,
    gain: f64,
}

impl MeanReversion {
    /// A mean-reversion model.
    pub fn new(config: &MeanReversionConfig) -> Result<Self, IndicatorError> {
        Ok(MeanReversion {
            bands: BollingerBands::new(config.period, 1.0)?,
            gain: config.gain,
        })
    }
}

impl Model for MeanReversion {
    fn name(&self) -> &'static str {
        "mean_reversion"
    }

    fn update(&mut self, bar: &Observation<'_>) -> Option<f64> {
        let b = self.bands.update(bar.close)?;
        let sd = b.upper - b.middle;
        let z = if sd > 0.0 {
            (bar.close - b.middle) / sd
        } else {
            0.0
        };
        Some(clamp_probability(normal_cdf(-self.gain * z)))
    }
}

/// Breakout (Donchian): a close beyond the range of the last `n` bars starts a move.
///
/// A signal `s` is set to +1 when the close exceeds the highest high of the previous
/// `period` bars, to -1 below their lowest low, and otherwise decays (`s *= decay`);
/// `P(up) = Phi(gain * s)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakoutConfig {
    /// Whether the ensemble runs this model.
    pub enabled: bool,
    /// Channel length in bars (>= 2).
    pub period: usize,
    /// Per-bar decay of the signal after a breakout, in [0, 1).
    pub decay: f64,
    /// Strength of a fresh breakout (>= 0).
    pub gain: f64,
}

impl Default for BreakoutConfig {
    fn default() -> Self {
        BreakoutConfig {
            enabled: true,
            period: 60,
            decay: 0.85,
            gain: 0.4,
        }
    }
}

/// The breakout model (see [`BreakoutConfig`]).
#[derive(Debug, Clone)]
pub struct Breakout {
    highs: RollingExtreme,
    lows: RollingExtreme,
    signal: f64,
    decay: f64,
    gain: f64,
}

impl Breakout {
    /// A breakout model.
    pub fn new(config: &BreakoutConfig) -> Result<Self, IndicatorError> {
        if !(2..=crate::indicators::MAX_PERIOD).contains(&config.period) {
            return Err(IndicatorError::Period {
                name: "breakout period",
                min: 2,
                value: config.period,
            });
        }
        Ok(Breakout {
            highs: RollingExtreme::new(config.period, true),
            lows: RollingExtreme::new(config.period, false),
            signal: 0.0,
            decay: config.decay,
            gain: config.gain,
        })
    }
}

impl Model for Breakout {
    fn name(&self) -> &'static str {
        "breakout"
    }

    fn update(&mut self, bar: &Observation<'_>) -> Option<f64> {
        let channel = self.highs.value().zip(self.lows.value());
        self.highs.push(bar.high);
        self.lows.push(bar.low);
        let (high, low) = channel?;
        self.signal = if bar.close > high {
            1.0
        } else if bar.close < low {
            -1.0
        } else {
            self.signal * self.decay
        };
        Some(clamp_probability(normal_cdf(self.gain * self.signal)))
    }
}

/// The maximum (or minimum) of the last `period` values: a monotonic deque, O(1)
/// amortised per push, allocated once.
#[derive(Debug, Clone)]
struct RollingExtreme {
    period: u64,
    max: bool,
    seen: u64,
    queue: VecDeque<(u64, f64)>,
}

impl RollingExtreme {
    fn new(period: usize, max: bool) -> Self {
        RollingExtreme {
            period: period as u64,
            max,
            seen: 0,
            queue: VecDeque::with_capacity(period + 1),
        }
    }

    fn push(&mut self, x: f64) {
        let max = self.max;
        let dominated = |old: f64| if max { old <= x } else { old >= x };
        while self.queue.back().is_some_and(|(_, v)| dominated(*v)) {
            self.queue.pop_back();
        }
        self.queue.push_back((self.seen, x));
        self.seen += 1;
        while self
            .queue
            .front()
            .is_some_and(|(i, _)| *i + self.period < self.seen)
        {
            self.queue.pop_front();
        }
    }

    /// The extreme of the last `period` values once that many were pushed.
    fn value(&self) -> Option<f64> {
        if self.seen < self.period {
            return None;
        }
        self.queue.front().map(|(_, v)| *v)
    }
}

/// Regime drift: the detector's belief turned into a forecast.
///
/// `P(up) = sum_k P(regime k) * Phi(gain * drift_k * s_k (1 - s_k^h) / (1 - s_k) / (vol_k sqrt(h)))`
/// ([`RegimePosterior::probability_up`] with the drift scaled by `gain`): each regime's
/// drift for as long as it is expected to last within the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeDriftConfig {
    /// Whether the ensemble runs this model.
    pub enabled: bool,
    /// Scale on the regimes' drifts (>= 0; 1 = as the detector believes).
    pub gain: f64,
}

impl Default for RegimeDriftConfig {
    fn default() -> Self {
        RegimeDriftConfig {
            enabled: true,
            gain: 1.0,
        }
    }
}

/// The regime-drift model (see [`RegimeDriftConfig`]).
#[derive(Debug, Clone)]
pub struct RegimeDrift {
    gain: f64,
    horizon: u32,
    /// Horizon factors for the persistences last seen (they are fixed per detector).
    factors: Option<([u64; 4], [f64; 4])>,
}

impl RegimeDrift {
    /// A regime-drift model forecasting `horizon` bars ahead.
    pub fn new(config: &RegimeDriftConfig, horizon: u32) -> Self {
        RegimeDrift {
            gain: config.gain,
            horizon,
            factors: None,
        }
    }
}

impl Model for RegimeDrift {
    fn name(&self) -> &'static str {
        "regime_drift"
    }

    fn update(&mut self, bar: &Observation<'_>) -> Option<f64> {
        let belief = bar.regime?;
        let key = belief.persistence.map(f64::to_bits);
        let factors = match self.factors {
            Some((k, f)) if k == key => f,
            _ => {
                let f = horizon_factors(&belief.persistence, self.horizon);
                self.factors = Some((key, f));
                f
            }
        };
        Some(clamp_probability(
            belief.probability_up_with(&factors, self.gain),
        ))
    }
}
