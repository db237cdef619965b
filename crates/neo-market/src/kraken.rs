//! Kraken's WebSocket v2 public channels, as its documentation gives them:
//! `{"channel", "type": "snapshot"|"update", "data": [..]}`. `ticker` (`bid`,
//! `ask`, `last`; no time: the receive time stands in), `trade` (`side` is
//! the taker's, `price`, `qty`, `trade_id`, RFC 3339 `timestamp`) and `ohlc`
//! (`interval_begin`, `interval` in minutes, `open high low close volume`; the
//! current bar is updated, so none is marked closed here). Kraken sends
//! numbers as JSON numbers: they are read from their shortest decimal form.
//! `heartbeat` and `status` carry nothing to trade on; a method answer with
//! `success: false` is a venue error.

use neo_domain::{InstrumentId, Side, Timestamp};

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{price, printed, quantity, rfc3339, text, updating_candle};
use crate::wire::{self, Json, List, Obj, fields};

const VENUE: &str = "KRAKEN";

fn instrument(symbol: &Json<'_>) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(symbol, "symbol", VENUE)
}

fields! {
    /// One entry of `data`: a ticker, a trade or a bar, as the channel says
    /// (which may come after the data, so every channel's fields are read).
    Item {
        "symbol" => symbol: Json<'a>,
        "bid" => bid: Json<'a>,
        "ask" => ask: Json<'a>,
        "last" => last: Json<'a>,
        "side" => side: Json<'a>,
        "price" => price: Json<'a>,
        "qty" => qty: Json<'a>,
        "trade_id" => trade_id: Json<'a>,
        "timestamp" => timestamp: Json<'a>,
        "interval" => interval: Json<'a>,
        "interval_begin" => interval_begin: Json<'a>,
        "open" => open: Json<'a>,
        "high" => high: Json<'a>,
        "low" => low: Json<'a>,
        "close" => close: Json<'a>,
        "volume" => volume: Json<'a>,
    }
}

fields! {
    /// A whole message: a channel's data, or a method's answer.
    Message {
        "method" => method: Json<'a>,
        "success" => success: Json<'a>,
        "error" => error: Json<'a>,
        "channel" => channel: Json<'a>,
        "data" => data: List<Item<'a>>,
    }
}

/// The events in one message received at `received`.
pub fn read(text_in: &str, received: Timestamp) -> Result<Read, ReadError> {
    let mut value = Obj::<Message<'_>>::default();
    wire::read(text_in, &mut value).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if value.method.is_present() {
        return match value.success.as_bool() {
            Some(true) => Ok(Read::default()),
            _ => {
                let why = value.error.as_str().unwrap_or("refused");
                Err(ReadError::Venue(why.to_owned()))
            }
        };
    }
    let channel = value
        .channel
        .as_str()
        .ok_or_else(|| ReadError::Unknown("no channel".to_owned()))?;
    if matches!(channel, "heartbeat" | "status") {
        return Ok(Read::default());
    }
    let data = value.data.items().ok_or(ReadError::Field {
        field: "data",
        problem: "missing or not a list".to_owned(),
    })?;
    let per_item = if channel == "trade" { 2 } else { 1 };
    let mut events = Vec::with_capacity(data.clone().count() * per_item);
    for item in data {
        match channel {
            "ticker" => events.push(ticker(item, received)?),
            "trade" => events.extend(trade(item)?),
            "ohlc" => events.push(ohlc(item)?),
            other => return Err(ReadError::Unknown(format!("channel {other:?}"))),
        }
    }
    Ok(Read {
        sequence: None,
        events,
    })
}

fn ticker(t: &Item<'_>, received: Timestamp) -> Result<MarketEvent, ReadError> {
    let book = (price(&t.bid, "bid")?, price(&t.ask, "ask")?);
    let last = (instrument(&t.symbol)?, price(&t.last, "last")?);
    quote(last.0, last.1, book, received, "bid")
}

fn trade(t: &Item<'_>) -> Result<[MarketEvent; 2], ReadError> {
    let aggressor = match text(&t.side, "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => {
            return Err(ReadError::Field {
                field: "side",
                problem: format!("{other:?} is not buy or sell"),
            });
        }
    };
    let trade_id = printed(&t.trade_id, "trade_id")?;
    let trade = Trade {
        instrument: instrument(&t.symbol)?,
        price: price(&t.price, "price")?,
        size: quantity(&t.qty, "qty")?,
        aggressor,
        trade_id,
        ts_event: rfc3339(&t.timestamp, "timestamp")?,
    };
    Ok(trade.and_tick())
}

fn ohlc(c: &Item<'_>) -> Result<MarketEvent, ReadError> {
    let minutes = c
        .interval
        .as_i64()
        .filter(|m| (1..=21_600).contains(m))
        .ok_or(ReadError::Field {
            field: "interval",
            problem: "missing or not 1 to 21600 minutes".to_owned(),
        })?;
    let open_at = rfc3339(&c.interval_begin, "interval_begin")?;
    let bar = [&c.open, &c.high, &c.low, &c.close, &c.volume];
    updating_candle(bar, instrument(&c.symbol)?, open_at, minutes * 60)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_unix_secs(1_700_000_000).unwrap()
    }

    #[test]
    fn tickers_trades_and_bars_read_from_json_numbers_exactly() {
        let ticker = r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10035,"ask_qty":740.0,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17}]}"#;
        let MarketEvent::Tick(t) = &read(ticker, at()).unwrap().events[0] else {
            panic!()
        };
        assert_eq!(t.instrument.as_str(), "ALGO-USD");
        assert_eq!(
            (t.bid.unwrap().to_string(), t.price.to_string()),
            ("0.10025".to_owned(), "0.10035".to_owned())
        );
        assert_eq!(t.ts_event, at());
        let trade = r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#;
        let MarketEvent::Trade(tr) = &read(trade, at()).unwrap().events[0] else {
            panic!()
        };
        assert_eq!(
            (tr.aggressor, tr.size.to_string(), tr.trade_id.as_str()),
            (Side::Sell, "6423.46326".to_owned(), "4665846")
        );
        let bar = r#"{"channel":"ohlc","type":"update","timestamp":"2023-10-04T16:26:30.524394914Z","data":[{"symbol":"MATIC/USD","open":0.5624,"high":0.5628,"low":0.5622,"close":0.5627,"trades":12,"volume":30927.68066226,"vwap":0.5626,"interval_begin":"2023-10-04T16:25:00.000000000Z","interval":5,"timestamp":"2023-10-04T16:30:00.000000Z"}]}"#;
        let MarketEvent::Candle { candle, .. } = &read(bar, at()).unwrap().events[0] else {
            panic!()
        };
        assert_eq!(candle.interval, "5m");
        assert_eq!(candle.ts_event, "2023-10-04T16:30:00Z".parse().unwrap());
    }

    #[test]
    fn answers_heartbeats_and_errors() {
        assert!(
            read(r#"{"channel":"heartbeat"}"#, at())
                .unwrap()
                .events
                .is_empty()
        );
        let ok = r#"{"method":"subscribe","result":{"channel":"ticker","symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#;
        assert!(read(ok, at()).unwrap().events.is_empty());
        for (text_in, outcome) in [
            (
                r#"{"method":"subscribe","success":false,"error":"Currency pair not supported"}"#,
                "venue_error",
            ),
            (
                r#"{"channel":"book","type":"snapshot","data":[{}]}"#,
                "unknown",
            ),
            (
                r#"{"channel":"ohlc","data":[{"symbol":"BTC/USD","interval":0}]}"#,
                "malformed",
            ),
            ("[]", "unknown"),
        ] {
            assert_eq!(
                read(text_in, at()).unwrap_err().outcome(),
                outcome,
                "{text_in}"
            );
        }
    }

    proptest! {
        /// Any text: events or a typed error, never a panic.
        #[test]
        fn reading_any_text_never_panics(text_in in "\\PC{0,200}") {
            let _ = read(&text_in, at());
        }
    }
}
