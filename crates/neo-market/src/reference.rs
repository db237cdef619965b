//! The venue readers as they were before the typed ones, over a whole
//! `serde_json::Value` tree (commit ece5217): the oracle the typed readers are
//! checked against, message for message (`tests.rs`). Test-only.

mod fields {
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
    pub(super) fn text<'a>(data: &'a Value, field: &'static str) -> Result<&'a str, ReadError> {
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
    pub(super) fn price(data: &Value, field: &'static str) -> Result<Price, ReadError> {
        let raw = decimal(data, field)?;
        raw.parse::<Price>().map_err(|e| ReadError::Field {
            field,
            problem: format!("{raw:?} is not a price: {e}"),
        })
    }

    /// A quantity field.
    pub(super) fn quantity(data: &Value, field: &'static str) -> Result<Quantity, ReadError> {
        let raw = decimal(data, field)?;
        raw.parse::<Quantity>().map_err(|e| ReadError::Field {
            field,
            problem: format!("{raw:?} is not a quantity: {e}"),
        })
    }

    /// An epoch-milliseconds field.
    pub(super) fn millis(data: &Value, field: &'static str) -> Result<Timestamp, ReadError> {
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
    pub(super) fn rfc3339(data: &Value, field: &'static str) -> Result<Timestamp, ReadError> {
        let raw = text(data, field)?;
        raw.parse::<Timestamp>().map_err(|e| ReadError::Field {
            field,
            problem: format!("{raw:?}: {e}"),
        })
    }

    /// The venue's symbol as NEO's instrument (uncached: the cache gives the same answer).
    pub(super) fn instrument(
        data: &Value,
        field: &'static str,
        venue: &'static str,
    ) -> Result<InstrumentId, ReadError> {
        let symbol = text(data, field)?;
        parse_ticker(&symbol.replace('/', "-"), Some(venue))
            .map(|t| t.id)
            .map_err(|e| ReadError::Field {
                field,
                problem: format!("{symbol:?}: {e}"),
            })
    }

    /// A bar still being updated (`open`, `high`, `low`, `close`, `volume` fields)
    /// opened at `open_at` and lasting `secs`: not marked closed.
    pub(super) fn updating_candle(
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
}

pub(crate) mod binance {
    use neo_domain::contracts::CandleV1;
    use neo_domain::{Fixed, InstrumentId, Price, Rounding, Side, Timestamp};
    use serde_json::Value;

    use super::fields::{millis, price, quantity, text};
    use crate::event::{MarketEvent, Read, ReadError, Trade, quote};

    const VENUE: &str = "BINANCE";

    fn instrument(data: &Value, field: &'static str) -> Result<InstrumentId, ReadError> {
        super::fields::instrument(data, field, VENUE)
    }

    /// The events in one message received at `received`.
    pub(crate) fn read(text: &str, received: Timestamp) -> Result<Read, ReadError> {
        events(text, received).map(|events| Read {
            sequence: None,
            events,
        })
    }

    fn events(text: &str, received: Timestamp) -> Result<Vec<MarketEvent>, ReadError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))?;
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
}

pub(crate) mod coinbase {
    use neo_domain::{InstrumentId, Side, Timestamp};
    use serde_json::Value;

    use super::fields::{price, quantity, rfc3339, text, updating_candle};
    use crate::event::{MarketEvent, Read, ReadError, Trade, quote};

    const VENUE: &str = "COINBASE";

    /// Coinbase's candles are five minutes long.
    const CANDLE_SECS: i64 = 300;

    fn instrument(data: &Value) -> Result<InstrumentId, ReadError> {
        super::fields::instrument(data, "product_id", VENUE)
    }

    /// The events in one message.
    pub(crate) fn read(text_in: &str) -> Result<Read, ReadError> {
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
}

pub(crate) mod kraken {
    use neo_domain::{InstrumentId, Side, Timestamp};
    use serde_json::Value;

    use super::fields::{price, quantity, rfc3339, text, updating_candle};
    use crate::event::{MarketEvent, Read, ReadError, Trade, quote};

    const VENUE: &str = "KRAKEN";

    fn instrument(data: &Value) -> Result<InstrumentId, ReadError> {
        super::fields::instrument(data, "symbol", VENUE)
    }

    /// The events in one message received at `received`.
    pub(crate) fn read(text_in: &str, received: Timestamp) -> Result<Read, ReadError> {
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
}

mod tests;
