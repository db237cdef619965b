//! Drawdown-aware fractional Kelly: how much of equity to put at risk on a trade.
//!
//! The Kelly fraction here is the fraction of equity *at risk*: the loss if the
//! stop-loss is hit is `equity * f`. That is Kelly's own meaning (the stake lost
//! on a losing bet) once every trade is bracketed, with `b` the bracket's
//! reward/risk. [`size_quantity`](super::size_quantity) turns it into a
//! quantity: `equity * f / |entry - stop|`.
//!
//! `f = min(fraction * (p - (1 - p) / b), cap) * scale(drawdown)`, never below 0.
//! The cap applies *before* the drawdown scale, so a drawdown always shrinks
//! the bet, even when Kelly itself is far above the cap (scaling first let the
//! cap absorb the scale: every drawdown sized the same). `scale` is 1 with no
//! drawdown and falls linearly to `floor_scale` as the drawdown reaches its
//! limit (and stays there beyond it; risk halts trading at the limit anyway),
//! so `f` strictly decreases with the drawdown up to the limit. Any non-finite
//! or out-of-range input yields 0 (no trade), never a panic, and no input can
//! produce more than the cap.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Fractional Kelly settings; a config file section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KellyConfig {
    /// Share of full Kelly to use (0.25 = quarter Kelly: most of the growth, far less variance).
    pub fraction: f64,
    /// Hard cap on the fraction of equity at risk per trade; never exceeded.
    pub cap: f64,
    /// Smallest drawdown scale, reached when the drawdown hits its limit.
    pub floor_scale: f64,
}

impl Default for KellyConfig {
    fn default() -> Self {
        KellyConfig {
            fraction: 0.25,
            cap: 0.02,
            floor_scale: 0.25,
        }
    }
}

impl KellyConfig {
    /// Every problem with these settings at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let in_unit =
            |x: f64, zero_ok: bool| x.is_finite() && x <= 1.0 && (x > 0.0 || zero_ok && x >= 0.0);
        if !in_unit(self.fraction, false) {
            problems.push(format!("fraction must be in (0, 1], got {}", self.fraction));
        }
        if !in_unit(self.cap, false) {
            problems.push(format!("cap must be in (0, 1], got {}", self.cap));
        }
        if !in_unit(self.floor_scale, true) {
            problems.push(format!(
                "floor_scale must be in [0, 1], got {}",
                self.floor_scale
            ));
        }
        ConfigError::from_problems("kelly", problems)
    }

    /// The cap actually enforced: the configured cap if it is in `[0, 1]`, else 0.
    pub fn hard_cap(&self) -> f64 {
        unit_or_zero(self.cap)
    }

    /// Size multiplier for the day's drawdown: 1 at none, `floor_scale` at `limit` and beyond.
    ///
    /// Both are fractions (0.02 = 2%). An unusable limit or drawdown gives the
    /// floor: when unsure, size small.
    pub fn drawdown_scale(&self, drawdown: f64, limit: f64) -> f64 {
        let floor = unit_or_zero(self.floor_scale);
        if !(limit.is_finite() && limit > 0.0) || drawdown.is_nan() {
            return floor;
        }
        let used = (drawdown / limit).clamp(0.0, 1.0);
        1.0 - (1.0 - floor) * used
    }

    /// The fraction of equity to put at risk, in `[0, hard_cap]`.
    ///
    /// `p` is the calibrated win probability, `b` the bracket's net reward/risk,
    /// `drawdown` and `drawdown_limit` the drawdown and its limit as fractions.
    /// At or below breakeven (`p <= 1 / (1 + b)`) the answer is 0.
    pub fn risk_fraction(&self, p: f64, b: f64, drawdown: f64, drawdown_limit: f64) -> f64 {
        self.decide(p, b, drawdown, drawdown_limit).fraction
    }

    /// The whole Kelly decision: raw Kelly, the cap, the drawdown scale and the result.
    pub fn decide(&self, p: f64, b: f64, drawdown: f64, drawdown_limit: f64) -> KellyDecision {
        let scale = self.drawdown_scale(drawdown, drawdown_limit);
        let valid = (0.0..=1.0).contains(&p) && b.is_finite() && b > 0.0;
        let kelly_raw = if valid { p - (1.0 - p) / b } else { 0.0 };
        let fractional = unit_or_zero(self.fraction) * kelly_raw;
        let cap = self.hard_cap();
        let capped = fractional > cap;
        let before_scale = if fractional > 0.0 {
            fractional.min(cap)
        } else {
            0.0
        };
        KellyDecision {
            kelly_raw,
            fractional: fractional.max(0.0),
            capped,
            drawdown_scale: scale,
            fraction: before_scale * scale,
        }
    }
}

/// One Kelly sizing, every intermediate figure kept so a decision can be explained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KellyDecision {
    /// Full Kelly, `p - (1 - p) / b` (negative when there is no edge).
    pub kelly_raw: f64,
    /// The configured share of full Kelly (0 with no edge).
    pub fractional: f64,
    /// Whether the hard cap bound (fractional Kelly was above it).
    pub capped: bool,
    /// The drawdown multiplier applied after the cap.
    pub drawdown_scale: f64,
    /// The fraction of equity at risk: `min(fractional, cap) * drawdown_scale`.
    pub fraction: f64,
}

/// `x` when it is a number in `[0, 1]`, else 0 (NaN and infinities included).
fn unit_or_zero(x: f64) -> f64 {
    if (0.0..=1.0).contains(&x) { x } else { 0.0 }
}
