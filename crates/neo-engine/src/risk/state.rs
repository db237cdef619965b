//! The trading state machine: ACTIVE, REDUCING, HALTED, who moved it and why.
//!
//! - `ACTIVE`: everything that passes the limits.
//! - `REDUCING`: reached by itself when the drawdown reaches half its limit and
//!   left by itself when it falls back below; reductions pass and entries are
//!   sized at the Kelly floor (smaller entries only).
//! - `HALTED`: no new exposure; exits and flattening still pass (a halt stops
//!   new risk, never the way out). Reached by itself when the drawdown reaches
//!   its limit (once per breach), or by an operator. A drawdown halt is lifted
//!   by the day roll; an operator's halt only by an operator.
//!
//! The whole machine is [`RiskMemory`]: persisted after every change and
//! restored exactly, so a halt survives a restart.

use neo_domain::{Fixed, Timestamp};
use serde::{Deserialize, Serialize};

/// What kinds of orders risk lets through right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Every order that passes the limits.
    Active,
    /// Reductions, and entries at the smallest Kelly scale (wind-down).
    Reducing,
    /// Reductions only: no new exposure.
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

/// Why the state changed, so a notification and the operator API can say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateCause {
    /// NEO started (the state every account begins in).
    Start,
    /// The drawdown from the high-water mark reached the configured limit.
    Drawdown {
        /// The observed drawdown fraction.
        drawdown: Fixed,
        /// The configured `max_drawdown`.
        limit: Fixed,
    },
    /// The drawdown reached the reducing threshold (half the limit).
    DrawdownReducing {
        /// The observed drawdown fraction.
        drawdown: Fixed,
        /// The threshold it reached.
        threshold: Fixed,
    },
    /// The drawdown fell back below the reducing threshold.
    DrawdownEased {
        /// The observed drawdown fraction.
        drawdown: Fixed,
        /// The threshold it fell below.
        threshold: Fixed,
    },
    /// An operator asked for it.
    Operator {
        /// Who (an API key's name, or `operator`).
        by: String,
        /// What they said.
        reason: String,
    },
    /// The day roll cleared a drawdown halt.
    NewDay,
}

impl StateCause {
    /// Who moved the state: `risk` for automatic changes, else the operator's name.
    pub fn by(&self) -> &str {
        match self {
            StateCause::Operator { by, .. } => by,
            _ => "risk",
        }
    }

    /// One sentence on why.
    pub fn reason(&self) -> String {
        match self {
            StateCause::Start => "started".to_owned(),
            StateCause::Drawdown { drawdown, limit } => {
                format!("drawdown {drawdown} reached the limit {limit}")
            }
            StateCause::DrawdownReducing {
                drawdown,
                threshold,
            } => format!(
                "drawdown {drawdown} reached {threshold} (half the limit): reductions and smaller entries only"
            ),
            StateCause::DrawdownEased {
                drawdown,
                threshold,
            } => format!("drawdown {drawdown} fell back below {threshold}"),
            StateCause::Operator { reason, .. } => reason.clone(),
            StateCause::NewDay => "a new trading day lifted the drawdown halt".to_owned(),
        }
    }
}

/// A state transition, returned to the caller so it can persist, notify and audit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The state now, since when and why (`GET /v1/trading/state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradingStatus {
    /// The state.
    pub state: TradingState,
    /// When it was entered.
    pub since: Timestamp,
    /// Why it was entered.
    pub cause: StateCause,
}

/// Everything the state machine remembers; persisted and restored as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskMemory {
    /// The state, since when and why.
    pub status: TradingStatus,
    /// The drawdown while it is at or beyond the limit (the breach latch).
    pub breach: Option<Fixed>,
}

impl RiskMemory {
    /// ACTIVE since `at`.
    pub fn start(at: Timestamp) -> Self {
        RiskMemory {
            status: TradingStatus {
                state: TradingState::Active,
                since: at,
                cause: StateCause::Start,
            },
            breach: None,
        }
    }

    /// Whether the current state came from a drawdown rule (so risk may leave it by itself).
    pub(crate) fn automatic(&self) -> bool {
        matches!(
            self.status.cause,
            StateCause::Drawdown { .. } | StateCause::DrawdownReducing { .. }
        )
    }

    /// Moves to `to` and returns the change (the caller decides whether it is one).
    pub(crate) fn transition(
        &mut self,
        to: TradingState,
        at: Timestamp,
        cause: StateCause,
    ) -> StateChange {
        let from = self.status.state;
        self.status = TradingStatus {
            state: to,
            since: at,
            cause: cause.clone(),
        };
        StateChange {
            from,
            to,
            at,
            cause,
        }
    }
}

/// Why an operator's state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Resuming ACTIVE while the drawdown is still beyond its limit would let the
    /// loss grow unchecked; exits pass while halted, and a new day lifts it.
    #[error(
        "cannot resume active trading: drawdown {drawdown} is beyond the limit {limit}; \
         exits and flatten still work while halted, and the day roll lifts a drawdown halt"
    )]
    DrawdownBeyondLimit {
        /// The last observed drawdown fraction.
        drawdown: Fixed,
        /// The configured `max_drawdown`.
        limit: Fixed,
    },
}
