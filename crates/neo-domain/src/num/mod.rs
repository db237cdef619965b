//! Exact decimal numbers for money and quantities: one fixed-point
//! representation (`i128` units of 10^-9), so no `f64` drift reaches orders,
//! fills, positions, cash or PnL, and every operation that could lose
//! precision either says so in its name (with a [`Rounding`]) or fails.

mod parse;
mod types;

#[cfg(test)]
mod tests;

use std::fmt;

pub use parse::ParseError;
pub use types::{Money, Price, Quantity};

/// Decimal places every [`Fixed`] keeps; inputs with more non-zero places are refused.
pub const SCALE: u32 = 9;
const UNIT: i128 = 1_000_000_000;

/// Why an arithmetic operation gave no result, instead of a wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticError {
    /// The exact result does not fit in the representation.
    #[error("arithmetic overflow")]
    Overflow,
    /// The exact result needs more than 9 decimal places; use a rounding variant.
    #[error("result needs more than {SCALE} decimal places")]
    Inexact,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A float that is NaN or infinite has no exact value.
    #[error("not a finite number")]
    NotFinite,
}

/// How to round when an exact result needs more places than are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rounding {
    /// To nearest, ties to even (banker's rounding): unbiased over many trades.
    #[default]
    HalfEven,
    /// To nearest, ties away from zero.
    HalfUp,
    /// Toward zero (truncate): e.g. quantities that must not exceed a budget.
    TowardZero,
    /// Away from zero.
    AwayFromZero,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
}

/// The one exact number type behind [`Price`], [`Quantity`] and [`Money`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed(i128);

impl Fixed {
    /// Zero.
    pub const ZERO: Fixed = Fixed(0);
    /// One.
    pub const ONE: Fixed = Fixed(UNIT);
    /// The largest value.
    pub const MAX: Fixed = Fixed(i128::MAX);
    /// The smallest value.
    pub const MIN: Fixed = Fixed(i128::MIN + 1);

    /// From raw units of 10^-9 (storage and wire formats that keep the integer).
    pub const fn from_raw(raw: i128) -> Self {
        Fixed(raw)
    }

    /// Raw units of 10^-9.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// An exact integer.
    pub const fn from_int(value: i64) -> Self {
        Fixed(value as i128 * UNIT)
    }

    /// `mantissa * 10^-scale`, exact or an error (e.g. `from_parts(12345, 2)` = 123.45).
    pub fn from_parts(mantissa: i128, scale: u32) -> Result<Self, ArithmeticError> {
        if scale <= SCALE {
            let factor = 10i128.pow(SCALE - scale);
            checked(mantissa.checked_mul(factor))
        } else {
            let divisor = 10i128
                .checked_pow(scale - SCALE)
                .ok_or(ArithmeticError::Inexact)?;
            if mantissa % divisor != 0 {
                return Err(ArithmeticError::Inexact);
            }
            Ok(Fixed(mantissa / divisor))
        }
    }

    /// Nearest exact value to a float from analytics (indicators, models), rounded as asked.
    pub fn from_f64(value: f64, rounding: Rounding) -> Result<Self, ArithmeticError> {
        if !value.is_finite() {
            return Err(ArithmeticError::NotFinite);
        }
        // Display gives the shortest decimal that round-trips, never an exponent.
        let text = format!("{value}");
        parse::parse_decimal(&text, Some(rounding)).map_err(|e| match e {
            ParseError::Overflow => ArithmeticError::Overflow,
            _ => ArithmeticError::Inexact,
        })
    }

    /// An `f64` approximation, for analytics only: never feed it back into money.
    #[allow(clippy::cast_precision_loss)]
    pub fn to_f64(self) -> f64 {
        let int = (self.0 / UNIT) as f64;
        let frac = (self.0 % UNIT) as f64 / UNIT as f64;
        int + frac
    }

    /// True when zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// True when above zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Absolute value (cannot overflow: `MIN` is `-MAX`).
    pub const fn abs(self) -> Self {
        Fixed(self.0.saturating_abs())
    }

    /// `self + rhs`, or an error on overflow.
    pub fn checked_add(self, rhs: Self) -> Result<Self, ArithmeticError> {
        checked(self.0.checked_add(rhs.0))
    }

    /// `self - rhs`, or an error on overflow.
    pub fn checked_sub(self, rhs: Self) -> Result<Self, ArithmeticError> {
        checked(self.0.checked_sub(rhs.0))
    }

    /// `self * rhs` exactly, or [`ArithmeticError::Inexact`] when it needs more places.
    pub fn checked_mul(self, rhs: Self) -> Result<Self, ArithmeticError> {
        let wide = self.0.checked_mul(rhs.0).ok_or(ArithmeticError::Overflow)?;
        if wide % UNIT != 0 {
            return Err(ArithmeticError::Inexact);
        }
        Ok(Fixed(wide / UNIT))
    }

    /// `self * rhs` rounded to 9 places as asked (notional, fees).
    pub fn mul_round(self, rhs: Self, rounding: Rounding) -> Result<Self, ArithmeticError> {
        let wide = self.0.checked_mul(rhs.0).ok_or(ArithmeticError::Overflow)?;
        Ok(Fixed(div_rounded(wide, UNIT, rounding)))
    }

    /// `self / rhs` rounded to 9 places as asked (average prices, ratios).
    pub fn div_round(self, rhs: Self, rounding: Rounding) -> Result<Self, ArithmeticError> {
        if rhs.0 == 0 {
            return Err(ArithmeticError::DivisionByZero);
        }
        let wide = self.0.checked_mul(UNIT).ok_or(ArithmeticError::Overflow)?;
        Ok(Fixed(div_rounded(wide, rhs.0, rounding)))
    }

    /// Rounds to a multiple of `step` (a tick or lot size), e.g. sizes down to whole lots.
    pub fn round_to_step(self, step: Self, rounding: Rounding) -> Result<Self, ArithmeticError> {
        if step.0 == 0 {
            return Err(ArithmeticError::DivisionByZero);
        }
        let step = step.0.saturating_abs();
        checked(div_rounded(self.0, step, rounding).checked_mul(step))
    }

    /// The lesser of two values.
    pub fn min(self, other: Self) -> Self {
        if self <= other { self } else { other }
    }

    /// The greater of two values.
    pub fn max(self, other: Self) -> Self {
        if self >= other { self } else { other }
    }
}

impl std::ops::Neg for Fixed {
    type Output = Fixed;
    fn neg(self) -> Fixed {
        Fixed(-self.0)
    }
}

/// Keeps `i128::MIN` out so that negation and `abs` can never overflow.
fn checked(raw: Option<i128>) -> Result<Fixed, ArithmeticError> {
    match raw {
        Some(v) if v != i128::MIN => Ok(Fixed(v)),
        _ => Err(ArithmeticError::Overflow),
    }
}

/// `n / d` rounded as asked; `d` is never zero here.
fn div_rounded(n: i128, d: i128, rounding: Rounding) -> i128 {
    let q = n / d;
    let r = n % d;
    if r == 0 {
        return q;
    }
    // The exact quotient lies between q and q + sign, where sign is its sign.
    let sign = if (n < 0) != (d < 0) { -1 } else { 1 };
    let twice_r = r.unsigned_abs().saturating_mul(2);
    let d_abs = d.unsigned_abs();
    let away = match rounding {
        Rounding::TowardZero => false,
        Rounding::AwayFromZero => true,
        Rounding::Floor => sign < 0,
        Rounding::Ceiling => sign > 0,
        Rounding::HalfUp => twice_r >= d_abs,
        Rounding::HalfEven => twice_r > d_abs || (twice_r == d_abs && q % 2 != 0),
    };
    if away { q + sign } else { q }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let unit = UNIT.unsigned_abs();
        let (int, frac) = (abs / unit, abs % unit);
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fixed {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse::parse_decimal(s, None)
    }
}
