//! Reading one field of a venue's message, exactly: decimal strings (or, for
//! venues that send JSON numbers, their shortest decimal form) into prices and
//! quantities, epoch milliseconds or RFC 3339 text into timestamps, the
//! venue's symbol into NEO's instrument. A missing or unusable field is a
//! [`ReadError::Field`] naming it.

use std::cell::RefCell;
use std::collections::HashMap;

use neo_domain::contracts::CandleV1;
use neo_domain::instrument::parse_ticker;
use neo_domain::{InstrumentId, Price, Quantity, Timestamp};
use serde_json::Value;

use crate::event::{MarketEvent, ReadError};

fn missing(field: &'static str, what: &str) -> ReadError {
    ReadError::Field {
        field,
        problem: format!("missing or not {what}"),
    }
}

/// A string field.
pub(crate) fn text<'a>(data: &'a Value, field: &'static str) -> Result<&'a str, ReadError> {
    data.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| missing(field, "a string"))
}

/// A decimal as text: a string as sent, or a JSON number's shortest form.
fn decimal(data: &Value, field: &'static str) -> Result<String, ReadError> {
    match data.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(missing(field, "a number")),
    }
}

/// A price field.
pub(crate) fn price(data: &Value, field: &'static str) -> Result<Price, ReadError> {
    let raw = decimal(data, field)?;
    raw.parse::<Price>().map_err(|e| ReadError::Field {
        field,
        problem: format!("{raw:?} is not a price: {e}"),
    })
}

/// A quantity field.
pub(crate) fn quantity(data: &Value, field: &'static str) -> Result<Quantity, ReadError> {
    let raw = decimal(data, field)?;
    raw.parse::<Quantity>().map_err(|e| ReadError::Field {
        field,
        problem: format!("{raw:?} is not a quantity: {e}"),
    })
}

/// An epoch-milliseconds field.
pub(crate) fn millis(data: &Value, field: &'static str) -> Result<Timestamp, ReadError> {
    let ms = data
        .get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| missing(field, "a whole number of milliseconds"))?;
    Timestamp::from_unix_millis(ms).map_err(|e| ReadError::Field {
        field,
        problem: e.to_string(),
    })
}

/// An RFC 3339 time field.
pub(crate) fn rfc3339(data: &Value, field: &'static str) -> Result<Timestamp, ReadError> {
    let raw = text(data, field)?;
    raw.parse::<Timestamp>().map_err(|e| ReadError::Field {
        field,
        problem: format!("{raw:?}: {e}"),
    })
}

/// The venue's symbol as NEO's instrument (`BTCUSDT` on Binance, `BTC-USD`, `BTC/USD`).
pub(crate) fn instrument(
    data: &Value,
    field: &'static str,
    venue: &'static str,
) -> Result<InstrumentId, ReadError> {
    let symbol = text(data, field)?;
    let cached = SYMBOLS.with_borrow(|m| m.get(venue).and_then(|v| v.get(symbol)).copied());
    if let Some(id) = cached {
        return Ok(id);
    }
    let plain = symbol.replace('/', "-");
    let id = parse_ticker(&plain, Some(venue))
        .map(|t| t.id)
        .map_err(|e| ReadError::Field {
            field,
            problem: format!("{symbol:?}: {e}"),
        })?;
    SYMBOLS.with_borrow_mut(|m| {
        // A feed sees a handful of symbols; a flood of new ones (hostile input) only
        // costs the cache, never memory.
        let v = m.entry(venue).or_default();
        if v.len() >= SYMBOL_CACHE {
            v.clear();
        }
        v.insert(symbol.to_owned(), id);
    });
    Ok(id)
}

/// Symbols remembered per venue and thread before the cache starts over.
const SYMBOL_CACHE: usize = 1_024;

thread_local! {
    /// Each venue symbol's instrument, as `parse_ticker` resolved it (the same answer every time).
    static SYMBOLS: RefCell<HashMap<&'static str, HashMap<String, InstrumentId>>> =
        RefCell::new(HashMap::new());
}

/// A bar still being updated (`open`, `high`, `low`, `close`, `volume` fields)
/// opened at `open_at` and lasting `secs`: not marked closed.
pub(crate) fn updating_candle(
    c: &Value,
    instrument: InstrumentId,
    open_at: Timestamp,
    secs: i64,
) -> Result<MarketEvent, ReadError> {
    let candle = CandleV1 {
        instrument,
        interval: format!("{}m", secs / 60),
        ts_open: open_at,
        ts_event: open_at.add_nanos(secs.saturating_mul(1_000_000_000)),
        open: price(c, "open")?,
        high: price(c, "high")?,
        low: price(c, "low")?,
        close: price(c, "close")?,
        volume: quantity(c, "volume")?,
    };
    Ok(MarketEvent::Candle {
        candle,
        closed: false,
    })
}
