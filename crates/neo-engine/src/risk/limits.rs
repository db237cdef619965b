//! Pre-trade limits as one typed config section, checked as a whole before use.

use std::collections::{BTreeMap, BTreeSet};

use neo_domain::{Fixed, InstrumentId, Money, Quantity};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Longest accepted market-data age: 31 days, enough for daily and weekly bars
/// across weekends and holidays (beyond that "stale" means nothing).
pub const MAX_DATA_AGE_CEILING_SECS: u64 = 31 * 86_400;

/// The limits every order is checked against; a config file section.
///
/// Missing fields take the defaults of [`RiskLimits::default`]; unknown fields
/// are refused so a misspelt limit is never silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Largest absolute net position per instrument, unless overridden below.
    pub max_position: Quantity,
    /// Per-instrument overrides of `max_position` (different contract sizes).
    pub max_position_by_instrument: BTreeMap<InstrumentId, Quantity>,
    /// Largest gross notional (sum of |position| x mark) after the order.
    pub max_gross_notional: Money,
    /// Most open orders at once, counting the one being checked.
    pub max_open_orders: u32,
    /// Loss since the day's start equity at which new exposure is refused.
    pub daily_loss_limit: Money,
    /// When present, the only instruments that may be traded.
    pub allow_list: Option<BTreeSet<InstrumentId>>,
    /// Market data older than this (seconds) is stale and blocks orders.
    pub max_data_age_secs: u64,
    /// Drawdown from the high-water mark (a fraction, 0.05 = 5%) that halts trading.
    pub max_drawdown: Fixed,
    /// Refuse entries without both a stop-loss and a take-profit. Not read from
    /// config files: only backtests of always-in-the-market strategies turn it off.
    #[serde(skip)]
    pub require_brackets: bool,
}

/// Sized for the default paper account of 100 000: 2% daily loss, 5% drawdown.
impl Default for RiskLimits {
    fn default() -> Self {
        RiskLimits {
            max_position: Quantity::from_int(1_000).unwrap_or_default(),
            max_position_by_instrument: BTreeMap::new(),
            max_gross_notional: Money::from_int(100_000).unwrap_or_default(),
            max_open_orders: 50,
            daily_loss_limit: Money::from_int(2_000).unwrap_or_default(),
            allow_list: None,
            max_data_age_secs: 300,
            // 5%: the SPEC's drawdown ceiling.
            max_drawdown: Fixed::from_raw(50_000_000),
            require_brackets: true,
        }
    }
}

impl RiskLimits {
    /// The absolute position limit for `instrument` (override or default).
    pub fn max_position_for(&self, instrument: &InstrumentId) -> Quantity {
        self.max_position_by_instrument
            .get(instrument)
            .copied()
            .unwrap_or(self.max_position)
    }

    /// The stale-data threshold in nanoseconds.
    pub fn max_data_age_nanos(&self) -> i64 {
        let secs = i64::try_from(self.max_data_age_secs).unwrap_or(i64::MAX);
        secs.saturating_mul(1_000_000_000)
    }

    /// Every problem with these limits at once, so an operator fixes them in one pass.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        need(
            self.max_position.value().is_positive(),
            format!("max_position must be above zero, got {}", self.max_position),
        );
        for (instrument, limit) in &self.max_position_by_instrument {
            need(
                limit.value().is_positive(),
                format!("max_position_by_instrument.{instrument} must be above zero, got {limit}"),
            );
        }
        need(
            self.max_gross_notional.value().is_positive(),
            format!(
                "max_gross_notional must be above zero, got {}",
                self.max_gross_notional
            ),
        );
        need(
            self.max_open_orders > 0,
            "max_open_orders must be above zero".to_owned(),
        );
        need(
            self.daily_loss_limit.value().is_positive(),
            format!(
                "daily_loss_limit must be above zero, got {}",
                self.daily_loss_limit
            ),
        );
        if let Some(list) = &self.allow_list {
            need(
                !list.is_empty(),
                "allow_list is empty and would refuse every instrument; omit it to allow all \
                 or set the trading state to halted"
                    .to_owned(),
            );
        }
        need(
            (1..=MAX_DATA_AGE_CEILING_SECS).contains(&self.max_data_age_secs),
            format!(
                "max_data_age_secs must be between 1 and {MAX_DATA_AGE_CEILING_SECS}, got {}",
                self.max_data_age_secs
            ),
        );
        need(
            self.max_drawdown.is_positive() && self.max_drawdown < Fixed::ONE,
            format!(
                "max_drawdown must be a fraction between 0 and 1 (exclusive), got {}",
                self.max_drawdown
            ),
        );
        ConfigError::from_problems("risk limits", problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(RiskLimits::default().validate(), Ok(()));
        assert_eq!(RiskLimits::default().max_data_age_nanos(), 300_000_000_000);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = RiskLimits {
            max_position: Quantity::ZERO,
            max_position_by_instrument: BTreeMap::from([(
                InstrumentId::new("BTC-USDT").unwrap(),
                Quantity::ZERO,
            )]),
            max_gross_notional: Money::ZERO,
            max_open_orders: 0,
            daily_loss_limit: "-1".parse().unwrap(),
            allow_list: Some(BTreeSet::new()),
            max_data_age_secs: 0,
            max_drawdown: Fixed::ONE,
            require_brackets: true,
        };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.problems.len(), 8, "{err}");
        assert!(err.problems[1].starts_with("max_position_by_instrument.BTC-USDT"));
    }

    #[test]
    fn deserializes_with_defaults_and_refuses_unknown_fields() {
        let json = r#"{"max_open_orders": 3, "max_position_by_instrument": {"ETH-USDT": "5"},
                       "allow_list": ["ETH-USDT"], "max_drawdown": 0.07}"#;
        let limits: RiskLimits = serde_json::from_str(json).unwrap();
        assert_eq!(limits.max_open_orders, 3);
        assert_eq!(limits.max_data_age_secs, 300);
        assert_eq!(limits.max_drawdown, "0.07".parse().unwrap());
        let eth = InstrumentId::new("ETH-USDT").unwrap();
        assert_eq!(
            limits.max_position_for(&eth),
            Quantity::from_int(5).unwrap()
        );
        let btc = InstrumentId::new("BTC-USDT").unwrap();
        assert_eq!(limits.max_position_for(&btc), limits.max_position);
        let unknown = serde_json::from_str::<RiskLimits>(r#"{"max_open_order": 3}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
    }
}
