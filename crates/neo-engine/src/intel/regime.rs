//! Online regime detection: the forward filter of a four-state hidden Markov model.
//!
//! Each regime is a Brownian motion of the log price with its own drift and
//! volatility (in units of a *base* volatility the detector estimates itself), and
//! regimes follow a Markov chain with a mean duration per regime and the chance of
//! entering each one when another ends. Trades scatter around that efficient price
//! (bid-ask bounce, tick rounding) with a variance the detector also estimates. Per
//! closed bar, in O(1):
//!
//! 1. predict: `prior = posterior * A` (A from the durations and switch weights);
//! 2. update: `posterior ∝ prior * L(bar | regime) ^ tempering`, with `L` the bar
//!    likelihood of [`BarLikelihood`] (the four-trade bridge reads open, high, low
//!    and close); a range also pulls toward the level where it began
//!    (`drift = -range_reversion * (prev_close - level)`, the level being the
//!    posterior mean of the price at which the current range started);
//! 3. learn online, with a running mean for the first `1/alpha` bars and exponential
//!    forgetting (`scale_halflife_bars`) after: the base variance from the bar's
//!    variance estimate over the mean variance of the chain's stationary mix
//!    (`base_var += rate * (var_estimate / sum_k share_k vol_k^2 - base_var)`),
//!    which needs no labels, so a wrong start cannot lock the regimes one
//!    volatility step off (an expectation-maximisation estimate can: with
//!    volatilities a factor 2 apart, calling every regime the next one up fits
//!    almost as well); and the trade noise by Roll's estimator (minus the mean
//!    product of adjacent trade moves); each bar's contribution is capped at
//!    `25 * base_var` so one huge jump cannot blind the detector.
//!
//! The simulator's regimes differ mostly by volatility (0.5, 1, 2 and 4 times the
//! base), so the verdict rests on the bar's spread; the drifts are small and only
//! feed the forecasts.
//!
//! The verdict is the most probable regime (maximum a posteriori), which is the
//! choice that maximises the expected share of bars classified right, with one
//! exception: a drift of at least `drift_t` standard errors (an exponential mean
//! of log returns over `drift_window_bars`, against their exponential variance)
//! is a trend in its direction, however volatile (a crash is a downtrend). The
//! simulator's trends drift too little for that to fire (0.02 volatilities a
//! bar); a market that climbs or falls steadily is a trend whatever its
//! volatility level.

use neo_domain::Price;
use serde::Serialize;

use super::likelihood::{BarLikelihood, LogBar, bridge_variance};
use super::math::normal_cdf;
pub use super::regime_config::{RegimeDetectorConfig, RegimeModel};
use crate::market::{Ohlcv, Regime};
use crate::risk::ConfigError;

/// Smallest base variance per bar (a flat series would otherwise make it zero).
const MIN_BASE_VAR: f64 = 1e-20;
/// Most a single bar may pull the base variance, in base variances.
const MAX_VAR_STEP: f64 = 25.0;
/// Smallest posterior probability kept, so no regime becomes unreachable.
const MIN_PROBABILITY: f64 = 1e-12;

/// The detector's belief after a bar, with what each regime implies for the next bars
/// (what the regime-drift forecasting model reads).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegimePosterior {
    /// Probability of each regime, in [`Regime::ALL`] order; sums to 1.
    pub probabilities: [f64; 4],
    /// Expected log return per bar in each regime.
    pub drift: [f64; 4],
    /// Standard deviation of one bar's log return in each regime.
    pub volatility: [f64; 4],
    /// Chance of still being in each regime one bar later.
    pub persistence: [f64; 4],
}

impl RegimePosterior {
    /// The most probable regime (ties go to the first in [`Regime::ALL`] order).
    pub fn map(&self) -> Regime {
        let mut best = 0;
        for (i, p) in self.probabilities.iter().enumerate() {
            if *p > self.probabilities[best] {
                best = i;
            }
        }
        Regime::ALL[best]
    }

    /// `P(close in h bars > close now)` implied by the belief: per regime, the drift
    /// expected while the regime lasts (`drift * s (1 - s^h) / (1 - s)` with `s` its
    /// persistence) over `sqrt(h)` volatilities, mixed by probability.
    pub fn probability_up(&self, horizon: u32) -> f64 {
        self.probability_up_with(&horizon_factors(&self.persistence, horizon), 1.0)
    }

    /// [`probability_up`](Self::probability_up) with precomputed [`horizon_factors`]
    /// and the drifts scaled by `gain`.
    pub(crate) fn probability_up_with(&self, factors: &[f64; 4], gain: f64) -> f64 {
        let mut p = 0.0;
        for (((prob, drift), sd), factor) in self
            .probabilities
            .iter()
            .zip(&self.drift)
            .zip(&self.volatility)
            .zip(factors)
        {
            let z = if *sd > 0.0 {
                gain * drift * factor / sd
            } else {
                0.0
            };
            p += prob * normal_cdf(z);
        }
        p
    }
}

/// Per regime, the bars of drift expected within `horizon` bars over `sqrt(horizon)`:
/// `s (1 - s^h) / (1 - s) / sqrt(h)` for persistence `s`.
pub(crate) fn horizon_factors(persistence: &[f64; 4], horizon: u32) -> [f64; 4] {
    let h = f64::from(horizon.max(1));
    persistence.map(|s| {
        let lasting = if s < 1.0 {
            s * (1.0 - s.powf(h)) / (1.0 - s)
        } else {
            h
        };
        lasting / h.sqrt()
    })
}

/// The forward filter (see the module doc); feed it closed bars in order.
#[derive(Debug, Clone)]
pub struct RegimeDetector {
    config: RegimeDetectorConfig,
    /// `transition[i][j]`: chance of being in `j` next bar when in `i` now.
    transition: [[f64; 4]; 4],
    stay: [f64; 4],
    drift_units: [f64; 4],
    vol_units: [f64; 4],
    alpha: f64,
    /// Mean bar variance over the chain's stationary mix, in base variances.
    mix: f64,
    prev_close: Option<f64>,
    warm_sum: f64,
    warm_bars: u32,
    base_var: f64,
    /// Variance of one trade's log-price error around the efficient price.
    noise_var: f64,
    /// The previous bar's last trade-to-trade move (for the noise estimate).
    prev_move: f64,
    probabilities: Option<[f64; 4]>,
    level: f64,
    posterior: Option<RegimePosterior>,
    bars: u64,
    /// Bars filtered since the warm-up (for the base volatility's learning rate).
    filtered: u64,
    drift: DriftEvidence,
    verdict: Option<Regime>,
}

/// Exponential mean and variance of log returns: how many standard errors the
/// recent drift is from zero.
#[derive(Debug, Clone, Copy)]
struct DriftEvidence {
    alpha: f64,
    mean: f64,
    var: f64,
    seen: bool,
}

impl DriftEvidence {
    fn new(span_bars: f64) -> Self {
        DriftEvidence {
            alpha: 2.0 / (span_bars + 1.0),
            mean: 0.0,
            var: 0.0,
            seen: false,
        }
    }

    fn update(&mut self, r: f64) {
        if !r.is_finite() {
            return;
        }
        if !self.seen {
            self.seen = true;
            self.mean = r;
            return;
        }
        let diff = r - self.mean;
        let step = self.alpha * diff;
        self.mean += step;
        self.var = (1.0 - self.alpha) * (self.var + diff * step);
    }

    /// The mean over its standard error (`var * alpha / (2 - alpha)` for an
    /// exponential mean of independent returns); infinite for a perfectly steady
    /// move, zero for none.
    fn t(&self) -> f64 {
        let se2 = self.var * self.alpha / (2.0 - self.alpha);
        if se2 > 0.0 {
            self.mean / se2.sqrt()
        } else if self.mean == 0.0 {
            0.0
        } else {
            self.mean.signum() * f64::INFINITY
        }
    }
}

/// Index of the range in [`Regime::ALL`].
const RANGE: usize = Regime::Range.code() as usize;

impl RegimeDetector {
    /// A detector; refused when the config has problems (all listed).
    pub fn new(config: RegimeDetectorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let models = Regime::ALL.map(|r| config.get(r).clone());
        let mut transition = [[0.0; 4]; 4];
        let mut stay = [0.0; 4];
        for i in 0..4 {
            stay[i] = (-1.0 / models[i].mean_duration_bars).exp();
            let others: f64 = (0..4).filter(|j| *j != i).map(|j| models[j].weight).sum();
            for j in 0..4 {
                transition[i][j] = if i == j {
                    stay[i]
                } else {
                    (1.0 - stay[i]) * models[j].weight / others
                };
            }
        }
        let alpha = 1.0 - (-std::f64::consts::LN_2 / config.scale_halflife_bars).exp();
        let shares = stationary(&transition);
        let mix = (0..4)
            .map(|k| shares[k] * models[k].volatility * models[k].volatility)
            .sum();
        Ok(RegimeDetector {
            transition,
            stay,
            drift_units: models.clone().map(|m| m.drift),
            vol_units: models.map(|m| m.volatility),
            alpha,
            mix,
            prev_close: None,
            warm_sum: 0.0,
            warm_bars: 0,
            base_var: MIN_BASE_VAR,
            noise_var: 0.0,
            prev_move: 0.0,
            probabilities: None,
            level: 0.0,
            posterior: None,
            bars: 0,
            filtered: 0,
            drift: DriftEvidence::new(config.drift_window_bars),
            verdict: None,
            config,
        })
    }

    /// Feeds the next closed bar; the most probable regime, or `None` while warming
    /// up. A bar with a zero price is ignored (the previous verdict is returned).
    pub fn update(&mut self, bar: &Ohlcv) -> Option<Regime> {
        let Some([open, high, low, close]) = log_prices(bar) else {
            return self.regime();
        };
        self.update_log(open, high, low, close)
    }

    /// [`update`](Self::update) on log prices (the ensemble converts once for all).
    pub(crate) fn update_log(
        &mut self,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
    ) -> Option<Regime> {
        self.bars += 1;
        let Some(prev_close) = self.prev_close.replace(close) else {
            self.level = close;
            return None;
        };
        let bar = LogBar {
            prev_close,
            open,
            high,
            low,
            close,
        };
        let kind = self.config.bar_likelihood;
        let this_move = match kind {
            BarLikelihood::CloseToClose => close - prev_close,
            BarLikelihood::OpenClose | BarLikelihood::FourTrades | BarLikelihood::Candle => {
                close - open
            }
        };
        let noise_sample = match kind {
            BarLikelihood::CloseToClose => -self.prev_move * this_move,
            BarLikelihood::OpenClose | BarLikelihood::FourTrades | BarLikelihood::Candle => {
                bar.noise_estimate(self.prev_move)
            }
        };
        self.prev_move = this_move;
        self.drift.update(close - prev_close);
        let probabilities = match self.probabilities {
            Some(p) => p,
            None => self.warm_up(&bar, noise_sample)?,
        };
        let prior = self.predict(&probabilities, prev_close);
        let noise = self.noise();
        let base_vol = self.base_var.sqrt();
        let mut drift = self.drift_units.map(|d| d * base_vol);
        drift[RANGE] -= self.config.range_reversion * (prev_close - self.level);
        let vol = self.vol_units.map(|v| v * base_vol);
        let ln_l = self.ln_likelihoods(&bar, &drift, &vol, noise);
        let post = bayes(&prior, &ln_l);
        self.learn(&bar, noise, noise_sample);
        self.probabilities = Some(post);
        let posterior = RegimePosterior {
            probabilities: post,
            drift,
            volatility: vol,
            persistence: self.stay,
        };
        self.posterior = Some(posterior);
        self.verdict = Some(self.judge(&posterior));
        self.verdict
    }

    /// The most probable regime, unless the drift is strong enough to be a trend
    /// on its own (see the module doc).
    fn judge(&self, posterior: &RegimePosterior) -> Regime {
        let t = self.drift.t();
        if t.abs() < self.config.drift_t {
            posterior.map()
        } else if t > 0.0 {
            Regime::TrendUp
        } else {
            Regime::TrendDown
        }
    }

    /// Accumulates a warm-up bar; once there are enough, seeds the base variance and
    /// the trade noise and returns the flat starting belief.
    fn warm_up(&mut self, bar: &LogBar, noise_sample: f64) -> Option<[f64; 4]> {
        let kind = self.config.bar_likelihood;
        self.warm_sum += bar.variance_estimate(kind, 0.0, 0.0);
        self.noise_var += noise_sample;
        self.warm_bars += 1;
        if self.warm_bars < self.config.warmup_bars {
            return None;
        }
        let n = f64::from(self.warm_bars);
        self.noise_var /= n;
        let noise_cost = noise_share(kind) * self.noise();
        self.base_var = ((self.warm_sum / n - noise_cost) / self.mix).max(MIN_BASE_VAR);
        self.level = bar.prev_close;
        Some([0.25; 4])
    }

    /// The trade noise the likelihood uses (zero when `trade_noise` is off).
    fn noise(&self) -> f64 {
        if self.config.trade_noise {
            self.noise_var.max(0.0)
        } else {
            0.0
        }
    }

    /// The belief carried one bar forward, and the range's level moved toward where
    /// a range that began this bar would revert to.
    fn predict(&mut self, probabilities: &[f64; 4], prev_close: f64) -> [f64; 4] {
        let mut prior = [0.0; 4];
        for (i, p) in probabilities.iter().enumerate() {
            for (j, q) in prior.iter_mut().enumerate() {
                *q += p * self.transition[i][j];
            }
        }
        let entering: f64 = (0..4)
            .filter(|i| *i != RANGE)
            .map(|i| probabilities[i] * self.transition[i][RANGE])
            .sum();
        let fresh = if prior[RANGE] > 0.0 {
            (entering / prior[RANGE]).clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.level += fresh * (prev_close - self.level);
        prior
    }

    /// The tempered log-likelihood of the bar under each regime.
    fn ln_likelihoods(
        &self,
        bar: &LogBar,
        drift: &[f64; 4],
        vol: &[f64; 4],
        noise: f64,
    ) -> [f64; 4] {
        let kind = self.config.bar_likelihood;
        let mut ln_l = [0.0; 4];
        // The bridge term depends on the volatility only: compute it once per value.
        let mut bridges: [(u64, f64); 4] = [(0, 0.0); 4];
        let mut known = 0;
        for i in 0..4 {
            let mut ln = bar.ln_ends(kind, drift[i], vol[i], noise);
            if kind == BarLikelihood::FourTrades {
                let key = vol[i].to_bits();
                let bridge = match bridges[..known].iter().find(|(k, _)| *k == key) {
                    Some((_, b)) => *b,
                    None => {
                        let b = bar.ln_bridge(bridge_variance(vol[i], noise));
                        bridges[known] = (key, b);
                        known += 1;
                        b
                    }
                };
                ln += bridge;
            } else if kind == BarLikelihood::Candle {
                ln += bar.ln_range(vol[i] * vol[i] + 2.0 * noise);
            }
            ln_l[i] = self.config.tempering * ln;
        }
        ln_l
    }

    /// Learns the base volatility (label-free: the bar's variance over the mix) and
    /// the trade noise: a running mean at first (rate 1/n), exponential forgetting
    /// once n > 1/alpha.
    fn learn(&mut self, bar: &LogBar, noise: f64, noise_sample: f64) {
        let target = bar.variance_estimate(self.config.bar_likelihood, 0.0, noise) / self.mix;
        let cap = MAX_VAR_STEP * self.base_var;
        if target.is_finite() && noise_sample.is_finite() {
            self.filtered += 1;
            #[allow(clippy::cast_precision_loss)]
            let n = self.filtered as f64 + f64::from(self.warm_bars);
            let rate = self.alpha.max(1.0 / n);
            let target = target.clamp(-cap, cap);
            self.base_var = (self.base_var + rate * (target - self.base_var)).max(MIN_BASE_VAR);
            let sample = noise_sample.clamp(-cap, cap);
            self.noise_var += rate * (sample - self.noise_var);
        }
    }

    /// The latest verdict, `None` while warming up.
    pub fn regime(&self) -> Option<Regime> {
        self.verdict
    }

    /// The recent drift in standard errors (positive up), `None` while warming up.
    pub fn drift_t(&self) -> Option<f64> {
        self.posterior.map(|_| self.drift.t())
    }

    /// The latest belief, `None` while warming up.
    pub fn posterior(&self) -> Option<&RegimePosterior> {
        self.posterior.as_ref()
    }

    /// The learned base volatility per bar (log-return standard deviation of a trend).
    pub fn base_volatility(&self) -> Option<f64> {
        self.posterior.map(|_| self.base_var.sqrt())
    }

    /// The learned variance of one trade's log-price error (`None` while warming up).
    pub fn trade_noise(&self) -> Option<f64> {
        self.posterior.map(|_| self.noise_var.max(0.0))
    }

    /// Bars accepted so far.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// The configuration in use.
    pub fn config(&self) -> &RegimeDetectorConfig {
        &self.config
    }

    /// Forgets every bar, as if newly built.
    pub fn reset(&mut self) {
        self.prev_close = None;
        self.warm_sum = 0.0;
        self.warm_bars = 0;
        self.base_var = MIN_BASE_VAR;
        self.noise_var = 0.0;
        self.prev_move = 0.0;
        self.probabilities = None;
        self.level = 0.0;
        self.posterior = None;
        self.bars = 0;
        self.filtered = 0;
        self.drift = DriftEvidence::new(self.config.drift_window_bars);
        self.verdict = None;
    }
}

/// `prior * exp(ln_l)` normalised (shifted by the largest term so it cannot
/// overflow), each probability floored at [`MIN_PROBABILITY`]; the prior when
/// every likelihood vanishes.
fn bayes(prior: &[f64; 4], ln_l: &[f64; 4]) -> [f64; 4] {
    let top = ln_l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut post = [0.0; 4];
    let mut total = 0.0;
    for i in 0..4 {
        post[i] = prior[i] * (ln_l[i] - top).exp();
        total += post[i];
    }
    if !(total.is_finite() && total > 0.0) {
        post = *prior;
        total = prior.iter().sum();
    }
    for p in &mut post {
        *p = (*p / total).max(MIN_PROBABILITY);
    }
    let total: f64 = post.iter().sum();
    for p in &mut post {
        *p /= total;
    }
    post
}

/// The chain's long-run share of time in each regime (power iteration from uniform).
fn stationary(transition: &[[f64; 4]; 4]) -> [f64; 4] {
    let mut p = [0.25; 4];
    for _ in 0..2_000 {
        let mut next = [0.0; 4];
        for (i, pi) in p.iter().enumerate() {
            for (j, q) in next.iter_mut().enumerate() {
                *q += pi * transition[i][j];
            }
        }
        p = next;
    }
    p
}

/// How much of a bar's variance estimate one unit of trade noise adds (four trades
/// add `2 noise` to each of the gap's and the body's variance).
fn noise_share(kind: BarLikelihood) -> f64 {
    match kind {
        BarLikelihood::CloseToClose => 2.0,
        BarLikelihood::OpenClose | BarLikelihood::FourTrades | BarLikelihood::Candle => {
            (2.0 + 2.0 / 3.0) / 2.0 * 4.0
        }
    }
}

/// Natural logs of a bar's open, high, low and close; `None` if a price is zero.
///
/// `ln(raw) - ln(10^9)` rather than `to_f64().ln()`: the same number to a few ulps,
/// without `to_f64`'s two 128-bit divisions (a quarter of the ensemble's time).
pub(crate) fn log_prices(bar: &Ohlcv) -> Option<[f64; 4]> {
    #[allow(clippy::cast_precision_loss)]
    let ln = |p: Price| (p.value().raw() as f64).ln() - LN_UNIT;
    let logs = [ln(bar.open), ln(bar.high), ln(bar.low), ln(bar.close)];
    logs.iter().all(|x| x.is_finite()).then_some(logs)
}

/// `ln(10^SCALE)`: a `Fixed`'s raw integer over its value.
const LN_UNIT: f64 = 20.723_265_836_946_41;
