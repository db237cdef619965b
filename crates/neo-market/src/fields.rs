//! Reading one field of a venue's message, exactly: decimal strings (or, for
//! venues that send JSON numbers, their shortest decimal form) into prices and
//! quantities, epoch milliseconds or RFC 3339 text into timestamps, the
//! venue's symbol into NEO's instrument. A missing or unusable field is a
//! [`ReadError::Field`] naming it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use neo_domain::contracts::CandleV1;
use neo_domain::instrument::parse_ticker;
use neo_domain::{InstrumentId, Price, Quantity, Timestamp};

use crate::event::{MarketEvent, ReadError};
use crate::wire::Json;

fn missing(field: &'static str, what: &str) -> ReadError {
    ReadError::Field {
        field,
        problem: format!("missing or not {what}"),
    }
}

/// A string field.
pub(crate) fn text<'a>(value: &'a Json<'_>, field: &'static str) -> Result<&'a str, ReadError> {
    value.as_str().ok_or_else(|| missing(field, "a string"))
}

/// A JSON number's shortest decimal form, printed on the stack (at most 24 characters).
#[derive(Default)]
struct NumberText {
    bytes: [u8; 32],
    len: usize,
}

impl NumberText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}

impl fmt::Write for NumberText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A decimal field (a string as sent, or a JSON number's shortest form) read as `T`.
fn decimal<T: FromStr>(value: &Json<'_>, field: &'static str, what: &str) -> Result<T, ReadError>
where
    T::Err: fmt::Display,
{
    let read = |raw: &str| {
        raw.parse::<T>().map_err(|e| ReadError::Field {
            field,
            problem: format!("{raw:?} is not {what}: {e}"),
        })
    };
    match value {
        Json::Str(s) => read(s),
        Json::Num(n) => {
            let mut text = NumberText::default();
            match write!(text, "{n}").ok().and_then(|()| text.as_str()) {
                Some(raw) => read(raw),
                // Longer than any number prints: never, but not worth a panic.
                None => read(&n.to_string()),
            }
        }
        _ => Err(missing(field, "a number")),
    }
}

/// A price field.
pub(crate) fn price(value: &Json<'_>, field: &'static str) -> Result<Price, ReadError> {
    decimal(value, field, "a price")
}

/// A quantity field.
pub(crate) fn quantity(value: &Json<'_>, field: &'static str) -> Result<Quantity, ReadError> {
    decimal(value, field, "a quantity")
}

/// An epoch-milliseconds field.
pub(crate) fn millis(value: &Json<'_>, field: &'static str) -> Result<Timestamp, ReadError> {
    let ms = value
        .as_i64()
        .ok_or_else(|| missing(field, "a whole number of milliseconds"))?;
    Timestamp::from_unix_millis(ms).map_err(|e| ReadError::Field {
        field,
        problem: e.to_string(),
    })
}

/// An RFC 3339 time field.
pub(crate) fn rfc3339(value: &Json<'_>, field: &'static str) -> Result<Timestamp, ReadError> {
    let raw = text(value, field)?;
    raw.parse::<Timestamp>().map_err(|e| ReadError::Field {
        field,
        problem: format!("{raw:?}: {e}"),
    })
}

/// A field printed whole as JSON (a venue's id that may be a number or a string).
pub(crate) fn printed(value: &Json<'_>, field: &'static str) -> Result<String, ReadError> {
    value.to_json().ok_or(ReadError::Field {
        field,
        problem: "missing".to_owned(),
    })
}

/// The venue's symbol as NEO's instrument (`BTCUSDT` on Binance, `BTC-USD`, `BTC/USD`).
pub(crate) fn instrument(
    value: &Json<'_>,
    field: &'static str,
    venue: &'static str,
) -> Result<InstrumentId, ReadError> {
    let symbol = text(value, field)?;
    let cached = SYMBOLS.with_borrow(|venues| {
        let (_, symbols) = venues.iter().find(|(v, _)| *v == venue)?;
        symbols.get(symbol).copied()
    });
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
    SYMBOLS.with_borrow_mut(|venues| {
        if !venues.iter().any(|(v, _)| *v == venue) {
            venues.push((venue, HashMap::new()));
        }
        if let Some((_, symbols)) = venues.iter_mut().find(|(v, _)| *v == venue) {
            // A feed sees a handful of symbols; a flood of new ones (hostile input) only
            // costs the cache, never memory.
            if symbols.len() >= SYMBOL_CACHE {
                symbols.clear();
            }
            symbols.insert(symbol.to_owned(), id);
        }
    });
    Ok(id)
}

/// Symbols remembered per venue and thread before the cache starts over.
const SYMBOL_CACHE: usize = 1_024;

thread_local! {
    /// Each venue's symbols' instruments, as `parse_ticker` resolved them (the same
    /// answer every time); a list of the few venues, so only the symbol is hashed.
    static SYMBOLS: RefCell<Vec<(&'static str, HashMap<String, InstrumentId>)>> =
        const { RefCell::new(Vec::new()) };
}

/// A bar still being updated (its `open`, `high`, `low`, `close` and `volume`
/// fields) opened at `open_at` and lasting `secs`: not marked closed.
pub(crate) fn updating_candle(
    [open, high, low, close, volume]: [&Json<'_>; 5],
    instrument: InstrumentId,
    open_at: Timestamp,
    secs: i64,
) -> Result<MarketEvent, ReadError> {
    let candle = CandleV1 {
        instrument,
        interval: format!("{}m", secs / 60),
        ts_open: open_at,
        ts_event: open_at.add_nanos(secs.saturating_mul(1_000_000_000)),
        open: price(open, "open")?,
        high: price(high, "high")?,
        low: price(low, "low")?,
        close: price(close, "close")?,
        volume: quantity(volume, "volume")?,
    };
    Ok(MarketEvent::Candle {
        candle,
        closed: false,
    })
}
