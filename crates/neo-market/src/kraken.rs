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
use serde_json::Value;

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{price, quantity, rfc3339, text, updating_candle};

const VENUE: &str = "KRAKEN";

fn instrument(data: &Value) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(data, "symbol", VENUE)
}

/// The events in one message received at `received`.
pub fn read(text_in: &str, received: Timestamp) -> Result<Read, ReadError> {
    let value: Value =
        serde_json::from_str(text_in).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if value.get("method").is_some() {
        return match value.get("success").and_then(Value::as_bool) {
            Some(true) => Ok(Read::default()),
            _ => {
                let why = value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("refused");
                Err(ReadError::Venue(why.to_owned()))
            }
        };
    }
    let channel = value
        .get("channel")
        .and_then(Value::as_str)
        .ok_or_else(|| ReadError::Unknown("no channel".to_owned()))?;
    if matches!(channel, "heartbeat" | "status") {
        return Ok(Read::default());
    }
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or(ReadError::Field {
            field: "data",
            problem: "missing or not a list".to_owned(),
        })?;
    let mut events = Vec::new();
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

fn ticker(t: &Value, received: Timestamp) -> Result<MarketEvent, ReadError> {
    let book = (price(t, "bid")?, price(t, "ask")?);
    quote(instrument(t)?, price(t, "last")?, book, received, "bid")
}

fn trade(t: &Value) -> Result<Vec<MarketEvent>, ReadError> {
    let aggressor = match text(t, "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => {
            return Err(ReadError::Field {
                field: "side",
                problem: format!("{other:?} is not buy or sell"),
            });
        }
    };
    let trade_id = t
        .get("trade_id")
        .map(Value::to_string)
        .ok_or(ReadError::Field {
            field: "trade_id",
            problem: "missing".to_owned(),
        })?;
    let trade = Trade {
        instrument: instrument(t)?,
        price: price(t, "price")?,
        size: quantity(t, "qty")?,
        aggressor,
        trade_id,
        ts_event: rfc3339(t, "timestamp")?,
    };
    Ok(trade.with_tick())
}

fn ohlc(c: &Value) -> Result<MarketEvent, ReadError> {
    let minutes = c
        .get("interval")
        .and_then(Value::as_i64)
        .filter(|m| (1..=21_600).contains(m))
        .ok_or(ReadError::Field {
            field: "interval",
            problem: "missing or not 1 to 21600 minutes".to_owned(),
        })?;
    let open_at = rfc3339(c, "interval_begin")?;
    updating_candle(c, instrument(c)?, open_at, minutes * 60)
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
