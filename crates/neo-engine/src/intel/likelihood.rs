//! The likelihood of one bar under a regime: what the detector's forward filter
//! multiplies its prior by.
//!
//! The log price is a Brownian motion with a drift `mu` and a volatility `sigma` per
//! bar. With [`BarLikelihood::FourTrades`] a bar is read as four equally spaced
//! trades (the previous close is the trade before the open, as in
//! [`SimBars`](crate::market::SimBars)), so a bar holds four increments of variance
//! `v = sigma^2 / 4`: the gap `open - prev_close` (one increment), the body
//! `close - open` (three), and the high and low, which say where the two interior
//! trades were. Given the open and the close, the interior trades are a Brownian
//! *bridge* whose law does not depend on the drift, so
//!
//! `L = N(gap; mu/4, v) N(body; 3mu/4, 3v) B(high, low | open, close, v)`
//!
//! where `B` is exact for the four-trade bar: the density of both interior trades at
//! the extremes when the high and the low both lie outside the open-close body, the
//! density of one at the extreme times the chance the other stays inside otherwise,
//! and the chance both stay inside the body when neither extends it (a function of
//! `|close - open| / sqrt(v)` alone, tabulated once).
//!
//! Trade noise (each trade off the efficient price by an independent error of
//! variance `n`) makes the gap and the body a correlated pair (variances `v + 2n` and
//! `3v + 2n`, covariance `-n`: they share the open's error), which the ends' term
//! models exactly; the bridge term then reads steps of variance `v + 2n`, an
//! approximation that matters only when the tick is large next to a minute's move.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::math::{HALF_LN_2PI, ln_floor, ln_normal_pdf, normal_between, std_normal_pdf};

/// How much of each bar the regime detector reads (more is sharper; see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarLikelihood {
    /// Only the close-to-close return (any bar source).
    CloseToClose,
    /// The gap and the body as one and three of four equal increments.
    OpenClose,
    /// Open, high, low and close as four equally spaced trades (the simulator's bars).
    FourTrades,
    /// The gap and the body as [`OpenClose`](Self::OpenClose) does, and the high and
    /// low as the extremes of a continuous path (a candle of many trades: live feeds
    /// and NEO's own candles) through the Rogers-Satchell variance.
    Candle,
}

/// One bar in natural-log prices, with the previous bar's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LogBar {
    /// Log of the previous close.
    pub(crate) prev_close: f64,
    /// Log of the open.
    pub(crate) open: f64,
    /// Log of the high.
    pub(crate) high: f64,
    /// Log of the low.
    pub(crate) low: f64,
    /// Log of the close.
    pub(crate) close: f64,
}

/// Degrees of freedom of the Rogers-Satchell variance (its variance is about a
/// third of `var^2` for a continuous path, against `2 var^2` for a squared return).
/// Fitted through the analyst on the simulator's candles (2: 85.7%, 4: 85.9%,
/// 6: 84.3% of bars classified right; `cargo test -p neo-engine --test analyst`).
pub(crate) const RANGE_DEGREES: f64 = 4.0;

/// Increments per bar under the four-trade reading.
const INCREMENTS: f64 = 4.0;

impl LogBar {
    /// Per-bar variance estimate of the *efficient* price with `drift` removed and the
    /// trade noise `noise` (variance of one trade's log-price error) taken out: two
    /// degrees of freedom from the gap and the body under the four-trade split, or the
    /// squared close-to-close return for [`BarLikelihood::CloseToClose`]. Can be
    /// negative on a quiet bar; its mean is right.
    pub(crate) fn variance_estimate(&self, kind: BarLikelihood, drift: f64, noise: f64) -> f64 {
        match kind {
            BarLikelihood::CloseToClose => {
                let r = self.close - self.prev_close - drift;
                r * r - 2.0 * noise
            }
            BarLikelihood::OpenClose | BarLikelihood::FourTrades | BarLikelihood::Candle => {
                let step = drift / INCREMENTS;
                let gap = self.open - self.prev_close - step;
                let body = self.close - self.open - 3.0 * step;
                // Each term estimates one increment's variance; four make a bar.
                ((gap * gap - 2.0 * noise) + (body * body - 2.0 * noise) / 3.0) / 2.0 * INCREMENTS
            }
        }
    }

    /// Lag-one products of adjacent trade-to-trade moves (previous body with this gap,
    /// this gap with this body): each has mean `-noise` when trades scatter around
    /// the efficient price independently (Roll's estimator), so their negated mean
    /// estimates the trade noise.
    pub(crate) fn noise_estimate(&self, prev_body: f64) -> f64 {
        let gap = self.open - self.prev_close;
        let body = self.close - self.open;
        -(prev_body * gap + gap * body) / 2.0
    }

    /// `ln` of the likelihood of the bar's ends (the close-to-close return, or the
    /// gap and the body) when the efficient log price drifts by `drift` per bar with
    /// per-bar volatility `vol` (> 0) and each trade misses it by an independent error
    /// of variance `noise` (>= 0). For [`BarLikelihood::FourTrades`] add
    /// [`ln_bridge`](Self::ln_bridge) of [`bridge_variance`].
    pub(crate) fn ln_ends(&self, kind: BarLikelihood, drift: f64, vol: f64, noise: f64) -> f64 {
        match kind {
            BarLikelihood::CloseToClose => {
                ln_normal_pdf(self.close - self.prev_close, drift, vol * vol + 2.0 * noise)
            }
            BarLikelihood::OpenClose | BarLikelihood::FourTrades | BarLikelihood::Candle => {
                let v = vol * vol / INCREMENTS;
                let step = drift / INCREMENTS;
                // Gap and body share the open's error: covariance -noise.
                ln_normal_pdf2(
                    self.open - self.prev_close - step,
                    self.close - self.open - 3.0 * step,
                    v + 2.0 * noise,
                    3.0 * v + 2.0 * noise,
                    -noise,
                )
            }
        }
    }

    /// `ln` of the range's quasi-likelihood for a per-bar variance `var` (> 0): the
    /// Rogers-Satchell variance `(h - c)(h - o) + (l - c)(l - o)` (drift-free, mean
    /// `var` for a continuous path) read as a gamma variable with
    /// [`RANGE_DEGREES`] degrees of freedom; the terms free of `var` are left out.
    pub(crate) fn ln_range(&self, var: f64) -> f64 {
        let rs = (self.high - self.close) * (self.high - self.open)
            + (self.low - self.close) * (self.low - self.open);
        let k = RANGE_DEGREES;
        -0.5 * k * var.ln() - 0.5 * k * rs.max(0.0) / var
    }

    /// `ln B`: where the two interior trades were, given the open, the close and the
    /// per-increment variance `v` (> 0). It does not depend on the drift.
    pub(crate) fn ln_bridge(&self, v: f64) -> f64 {
        let (a, c) = (self.open, self.close);
        let (top, bottom) = (a.max(c), a.min(c));
        let high = self.high.max(top);
        let low = self.low.min(bottom);
        // Interior trades: means a third and two thirds of the way, variance 2v/3 each,
        // covariance v/3; one given the other has half its deviation and variance v/2.
        let m2 = a + (c - a) / 3.0;
        let m3 = a + 2.0 * (c - a) / 3.0;
        let var_m = 2.0 * v / 3.0;
        let var_c = v / 2.0;
        let sd_c = var_c.sqrt();
        // ln N(y; m, var_m) = marginal - (y - m)^2 / (2 var_m), and likewise for var_c.
        let marginal = -HALF_LN_2PI - 0.5 * var_m.ln();
        let conditional = -HALF_LN_2PI - 0.5 * var_c.ln();
        let sq = |d: f64, var: f64| d * d / (2.0 * var);
        match (high > top, low < bottom) {
            (true, true) => {
                // Both interior trades are the extremes, in either order.
                let joint =
                    |y2: f64, y3: f64| sq(y2 - m2, var_m) + sq(y3 - m3 - (y2 - m2) / 2.0, var_c);
                let (q1, q2) = (joint(high, low), joint(low, high));
                let q = q1.min(q2);
                marginal + conditional - q + ((q - q1).exp() + (q - q2).exp()).ln()
            }
            (false, false) => BRIDGE_TABLE.ln_inside((top - bottom) / v.sqrt()),
            (up, _) => {
                // One interior trade at the extreme `y`, the other in [low, high].
                let y = if up { high } else { low };
                let (q1, q2) = (sq(y - m2, var_m), sq(y - m3, var_m));
                let other3 = m3 + (y - m2) / 2.0;
                let other2 = m2 + (y - m3) / 2.0;
                let p1 = normal_between((low - other3) / sd_c, (high - other3) / sd_c);
                let p2 = normal_between((low - other2) / sd_c, (high - other2) / sd_c);
                let q = q1.min(q2);
                marginal - q + ln_floor((q - q1).exp() * p1 + (q - q2).exp() * p2)
            }
        }
    }
}

/// The per-increment variance [`LogBar::ln_bridge`] reads for a per-bar volatility
/// `vol` and trade noise `noise`: the interior trades carry the noise too, read as a
/// bridge of wider steps (an approximation; exact when `noise` is 0).
pub(crate) fn bridge_variance(vol: f64, noise: f64) -> f64 {
    vol * vol / INCREMENTS + 2.0 * noise
}

/// `ln` of a centred bivariate normal density at `(x, y)` with variances `a`, `b`
/// and covariance `c` (`a b > c^2`).
fn ln_normal_pdf2(x: f64, y: f64, a: f64, b: f64, c: f64) -> f64 {
    let det = a * b - c * c;
    let q = (b * x * x - 2.0 * c * x * y + a * y * y) / det;
    -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * q
}

/// `ln P(both interior trades inside the open-close body)` as a function of the body
/// `w` in increment standard deviations. Tabulated on `[0, MAX_WIDTH]` as
/// `ln P(w) - 2 ln w`, which is smooth down to `w = 0` (where `P ~ w^2` times the
/// bridge's density at its centre), so linear interpolation stays accurate.
#[derive(Debug)]
struct BridgeTable {
    scaled: Vec<f64>,
}

/// Table step, in increment standard deviations.
const STEP: f64 = 1.0 / 32.0;
/// Widest body tabulated; beyond it the probability is 1 to seven digits.
const MAX_WIDTH: f64 = 16.0;
/// Narrowest body read (a bar with no body would otherwise have probability 0).
const MIN_WIDTH: f64 = 1e-6;
/// Simpson intervals per tabulated value.
const SIMPSON: usize = 64;

static BRIDGE_TABLE: LazyLock<BridgeTable> = LazyLock::new(BridgeTable::build);

impl BridgeTable {
    /// Integrates once: `P(w) = ∫_0^w N(y; w/3, 2/3) P(Y3 in [0, w] | Y2 = y) dy`.
    fn build() -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (MAX_WIDTH / STEP).round() as usize;
        let sd_m = (2.0_f64 / 3.0).sqrt();
        let sd_c = 0.5_f64.sqrt();
        let inside = |w: f64| -> f64 {
            let h = w / SIMPSON as f64;
            let f = |y: f64| {
                let cond = 2.0 * w / 3.0 + (y - w / 3.0) / 2.0;
                std_normal_pdf((y - w / 3.0) / sd_m) / sd_m
                    * normal_between(-cond / sd_c, (w - cond) / sd_c)
            };
            let mut sum = f(0.0) + f(w);
            for i in 1..SIMPSON {
                let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
                sum += weight * f(h * i as f64);
            }
            sum * h / 3.0
        };
        // At w -> 0 both trades sit at the centre: density 1 / (2 pi sqrt(det)),
        // det = (2/3)^2 - (1/3)^2 = 1/3.
        let centre = -(2.0 * std::f64::consts::PI * (1.0_f64 / 3.0).sqrt()).ln();
        let scaled = (0..=n)
            .map(|i| {
                if i == 0 {
                    centre
                } else {
                    let w = STEP * i as f64;
                    ln_floor(inside(w).min(1.0)) - 2.0 * w.ln()
                }
            })
            .collect();
        BridgeTable { scaled }
    }

    /// `ln P(width)`, interpolated linearly in `ln P - 2 ln w`.
    fn ln_inside(&self, width: f64) -> f64 {
        let w = if width.is_nan() {
            MIN_WIDTH
        } else {
            width.max(MIN_WIDTH)
        };
        if w >= MAX_WIDTH {
            return 0.0;
        }
        let x = w / STEP;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = x.floor() as usize;
        let t = x - i as f64;
        let g = match (self.scaled.get(i), self.scaled.get(i + 1)) {
            (Some(lo), Some(hi)) => lo + t * (hi - lo),
            _ => 0.0,
        };
        (g + 2.0 * w.ln()).min(0.0)
    }
}

#[cfg(test)]
pub(crate) fn bridge_inside_probability(width: f64) -> f64 {
    BRIDGE_TABLE.ln_inside(width).exp()
}
