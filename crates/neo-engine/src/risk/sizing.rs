//! From a risk fraction to an exact quantity: `equity * f / |entry - stop|`.
//!
//! Every rounding goes toward zero (the fraction, the budget, the quantity, the
//! lot step), so `quantity * |entry - stop| <= equity * f` holds exactly and a
//! cap on `f` is a cap on the loss at the stop.

use neo_domain::{ArithmeticError, Fixed, Money, Price, Quantity, Rounding};

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
