//! What trading costs: fees in basis points of notional (maker or taker) and
//! adverse slippage on orders that take liquidity, in basis points or as a
//! fraction of ATR.

use neo_domain::contracts::Liquidity;
use neo_domain::{ArithmeticError, Fixed, Money, Price, Rounding, Side};
use serde::Deserialize;

/// Basis points per unit.
const BPS: i64 = 10_000;

/// Fee rates; fees are charged on every fill, rounded half-even to 9 places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeeModel {
    /// Rate for fills that rested on the book, in basis points (negative for a rebate).
    pub maker_bps: Fixed,
    /// Rate for fills that crossed the spread, in basis points.
    pub taker_bps: Fixed,
}

impl Default for FeeModel {
    /// A typical crypto spot schedule: 2 bps maker, 5 bps taker.
    fn default() -> Self {
        FeeModel {
            maker_bps: Fixed::from_int(2),
            taker_bps: Fixed::from_int(5),
        }
    }
}

/// A rate in basis points as an exact fraction; rates finer than 1e-5 bps cannot be exact.
fn rate(bps: Fixed) -> Result<Fixed, ArithmeticError> {
    let rate = bps.div_round(Fixed::from_int(BPS), Rounding::HalfEven)?;
    if rate.checked_mul(Fixed::from_int(BPS))? != bps {
        return Err(ArithmeticError::Inexact);
    }
    Ok(rate)
}

impl FeeModel {
    /// No fees (tests, reference comparisons).
    pub const ZERO: FeeModel = FeeModel {
        maker_bps: Fixed::ZERO,
        taker_bps: Fixed::ZERO,
    };

    /// Every problem with the rates, at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, bps) in [("maker_bps", self.maker_bps), ("taker_bps", self.taker_bps)] {
            if rate(bps).is_err() {
                problems.push(format!("fees.{name} = {bps}: at most 5 decimal places"));
            }
            if bps.abs() > Fixed::from_int(BPS) {
                problems.push(format!("fees.{name} = {bps}: more than 100%"));
            }
        }
        problems
    }

    /// The taker rate as a fraction (5 bps = 0.0005), for sizing and payoff estimates.
    pub fn taker_rate(&self) -> Result<Fixed, ArithmeticError> {
        rate(self.taker_bps)
    }

    /// The maker rate as a fraction (negative for a rebate).
    pub fn maker_rate(&self) -> Result<Fixed, ArithmeticError> {
        rate(self.maker_bps)
    }

    /// The fee on a fill of `notional`.
    pub fn fee(&self, notional: Money, liquidity: Liquidity) -> Result<Money, ArithmeticError> {
        let bps = match liquidity {
            Liquidity::Maker => self.maker_bps,
            Liquidity::Taker => self.taker_bps,
        };
        let fee = notional.value().mul_round(rate(bps)?, Rounding::HalfEven)?;
        Money::new(fee).map_err(|_| ArithmeticError::Overflow)
    }
}

/// How far a liquidity-taking fill lands from the quoted price, always against the trader.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SlippageModel {
    /// Fills at the quoted price.
    #[default]
    None,
    /// A fixed number of basis points of the price.
    Bps {
        /// Basis points.
        bps: Fixed,
    },
    /// A fraction of the instrument's current ATR (none until an ATR is known).
    AtrFraction {
        /// Fraction of one ATR.
        fraction: f64,
    },
}

impl SlippageModel {
    /// Every problem with the model, at once.
    pub fn validate(&self) -> Vec<String> {
        match *self {
            SlippageModel::None => Vec::new(),
            SlippageModel::Bps { bps } if bps.is_negative() || rate(bps).is_err() => {
                vec![format!(
                    "slippage.bps = {bps}: must be >= 0 with at most 5 decimal places"
                )]
            }
            SlippageModel::AtrFraction { fraction } if !(0.0..=10.0).contains(&fraction) => {
                vec![format!(
                    "slippage.fraction = {fraction}: must be between 0 and 10"
                )]
            }
            _ => Vec::new(),
        }
    }

    /// `price` moved against a `side` taker; `atr` is the instrument's current ATR, if any.
    pub fn apply(
        &self,
        price: Price,
        side: Side,
        atr: Option<f64>,
    ) -> Result<Price, ArithmeticError> {
        let adverse = match *self {
            SlippageModel::None => Fixed::ZERO,
            SlippageModel::Bps { bps } => {
                price.value().mul_round(rate(bps)?, Rounding::HalfEven)?
            }
            SlippageModel::AtrFraction { fraction } => match atr {
                Some(atr) if atr.is_finite() && atr > 0.0 => {
                    Fixed::from_f64(atr * fraction, Rounding::HalfEven)?
                }
                _ => Fixed::ZERO,
            },
        };
        let moved = match side {
            Side::Buy => price.value().checked_add(adverse)?,
            Side::Sell => price.value().checked_sub(adverse)?.max(Fixed::from_raw(1)),
        };
        Price::new(moved).map_err(|_| ArithmeticError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(s: &str) -> Fixed {
        s.parse().unwrap()
    }

    #[test]
    fn fees_by_liquidity() {
        let fees = FeeModel {
            maker_bps: fx("-0.5"),
            taker_bps: fx("7.5"),
        };
        assert!(fees.validate().is_empty());
        let notional = Money::new(fx("10000")).unwrap();
        assert_eq!(
            fees.fee(notional, Liquidity::Taker).unwrap().to_string(),
            "7.5"
        );
        assert_eq!(
            fees.fee(notional, Liquidity::Maker).unwrap().to_string(),
            "-0.5"
        );
        let odd = Money::new(fx("0.123456789")).unwrap();
        assert_eq!(
            fees.fee(odd, Liquidity::Taker).unwrap().to_string(),
            "0.000092593"
        );
        let bad = FeeModel {
            maker_bps: fx("0.000001"),
            taker_bps: fx("20000"),
        };
        assert_eq!(bad.validate().len(), 2);
    }

    #[test]
    fn slippage_is_always_adverse() {
        let p: Price = "100".parse().unwrap();
        let bps = SlippageModel::Bps { bps: fx("10") };
        assert_eq!(bps.apply(p, Side::Buy, None).unwrap().to_string(), "100.1");
        assert_eq!(bps.apply(p, Side::Sell, None).unwrap().to_string(), "99.9");
        let atr = SlippageModel::AtrFraction { fraction: 0.1 };
        assert_eq!(
            atr.apply(p, Side::Buy, Some(2.5)).unwrap().to_string(),
            "100.25"
        );
        assert_eq!(
            atr.apply(p, Side::Sell, Some(2.5)).unwrap().to_string(),
            "99.75"
        );
        assert_eq!(atr.apply(p, Side::Buy, None).unwrap(), p);
        assert_eq!(atr.apply(p, Side::Buy, Some(f64::NAN)).unwrap(), p);
        assert_eq!(
            SlippageModel::None.apply(p, Side::Buy, Some(5.0)).unwrap(),
            p
        );
        assert_eq!(
            SlippageModel::AtrFraction { fraction: -1.0 }
                .validate()
                .len(),
            1
        );
    }

    #[test]
    fn models_read_from_config() {
        let fees: FeeModel = serde_json::from_str(r#"{"taker_bps": "4"}"#).unwrap();
        assert_eq!(
            fees,
            FeeModel {
                maker_bps: Fixed::from_int(2),
                taker_bps: Fixed::from_int(4)
            }
        );
        let slip: SlippageModel = serde_json::from_str(r#"{"kind": "bps", "bps": "1.5"}"#).unwrap();
        assert_eq!(slip, SlippageModel::Bps { bps: fx("1.5") });
        assert!(serde_json::from_str::<FeeModel>(r#"{"taker": "4"}"#).is_err());
    }
}
