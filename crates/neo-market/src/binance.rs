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
use serde::de::MapAccess;

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{millis, price, printed, quantity, text};
use crate::wire::{self, Fields, Json, Obj, Shape, Slot, fields};

const VENUE: &str = "BINANCE";

fn instrument(value: &Json<'_>, field: &'static str) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(value, field, VENUE)
}

fields! {
    /// A kline's bar (`k`).
    Kline {
        "s" => symbol: Json<'a>,
        "i" => interval: Json<'a>,
        "t" => open_time: Json<'a>,
        "T" => close_time: Json<'a>,
        "o" => open: Json<'a>,
        "h" => high: Json<'a>,
        "l" => low: Json<'a>,
        "c" => close: Json<'a>,
        "v" => volume: Json<'a>,
        "x" => closed: Json<'a>,
    }
}

fields! {
    /// One stream's payload: a trade, a `bookTicker` or a kline (whichever fields it has).
    Payload {
        "e" => event: Json<'a>,
        "s" => symbol: Json<'a>,
        "p" => price: Json<'a>,
        "q" => quantity: Json<'a>,
        "T" => trade_time: Json<'a>,
        "m" => buyer_is_maker: Json<'a>,
        "t" => trade_id: Json<'a>,
        "b" => bid: Json<'a>,
        "a" => ask: Json<'a>,
        "k" => kline: Obj<Kline<'a>>,
    }
}

/// A whole message: an answer, an error, the combined-stream envelope, or a bare payload.
#[derive(Debug, Default)]
struct Message<'a> {
    result: Json<'a>,
    id: Json<'a>,
    msg: Json<'a>,
    code: Json<'a>,
    stream: Json<'a>,
    data: Obj<Payload<'a>>,
    /// The message's own payload fields, for a single-stream connection.
    bare: Payload<'a>,
}

impl<'de> Fields<'de> for Message<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "result" => self.result.read(map)?,
            "id" => self.id.read(map)?,
            "msg" => self.msg.read(map)?,
            "code" => self.code.read(map)?,
            "stream" => self.stream.read(map)?,
            "data" => self.data.read(map)?,
            _ => self.bare.field(key, map)?,
        }
        Ok(())
    }
}

/// The events in one message received at `received`.
pub fn read(text: &str, received: Timestamp) -> Result<Read, ReadError> {
    events(text, received).map(|events| Read {
        sequence: None,
        events,
    })
}

fn events(text: &str, received: Timestamp) -> Result<Vec<MarketEvent>, ReadError> {
    let mut message = Obj::<Message<'_>>::default();
    wire::read(text, &mut message).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if message.shape != Shape::Object {
        return Err(ReadError::Unknown("not a JSON object".to_owned()));
    }
    if message.result.is_present() && message.id.is_present() {
        return Ok(Vec::new());
    }
    if let Some(msg) = message.msg.as_str() {
        let code = message.code.to_json().unwrap_or_default();
        return Err(ReadError::Venue(format!("{code} {msg}").trim().to_owned()));
    }
    let (stream, data) = match message.stream.as_str() {
        Some(stream) if message.data.shape != Shape::Missing => (stream, &message.data.fields),
        _ => ("", &message.bare),
    };
    match data.event.as_str() {
        Some("trade") => trade(data),
        Some("kline") => kline(data).map(|e| vec![e]),
        Some(other) => Err(ReadError::Unknown(format!("event type {other:?}"))),
        // bookTicker payloads carry no `e`: known by their fields or their stream name.
        None if stream.ends_with("@bookTicker") || data.bid.is_present() => {
            book_ticker(data, received).map(|e| vec![e])
        }
        None => Err(ReadError::Unknown(format!("stream {stream:?}"))),
    }
}

/// A trade: the trade itself, and a tick at its price.
fn trade(data: &Payload<'_>) -> Result<Vec<MarketEvent>, ReadError> {
    let instrument = instrument(&data.symbol, "s")?;
    let (price, size) = (price(&data.price, "p")?, quantity(&data.quantity, "q")?);
    let ts_event = millis(&data.trade_time, "T")?;
    let buyer_is_maker = data.buyer_is_maker.as_bool().ok_or(ReadError::Field {
        field: "m",
        problem: "missing or not a boolean".to_owned(),
    })?;
    let trade_id = printed(&data.trade_id, "t")?;
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
fn book_ticker(data: &Payload<'_>, received: Timestamp) -> Result<MarketEvent, ReadError> {
    let instrument = instrument(&data.symbol, "s")?;
    let (bid, ask) = (price(&data.bid, "b")?, price(&data.ask, "a")?);
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
fn kline(data: &Payload<'_>) -> Result<MarketEvent, ReadError> {
    if data.kline.shape == Shape::Missing {
        return Err(ReadError::Field {
            field: "k",
            problem: "missing".to_owned(),
        });
    }
    let k = &data.kline.fields;
    let candle = CandleV1 {
        instrument: instrument(&k.symbol, "s")?,
        interval: text(&k.interval, "i")?.to_owned(),
        ts_open: millis(&k.open_time, "t")?,
        ts_event: millis(&k.close_time, "T")?.add_nanos(1_000_000),
        open: price(&k.open, "o")?,
        high: price(&k.high, "h")?,
        low: price(&k.low, "l")?,
        close: price(&k.close, "c")?,
        volume: quantity(&k.volume, "v")?,
    };
    let closed = k.closed.as_bool().unwrap_or(false);
    Ok(MarketEvent::Candle { candle, closed })
}

#[cfg(test)]
mod tests;
