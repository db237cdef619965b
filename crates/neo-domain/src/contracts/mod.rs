//! The v1 message contracts. Each is a plain serde type whose JSON Schema is
//! generated from it (`schemas/v1/`); [`Contract::check`] adds the rules a
//! schema cannot say (a limit order needs a limit price, low <= high, ...).
//!
//! Readers are tolerant: unknown fields are ignored, so a minor version may add
//! optional fields without breaking older consumers.

mod agent;
mod audit;
mod execution;
mod feed;
mod intent;
mod market;
mod notification;
mod operator;
mod signal;
mod verdict;

use std::fmt::Debug;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use agent::{AgentOutputV1, Recommendation, Severity};
pub use audit::AuditEventV1;
pub use execution::{FillV1, Liquidity, OrderRole, OrderStatus, OrderV1, PositionSide, PositionV1};
pub use feed::{ALT_PAYLOAD_MAX_BYTES, AltEventV1, TradeV1};
pub use intent::{OrderIntentV1, OrderType, TimeInForce};
pub use market::{CandleV1, TickV1};
pub use notification::{Channel, NotificationKind, NotificationV1};
pub use operator::{TradingAction, TradingCommandV1};
pub use signal::{Priority, SignalEventV1, SignalSource, SignalType};
pub use verdict::{LlmVerdictV1, RATIONALE_MAX};

use crate::text_enum::text_enum;
use crate::{Price, Timestamp};

/// A versioned message type: its name, version, and the checks beyond its schema.
pub trait Contract: Serialize + DeserializeOwned + JsonSchema + Clone + Debug + PartialEq {
    /// The registry name and envelope `type`, e.g. `SignalEventV1`.
    const TYPE_NAME: &'static str;
    /// The major schema version (the `V1` in the name).
    const SCHEMA_VERSION: u32 = 1;

    /// When the thing the message describes happened.
    fn ts_event(&self) -> Timestamp;

    /// Every rule the schema cannot express that this value breaks (empty when valid).
    fn check(&self) -> Vec<Issue> {
        Vec::new()
    }
}

/// One problem with a message, located by JSON pointer (`/price`, `/items/0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Issue {
    /// JSON pointer to the offending value; empty for the whole document.
    pub path: String,
    /// What is wrong, in words a person can act on.
    pub problem: String,
}

impl Issue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.problem)
    }
}

text_enum! {
    /// Buy or sell.
    pub enum Side {
        /// Buy: go long or reduce a short.
        Buy => "buy",
        /// Sell: go short or reduce a long.
        Sell => "sell",
    }
}

impl Side {
    /// The other side (what closes a position opened on this one).
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// Collects issues while walking a value.
#[derive(Default)]
pub(crate) struct Checks(Vec<Issue>);

impl Checks {
    pub(crate) fn require(&mut self, ok: bool, path: &str, problem: &'static str) {
        if !ok {
            self.0.push(Issue::new(path, problem));
        }
    }

    /// Like `require`, building the message only on failure: valid input allocates nothing.
    pub(crate) fn require_with(&mut self, ok: bool, path: &str, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Issue::new(path, problem()));
        }
    }

    pub(crate) fn positive_price(&mut self, price: Option<Price>, path: &str) {
        if let Some(p) = price {
            self.require_with(p.value().is_positive(), path, || {
                format!("must be above zero, got {p}")
            });
        }
    }

    pub(crate) fn text(&mut self, text: &str, path: &str, max: usize) {
        self.require(!text.trim().is_empty(), path, "must not be empty");
        self.require_with(text.chars().count() <= max, path, || {
            format!("must be at most {max} characters")
        });
    }

    pub(crate) fn optional_text(&mut self, text: Option<&str>, path: &str, max: usize) {
        if let Some(text) = text {
            self.text(text, path, max);
        }
    }

    /// A name used as a subject token: `a-z`, `0-9`, `_`, `-`.
    pub(crate) fn token(&mut self, name: &str, path: &str) {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        self.require(ok, path, "must be 1-64 characters of a-z, 0-9, '_' or '-'");
    }

    /// Order prices agree with the order type.
    pub(crate) fn order_prices(
        &mut self,
        kind: OrderType,
        limit: Option<Price>,
        stop: Option<Price>,
    ) {
        let (needs_limit, needs_stop) = match kind {
            OrderType::Market => (false, false),
            OrderType::Limit => (true, false),
            OrderType::Stop => (false, true),
            OrderType::StopLimit => (true, true),
        };
        let kind = kind.as_str();
        let verb = |needed: bool| if needed { "needs a" } else { "takes no" };
        self.require_with(limit.is_some() == needs_limit, "/limit_price", || {
            format!("a {kind} order {} limit_price", verb(needs_limit))
        });
        self.require_with(stop.is_some() == needs_stop, "/stop_price", || {
            format!("a {kind} order {} stop_price", verb(needs_stop))
        });
        self.positive_price(limit, "/limit_price");
        self.positive_price(stop, "/stop_price");
    }

    pub(crate) fn finish(self) -> Vec<Issue> {
        self.0
    }
}

#[cfg(test)]
mod tests;
