//! What a live venue and outside sources publish besides ticks and candles:
//! each trade as the venue reported it (for the trade archive and execution
//! quality), and alternative data (news, funding rates, on-chain figures) kept
//! with its source and time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Checks, Contract, Issue};
use crate::{InstrumentId, Price, Quantity, Side, Timestamp};

/// Largest alternative-data payload, as compact JSON.
pub const ALT_PAYLOAD_MAX_BYTES: usize = 65_536;

/// One trade on a venue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TradeV1 {
    /// The venue (`binance`, `coinbase`, `kraken`).
    pub venue: String,
    /// What traded.
    pub instrument: InstrumentId,
    /// At what price.
    pub price: Price,
    /// How much.
    pub size: Quantity,
    /// The side of the order that took liquidity.
    pub aggressor: Side,
    /// The venue's id for the trade (unique per venue and instrument).
    pub trade_id: String,
    /// When it happened, by the venue's clock.
    pub ts_event: Timestamp,
}

impl Contract for TradeV1 {
    const TYPE_NAME: &'static str = "TradeV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.token(&self.venue, "/venue");
        c.positive_price(Some(self.price), "/price");
        c.require(
            self.size.value().is_positive(),
            "/size",
            "must be above zero",
        );
        c.text(&self.trade_id, "/trade_id", 128);
        c.finish()
    }
}

/// An alternative-data event: anything JSON, kept with where and when it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AltEventV1 {
    /// Who sent it (`news`, `glassnode`, `binance-funding`): a subject token.
    pub source: String,
    /// What it is (`headline`, `funding_rate`, `active_addresses`): a subject token.
    pub kind: String,
    /// When it happened (the sender's time, or when NEO received it).
    pub ts_event: Timestamp,
    /// The event itself, a JSON object of at most 64 KiB.
    pub payload: Value,
}

impl Contract for AltEventV1 {
    const TYPE_NAME: &'static str = "AltEventV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.token(&self.source, "/source");
        c.token(&self.kind, "/kind");
        c.require(
            self.payload.is_object(),
            "/payload",
            "must be a JSON object",
        );
        let size = serde_json::to_vec(&self.payload).map_or(usize::MAX, |b| b.len());
        c.require_with(size <= ALT_PAYLOAD_MAX_BYTES, "/payload", || {
            format!("must be at most {ALT_PAYLOAD_MAX_BYTES} bytes as JSON, got {size}")
        });
        c.finish()
    }
}
