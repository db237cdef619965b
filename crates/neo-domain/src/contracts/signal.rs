//! SignalEventV1: a trading signal from TradingView, the strategy loop or the API,
//! normalized so that everything downstream reads one shape.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Checks, Contract, Issue, Side, text_enum};
use crate::{InstrumentId, MessageId, Price, Quantity, Timestamp};

text_enum! {
    /// Where a signal came from.
    pub enum SignalSource {
        /// A TradingView webhook alert.
        Tradingview => "tradingview",
        /// NEO's own strategy loop.
        Strategy => "strategy",
        /// The REST API or a signed generic webhook.
        Api => "api",
    }
}

text_enum! {
    /// What a signal asks for.
    pub enum SignalType {
        /// Open or add to a position.
        Entry => "entry",
        /// Close or reduce a position.
        Exit => "exit",
        /// Close and open the other way.
        Reverse => "reverse",
        /// Information only: analysed and reported, never traded.
        Alert => "alert",
    }
}

text_enum! {
    /// How urgently a signal is handled; it is a subject token so consumers can split by it.
    pub enum Priority {
        /// Exits, stops and risk-related alerts.
        High => "high",
        /// Ordinary entries.
        Normal => "normal",
        /// Informational alerts.
        Low => "low",
    }
}

/// A normalized trading signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignalEventV1 {
    /// Derived from the idempotency key (source + sender id or content), so a resend has the same id.
    pub id: MessageId,
    /// Where it came from.
    pub source: SignalSource,
    /// The sender's own alert or order id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Canonical instrument.
    pub instrument: InstrumentId,
    /// The exchange the sender named (`BINANCE`), kept for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// Buy or sell; absent for plain alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// Entry, exit, reverse or alert.
    pub signal_type: SignalType,
    /// Routing priority.
    pub priority: Priority,
    /// The price the sender saw (`{{close}}`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// The quantity the sender asked for; absent means "size it by risk".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// Strategy name or order comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Chart interval (`1`, `15`, `1h`, `1D`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Free text from the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the sender says the signal happened (else when NEO received it).
    pub ts_event: Timestamp,
    /// Fields NEO does not interpret, kept rather than refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    /// The payload as received (JSON, or the text of a plain-text alert).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub original: Value,
}

impl Contract for SignalEventV1 {
    const TYPE_NAME: &'static str = "SignalEventV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        let needs_side = matches!(self.signal_type, SignalType::Entry | SignalType::Reverse);
        c.require_with(!needs_side || self.side.is_some(), "/side", || {
            format!("{} signals need a side", self.signal_type)
        });
        c.positive_price(self.price, "/price");
        if let Some(q) = self.quantity {
            c.require(!q.is_zero(), "/quantity", "must be above zero when given");
        }
        c.optional_text(self.source_id.as_deref(), "/source_id", 256);
        c.optional_text(self.exchange.as_deref(), "/exchange", 64);
        c.optional_text(self.strategy.as_deref(), "/strategy", 256);
        c.optional_text(self.interval.as_deref(), "/interval", 16);
        if let Some(comment) = &self.comment {
            c.require(
                comment.chars().count() <= 4096,
                "/comment",
                "must be at most 4096 characters",
            );
        }
        c.finish()
    }
}
