//! Coinbase Advanced Trade's public market-data channels, as its WebSocket
//! documentation gives them: every message is `{"channel", "timestamp",
//! "sequence_num", "events": [..]}`. `ticker` events carry `tickers` (last
//! `price`, `best_bid`, `best_ask`), `market_trades` carry `trades` (`trade_id`,
//! `price`, `size`, `side`, `time`), `candles` carry five-minute `candles`
//! (`start` in epoch seconds, `open high low close volume`; the current one is
//! updated, so none is marked closed here), `heartbeats` and `subscriptions`
//! carry nothing to trade on. The sequence number is handed back so the
//! connection can see a gap; an `error` message is a venue error.

use neo_domain::{InstrumentId, Side, Timestamp};
use serde_json::Value;

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{price, quantity, rfc3339, text, updating_candle};

const VENUE: &str = "COINBASE";

/// Coinbase's candles are five minutes long.
const CANDLE_SECS: i64 = 300;

fn instrument(data: &Value) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(data, "product_id", VENUE)
}

/// The events in one message.
pub fn read(text_in: &str) -> Result<Read, ReadError> {
    let value: Value =
        serde_json::from_str(text_in).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if value.get("type").and_then(Value::as_str) == Some("error") {
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(ReadError::Venue(message.to_owned()));
    }
    let channel = value
        .get("channel")
        .and_then(Value::as_str)
        .ok_or_else(|| ReadError::Unknown("no channel".to_owned()))?;
    let sequence = value.get("sequence_num").and_then(Value::as_u64);
    let events = value
        .get("events")
        .and_then(Value::as_array)
        .ok_or(ReadError::Field {
            field: "events",
            problem: "missing or not a list".to_owned(),
        })?;
    let mut out = Vec::new();
    for event in events {
        match channel {
            "ticker" | "ticker_batch" => {
                let ts = rfc3339(&value, "timestamp")?;
                for t in list(event, "tickers")? {
                    out.push(ticker(t, ts)?);
                }
            }
            "market_trades" => {
                for t in list(event, "trades")? {
                    out.extend(trade(t)?);
                }
            }
            "candles" => {
                for c in list(event, "candles")? {
                    out.push(candle(c)?);
                }
            }
            "heartbeats" | "subscriptions" => {}
            other => return Err(ReadError::Unknown(format!("channel {other:?}"))),
        }
    }
    Ok(Read {
        sequence,
        events: out,
    })
}

fn list<'a>(event: &'a Value, field: &'static str) -> Result<&'a Vec<Value>, ReadError> {
    event
        .get(field)
        .and_then(Value::as_array)
        .ok_or(ReadError::Field {
            field,
            problem: "missing or not a list".to_owned(),
        })
}

fn ticker(t: &Value, ts: Timestamp) -> Result<MarketEvent, ReadError> {
    let book = (price(t, "best_bid")?, price(t, "best_ask")?);
    quote(instrument(t)?, price(t, "price")?, book, ts, "best_bid")
}

fn trade(t: &Value) -> Result<Vec<MarketEvent>, ReadError> {
    let aggressor = match text(t, "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        other => {
            return Err(ReadError::Field {
                field: "side",
                problem: format!("{other:?} is not BUY or SELL"),
            });
        }
    };
    let trade = Trade {
        instrument: instrument(t)?,
        price: price(t, "price")?,
        size: quantity(t, "size")?,
        aggressor,
        trade_id: text(t, "trade_id")?.to_owned(),
        ts_event: rfc3339(t, "time")?,
    };
    Ok(trade.with_tick())
}

fn candle(c: &Value) -> Result<MarketEvent, ReadError> {
    let start: i64 = text(c, "start")?.parse().map_err(|_| ReadError::Field {
        field: "start",
        problem: "not whole epoch seconds".to_owned(),
    })?;
    let open_at = Timestamp::from_unix_secs(start).map_err(|e| ReadError::Field {
        field: "start",
        problem: e.to_string(),
    })?;
    updating_candle(c, instrument(c)?, open_at, CANDLE_SECS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tickers_trades_and_candles_read_with_their_sequence() {
        let ticker = r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":7,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#;
        let read_ticker = read(ticker).unwrap();
        assert_eq!(read_ticker.sequence, Some(7));
        let MarketEvent::Tick(t) = &read_ticker.events[0] else {
            panic!()
        };
        assert_eq!(t.instrument.as_str(), "BTC-USD");
        assert_eq!(t.ask.unwrap().to_string(), "21933.98");
        let trades = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":8,"events":[{"type":"update","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#;
        let read_trades = read(trades).unwrap();
        let MarketEvent::Trade(tr) = &read_trades.events[0] else {
            panic!()
        };
        assert_eq!(
            (tr.aggressor, tr.size.to_string()),
            (Side::Buy, "0.3".to_owned())
        );
        let candles = r#"{"channel":"candles","client_id":"","timestamp":"2023-06-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","candles":[{"start":"1688998200","high":"1867.72","low":"1865.63","open":"1867.38","close":"1866.81","volume":"0.20269406","product_id":"ETH-USD"}]}]}"#;
        let MarketEvent::Candle { candle, closed } = &read(candles).unwrap().events[0] else {
            panic!()
        };
        assert!(!closed);
        assert_eq!(
            candle.ts_open,
            Timestamp::from_unix_secs(1_688_998_200).unwrap()
        );
        assert_eq!(candle.interval, "5m");
        let beat = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":9,"events":[{"current_time":"2023-06-23 20:31:56 +0000 UTC","heartbeat_counter":3049}]}"#;
        let r = read(beat).unwrap();
        assert!(r.events.is_empty());
        assert_eq!(r.sequence, Some(9));
    }

    #[test]
    fn errors_are_named() {
        for (text_in, outcome) in [
            ("nope", "not_json"),
            (
                r#"{"type":"error","message":"failure to subscribe"}"#,
                "venue_error",
            ),
            (r#"{"channel":"level2","events":[{}]}"#, "unknown"),
            (
                r#"{"channel":"market_trades","events":[{"trades":[{"product_id":"ETH-USD","price":"1","size":"1","side":"UP","time":"2019-08-14T20:42:27Z","trade_id":"1"}]}]}"#,
                "malformed",
            ),
        ] {
            assert_eq!(read(text_in).unwrap_err().outcome(), outcome, "{text_in}");
        }
    }

    proptest! {
        /// Any text: events or a typed error, never a panic.
        #[test]
        fn reading_any_text_never_panics(text_in in "\\PC{0,200}") {
            let _ = read(&text_in);
        }
    }
}
