//! `Price`, `Quantity` and `Money`: the same exact [`Fixed`] under names that
//! keep a quantity from being passed where a price is expected.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::parse::{ParseError, parse_decimal};
use super::{ArithmeticError, Fixed};

/// Significant digits a JSON float keeps through `f64` without doubt.
const FLOAT_EXACT_DIGITS: usize = 15;

/// Text of a JSON float, refused when it may have been rounded on the way in.
fn float_text(value: f64) -> Result<String, ParseError> {
    if !value.is_finite() {
        return Err(ParseError::Invalid(value.to_string()));
    }
    let text = format!("{value}");
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant > FLOAT_EXACT_DIGITS {
        return Err(ParseError::TooManyDigits(text));
    }
    Ok(text)
}

/// Accepts a decimal string or a JSON number, exactly.
struct FixedVisitor;

impl Visitor<'_> for FixedVisitor {
    type Value = Fixed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number as a string (\"42000.5\") or a JSON number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Fixed, E> {
        parse_decimal(v, None).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fixed, E> {
        Ok(Fixed::from_int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fixed, E> {
        Fixed::from_parts(i128::from(v), 0).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fixed, E> {
        let text = float_text(v).map_err(E::custom)?;
        parse_decimal(&text, None).map_err(E::custom)
    }
}

impl Serialize for Fixed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fixed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FixedVisitor)
    }
}

/// The schema of a decimal: a string matching `pattern`, or a JSON number.
fn decimal_schema(description: &str, signed: bool) -> Schema {
    let pattern = if signed {
        "^[+-]?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?$"
    } else {
        "^\\+?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?$"
    };
    let mut schema = json_schema!({
        "description": description,
        "type": ["string", "number"],
        "pattern": pattern,
    });
    if !signed {
        schema.insert("minimum".into(), 0.into());
    }
    schema
}

impl JsonSchema for Fixed {
    fn schema_name() -> Cow<'static, str> {
        "Decimal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        decimal_schema(
            "Exact decimal (at most 9 places), canonically a string.",
            true,
        )
    }
}

macro_rules! fixed_newtype {
    ($name:ident, $schema_name:literal, $doc:literal, signed = $signed:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
        #[serde(transparent)]
        pub struct $name(Fixed);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(Fixed::ZERO);

            /// Wraps an exact value, refusing what this type cannot hold.
            pub fn new(value: Fixed) -> Result<Self, ParseError> {
                if !$signed && value.is_negative() {
                    return Err(ParseError::Negative(value.to_string()));
                }
                Ok($name(value))
            }

            /// From an integer.
            pub fn from_int(value: i64) -> Result<Self, ParseError> {
                Self::new(Fixed::from_int(value))
            }

            /// The exact value.
            pub const fn value(self) -> Fixed {
                self.0
            }

            /// True when zero.
            pub const fn is_zero(self) -> bool {
                self.0.is_zero()
            }

            /// `self + rhs` or an error on overflow.
            pub fn checked_add(self, rhs: Self) -> Result<Self, ArithmeticError> {
                self.0.checked_add(rhs.0).map($name)
            }

            /// `self - rhs` or an error on overflow (or, for unsigned types, below zero).
            pub fn checked_sub(self, rhs: Self) -> Result<Self, ArithmeticError> {
                let v = self.0.checked_sub(rhs.0)?;
                if !$signed && v.is_negative() {
                    return Err(ArithmeticError::Overflow);
                }
                Ok($name(v))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s.parse()?)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::new(Fixed::deserialize(d)?).map_err(de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                decimal_schema($doc, $signed)
            }
        }
    };
}

fixed_newtype!(
    Price,
    "Price",
    "A price: exact decimal, canonically a string.",
    signed = true
);
fixed_newtype!(
    Quantity,
    "Quantity",
    "A quantity: exact decimal, never negative, canonically a string.",
    signed = false
);
fixed_newtype!(
    Money,
    "Money",
    "An amount of money: exact signed decimal, canonically a string.",
    signed = true
);

impl Money {
    /// `price * quantity`, rounded half-even to 9 places: the notional of a fill.
    pub fn notional(price: Price, quantity: Quantity) -> Result<Money, ArithmeticError> {
        price
            .0
            .mul_round(quantity.0, super::Rounding::HalfEven)
            .map(Money)
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0.is_negative()
    }
}
