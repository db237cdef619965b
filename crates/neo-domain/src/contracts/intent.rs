//! OrderIntentV1: a sized, bracketed order that risk has approved for the OMS.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue, Side, text_enum};
use crate::{InstrumentId, MessageId, Price, Quantity, Timestamp};

text_enum! {
    /// How an order executes.
    pub enum OrderType {
        /// At the best available price now.
        Market => "market",
        /// At `limit_price` or better.
        Limit => "limit",
        /// Becomes a market order when `stop_price` trades.
        Stop => "stop",
        /// Becomes a limit order at `limit_price` when `stop_price` trades.
        StopLimit => "stop_limit",
    }
}

text_enum! {
    /// How long an order stays working.
    pub enum TimeInForce {
        /// Good till cancelled.
        Gtc => "gtc",
        /// Immediate or cancel: fill what can be filled now, cancel the rest.
        Ioc => "ioc",
        /// Fill or kill: all now or nothing.
        Fok => "fok",
        /// Until the end of the trading day (UTC).
        Day => "day",
    }
}

/// An order NEO intends to place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderIntentV1 {
    /// Derived from the decision, so a redelivered decision yields the same intent (and one order).
    pub id: MessageId,
    /// The agent output this comes from.
    pub decision_id: MessageId,
    /// The originating signal.
    pub signal_id: MessageId,
    /// What to trade.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// How much; above zero.
    pub quantity: Quantity,
    /// Market, limit, stop or stop-limit.
    pub order_type: OrderType,
    /// For limit and stop-limit orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Price>,
    /// For stop and stop-limit orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Price>,
    /// Protective stop (bracket), on the losing side of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Price>,
    /// Profit target (bracket), on the winning side of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Price>,
    /// How long it works.
    pub time_in_force: TimeInForce,
    /// Only reduces an existing position (exits).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reduce_only: bool,
    /// The price when the intent was made, for slippage measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_price: Option<Price>,
    /// When the intent was made.
    pub ts_event: Timestamp,
}

impl Contract for OrderIntentV1 {
    const TYPE_NAME: &'static str = "OrderIntentV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.require(!self.quantity.is_zero(), "/quantity", "must be above zero");
        c.order_prices(self.order_type, self.limit_price, self.stop_price);
        c.positive_price(self.stop_loss, "/stop_loss");
        c.positive_price(self.take_profit, "/take_profit");
        c.positive_price(self.arrival_price, "/arrival_price");
        // Brackets sit on either side of the entry: below and above for a buy.
        let reference = self.limit_price.or(self.stop_price).or(self.arrival_price);
        let below_above = |low: Option<Price>, high: Option<Price>| match (low, high) {
            (Some(l), Some(h)) => l < h,
            _ => true,
        };
        let (sl, tp) = (self.stop_loss, self.take_profit);
        let (ok_sl, ok_tp, words) = match self.side {
            Side::Buy => (
                below_above(sl, reference),
                below_above(reference, tp),
                ("below", "above"),
            ),
            Side::Sell => (
                below_above(reference, sl),
                below_above(tp, reference),
                ("above", "below"),
            ),
        };
        c.require_with(ok_sl, "/stop_loss", || {
            format!(
                "a {} stop-loss must be {} the entry price",
                self.side, words.0
            )
        });
        c.require_with(ok_tp, "/take_profit", || {
            format!(
                "a {} take-profit must be {} the entry price",
                self.side, words.1
            )
        });
        let bracket_order = match self.side {
            Side::Buy => below_above(sl, tp),
            Side::Sell => below_above(tp, sl),
        };
        c.require(
            bracket_order,
            "/take_profit",
            "take-profit and stop-loss are on the wrong sides of each other",
        );
        c.finish()
    }
}
