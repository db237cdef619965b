//! Decimal text to [`Fixed`]: the one parser behind strings, JSON numbers and floats.

use super::{Fixed, Rounding, SCALE};

/// Why a text is not an exact decimal NEO accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to parse.
    #[error("empty number")]
    Empty,
    /// Not of the form `[+-]digits[.digits][e[+-]digits]`.
    #[error("not a decimal number: {0:?}")]
    Invalid(String),
    /// More non-zero decimal places than NEO keeps.
    #[error("more than {SCALE} decimal places: {0:?}")]
    TooPrecise(String),
    /// Too large for the representation.
    #[error("number out of range")]
    Overflow,
    /// A JSON float with more significant digits than survive a float round-trip.
    #[error(
        "JSON number {0} has more than 15 significant digits: send it as a string to keep it exact"
    )]
    TooManyDigits(String),
    /// Negative where only zero or more makes sense (quantities).
    #[error("must not be negative: {0}")]
    Negative(String),
}

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` exactly; with `rounding`, extra
/// places are rounded instead of refused (only for values that came from floats).
pub(crate) fn parse_decimal(text: &str, rounding: Option<Rounding>) -> Result<Fixed, ParseError> {
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let invalid = || ParseError::Invalid(text.chars().take(64).collect());
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa_part, exponent) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (
            &rest[..i],
            parse_exponent(&rest[i + 1..]).ok_or_else(invalid)?,
        ),
        None => (rest, 0),
    };
    let (int_digits, frac_digits) = match mantissa_part.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa_part[..i], &mantissa_part[i + 1..]),
        None => (mantissa_part, &[][..]),
    };
    let all_digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    let has_dot = mantissa_part.len() != int_digits.len();
    if int_digits.is_empty()
        || (has_dot && frac_digits.is_empty())
        || !all_digits(int_digits)
        || !all_digits(frac_digits)
    {
        return Err(invalid());
    }
    // value = digits * 10^(exponent - frac_len); shift that into units of 10^-SCALE.
    let shift = i64::from(SCALE) + exponent - frac_digits.len() as i64;
    let total = int_digits.len() + frac_digits.len();
    // Digits past position `keep` fall below 10^-SCALE.
    let below = if shift >= 0 {
        0
    } else {
        shift.unsigned_abs() as usize
    };
    let keep = total.saturating_sub(below);
    // The first digit below the unit decides rounding; an implicit zero when the
    // shift is longer than the digits.
    let mut first_dropped = (below > total).then_some(0u8);
    let mut rest_nonzero = false;
    let mut mantissa: i128 = 0;
    for (i, &d) in int_digits.iter().chain(frac_digits).enumerate() {
        let d = d - b'0';
        if i < keep {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(d)))
                .ok_or(ParseError::Overflow)?;
        } else if first_dropped.is_none() {
            first_dropped = Some(d);
        } else {
            rest_nonzero |= d != 0;
        }
    }
    if shift > 0 && mantissa != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
            .ok_or(ParseError::Overflow)?;
        mantissa = mantissa.checked_mul(factor).ok_or(ParseError::Overflow)?;
    }
    if let Some(first) = first_dropped.filter(|&f| f != 0 || rest_nonzero) {
        let Some(rounding) = rounding else {
            return Err(ParseError::TooPrecise(text.chars().take(64).collect()));
        };
        let away = round_away(first, rest_nonzero, rounding, negative, mantissa % 2 != 0);
        if away {
            mantissa = mantissa.checked_add(1).ok_or(ParseError::Overflow)?;
        }
    }
    let value = if negative { -mantissa } else { mantissa };
    if value == i128::MIN {
        return Err(ParseError::Overflow);
    }
    Ok(Fixed(value))
}

fn parse_exponent(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { -value } else { value })
}

/// Whether a magnitude whose cut-off digits start with `first` rounds away from zero.
fn round_away(
    first: u8,
    rest_nonzero: bool,
    rounding: Rounding,
    negative: bool,
    odd: bool,
) -> bool {
    use std::cmp::Ordering;
    let vs_half = match first.cmp(&5) {
        Ordering::Equal if rest_nonzero => Ordering::Greater,
        other => other,
    };
    match rounding {
        Rounding::TowardZero => false,
        Rounding::AwayFromZero => true,
        Rounding::Floor => negative,
        Rounding::Ceiling => !negative,
        Rounding::HalfUp => vs_half != Ordering::Less,
        Rounding::HalfEven => vs_half == Ordering::Greater || (vs_half == Ordering::Equal && odd),
    }
}
