//! Why risk refused an order: one variant per check, each with a stable code.

use neo_domain::contracts::OrderIntentV1;
use neo_domain::{Fixed, InstrumentId, Issue, Money, Price, Quantity};
use serde::Serialize;

use super::state::{StateChange, TradingState};

/// One failed pre-trade check, with the values that failed it.
///
/// Serialized with a `code` tag equal to [`RefusalReason::code`], so API
/// clients can switch on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RefusalReason {
    /// The intent breaks its own contract rules (`OrderIntentV1::check`).
    InvalidIntent {
        /// Every problem the contract check found.
        issues: Vec<Issue>,
    },
    /// An order that adds exposure must carry both a stop-loss and a take-profit.
    MissingBrackets {
        /// Whether the stop-loss is missing.
        stop_loss: bool,
        /// Whether the take-profit is missing.
        take_profit: bool,
    },
    /// A market order's brackets do not straddle the current mark.
    BracketsNotAroundMark {
        /// The mark they were compared with.
        mark: Price,
    },
    /// The instrument is not on the allow-list.
    InstrumentNotAllowed {
        /// The instrument.
        instrument: InstrumentId,
    },
    /// No price or time of last market data is known for the instrument.
    NoMarketData {
        /// The instrument.
        instrument: InstrumentId,
    },
    /// The last market data is older than the configured age.
    StaleMarketData {
        /// The instrument.
        instrument: InstrumentId,
        /// Age of the last data, nanoseconds.
        age_nanos: i64,
        /// The configured maximum, nanoseconds.
        max_age_nanos: i64,
    },
    /// The position after the order (and the open orders on its side) would exceed the limit.
    MaxPosition {
        /// The instrument.
        instrument: InstrumentId,
        /// The configured absolute limit.
        limit: Quantity,
        /// The absolute position if everything on this side fills.
        projected: Quantity,
    },
    /// Gross notional after the order would exceed the limit.
    MaxGrossNotional {
        /// The configured limit.
        limit: Money,
        /// Gross notional if the order fills.
        projected: Money,
    },
    /// Too many orders are already open.
    MaxOpenOrders {
        /// The configured limit.
        limit: u32,
        /// Orders open now (before this one).
        open: u32,
    },
    /// Today's loss reached the daily loss limit; only reductions pass.
    DailyLossLimit {
        /// The configured limit.
        limit: Money,
        /// The loss since the day's start equity.
        loss: Money,
    },
    /// Trading is halted: nothing that adds exposure passes (exits do).
    TradingHalted,
    /// A `reduce_only` intent that would not reduce the position.
    ReduceOnlyWouldIncrease {
        /// The signed net position.
        position: Fixed,
        /// The order quantity plus open orders on the same side.
        quantity: Quantity,
    },
    /// A projected value did not fit the exact number range.
    ArithmeticOverflow {
        /// What was being computed.
        what: &'static str,
    },
}

impl RefusalReason {
    /// The stable machine-readable code (also the serialized `code` tag).
    pub const fn code(&self) -> &'static str {
        match self {
            RefusalReason::InvalidIntent { .. } => "invalid_intent",
            RefusalReason::MissingBrackets { .. } => "missing_brackets",
            RefusalReason::BracketsNotAroundMark { .. } => "brackets_not_around_mark",
            RefusalReason::InstrumentNotAllowed { .. } => "instrument_not_allowed",
            RefusalReason::NoMarketData { .. } => "no_market_data",
            RefusalReason::StaleMarketData { .. } => "stale_market_data",
            RefusalReason::MaxPosition { .. } => "max_position",
            RefusalReason::MaxGrossNotional { .. } => "max_gross_notional",
            RefusalReason::MaxOpenOrders { .. } => "max_open_orders",
            RefusalReason::DailyLossLimit { .. } => "daily_loss_limit",
            RefusalReason::TradingHalted => "trading_halted",
            RefusalReason::ReduceOnlyWouldIncrease { .. } => "reduce_only_would_increase",
            RefusalReason::ArithmeticOverflow { .. } => "arithmetic_overflow",
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefusalReason::InvalidIntent { issues } => {
                f.write_str("invalid intent:")?;
                for issue in issues {
                    write!(f, " {issue};")?;
                }
                Ok(())
            }
            RefusalReason::MissingBrackets {
                stop_loss,
                take_profit,
            } => {
                let which = match (stop_loss, take_profit) {
                    (true, true) => "a stop-loss and a take-profit",
                    (true, false) => "a stop-loss",
                    _ => "a take-profit",
                };
                write!(f, "an order that adds exposure needs {which}")
            }
            RefusalReason::BracketsNotAroundMark { mark } => {
                write!(f, "stop-loss and take-profit must straddle the mark {mark}")
            }
            RefusalReason::InstrumentNotAllowed { instrument } => {
                write!(f, "{} is not on the allow-list", instrument.as_str())
            }
            RefusalReason::NoMarketData { instrument } => {
                write!(f, "no market data for {}", instrument.as_str())
            }
            RefusalReason::StaleMarketData {
                instrument,
                age_nanos,
                max_age_nanos,
            } => write!(
                f,
                "market data for {} is {} ms old (limit {} ms)",
                instrument.as_str(),
                age_nanos / 1_000_000,
                max_age_nanos / 1_000_000
            ),
            RefusalReason::MaxPosition {
                instrument,
                limit,
                projected,
            } => write!(
                f,
                "position in {} would reach {projected} (limit {limit})",
                instrument.as_str()
            ),
            RefusalReason::MaxGrossNotional { limit, projected } => {
                write!(f, "gross notional would reach {projected} (limit {limit})")
            }
            RefusalReason::MaxOpenOrders { limit, open } => {
                write!(f, "{open} orders are open (limit {limit})")
            }
            RefusalReason::DailyLossLimit { limit, loss } => {
                write!(f, "today's loss {loss} reached the daily limit {limit}")
            }
            RefusalReason::TradingHalted => {
                f.write_str("trading is halted: only exits and reductions pass")
            }
            RefusalReason::ReduceOnlyWouldIncrease { position, quantity } => write!(
                f,
                "reduce-only order of {quantity} (with open orders) would not reduce the \
                 position {position}"
            ),
            RefusalReason::ArithmeticOverflow { what } => write!(f, "{what} overflowed"),
        }
    }
}

/// A refused intent: every failed check, and the state change the check caused, if any.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("order refused by risk ({state}): {}", codes(reasons))]
pub struct Refusal {
    /// Every failed check, in a fixed order.
    pub reasons: Vec<RefusalReason>,
    /// The trading state the order was judged in.
    pub state: TradingState,
    /// A transition this check caused (a drawdown halt), to notify about.
    pub state_change: Option<StateChange>,
    /// The refused intent, handed back (boxed to keep the error small).
    #[serde(skip)]
    pub intent: Box<OrderIntentV1>,
}

impl Refusal {
    /// Whether a reason with this code is among the reasons.
    pub fn has(&self, code: &str) -> bool {
        self.reasons.iter().any(|r| r.code() == code)
    }

    /// The codes of every reason, in order.
    pub fn codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(RefusalReason::code).collect()
    }
}

fn codes(reasons: &[RefusalReason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(RefusalReason::code).collect();
    codes.join(", ")
}
