//! The adaptive ensemble: the models' probabilities pooled with weights that follow
//! each model's recent Brier score.
//!
//! * **Pool**: `P(up) = sum_i w_i p_i` (a linear pool stays in (0, 1) and is
//!   calibrated when its parts are).
//! * **Weights** (Hedge over a rolling window with a floor): with `S_i` the sum of
//!   model `i`'s Brier losses `(p_i - y)^2` over its last `window` scored forecasts,
//!   `w_i = floor + (1 - K * floor) * exp(-eta * (S_i - min S)) / sum_j exp(-eta * (S_j - min S))`.
//!   The window forgets old mistakes and the floor keeps every model alive, so a
//!   model that turns right again regains weight.
//! * **Scoring**: a forecast made at bar `t` matures at bar `t + h`; its outcome is
//!   `y = 1` if that close is above the close at `t`, `0` if below; an exact tie is
//!   not scored (counted in `ties`).
//! * **Metrics**: Brier = mean `(p - y)^2` over scored forecasts; accuracy = share of
//!   right sides among *committed* forecasts (`|p - 0.5| > commit_margin`);
//!   coverage = committed / scored; weight stability = `1 - mean TV`, with
//!   `TV = sum_i |w_i(t) - w_i(t-1)| / 2` the total-variation distance between the
//!   weight vectors of consecutive forecasts (1 = weights never move, 0 = they jump
//!   between disjoint models every bar).

use neo_domain::Price;
use serde::{Deserialize, Serialize};

use super::math::clamp_probability;
use super::models::{
    Breakout, BreakoutConfig, MeanReversion, MeanReversionConfig, Model, Momentum, MomentumConfig,
    Observation, RegimeDrift, RegimeDriftConfig,
};
use super::regime::{RegimeDetector, RegimeDetectorConfig, log_prices};
use super::score::ratio;
use crate::market::{Ohlcv, Regime};
use crate::risk::ConfigError;

/// The ensemble's parameters and its models'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnsembleConfig {
    /// Forecast horizon in bars: `P(close[t + h] > close[t])`.
    pub horizon_bars: u32,
    /// Scored forecasts in each model's rolling Brier window.
    pub window: usize,
    /// Hedge learning rate `eta` per unit of summed Brier loss (>= 0; 0 = equal weights).
    pub learning_rate: f64,
    /// Least weight of any model, below `1 / models`.
    pub weight_floor: f64,
    /// A forecast commits to a side when `|p - 0.5|` exceeds this (for accuracy).
    pub commit_margin: f64,
    /// Trend following.
    pub momentum: MomentumConfig,
    /// Reversion to the recent mean.
    pub mean_reversion: MeanReversionConfig,
    /// Donchian breakouts.
    pub breakout: BreakoutConfig,
    /// The regime detector's belief as a forecast.
    pub regime_drift: RegimeDriftConfig,
    /// The regime detector feeding `Forecast::regime` and the regime-drift model.
    pub detector: RegimeDetectorConfig,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        EnsembleConfig {
            horizon_bars: 5,
            window: 2_000,
            learning_rate: 0.2,
            weight_floor: 0.02,
            commit_margin: 0.05,
            momentum: MomentumConfig::default(),
            mean_reversion: MeanReversionConfig::default(),
            breakout: BreakoutConfig::default(),
            regime_drift: RegimeDriftConfig::default(),
            detector: RegimeDetectorConfig::default(),
        }
    }
}

impl EnsembleConfig {
    /// The defaults with the detector reading [`SimBars`](crate::market::SimBars)'
    /// four-trade bars (what `neo backtest --data sim:` feeds).
    pub fn for_sim_bars() -> Self {
        EnsembleConfig {
            detector: RegimeDetectorConfig::for_sim_bars(),
            ..EnsembleConfig::default()
        }
    }

    /// How many models are enabled.
    pub fn enabled_models(&self) -> usize {
        [
            self.momentum.enabled,
            self.mean_reversion.enabled,
            self.breakout.enabled,
            self.regime_drift.enabled,
        ]
        .iter()
        .filter(|e| **e)
        .count()
    }

    /// Every problem at once (the detector's prefixed with `detector.`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = self.common_problems(self.enabled_models());
        if self.enabled_models() == 0 {
            p.push("at least one model must be enabled".to_owned());
        }
        let period = |p: &mut Vec<String>, name: &str, v: usize, min: usize| {
            if !(min..=crate::indicators::MAX_PERIOD).contains(&v) {
                p.push(format!("{name} must be {min} to 100000, got {v}"));
            }
        };
        let gain = |p: &mut Vec<String>, name: &str, v: f64| {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                p.push(format!("{name} must be in [0, 100], got {v}"));
            }
        };
        let m = &self.momentum;
        period(&mut p, "momentum.fast", m.fast, 1);
        period(&mut p, "momentum.slow", m.slow, 2);
        period(&mut p, "momentum.vol_period", m.vol_period, 2);
        if m.fast >= m.slow {
            p.push(format!(
                "momentum.fast ({}) must be below momentum.slow ({})",
                m.fast, m.slow
            ));
        }
        gain(&mut p, "momentum.gain", m.gain);
        period(
            &mut p,
            "mean_reversion.period",
            self.mean_reversion.period,
            2,
        );
        gain(&mut p, "mean_reversion.gain", self.mean_reversion.gain);
        period(&mut p, "breakout.period", self.breakout.period, 2);
        gain(&mut p, "breakout.gain", self.breakout.gain);
        if !(0.0..1.0).contains(&self.breakout.decay) {
            p.push(format!(
                "breakout.decay must be in [0, 1), got {}",
                self.breakout.decay
            ));
        }
        gain(&mut p, "regime_drift.gain", self.regime_drift.gain);
        p.extend(
            self.detector
                .problems()
                .into_iter()
                .map(|s| format!("detector.{s}")),
        );
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                section: "ensemble",
                problems: p,
            })
        }
    }

    /// Problems of the ensemble's own fields with `models` models.
    fn common_problems(&self, models: usize) -> Vec<String> {
        let mut p = Vec::new();
        if !(1..=10_000).contains(&self.horizon_bars) {
            p.push(format!(
                "horizon_bars must be 1 to 10000, got {}",
                self.horizon_bars
            ));
        }
        if !(1..=1_000_000).contains(&self.window) {
            p.push(format!("window must be 1 to 1000000, got {}", self.window));
        }
        if !(self.learning_rate.is_finite() && (0.0..=1_000.0).contains(&self.learning_rate)) {
            p.push(format!(
                "learning_rate must be in [0, 1000], got {}",
                self.learning_rate
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        let most = 1.0 / models.max(1) as f64;
        if !(self.weight_floor >= 0.0 && self.weight_floor < most) {
            p.push(format!(
                "weight_floor must be in [0, 1/{}), got {}",
                models.max(1),
                self.weight_floor
            ));
        }
        if !(0.0..0.5).contains(&self.commit_margin) {
            p.push(format!(
                "commit_margin must be in [0, 0.5), got {}",
                self.commit_margin
            ));
        }
        p
    }
}

/// One bar's pooled forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// `P(close in horizon_bars bars > this close)`, in (0, 1).
    pub probability_up: f64,
    /// The detector's verdict on this bar (`None` while it warms up).
    pub regime: Option<Regime>,
    /// Each model's probability, in the ensemble's model order.
    pub models: Vec<(&'static str, f64)>,
    /// The weight each model had in this forecast (same order, sums to 1).
    pub weights: Vec<f64>,
}

/// How one model has done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelMetrics {
    /// The model's name.
    pub name: &'static str,
    /// Mean Brier score over scored forecasts.
    pub brier: Option<f64>,
    /// Right sides among its committed forecasts, in percent.
    pub accuracy_pct: Option<f64>,
    /// Its current weight.
    pub weight: f64,
}

/// How the ensemble has done (definitions in the module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsembleMetrics {
    /// Forecast horizon in bars.
    pub horizon_bars: u32,
    /// Forecasts issued.
    pub forecasts: u64,
    /// Forecasts matured with an up or down outcome.
    pub scored: u64,
    /// Forecasts matured on an exact tie (not scored).
    pub ties: u64,
    /// Scored forecasts that committed to a side.
    pub committed: u64,
    /// Mean Brier score of the pooled forecast.
    pub brier: Option<f64>,
    /// Mean Brier score over the last `window` scored forecasts.
    pub rolling_brier: Option<f64>,
    /// Right sides among committed forecasts, in percent.
    pub accuracy_pct: Option<f64>,
    /// `100 * committed / scored`.
    pub coverage_pct: Option<f64>,
    /// `1 - mean total-variation distance` between consecutive weight vectors.
    pub weight_stability: Option<f64>,
    /// Per model, in order.
    pub models: Vec<ModelMetrics>,
}

/// Running hit counts of one forecaster.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    brier_sum: f64,
    committed: u64,
    correct: u64,
}

/// The ensemble (see the module doc).
#[derive(Debug)]
pub struct Ensemble {
    config: EnsembleConfig,
    detector: RegimeDetector,
    models: Vec<Box<dyn Model>>,
    names: Vec<&'static str>,
    /// Forecasts awaiting their outcome: one slot per bar of the horizon.
    pending_close: Vec<Option<Price>>,
    /// `horizon * (models + 1)` probabilities (the pool last in each row).
    pending_probs: Vec<f64>,
    slot: usize,
    /// Rolling Brier losses: `window * (models + 1)`, the pool last in each row.
    losses: Vec<f64>,
    loss_sums: Vec<f64>,
    loss_head: usize,
    loss_len: usize,
    since_resum: usize,
    probs: Vec<f64>,
    /// Scratch for the unnormalised Hedge weights.
    raw: Vec<f64>,
    weights: Vec<f64>,
    have_weights: bool,
    /// Weights follow the track record (the `adaptive_weights` flag); off: equal.
    adaptive: bool,
    tallies: Vec<Tally>,
    forecasts: u64,
    scored: u64,
    ties: u64,
    tv_sum: f64,
    tv_count: u64,
}

impl Ensemble {
    /// The default model set (momentum, mean reversion, breakout, regime drift; the
    /// enabled ones) with the detector; refused with every config problem listed.
    pub fn new(config: EnsembleConfig) -> Result<Ensemble, ConfigError> {
        config.validate()?;
        let h = config.horizon_bars;
        let broken = |e: crate::indicators::IndicatorError| ConfigError {
            section: "ensemble",
            problems: vec![e.to_string()],
        };
        let mut models: Vec<Box<dyn Model>> = Vec::new();
        if config.momentum.enabled {
            models.push(Box::new(
                Momentum::new(&config.momentum, h).map_err(broken)?,
            ));
        }
        if config.mean_reversion.enabled {
            models.push(Box::new(
                MeanReversion::new(&config.mean_reversion).map_err(broken)?,
            ));
        }
        if config.breakout.enabled {
            models.push(Box::new(Breakout::new(&config.breakout).map_err(broken)?));
        }
        if config.regime_drift.enabled {
            models.push(Box::new(RegimeDrift::new(&config.regime_drift, h)));
        }
        Self::with_models(config, models)
    }

    /// Any set of models (the `*.enabled` flags and model sections are ignored; the
    /// detector still runs and feeds [`Observation::regime`]).
    pub fn with_models(
        config: EnsembleConfig,
        models: Vec<Box<dyn Model>>,
    ) -> Result<Ensemble, ConfigError> {
        let mut problems = config.common_problems(models.len());
        if models.is_empty() {
            problems.push("at least one model is needed".to_owned());
        }
        problems.extend(
            config
                .detector
                .problems()
                .into_iter()
                .map(|s| format!("detector.{s}")),
        );
        if !problems.is_empty() {
            return Err(ConfigError {
                section: "ensemble",
                problems,
            });
        }
        let k = models.len();
        let h = config.horizon_bars as usize;
        let detector = RegimeDetector::new(config.detector.clone())?;
        #[allow(clippy::cast_precision_loss)]
        let equal = 1.0 / k as f64;
        Ok(Ensemble {
            names: models.iter().map(|m| m.name()).collect(),
            pending_close: vec![None; h],
            pending_probs: vec![0.5; h * (k + 1)],
            slot: 0,
            losses: vec![0.0; config.window * (k + 1)],
            loss_sums: vec![0.0; k + 1],
            loss_head: 0,
            loss_len: 0,
            since_resum: 0,
            probs: vec![0.5; k],
            raw: vec![1.0; k],
            weights: vec![equal; k],
            have_weights: false,
            adaptive: true,
            tallies: vec![Tally::default(); k + 1],
            forecasts: 0,
            scored: 0,
            ties: 0,
            tv_sum: 0.0,
            tv_count: 0,
            detector,
            models,
            config,
        })
    }

    /// Feeds the next closed bar: scores the forecast it matures, then forecasts.
    /// `None` while any model warms up; a bar with a zero price is ignored.
    pub fn on_bar(&mut self, bar: &Ohlcv) -> Option<Forecast> {
        let [open, high, low, close] = log_prices(bar)?;
        let regime = self.detector.update_log(open, high, low, close);
        let slot = self.slot;
        self.slot = (slot + 1) % self.pending_close.len();
        if let Some(then) = self.pending_close[slot].take() {
            self.score(slot, then, bar.close);
        }
        let obs = Observation {
            open,
            high,
            low,
            close,
            regime: self.detector.posterior(),
        };
        let mut warm = true;
        for (model, p) in self.models.iter_mut().zip(self.probs.iter_mut()) {
            match model.update(&obs) {
                Some(x) => *p = clamp_probability(x),
                None => warm = false,
            }
        }
        if !warm {
            self.have_weights = false;
            return None;
        }
        self.reweigh();
        let pooled: f64 = self
            .weights
            .iter()
            .zip(&self.probs)
            .map(|(w, p)| w * p)
            .sum();
        let pooled = clamp_probability(pooled);
        let k = self.models.len();
        let row = &mut self.pending_probs[slot * (k + 1)..(slot + 1) * (k + 1)];
        row[..k].copy_from_slice(&self.probs);
        row[k] = pooled;
        self.pending_close[slot] = Some(bar.close);
        self.forecasts += 1;
        Some(Forecast {
            probability_up: pooled,
            regime,
            models: self
                .names
                .iter()
                .copied()
                .zip(self.probs.iter().copied())
                .collect(),
            weights: self.weights.clone(),
        })
    }

    /// Scores the forecast in `slot` made at close `then` against close `now`.
    fn score(&mut self, slot: usize, then: Price, now: Price) {
        if now == then {
            self.ties += 1;
            return;
        }
        let up = now > then;
        let y = if up { 1.0 } else { 0.0 };
        let k = self.models.len();
        let width = k + 1;
        let row = &self.pending_probs[slot * width..(slot + 1) * width];
        let at = self.loss_head * width;
        let full = self.loss_len == self.config.window;
        for (i, p) in row.iter().enumerate() {
            let loss = (p - y) * (p - y);
            let old = &mut self.losses[at + i];
            if full {
                self.loss_sums[i] -= *old;
            }
            *old = loss;
            self.loss_sums[i] += loss;
            let t = &mut self.tallies[i];
            t.brier_sum += loss;
            if (p - 0.5).abs() > self.config.commit_margin {
                t.committed += 1;
                if (*p > 0.5) == up {
                    t.correct += 1;
                }
            }
        }
        self.loss_head = (self.loss_head + 1) % self.config.window;
        self.loss_len = (self.loss_len + 1).min(self.config.window);
        self.scored += 1;
        self.since_resum += 1;
        if self.since_resum >= self.config.window {
            // Re-sum from the window so rounding cannot drift over millions of bars.
            self.since_resum = 0;
            for (i, sum) in self.loss_sums.iter_mut().enumerate() {
                *sum = self.losses[..self.loss_len * width]
                    .iter()
                    .skip(i)
                    .step_by(width)
                    .sum();
            }
        }
    }

    /// Weights from the track record (on, the default) or equal weights (off);
    /// the losses are kept either way, so switching back on resumes at once.
    pub fn set_adaptive(&mut self, adaptive: bool) {
        self.adaptive = adaptive;
    }

    /// Hedge weights from the rolling loss sums, with the floor; tracks their stability.
    fn reweigh(&mut self) {
        let k = self.models.len();
        let sums = &self.loss_sums[..k];
        let best = sums.iter().copied().fold(f64::INFINITY, f64::min);
        // Off: a learning rate of 0 gives every model the same weight.
        let eta = if self.adaptive {
            self.config.learning_rate
        } else {
            0.0
        };
        let mut total = 0.0;
        let raw = &mut self.raw;
        for (r, s) in raw.iter_mut().zip(sums) {
            *r = (-eta * (s - best)).exp();
            total += *r;
        }
        let floor = self.config.weight_floor;
        #[allow(clippy::cast_precision_loss)]
        let spread = 1.0 - k as f64 * floor;
        let mut tv = 0.0;
        for (w, r) in self.weights.iter_mut().zip(raw.iter()) {
            let new = floor + spread * r / total;
            tv += (new - *w).abs();
            *w = new;
        }
        if self.have_weights {
            self.tv_sum += tv / 2.0;
            self.tv_count += 1;
        }
        self.have_weights = true;
    }

    /// Everything measured so far (definitions in the module doc).
    pub fn metrics(&self) -> EnsembleMetrics {
        let k = self.models.len();
        let pct = |n: u64, d: u64| ratio(n, d).map(|r| 100.0 * r);
        let brier = |t: &Tally| (self.scored > 0).then(|| t.brier_sum / self.scored as f64);
        let pool = self.tallies[k];
        EnsembleMetrics {
            horizon_bars: self.config.horizon_bars,
            forecasts: self.forecasts,
            scored: self.scored,
            ties: self.ties,
            committed: pool.committed,
            brier: brier(&pool),
            rolling_brier: (self.loss_len > 0).then(|| self.loss_sums[k] / self.loss_len as f64),
            accuracy_pct: pct(pool.correct, pool.committed),
            coverage_pct: pct(pool.committed, self.scored),
            weight_stability: (self.tv_count > 0).then(|| 1.0 - self.tv_sum / self.tv_count as f64),
            models: self
                .names
                .iter()
                .zip(&self.tallies)
                .zip(&self.weights)
                .map(|((name, t), w)| ModelMetrics {
                    name,
                    brier: brier(t),
                    accuracy_pct: pct(t.correct, t.committed),
                    weight: *w,
                })
                .collect(),
        }
    }

    /// The regime detector inside the ensemble.
    pub fn detector(&self) -> &RegimeDetector {
        &self.detector
    }

    /// The current weights, in model order.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The models' names, in order.
    pub fn model_names(&self) -> &[&'static str] {
        &self.names
    }

    /// The configuration in use.
    pub fn config(&self) -> &EnsembleConfig {
        &self.config
    }
}
