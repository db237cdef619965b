//! Entries: a bracket from the ATR, a win probability for that bracket, Kelly
//! on the net payoff, and a quantity bounded by every limit at once.
//!
//! - **p** is the calibrated probability that the *bracket* wins (the round
//!   trip closes at a profit). A TradingView alert's raw confidence is the
//!   analyst's; a strategy signal's is its forecast `P(close higher in h bars)`
//!   turned into the probability of reaching the take-profit before the stop
//!   ([`bracket_probability`]). The calibrator then maps either to the win rate
//!   observed at that raw confidence.
//! - **b** is the net reward/risk: the target's distance less the round trip's
//!   fees, over the stop's distance plus fees and the slippage a stop suffers.
//!   No positive net edge, no trade (`no_edge`).
//! - The quantity is the smallest of the Kelly-risk quantity, the per-entry
//!   notional cap, the limit headroom (open orders counted, the helper risk
//!   uses), the free cash or margin and any requested quantity; the decision
//!   records which bound.

use neo_domain::contracts::{AgentOutputV1, SignalEventV1, SignalSource, TimeInForce};
use neo_domain::{Fixed, IdKind, MessageId, Rounding, Side, Timestamp};

use super::{Desk, DeskError, EntryInfo, Step};
use crate::flags::{FlagName, GuardSample, RuleKind, signal_unit};
use crate::risk::{
    BracketedEntry, EntryLimits, EntryOrder, EntryType, SizeBound, SizingInput, TradingState,
    headroom, size_entry,
};

/// Metadata key under which the strategy loop sends its forecast horizon in bars.
pub const HORIZON_BARS: &str = "horizon_bars";

/// A per-bar standard deviation from an ATR: for a random walk the mean bar
/// range is `sigma * sqrt(8 / pi)`, so `sigma = ATR * sqrt(pi / 8)`.
const SIGMA_PER_ATR: f64 = 0.626_657_068_657_750_1;

impl Desk {
    /// A risk-sized, ATR-bracketed market entry.
    pub(crate) fn enter(
        &mut self,
        signal: &SignalEventV1,
        decision: &AgentOutputV1,
        side: Side,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let instrument = signal.instrument;
        let status = self.risk.status();
        if status.state == TradingState::Halted {
            let message = format!(
                "trading is halted since {} ({}, by {}): only exits and reductions pass",
                status.since,
                status.cause.reason(),
                status.cause.by()
            );
            step.refuse("trading_halted", message);
            return Ok(());
        }
        let (Some(entry), Some(steps)) = (
            self.quote(instrument, side),
            self.steps.get(&instrument).copied(),
        ) else {
            step.refuse("no_market_data", format!("no market data for {instrument}"));
            return Ok(());
        };
        let Some(atr) = self.analyst.snapshot(&instrument).and_then(|s| s.atr) else {
            let message = format!("{instrument}'s ATR is still warming up");
            step.refuse("no_atr", message);
            return Ok(());
        };
        let unit = signal_unit(signal.strategy.as_deref(), instrument);
        let on = |flag| self.flags.is_on(flag, &unit);
        let flags: Vec<FlagName> = FlagName::ALL.into_iter().filter(|f| on(*f)).collect();
        let built = if on(FlagName::AtrBrackets) {
            self.config
                .brackets
                .bracket(side, entry, atr, Some(steps.price_step))
        } else {
            self.config
                .percent_brackets
                .bracket(side, entry, Some(steps.price_step))
        };
        let bracket = match built {
            Ok(b) => b,
            Err(e) => {
                step.refuse("no_bracket", format!("no bracket could be built: {e}"));
                return Ok(());
            }
        };
        let raw = raw_confidence(signal, decision.confidence, &bracket, atr);
        let probability = if flags.contains(&FlagName::ConfidenceCalibration) {
            self.calibrator.calibrate(raw)
        } else {
            raw
        };
        let reward_risk = self.net_reward_risk(&bracket, atr);
        let drawdown = if flags.contains(&FlagName::DrawdownKelly) {
            self.portfolio.drawdown()?.to_f64()
        } else {
            0.0
        };
        let limit = self.config.risk.max_drawdown.to_f64();
        let mut kelly = self
            .config
            .kelly
            .decide(probability, reward_risk, drawdown, limit);
        if self.risk.state() == TradingState::Reducing {
            // Smaller entries only: never above the cap at the floor scale.
            let floor = self.config.kelly.hard_cap() * self.config.kelly.floor_scale;
            kelly.fraction = kelly.fraction.min(floor);
        }
        // Risk taken with calibration on against off (judged while it rolls out).
        step.samples.push(GuardSample {
            flag: FlagName::ConfidenceCalibration,
            kind: RuleKind::RiskFractionUp,
            value: kelly.fraction,
            reference: if flags.contains(&FlagName::ConfidenceCalibration) {
                1.0
            } else {
                0.0
            },
        });
        if flags.contains(&FlagName::DrawdownKelly) {
            step.samples.push(GuardSample {
                flag: FlagName::DrawdownKelly,
                kind: RuleKind::KellyScale,
                value: kelly.drawdown_scale,
                reference: 0.0,
            });
        }
        if kelly.fraction <= 0.0 {
            step.refuse(
                "no_edge",
                format!(
                    "no edge: win probability {probability:.3} at net reward/risk {reward_risk:.2} \
                     (after fees and slippage) has no positive Kelly fraction"
                ),
            );
            return Ok(());
        }
        let limits = self.entry_limits(instrument, side, entry)?;
        let input = SizingInput {
            equity: self.portfolio.equity()?,
            risk_fraction: kelly.fraction,
            entry,
            stop: bracket.stop_loss(),
            lot_step: steps.lot_step,
            requested: signal.quantity,
        };
        let sizing = size_entry(&input, kelly, &limits).map_err(DeskError::Sizing)?;
        step.sizing = Some(sizing);
        let mut quantity = sizing.quantity;
        if quantity.is_zero() {
            match sizing.bound_by {
                // Let risk refuse with the limit and the figures that broke it.
                SizeBound::PositionLimit if !sizing.risk_quantity.is_zero() => {
                    quantity = sizing.risk_quantity;
                }
                SizeBound::Cash => {
                    step.refuse(
                        "insufficient_cash",
                        format!(
                            "not enough free cash for one lot of {instrument} at {entry} with fees \
                             (free {}, leverage {})",
                            limits.free_margin, self.config.leverage
                        ),
                    );
                    return Ok(());
                }
                _ => {
                    step.refuse(
                        "below_lot",
                        format!(
                            "the risk budget ({:.3}% of equity, bound by {}) buys less than one lot of {instrument}",
                            kelly.fraction * 100.0,
                            sizing.bound_by.as_str()
                        ),
                    );
                    return Ok(());
                }
            }
        }
        let intent = bracket.into_intent(EntryOrder {
            id: MessageId::derived(IdKind::Intent, &decision.id.to_string()),
            decision_id: decision.id,
            signal_id: signal.id,
            instrument,
            quantity,
            entry_type: EntryType::Market,
            time_in_force: TimeInForce::Gtc,
            ts_event: now,
        });
        let info = EntryInfo {
            signal_id: signal.id,
            source_id: signal.source_id.clone(),
            side,
            stop_loss: intent.stop_loss,
            take_profit: intent.take_profit,
            raw_confidence: raw,
            probability,
            flags,
        };
        self.place(intent, Some(info), now, step)
    }

    /// The bounds other than Kelly: notional cap, limit headroom, free margin, fees.
    fn entry_limits(
        &self,
        instrument: neo_domain::InstrumentId,
        side: Side,
        entry: neo_domain::Price,
    ) -> Result<EntryLimits, DeskError> {
        let instruments = self.instrument_views();
        let view = self.view(Timestamp::EPOCH, &instruments);
        let room = headroom(&self.config.risk, &view, instrument, side, Some(entry))?;
        let leverage = self.config.leverage;
        // Margin held by positions: gross notional / leverage (all of it on a cash account).
        let held = view
            .gross_notional
            .value()
            .div_round(leverage, Rounding::Ceiling)?;
        let mut free_margin = view.equity.value().checked_sub(held)?;
        if leverage <= Fixed::ONE {
            // A cash account pays from its cash, never more.
            free_margin = free_margin.min(self.portfolio.cash().value());
        }
        // The fill lands at the quote moved by slippage: charge that like a fee.
        let atr = self.analyst.snapshot(&instrument).and_then(|s| s.atr);
        let slipped = self.config.oms.slippage.apply(entry, side, atr)?;
        let slip = slipped
            .value()
            .checked_sub(entry.value())?
            .abs()
            .div_round(entry.value(), Rounding::Ceiling)?;
        Ok(EntryLimits {
            max_entry_fraction: self.config.max_entry_fraction,
            headroom: room.quantity(),
            free_margin,
            leverage,
            fee_rate: self.config.oms.fees.taker_rate()?.checked_add(slip)?,
        })
    }

    /// `b` after costs: (target distance - fees) / (stop distance + fees + stop slippage).
    fn net_reward_risk(&self, bracket: &BracketedEntry, atr: f64) -> f64 {
        let fees = &self.config.oms.fees;
        let (taker, maker) = (
            fees.taker_rate().map_or(0.0, Fixed::to_f64),
            fees.maker_rate().map_or(0.0, Fixed::to_f64),
        );
        let entry = bracket.entry().value().to_f64();
        let stop = bracket.stop_loss().value().to_f64();
        let target = bracket.take_profit().value().to_f64();
        let exit_side = match bracket.side() {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let slip = |price: neo_domain::Price, side: Side| {
            self.config
                .oms
                .slippage
                .apply(price, side, Some(atr))
                .map_or(0.0, |moved| {
                    (moved.value().to_f64() - price.value().to_f64()).abs()
                })
        };
        let entry_slip = slip(bracket.entry(), bracket.side());
        let stop_slip = slip(bracket.stop_loss(), exit_side);
        let entry_cost = entry * taker + entry_slip;
        let reward = (target - entry).abs() - entry_cost - target * maker.max(0.0);
        let risk = (entry - stop).abs() + entry_cost + stop * taker + stop_slip;
        if reward > 0.0 && risk > 0.0 && reward.is_finite() && risk.is_finite() {
            reward / risk
        } else {
            0.0
        }
    }
}

/// The model's own estimate that the bracket wins, before calibration.
fn raw_confidence(
    signal: &SignalEventV1,
    confidence: f64,
    bracket: &BracketedEntry,
    atr: f64,
) -> f64 {
    let horizon = signal
        .metadata
        .get(HORIZON_BARS)
        .and_then(serde_json::Value::as_u64)
        .filter(|h| *h > 0);
    let (SignalSource::Strategy, Some(horizon)) = (signal.source, horizon) else {
        return confidence;
    };
    let sigma = atr * SIGMA_PER_ATR;
    let stop = bracket.risk_per_unit().to_f64();
    let target = bracket
        .take_profit()
        .value()
        .checked_sub(bracket.entry().value())
        .map_or(0.0, |d| d.abs().to_f64());
    #[allow(clippy::cast_precision_loss)]
    bracket_probability(confidence, horizon as f64, stop / sigma, target / sigma)
}

/// `P(take-profit before stop-loss)` for a random walk whose drift makes the
/// close `horizon` bars ahead land on the trade's side with probability `q`.
///
/// The drift per bar in sigmas is `m = z(q) / sqrt(horizon)`; a Brownian motion
/// with that drift hits `+target` before `-stop` (both in sigmas) with
/// probability `(1 - e^(2 m stop)) / (e^(-2 m target) - e^(2 m stop))`, which
/// is `stop / (stop + target)` with no drift. Bad inputs give 0 (no trade).
pub fn bracket_probability(q: f64, horizon: f64, stop: f64, target: f64) -> f64 {
    let valid = q.is_finite() && horizon > 0.0 && stop > 0.0 && target > 0.0;
    if !valid || target.is_infinite() || stop.is_infinite() {
        return 0.0;
    }
    let q = q.clamp(1e-9, 1.0 - 1e-9);
    let m = normal_quantile(q) / horizon.sqrt();
    if m.abs() < 1e-12 {
        return stop / (stop + target);
    }
    let num = 1.0 - (2.0 * m * stop).exp();
    let den = (-2.0 * m * target).exp() - (2.0 * m * stop).exp();
    let p = num / den;
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else if m > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
