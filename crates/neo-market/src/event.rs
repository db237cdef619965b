//! What a venue's message becomes: a quote or trade tick (what the desk marks
//! and works orders against), a trade with its aggressor and id (for the tick
//! sink and execution quality), or a candle with whether it has closed. A
//! message that cannot be read is a [`ReadError`] naming the problem.

use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{InstrumentId, Price, Quantity, Side, Timestamp};

/// One normalized piece of market data.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketEvent {
    /// A trade's price and size, or a quote (size zero, bid and ask set).
    Tick(TickV1),
    /// A trade as the venue reported it.
    Trade(Trade),
    /// A candle; only a closed one is final.
    Candle {
        /// The bar.
        candle: CandleV1,
        /// The venue says the interval is over.
        closed: bool,
    },
}

/// What one message held: its events, and the venue's sequence number when it
/// numbers its messages (a gap means something was missed: backfill).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Read {
    /// The venue's sequence number of the message.
    pub sequence: Option<u64>,
    /// What it said, in order.
    pub events: Vec<MarketEvent>,
}

/// One trade on a venue.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// What traded.
    pub instrument: InstrumentId,
    /// At what price.
    pub price: Price,
    /// How much.
    pub size: Quantity,
    /// The side of the order that took liquidity.
    pub aggressor: Side,
    /// The venue's id for it (unique per instrument).
    pub trade_id: String,
    /// When it happened, by the venue's clock.
    pub ts_event: Timestamp,
}

impl Trade {
    /// The trade, then a tick at its price and size (what the desk marks and works orders on).
    pub fn with_tick(self) -> Vec<MarketEvent> {
        Vec::from(self.and_tick())
    }

    /// [`Trade::with_tick`] without a list of its own, for a reader adding to one.
    pub(crate) fn and_tick(self) -> [MarketEvent; 2] {
        let tick = TickV1 {
            instrument: self.instrument,
            price: self.price,
            size: self.size,
            bid: None,
            ask: None,
            ts_event: self.ts_event,
        };
        [MarketEvent::Trade(self), MarketEvent::Tick(tick)]
    }
}

/// A quote tick (size zero) at `price`, refused when the bid is above the ask.
pub(crate) fn quote(
    instrument: InstrumentId,
    price: Price,
    (bid, ask): (Price, Price),
    ts_event: Timestamp,
    bid_field: &'static str,
) -> Result<MarketEvent, ReadError> {
    if bid > ask {
        return Err(ReadError::Field {
            field: bid_field,
            problem: format!("the bid {bid} is above the ask {ask}"),
        });
    }
    Ok(MarketEvent::Tick(TickV1 {
        instrument,
        price,
        size: Quantity::ZERO,
        bid: Some(bid),
        ask: Some(ask),
        ts_event,
    }))
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a message this reader knows (an unknown stream or event type).
    #[error("unknown message: {0}")]
    Unknown(String),
    /// A known message missing a field or with one of the wrong type.
    #[error("{field}: {problem}")]
    Field {
        /// The field's name in the venue's message.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The venue reported an error on the connection.
    #[error("the venue says: {0}")]
    Venue(String),
}

impl ReadError {
    /// The reason label for `neo_market_messages_total{outcome}`.
    pub fn outcome(&self) -> &'static str {
        match self {
            ReadError::NotJson(_) => "not_json",
            ReadError::Unknown(_) => "unknown",
            ReadError::Field { .. } => "malformed",
            ReadError::Venue(_) => "venue_error",
        }
    }
}
