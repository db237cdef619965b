//! From a risk fraction to an exact quantity: `equity * f / |entry - stop|`.
//!
//! Every rounding goes toward zero (the fraction, the budget, the quantity, the
//! lot step), so `quantity * |entry - stop| <= equity * f` holds exactly and a
//! cap on `f` is a cap on the loss at the stop.

use neo_domain::{ArithmeticError, Fixed, Money, Price, Quantity, Rounding};
use serde::{Deserialize, Serialize};

use super::KellyDecision;

/// What sizing needs; the risk fraction usually comes from [`KellyConfig::risk_fraction`](super::KellyConfig::risk_fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingInput {
    /// Current equity; nothing is sized when it is not positive.
    pub equity: Money,
    /// Fraction of equity to lose if the stop is hit (clamped to `[0, 1]`; NaN is 0).
    pub risk_fraction: f64,
    /// Expected entry price.
    pub entry: Price,
    /// The bracket's stop-loss price.
    pub stop: Price,
    /// The instrument's quantity increment.
    pub lot_step: Quantity,
    /// The quantity a signal asked for: the result never exceeds it (capped, not sized).
    pub requested: Option<Quantity>,
}

/// Why no quantity could be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SizingError {
    /// Entry equals stop: the risk per unit is zero, so any size is unbounded.
    #[error("entry and stop-loss are equal: no risk distance to size against")]
    NoStopDistance,
    /// A lot step of zero cannot round anything.
    #[error("lot step must be above zero")]
    ZeroLotStep,
    /// The numbers did not fit the exact range.
    #[error("sizing arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
}

/// The quantity that risks at most `equity * risk_fraction` at the stop, in lot steps.
///
/// Zero means "do not trade" (no equity, no edge, or less than one lot).
pub fn size_quantity(input: &SizingInput) -> Result<Quantity, SizingError> {
    let step = input.lot_step.value();
    if step.is_zero() {
        return Err(SizingError::ZeroLotStep);
    }
    let distance = input.entry.value().checked_sub(input.stop.value())?.abs();
    if distance.is_zero() {
        return Err(SizingError::NoStopDistance);
    }
    let f = if input.risk_fraction > 0.0 {
        input.risk_fraction.min(1.0)
    } else {
        0.0
    };
    let equity = input.equity.value();
    if f <= 0.0 || !equity.is_positive() {
        return Ok(Quantity::ZERO);
    }
    let f = Fixed::from_f64(f, Rounding::TowardZero)?;
    let budget = equity.mul_round(f, Rounding::TowardZero)?;
    let mut qty = budget
        .div_round(distance, Rounding::TowardZero)?
        .round_to_step(step, Rounding::TowardZero)?;
    if let Some(requested) = input.requested {
        qty = qty.min(
            requested
                .value()
                .round_to_step(step, Rounding::TowardZero)?,
        );
    }
    Ok(Quantity::new(qty).map_err(|_| ArithmeticError::Overflow)?)
}

/// Which bound set an entry's quantity (the smallest one wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeBound {
    /// Fractional Kelly, below its cap.
    Kelly,
    /// The hard Kelly cap (fractional Kelly was above it).
    Cap,
    /// The largest notional of one entry (`max_entry_fraction` of equity).
    Notional,
    /// Room left under the position or gross-notional limits, open orders counted.
    PositionLimit,
    /// Cash (or margin) free to pay for the entry and its fee.
    Cash,
    /// The quantity the signal asked for.
    Requested,
}

impl SizeBound {
    /// The stable name used in decisions, the API and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            SizeBound::Kelly => "kelly",
            SizeBound::Cap => "cap",
            SizeBound::Notional => "notional",
            SizeBound::PositionLimit => "position_limit",
            SizeBound::Cash => "cash",
            SizeBound::Requested => "requested",
        }
    }
}

/// Everything an entry's size depends on, besides the Kelly decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryLimits {
    /// Largest notional of one entry as a share of equity.
    pub max_entry_fraction: Fixed,
    /// Quantity room under the position and gross-notional limits ([`headroom`](super::headroom)).
    pub headroom: Fixed,
    /// Equity not already tied up as margin by positions and open entries.
    pub free_margin: Fixed,
    /// Leverage allowed (1 = a cash account: an entry is paid in full).
    pub leverage: Fixed,
    /// Fee rate charged on the entry's notional (taker, as a fraction).
    pub fee_rate: Fixed,
}

/// An entry's quantity and why it is that size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SizingDecision {
    /// The Kelly figures the risk quantity came from.
    pub kelly: KellyDecision,
    /// The quantity that loses `equity x fraction` at the stop.
    pub risk_quantity: Quantity,
    /// The quantity to trade: the smallest bound, in lot steps.
    pub quantity: Quantity,
    /// `quantity x entry`.
    pub notional: Money,
    /// Which bound set the quantity.
    pub bound_by: SizeBound,
}

/// Sizes an entry: the smallest of the Kelly-risk quantity, the notional cap,
/// the limit headroom, the free cash and the requested quantity, in lot steps.
pub fn size_entry(
    input: &SizingInput,
    kelly: KellyDecision,
    limits: &EntryLimits,
) -> Result<SizingDecision, SizingError> {
    let sized = SizingInput {
        risk_fraction: kelly.fraction,
        requested: None,
        ..*input
    };
    let risk_quantity = size_quantity(&sized)?;
    let step = input.lot_step.value();
    let entry = input.entry.value();
    let down = |x: Fixed| -> Result<Fixed, ArithmeticError> {
        Ok(x.round_to_step(step, Rounding::TowardZero)?
            .max(Fixed::ZERO))
    };
    let equity = input.equity.value().max(Fixed::ZERO);
    let notional_cap = down(
        equity
            .mul_round(limits.max_entry_fraction, Rounding::TowardZero)?
            .div_round(entry, Rounding::TowardZero)?,
    )?;
    // Per unit: the margin (price / leverage) and the fee (price x rate).
    let margin_rate = Fixed::ONE.div_round(limits.leverage, Rounding::Ceiling)?;
    let per_unit = entry.mul_round(
        margin_rate.checked_add(limits.fee_rate.max(Fixed::ZERO))?,
        Rounding::Ceiling,
    )?;
    let cash = down(
        limits
            .free_margin
            .max(Fixed::ZERO)
            .div_round(per_unit, Rounding::TowardZero)?,
    )?;
    let kelly_bound = if kelly.capped {
        SizeBound::Cap
    } else {
        SizeBound::Kelly
    };
    let mut candidates = vec![
        (risk_quantity.value(), kelly_bound),
        (notional_cap, SizeBound::Notional),
        (down(limits.headroom)?, SizeBound::PositionLimit),
        (cash, SizeBound::Cash),
    ];
    if let Some(requested) = input.requested {
        candidates.push((down(requested.value())?, SizeBound::Requested));
    }
    // The first of the smallest wins, so ties name Kelly before a limit.
    let (quantity, bound_by) = candidates
        .into_iter()
        .reduce(|best, c| if c.0 < best.0 { c } else { best })
        .unwrap_or((Fixed::ZERO, kelly_bound));
    let quantity = Quantity::new(quantity).map_err(|_| ArithmeticError::Overflow)?;
    Ok(SizingDecision {
        kelly,
        risk_quantity,
        quantity,
        notional: Money::notional(input.entry, quantity)?,
        bound_by,
    })
}
