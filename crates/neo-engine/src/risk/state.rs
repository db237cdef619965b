//! The trading state machine: ACTIVE, REDUCING, HALTED, and who moved it.

use neo_domain::{Fixed, Timestamp};
use serde::{Deserialize, Serialize};

/// What kinds of orders risk lets through right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Every order that passes the limits.
    Active,
    /// Only orders that reduce an existing position (wind-down).
    Reducing,
    /// No orders at all.
    Halted,
}

impl TradingState {
    /// The stable name used in APIs, logs and notifications.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradingState::Active => "active",
            TradingState::Reducing => "reducing",
            TradingState::Halted => "halted",
        }
    }
}

impl std::fmt::Display for TradingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the state changed, so a notification can say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateCause {
    /// The drawdown from the high-water mark reached the configured limit.
    Drawdown {
        /// The observed drawdown fraction.
        drawdown: Fixed,
        /// The configured `max_drawdown`.
        limit: Fixed,
    },
    /// An operator asked for it.
    Operator,
    /// [`RiskEngine::start_day`](super::RiskEngine::start_day) cleared a drawdown halt.
    NewDay,
}

/// A state transition, returned to the caller so it can notify and audit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The state before.
    pub from: TradingState,
    /// The state after.
    pub to: TradingState,
    /// When (the caller's clock).
    pub at: Timestamp,
    /// Why.
    pub cause: StateCause,
}

/// Why an operator's state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Resuming ACTIVE while the drawdown is still beyond its limit would let the
    /// loss grow unchecked; REDUCING (to flatten) or a new day are the ways out.
    #[error(
        "cannot resume active trading: drawdown {drawdown} is beyond the limit {limit}; \
         use reducing to flatten, or start a new day"
    )]
    DrawdownBeyondLimit {
        /// The last observed drawdown fraction.
        drawdown: Fixed,
        /// The configured `max_drawdown`.
        limit: Fixed,
    },
}
