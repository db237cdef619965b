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

use crate::event::{MarketEvent, Read, ReadError, Trade, quote};
use crate::fields::{price, quantity, rfc3339, text, updating_candle};
use crate::wire::{self, Json, List, Obj, fields};

const VENUE: &str = "COINBASE";

/// Coinbase's candles are five minutes long.
const CANDLE_SECS: i64 = 300;

fn instrument(product_id: &Json<'_>) -> Result<InstrumentId, ReadError> {
    crate::fields::instrument(product_id, "product_id", VENUE)
}

fields! {
    /// One product's `ticker`.
    Ticker {
        "product_id" => product_id: Json<'a>,
        "price" => price: Json<'a>,
        "best_bid" => best_bid: Json<'a>,
        "best_ask" => best_ask: Json<'a>,
    }
}

fields! {
    /// One of `market_trades`' trades.
    MarketTrade {
        "trade_id" => trade_id: Json<'a>,
        "product_id" => product_id: Json<'a>,
        "price" => price: Json<'a>,
        "size" => size: Json<'a>,
        "side" => side: Json<'a>,
        "time" => time: Json<'a>,
    }
}

fields! {
    /// One of `candles`' bars.
    Candle {
        "product_id" => product_id: Json<'a>,
        "start" => start: Json<'a>,
        "open" => open: Json<'a>,
        "high" => high: Json<'a>,
        "low" => low: Json<'a>,
        "close" => close: Json<'a>,
        "volume" => volume: Json<'a>,
    }
}

fields! {
    /// One entry of `events` (the channel says which list it carries).
    Event {
        "tickers" => tickers: List<Ticker<'a>>,
        "trades" => trades: List<MarketTrade<'a>>,
        "candles" => candles: List<Candle<'a>>,
    }
}

fields! {
    /// A whole message.
    Message {
        "type" => kind: Json<'a>,
        "message" => message: Json<'a>,
        "channel" => channel: Json<'a>,
        "timestamp" => timestamp: Json<'a>,
        "sequence_num" => sequence_num: Json<'a>,
        "events" => events: List<Event<'a>>,
    }
}

/// The events in one message.
pub fn read(text_in: &str) -> Result<Read, ReadError> {
    let mut value = Obj::<Message<'_>>::default();
    wire::read(text_in, &mut value).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if value.kind.as_str() == Some("error") {
        let message = value.message.as_str().unwrap_or("");
        return Err(ReadError::Venue(message.to_owned()));
    }
    let channel = value
        .channel
        .as_str()
        .ok_or_else(|| ReadError::Unknown("no channel".to_owned()))?;
    let sequence = value.sequence_num.as_u64();
    let events = list(&value.events, "events")?;
    let mut out = Vec::with_capacity(events.clone().map(|e| most_events(e)).sum());
    for event in events {
        match channel {
            "ticker" | "ticker_batch" => {
                let ts = rfc3339(&value.timestamp, "timestamp")?;
                for t in list(&event.tickers, "tickers")? {
                    out.push(ticker(t, ts)?);
                }
            }
            "market_trades" => {
                for t in list(&event.trades, "trades")? {
                    out.extend(trade(t)?);
                }
            }
            "candles" => {
                for c in list(&event.candles, "candles")? {
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

/// The most events one entry of `events` can become (a trade is two).
fn most_events(event: &Event<'_>) -> usize {
    fn count<T>(items: &List<T>) -> usize {
        items.items().map_or(0, Iterator::count)
    }
    count(&event.tickers) + 2 * count(&event.trades) + count(&event.candles)
}

fn list<'l, T>(
    items: &'l List<T>,
    field: &'static str,
) -> Result<impl Iterator<Item = &'l Obj<T>> + Clone, ReadError> {
    items.items().ok_or(ReadError::Field {
        field,
        problem: "missing or not a list".to_owned(),
    })
}

fn ticker(t: &Ticker<'_>, ts: Timestamp) -> Result<MarketEvent, ReadError> {
    let book = (
        price(&t.best_bid, "best_bid")?,
        price(&t.best_ask, "best_ask")?,
    );
    let last = (instrument(&t.product_id)?, price(&t.price, "price")?);
    quote(last.0, last.1, book, ts, "best_bid")
}

fn trade(t: &MarketTrade<'_>) -> Result<[MarketEvent; 2], ReadError> {
    let aggressor = match text(&t.side, "side")? {
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
        instrument: instrument(&t.product_id)?,
        price: price(&t.price, "price")?,
        size: quantity(&t.size, "size")?,
        aggressor,
        trade_id: text(&t.trade_id, "trade_id")?.to_owned(),
        ts_event: rfc3339(&t.time, "time")?,
    };
    Ok(trade.and_tick())
}

fn candle(c: &Candle<'_>) -> Result<MarketEvent, ReadError> {
    let start: i64 = text(&c.start, "start")?
        .parse()
        .map_err(|_| ReadError::Field {
            field: "start",
            problem: "not whole epoch seconds".to_owned(),
        })?;
    let open_at = Timestamp::from_unix_secs(start).map_err(|e| ReadError::Field {
        field: "start",
        problem: e.to_string(),
    })?;
    let bar = [&c.open, &c.high, &c.low, &c.close, &c.volume];
    updating_candle(bar, instrument(&c.product_id)?, open_at, CANDLE_SECS)
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
