//! Market data: trades/quotes as ticks and OHLCV candles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue};
use crate::{InstrumentId, Price, Quantity, Timestamp};

/// One trade or quote update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TickV1 {
    /// What traded.
    pub instrument: InstrumentId,
    /// Last trade price (or mid for quote-only feeds).
    pub price: Price,
    /// Trade size; zero for quote updates.
    pub size: Quantity,
    /// Best bid, when the feed has quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid: Option<Price>,
    /// Best ask, when the feed has quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Price>,
    /// Exchange time of the trade or quote.
    pub ts_event: Timestamp,
}

impl Contract for TickV1 {
    const TYPE_NAME: &'static str = "TickV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.positive_price(Some(self.price), "/price");
        c.positive_price(self.bid, "/bid");
        c.positive_price(self.ask, "/ask");
        if let (Some(bid), Some(ask)) = (self.bid, self.ask) {
            c.require_with(bid <= ask, "/ask", || {
                format!("ask {ask} is below bid {bid}")
            });
        }
        c.finish()
    }
}

/// One OHLCV bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CandleV1 {
    /// What traded.
    pub instrument: InstrumentId,
    /// Bar length: a number and a unit, `s`, `m`, `h`, `d`, `w` or `M` (`1m`, `4h`, `1d`).
    pub interval: String,
    /// When the bar opened.
    pub ts_open: Timestamp,
    /// When the bar closed (the time it became known).
    pub ts_event: Timestamp,
    /// First price.
    pub open: Price,
    /// Highest price.
    pub high: Price,
    /// Lowest price.
    pub low: Price,
    /// Last price.
    pub close: Price,
    /// Traded quantity.
    pub volume: Quantity,
}

/// `1m`, `15m`, `4h`, `1d`, `1w`, `1M`.
pub(crate) fn valid_interval(interval: &str) -> bool {
    let digits = interval.trim_end_matches(['s', 'm', 'h', 'd', 'w', 'M']);
    let unit_len = interval.len() - digits.len();
    unit_len == 1
        && !digits.is_empty()
        && digits.len() <= 4
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0')
}

impl Contract for CandleV1 {
    const TYPE_NAME: &'static str = "CandleV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.require(
            valid_interval(&self.interval),
            "/interval",
            "must be a number and one of s, m, h, d, w, M (e.g. 1m, 4h, 1d)",
        );
        c.require(
            self.ts_open < self.ts_event,
            "/ts_event",
            "a bar must close after it opens",
        );
        for (price, path) in [
            (self.open, "/open"),
            (self.high, "/high"),
            (self.low, "/low"),
            (self.close, "/close"),
        ] {
            c.positive_price(Some(price), path);
        }
        c.require_with(self.low <= self.high, "/low", || {
            format!("low {} is above high {}", self.low, self.high)
        });
        for (price, path) in [(self.open, "/open"), (self.close, "/close")] {
            c.require_with(self.low <= price && price <= self.high, path, || {
                format!(
                    "{price} is outside the bar's range {} to {}",
                    self.low, self.high
                )
            });
        }
        c.finish()
    }
}
