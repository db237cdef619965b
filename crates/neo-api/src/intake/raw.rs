//! [`RawAlert`]: what a sender said, read field by field but not yet
//! normalized. JSON and plain-text alerts both become one, so normalization has
//! one input shape.

use std::collections::BTreeMap;

use neo_domain::contracts::{Priority, SignalType};
use neo_domain::{Fixed, Price, Quantity, Side, Timestamp};
use serde_json::Value;

use super::passphrase::Secret;

/// The position a TradingView strategy reports (`{{strategy.market_position}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketPosition {
    /// Long after the order.
    Long,
    /// Short after the order.
    Short,
    /// No position after the order.
    Flat,
}

impl MarketPosition {
    /// The wire word, as kept in metadata.
    pub const fn as_str(self) -> &'static str {
        match self {
            MarketPosition::Long => "long",
            MarketPosition::Short => "short",
            MarketPosition::Flat => "flat",
        }
    }

    /// The position a signed size means (`-0.5` is short), so a size alone is enough.
    pub fn from_size(size: Fixed) -> Self {
        if size.is_positive() {
            MarketPosition::Long
        } else if size.is_negative() {
            MarketPosition::Short
        } else {
            MarketPosition::Flat
        }
    }

    /// The side that opens this position (`None` for flat).
    pub const fn opening_side(self) -> Option<Side> {
        match self {
            MarketPosition::Long => Some(Side::Buy),
            MarketPosition::Short => Some(Side::Sell),
            MarketPosition::Flat => None,
        }
    }
}

/// An alert read from JSON or text: typed fields, unknown fields as metadata,
/// the passphrase apart (never in `metadata` or `original`).
#[derive(Debug, Clone, PartialEq)]
pub struct RawAlert {
    /// `ticker` / `symbol`, possibly with an `EXCHANGE:` prefix.
    pub ticker: Option<String>,
    /// `exchange`, used when the ticker has no prefix.
    pub exchange: Option<String>,
    /// From `action` / `side` (`buy`, `sell`, `long`, `short`, ...).
    pub side: Option<Side>,
    /// A signal type the action word implies (`close` -> exit, `alert` -> alert).
    pub action_type: Option<SignalType>,
    /// The explicit `type` / `signal_type`; it wins over any inference.
    pub signal_type: Option<SignalType>,
    /// The sender's own `priority`, if it gave one.
    pub priority: Option<Priority>,
    /// `price` / `close`.
    pub price: Option<Price>,
    /// `quantity` / `qty` / `contracts` / `size`.
    pub quantity: Option<Quantity>,
    /// `market_position` after the order (or the sign of `position_size`).
    pub market_position: Option<MarketPosition>,
    /// `position_size` after the order, signed (negative is short).
    pub position_size: Option<Fixed>,
    /// `prev_market_position` before the order.
    pub prev_market_position: Option<MarketPosition>,
    /// `prev_market_position_size` before the order, signed.
    pub prev_position_size: Option<Fixed>,
    /// `strategy` name.
    pub strategy: Option<String>,
    /// `interval` (`15`, `1h`, `1D`).
    pub interval: Option<String>,
    /// `comment` / `message`.
    pub comment: Option<String>,
    /// `timenow`, else `time`: when the sender says the alert fired.
    pub time: Option<Timestamp>,
    /// `id` / `order_id`: the sender's alert id, the idempotency key when present.
    pub source_id: Option<String>,
    /// `passphrase`, kept apart so it is never stored.
    pub passphrase: Option<Secret>,
    /// Fields NEO does not interpret, and the position fields, kept for the record.
    pub metadata: BTreeMap<String, Value>,
    /// The payload as received, with the passphrase replaced by `***`.
    pub original: Value,
    /// When NEO received it.
    pub received_at: Timestamp,
    /// Which key each field came from, so problems point at what the sender wrote.
    pub(crate) keys: BTreeMap<&'static str, String>,
}

impl RawAlert {
    /// An empty alert received at `received_at` (tests and senders that build one in code).
    pub fn new(received_at: Timestamp) -> Self {
        RawAlert {
            ticker: None,
            exchange: None,
            side: None,
            action_type: None,
            signal_type: None,
            priority: None,
            price: None,
            quantity: None,
            market_position: None,
            position_size: None,
            prev_market_position: None,
            prev_position_size: None,
            strategy: None,
            interval: None,
            comment: None,
            time: None,
            source_id: None,
            passphrase: None,
            metadata: BTreeMap::new(),
            original: Value::Null,
            received_at,
            keys: BTreeMap::new(),
        }
    }

    /// The JSON pointer of the key `field` came from, or `/<field>` when it was not given.
    pub(crate) fn path_of(&self, field: &str) -> String {
        match self.keys.get(field) {
            Some(key) => super::error::pointer(key),
            None => format!("/{field}"),
        }
    }
}
