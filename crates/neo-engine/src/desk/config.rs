//! The desk's configuration: the account and every decision-making section.

use neo_domain::{Fixed, Money, Price, Quantity};
use serde::{Deserialize, Serialize};

use crate::analyst::AnalystConfig;
use crate::oms::OmsConfig;
use crate::risk::{AtrBrackets, CalibrationConfig, KellyConfig, PercentBrackets, RiskLimits};

/// The paper account and how it decides; config file sections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskConfig {
    /// Account currency (`USD`).
    pub currency: String,
    /// Cash the paper account starts with.
    pub initial_cash: Money,
    /// Largest notional of one entry as a share of equity (0.25: a quarter of the
    /// account), so a tight stop never turns the Kelly budget into an all-in position.
    pub max_entry_fraction: Fixed,
    /// Buying power per unit of equity: 1 (the default) is a cash account, where
    /// an entry's notional plus fees must fit the free cash; above 1 is margin.
    pub leverage: Fixed,
    /// When the trading day rolls, `HH:MM` UTC (`00:00`): the daily loss and the
    /// drawdown restart from the equity then, and a drawdown halt lifts.
    pub day_start_utc: String,
    /// `[analyst]`: the rule-based analyst.
    pub analyst: AnalystConfig,
    /// `[risk]`: pre-trade limits and the drawdown halt.
    pub risk: RiskLimits,
    /// `[kelly]`: fractional Kelly sizing with a hard cap.
    pub kelly: KellyConfig,
    /// `[calibration]`: turning the analyst's confidence into a win probability.
    pub calibration: CalibrationConfig,
    /// `[brackets]`: stop-loss and take-profit distances in ATRs.
    pub brackets: AtrBrackets,
    /// `[percent_brackets]`: the brackets when the `atr_brackets` flag is off.
    pub percent_brackets: PercentBrackets,
    /// `[oms]`: fees, slippage and participation of the paper venue.
    pub oms: OmsConfig,
}

/// 100 000 USD with every section's defaults (the limits are sized for that account).
impl Default for DeskConfig {
    fn default() -> Self {
        DeskConfig {
            currency: "USD".to_owned(),
            initial_cash: Money::from_int(100_000).unwrap_or_default(),
            max_entry_fraction: Fixed::from_raw(250_000_000),
            leverage: Fixed::ONE,
            day_start_utc: "00:00".to_owned(),
            analyst: AnalystConfig::default(),
            risk: RiskLimits::default(),
            kelly: KellyConfig::default(),
            calibration: CalibrationConfig::default(),
            brackets: AtrBrackets::default(),
            percent_brackets: PercentBrackets::default(),
            oms: OmsConfig::default(),
        }
    }
}

impl DeskConfig {
    /// Every problem in every section, at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let currency_ok = (2..=12).contains(&self.currency.len())
            && self
                .currency
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !currency_ok {
            problems.push(format!(
                "currency {:?} must be 2 to 12 upper-case letters or digits",
                self.currency
            ));
        }
        if !self.max_entry_fraction.is_positive() || self.max_entry_fraction > Fixed::from_int(10) {
            problems.push(format!(
                "max_entry_fraction must be above 0 and at most 10, got {}",
                self.max_entry_fraction
            ));
        }
        if self.leverage < Fixed::ONE || self.leverage > Fixed::from_int(100) {
            problems.push(format!(
                "leverage must be between 1 (a cash account) and 100, got {}",
                self.leverage
            ));
        }
        if parse_hh_mm(&self.day_start_utc).is_none() {
            problems.push(format!(
                "day_start_utc must be HH:MM (00:00 to 23:59), got {:?}",
                self.day_start_utc
            ));
        }
        if !self.initial_cash.value().is_positive() {
            problems.push("initial_cash must be above zero".to_owned());
        }
        let sections = [
            self.analyst.validate(),
            self.risk.validate(),
            self.kelly.validate(),
            self.calibration.validate(),
            self.brackets.validate(),
            self.percent_brackets.validate(),
        ];
        problems.extend(
            sections
                .into_iter()
                .filter_map(Result::err)
                .map(|e| e.to_string()),
        );
        problems.extend(self.oms.validate().into_iter().map(|p| format!("oms: {p}")));
        problems
    }
}

impl DeskConfig {
    /// The day roll as nanoseconds after UTC midnight (0 when unparsable; `validate` reports it).
    pub fn day_start_nanos(&self) -> i64 {
        parse_hh_mm(&self.day_start_utc).map_or(0, |(h, m)| (h * 60 + m) * 60 * 1_000_000_000)
    }
}

/// `HH:MM` as hours and minutes.
fn parse_hh_mm(text: &str) -> Option<(i64, i64)> {
    let (h, m) = text.split_once(':')?;
    let two = |s: &str| -> Option<i64> {
        let digits = s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if digits { s.parse().ok() } else { None }
    };
    let (h, m) = (two(h)?, two(m)?);
    (h < 24 && m < 60).then_some((h, m))
}

/// An instrument's increments: orders and brackets are rounded to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentSteps {
    /// Tick size of prices.
    pub price_step: Price,
    /// Lot size of quantities.
    pub lot_step: Quantity,
}
