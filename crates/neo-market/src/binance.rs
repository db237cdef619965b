//! Binance spot's public market streams, as its WebSocket documentation gives
//! them: the combined-stream envelope `{"stream": "btcusdt@trade", "data": {..}}`
//! (or a bare payload), `trade` (`e: trade`, price `p`, quantity `q`, trade
//! time `T`, `m` true when the buyer was the maker), `bookTicker` (best bid
//! `b`/`B` and ask `a`/`A`, no event time: the receive time stands in) and
//! `kline` (`k.t` open time, `k.T` close time, `o h l c v`, `k.x` closed).
//! Subscription answers (`{"result": null, "id": 1}`) read as nothing; an error
//! answer (`{"code": .., "msg": ..}`) is a venue error. Prices and quantities
//! are decimal strings, read exactly.

use neo_domain::contracts::CandleV1;
use neo_domain::{Fixed, InstrumentId, Price, Rounding, Side, Timestamp};
use serde_json::Value;

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{millis, price, quantity, text};

const VENUE: &str = "BINANCE";

fn instrument(data: &Value, field: &'static str) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(data, field, VENUE)
}

/// The events in one message received at `received`.
pub fn read(text: &str, received: Timestamp) -> Result<Read, ReadError> {
    events(text, received).map(|events| Read {
        sequence: None,
        events,
    })
}

fn events(text: &str, received: Timestamp) -> Result<Vec<MarketEvent>, ReadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(ReadError::Unknown("not a JSON object".to_owned()));
    };
    if map.contains_key("result") && map.contains_key("id") {
        return Ok(Vec::new());
    }
    if let Some(msg) = map.get("msg").and_then(Value::as_str) {
        let code = map.get("code").map_or_else(String::new, Value::to_string);
        return Err(ReadError::Venue(format!("{code} {msg}").trim().to_owned()));
    }
    let (stream, data) = match (map.get("stream"), map.get("data")) {
        (Some(Value::String(stream)), Some(data)) => (stream.as_str(), data),
        _ => ("", &value),
    };
    match data.get("e").and_then(Value::as_str) {
        Some("trade") => trade(data),
        Some("kline") => kline(data).map(|e| vec![e]),
        Some(other) => Err(ReadError::Unknown(format!("event type {other:?}"))),
        // bookTicker payloads carry no `e`: known by their fields or their stream name.
        None if stream.ends_with("@bookTicker") || data.get("b").is_some() => {
            book_ticker(data, received).map(|e| vec![e])
        }
        None => Err(ReadError::Unknown(format!("stream {stream:?}"))),
    }
}

/// A trade: the trade itself, and a tick at its price.
fn trade(data: &Value) -> Result<Vec<MarketEvent>, ReadError> {
    let instrument = instrument(data, "s")?;
    let (price, size) = (price(data, "p")?, quantity(data, "q")?);
    let ts_event = millis(data, "T")?;
    let buyer_is_maker = data
        .get("m")
        .and_then(Value::as_bool)
        .ok_or(ReadError::Field {
            field: "m",
            problem: "missing or not a boolean".to_owned(),
        })?;
    let trade_id = data
        .get("t")
        .map(Value::to_string)
        .ok_or(ReadError::Field {
            field: "t",
            problem: "missing".to_owned(),
        })?;
    let trade = Trade {
        instrument,
        price,
        size,
        // The buyer was the maker: the seller took liquidity.
        aggressor: if buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
        trade_id,
        ts_event,
    };
    Ok(trade.with_tick())
}

/// The best bid and ask as a quote tick at their mid (size zero).
fn book_ticker(data: &Value, received: Timestamp) -> Result<MarketEvent, ReadError> {
    let instrument = instrument(data, "s")?;
    let (bid, ask) = (price(data, "b")?, price(data, "a")?);
    let sum = bid.value().checked_add(ask.value());
    let mid = sum
        .and_then(|s| s.div_round(Fixed::from_int(2), Rounding::HalfEven))
        .ok()
        .and_then(|m| Price::new(m).ok())
        .ok_or(ReadError::Field {
            field: "a",
            problem: "the mid is out of range".to_owned(),
        })?;
    quote(instrument, mid, (bid, ask), received, "b")
}

/// A kline as a candle; `k.T` is the interval's last millisecond, so the close is one after it.
fn kline(data: &Value) -> Result<MarketEvent, ReadError> {
    let k = data.get("k").ok_or(ReadError::Field {
        field: "k",
        problem: "missing".to_owned(),
    })?;
    let candle = CandleV1 {
        instrument: instrument(k, "s")?,
        interval: text(k, "i")?.to_owned(),
        ts_open: millis(k, "t")?,
        ts_event: millis(k, "T")?.add_nanos(1_000_000),
        open: price(k, "o")?,
        high: price(k, "h")?,
        low: price(k, "l")?,
        close: price(k, "c")?,
        volume: quantity(k, "v")?,
    };
    let closed = k.get("x").and_then(Value::as_bool).unwrap_or(false);
    Ok(MarketEvent::Candle { candle, closed })
}

#[cfg(test)]
mod tests;
