//! Execution: orders with their lifecycle state, fills, and net positions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue, OrderType, Side, TimeInForce, text_enum};
use crate::{InstrumentId, MessageId, Money, Price, Quantity, Timestamp};

text_enum! {
    /// Where an order is in its lifecycle (the transitions live in the engine's one table).
    pub enum OrderStatus {
        /// Created, not yet acknowledged by the venue.
        New => "new",
        /// Working at the venue.
        Accepted => "accepted",
        /// Some filled, the rest working.
        PartiallyFilled => "partially_filled",
        /// Completely filled.
        Filled => "filled",
        /// Cancelled (possibly after partial fills).
        Cancelled => "cancelled",
        /// Refused by the venue or a late check.
        Rejected => "rejected",
        /// Its time in force ran out.
        Expired => "expired",
    }
}

impl OrderStatus {
    /// True once nothing more can happen to the order.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
}

text_enum! {
    /// An order's part in a bracket.
    pub enum OrderRole {
        /// Opens or adds to a position.
        Entry => "entry",
        /// The bracket's protective stop (OCO with take-profit).
        StopLoss => "stop_loss",
        /// The bracket's profit target (OCO with stop-loss).
        TakeProfit => "take_profit",
        /// Closes or reduces a position outside a bracket.
        Exit => "exit",
    }
}

text_enum! {
    /// Whether a fill added or took liquidity (decides the fee rate).
    pub enum Liquidity {
        /// Rested on the book.
        Maker => "maker",
        /// Crossed the spread.
        Taker => "taker",
    }
}

text_enum! {
    /// Direction of a net position.
    pub enum PositionSide {
        /// Net long.
        Long => "long",
        /// Net short.
        Short => "short",
        /// No position.
        Flat => "flat",
    }
}

/// An order and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderV1 {
    /// Derived from intent and role: one order per intent, however often the intent arrives.
    pub id: MessageId,
    /// The intent it executes.
    pub intent_id: MessageId,
    /// The originating signal.
    pub signal_id: MessageId,
    /// The entry order, for bracket children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<MessageId>,
    /// What it trades.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop or stop-limit.
    pub order_type: OrderType,
    /// Entry, stop-loss, take-profit or exit.
    pub role: OrderRole,
    /// Ordered quantity.
    pub quantity: Quantity,
    /// Filled so far.
    pub filled_quantity: Quantity,
    /// Quantity-weighted average fill price, once anything filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_fill_price: Option<Price>,
    /// For limit and stop-limit orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Price>,
    /// For stop and stop-limit orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Price>,
    /// How long it works.
    pub time_in_force: TimeInForce,
    /// Lifecycle state.
    pub status: OrderStatus,
    /// Why it was rejected, cancelled or expired, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was created.
    pub ts_created: Timestamp,
    /// When it last changed.
    pub ts_event: Timestamp,
}

impl Contract for OrderV1 {
    const TYPE_NAME: &'static str = "OrderV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.require(!self.quantity.is_zero(), "/quantity", "must be above zero");
        c.require(
            self.filled_quantity <= self.quantity,
            "/filled_quantity",
            "exceeds the order quantity",
        );
        c.order_prices(self.order_type, self.limit_price, self.stop_price);
        let (filled, qty) = (self.filled_quantity, self.quantity);
        let consistent = match self.status {
            OrderStatus::New | OrderStatus::Accepted | OrderStatus::Rejected => filled.is_zero(),
            OrderStatus::PartiallyFilled => !filled.is_zero() && filled < qty,
            OrderStatus::Filled => filled == qty,
            OrderStatus::Cancelled | OrderStatus::Expired => filled < qty,
        };
        c.require_with(consistent, "/status", || {
            format!(
                "status {} does not fit {filled} filled of {qty}",
                self.status
            )
        });
        c.require(
            self.avg_fill_price.is_some() != filled.is_zero(),
            "/avg_fill_price",
            "must be present exactly when something has filled",
        );
        c.positive_price(self.avg_fill_price, "/avg_fill_price");
        let child = matches!(self.role, OrderRole::StopLoss | OrderRole::TakeProfit);
        c.require(
            !child || self.parent_id.is_some(),
            "/parent_id",
            "a bracket child needs its entry order's id",
        );
        c.require(
            self.ts_created <= self.ts_event,
            "/ts_event",
            "an order cannot change before it was created",
        );
        c.optional_text(self.reason.as_deref(), "/reason", 1024);
        c.finish()
    }
}

/// One execution of (part of) an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FillV1 {
    /// Derived from order and fill sequence: a replayed fill is recognised, not re-applied.
    pub id: MessageId,
    /// The order filled.
    pub order_id: MessageId,
    /// The originating signal.
    pub signal_id: MessageId,
    /// What traded.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Execution price, after slippage.
    pub price: Price,
    /// Quantity filled here.
    pub quantity: Quantity,
    /// Fee charged (negative for a rebate), in the quote currency.
    pub fee: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// The price when the order was decided, for slippage measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_price: Option<Price>,
    /// When it executed.
    pub ts_event: Timestamp,
}

impl Contract for FillV1 {
    const TYPE_NAME: &'static str = "FillV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.positive_price(Some(self.price), "/price");
        c.positive_price(self.arrival_price, "/arrival_price");
        c.require(!self.quantity.is_zero(), "/quantity", "must be above zero");
        c.finish()
    }
}

/// A net position in one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PositionV1 {
    /// What is held.
    pub instrument: InstrumentId,
    /// Long, short or flat.
    pub side: PositionSide,
    /// Absolute size; zero when flat.
    pub quantity: Quantity,
    /// Average entry price of the open quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_price: Option<Price>,
    /// PnL locked in by closing trades, net of fees.
    pub realized_pnl: Money,
    /// PnL of the open quantity at the last price.
    pub unrealized_pnl: Money,
    /// The quote currency PnL is in (`USDT`, `USD`).
    pub currency: String,
    /// When it last changed.
    pub ts_event: Timestamp,
}

impl Contract for PositionV1 {
    const TYPE_NAME: &'static str = "PositionV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        let flat = self.side == PositionSide::Flat;
        c.require(
            flat == self.quantity.is_zero(),
            "/quantity",
            "must be zero exactly when the position is flat",
        );
        c.require(
            flat || self.avg_price.is_some(),
            "/avg_price",
            "an open position needs an average price",
        );
        c.positive_price(self.avg_price, "/avg_price");
        c.require(
            !flat || self.unrealized_pnl.is_zero(),
            "/unrealized_pnl",
            "a flat position has no unrealized PnL",
        );
        let currency_ok = (2..=12).contains(&self.currency.len())
            && self
                .currency
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        c.require(
            currency_ok,
            "/currency",
            "must be 2-12 characters of A-Z and 0-9",
        );
        c.finish()
    }
}
