//! The desk's per-feature figures, the numbers a staged rollout judges a
//! feature by (seed 004): calibration error, the Kelly drawdown scale, the
//! deepest drawdown, the bracket success rate, R-multiples and ATR accuracy.
//!
//! The running tallies live in the desk's durable memory ([`Scorecard`]), so
//! a restart keeps them; [`Figures`] is what they say, for `/metrics`, the
//! backtest's JSON and its report. Tallies are exact (counts and `Fixed`
//! sums); only the derived figures are floats.
//!
//! ATR accuracy: for every closed bar after the first ATR, the bar's true
//! range (`max(high, previous close) - min(low, previous close)`) is checked
//! against the ATR known before it; a hit is a true range within
//! `[ATR / 2, 2 x ATR]`, the band inside which the desk's ATR-sized brackets
//! behave as designed. Accuracy is hits over checks.

use crate::flags::{FlagName, GuardSample, RuleKind};
use neo_domain::contracts::{CandleV1, OrderRole};
use neo_domain::{Fixed, Rounding};
use serde::{Deserialize, Serialize};

use super::Desk;

/// Running tallies behind the figures; part of the desk's memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scorecard {
    /// Round trips closed by their take-profit.
    pub take_profits: u64,
    /// Round trips closed by their stop-loss.
    pub stop_losses: u64,
    /// Round trips whose R is known (their entry had a stop).
    pub r_count: u64,
    /// Sum of their R-multiples.
    pub r_sum: Fixed,
    /// Sum of their squared R-multiples (for the spread).
    pub r_sum_squares: Fixed,
    /// The deepest drawdown from the day's peak seen so far, as a fraction.
    pub max_drawdown: Fixed,
    /// Bars whose true range fell inside the band the ATR before them predicted.
    pub atr_hits: u64,
    /// Bars checked against an ATR.
    pub atr_checks: u64,
}

/// What the tallies say: each figure is `None` until there is something to measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Expected calibration error of the bracket probabilities (0 = perfect).
    pub calibration_ece: Option<f64>,
    /// Round trips the calibrator has learned from.
    pub calibration_outcomes: u64,
    /// The Kelly drawdown scale now (1 = full size).
    pub kelly_scale: f64,
    /// The smallest Kelly drawdown scale so far (at the deepest drawdown).
    pub kelly_scale_min: f64,
    /// The deepest drawdown from a day's peak, as a fraction.
    pub max_drawdown: f64,
    /// Take-profit exits over all bracket exits.
    pub bracket_success_rate: Option<f64>,
    /// Bracket exits counted.
    pub bracket_exits: u64,
    /// Mean R-multiple of closed round trips (PnL over the risk at the stop).
    pub r_multiple_mean: Option<f64>,
    /// Their standard deviation (population).
    pub r_multiple_std: Option<f64>,
    /// Share of bars whose true range fell within `[ATR / 2, 2 x ATR]`.
    pub atr_accuracy: Option<f64>,
    /// Bars checked for ATR accuracy.
    pub atr_checks: u64,
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Scorecard {
    /// Counts one closed round trip: how it closed and, with a known risk, its R.
    pub(crate) fn close_trip(&mut self, closed_by: OrderRole, pnl: Fixed, risk: Option<Fixed>) {
        match closed_by {
            OrderRole::TakeProfit => self.take_profits += 1,
            OrderRole::StopLoss => self.stop_losses += 1,
            OrderRole::Entry | OrderRole::Exit => {}
        }
        let Some(risk) = risk.filter(|r| r.is_positive()) else {
            return;
        };
        let Ok(r) = pnl.div_round(risk, Rounding::HalfEven) else {
            return;
        };
        let (Ok(sum), Ok(square)) = (
            self.r_sum.checked_add(r),
            r.mul_round(r, Rounding::HalfEven),
        ) else {
            return;
        };
        let Ok(squares) = self.r_sum_squares.checked_add(square) else {
            return;
        };
        self.r_count += 1;
        self.r_sum = sum;
        self.r_sum_squares = squares;
    }

    /// Keeps the deepest drawdown.
    pub(crate) fn drawdown(&mut self, drawdown: Fixed) {
        self.max_drawdown = self.max_drawdown.max(drawdown);
    }

    /// Checks a bar's true range against the ATR known before it.
    pub(crate) fn atr_bar(
        &mut self,
        atr: f64,
        previous_close: f64,
        bar: &CandleV1,
    ) -> Option<bool> {
        if !(atr.is_finite() && atr > 0.0 && previous_close.is_finite()) {
            return None;
        }
        let high = bar.high.value().to_f64().max(previous_close);
        let low = bar.low.value().to_f64().min(previous_close);
        let range = high - low;
        self.atr_checks += 1;
        let hit = (atr / 2.0..=atr * 2.0).contains(&range);
        if hit {
            self.atr_hits += 1;
        }
        Some(hit)
    }

    /// Mean and population spread, the spread from exact sums (`n` samples of one R give 0).
    #[allow(clippy::cast_precision_loss)]
    fn r_moments(&self) -> (Option<f64>, Option<f64>) {
        let Ok(n) = i64::try_from(self.r_count) else {
            return (None, None);
        };
        if n == 0 {
            return (None, None);
        }
        let count = Fixed::from_int(n);
        let mean = self.r_sum.to_f64() / n as f64;
        let spread = self
            .r_sum
            .mul_round(self.r_sum, Rounding::HalfEven)
            .and_then(|square| square.div_round(count, Rounding::HalfEven))
            .and_then(|centre| self.r_sum_squares.checked_sub(centre))
            .map(|deviations| (deviations.to_f64().max(0.0) / n as f64).sqrt());
        (Some(mean), spread.ok())
    }
}

impl Desk {
    /// The per-feature figures now.
    pub fn figures(&self) -> Figures {
        let card = &self.scorecard;
        let limit = self.config.risk.max_drawdown.to_f64();
        let kelly = &self.config.kelly;
        let now = self.portfolio.drawdown().map_or(0.0, Fixed::to_f64);
        let (r_multiple_mean, r_multiple_std) = card.r_moments();
        let outcomes = self.calibrator.outcomes();
        Figures {
            calibration_ece: (outcomes > 0).then(|| self.calibrator.ece()),
            calibration_outcomes: outcomes,
            kelly_scale: kelly.drawdown_scale(now, limit),
            kelly_scale_min: kelly.drawdown_scale(card.max_drawdown.to_f64(), limit),
            max_drawdown: card.max_drawdown.to_f64(),
            bracket_success_rate: ratio(card.take_profits, card.take_profits + card.stop_losses),
            bracket_exits: card.take_profits + card.stop_losses,
            r_multiple_mean,
            r_multiple_std,
            atr_accuracy: ratio(card.atr_hits, card.atr_checks),
            atr_checks: card.atr_checks,
        }
    }

    /// Scores a closed bar against the ATR before it, then lets the analyst see it.
    pub(crate) fn score_bar(&mut self, candle: &CandleV1) {
        let before = self.analyst.snapshot(&candle.instrument);
        let Some((atr, close)) = before.and_then(|s| s.atr.map(|a| (a, s.close))) else {
            return;
        };
        if let Some(hit) = self.scorecard.atr_bar(atr, close, candle) {
            // The ATR's own accuracy, whatever the flag: it judges whether ATR brackets can work.
            self.note_sample(
                GuardSample {
                    flag: FlagName::AtrBrackets,
                    kind: RuleKind::AtrAccuracy,
                    value: if hit { 1.0 } else { 0.0 },
                    reference: 0.0,
                },
                candle.ts_event,
            );
        }
    }
}
