//! Candle history from each venue's public REST API, for warming indicators
//! at start and filling a gap after a reconnection: Binance `GET /api/v3/klines`
//! (arrays of open time, open, high, low, close, volume, close time, ...),
//! Coinbase `GET /api/v3/brokerage/market/products/{id}/candles` (`{"candles":
//! [{"start", "open", ...}]}`, newest first) and Kraken `GET /0/public/OHLC`
//! (`{"error": [], "result": {"<pair>": [[time, open, high, low, close, vwap,
//! volume, count], ..], "last": ..}}`). Every reader answers oldest first and
//! keeps only bars closed by `now`.

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Price, Quantity, Timestamp};
use serde_json::Value;

use crate::event::ReadError;

fn body(text: &str) -> Result<Value, ReadError> {
    serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))
}

fn field(field: &'static str, problem: impl Into<String>) -> ReadError {
    ReadError::Field {
        field,
        problem: problem.into(),
    }
}

/// A decimal from a string or a JSON number, as `T`.
fn decimal<T: std::str::FromStr>(value: &Value, name: &'static str) -> Result<T, ReadError>
where
    T::Err: std::fmt::Display,
{
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(field(name, "missing or not a number")),
    };
    raw.parse::<T>()
        .map_err(|e| field(name, format!("{raw:?}: {e}")))
}

/// One bar from its parts, checked: prices positive and in OHLC order.
fn bar(
    instrument: InstrumentId,
    interval: &str,
    ts_open: Timestamp,
    ts_close: Timestamp,
    ohlc: [&Value; 4],
    volume: &Value,
) -> Result<CandleV1, ReadError> {
    let [o, h, l, c] = ohlc;
    let (open, high, low, close): (Price, Price, Price, Price) = (
        decimal(o, "open")?,
        decimal(h, "high")?,
        decimal(l, "low")?,
        decimal(c, "close")?,
    );
    if low > open.min(close) || high < open.max(close) || low > high {
        return Err(field(
            "high",
            format!("{open}/{high}/{low}/{close} are not in OHLC order"),
        ));
    }
    Ok(CandleV1 {
        instrument,
        interval: interval.to_owned(),
        ts_open,
        ts_event: ts_close,
        open,
        high,
        low,
        close,
        volume: decimal::<Quantity>(volume, "volume")?,
    })
}

fn keep_closed(mut bars: Vec<CandleV1>, now: Timestamp) -> Vec<CandleV1> {
    bars.retain(|b| b.ts_event <= now);
    bars.sort_by_key(|b| b.ts_open);
    bars.dedup_by_key(|b| b.ts_open);
    bars
}

fn millis(value: &Value, name: &'static str) -> Result<Timestamp, ReadError> {
    let ms = value
        .as_i64()
        .ok_or_else(|| field(name, "not epoch milliseconds"))?;
    Timestamp::from_unix_millis(ms).map_err(|e| field(name, e.to_string()))
}

fn seconds(value: &Value, name: &'static str) -> Result<Timestamp, ReadError> {
    let secs = match value {
        Value::String(s) => s.parse::<i64>().ok(),
        other => other.as_i64(),
    }
    .ok_or_else(|| field(name, "not epoch seconds"))?;
    Timestamp::from_unix_secs(secs).map_err(|e| field(name, e.to_string()))
}

/// Binance klines of `interval` (`1m`).
pub fn binance_klines(
    text: &str,
    instrument: InstrumentId,
    interval: &str,
    now: Timestamp,
) -> Result<Vec<CandleV1>, ReadError> {
    let value = body(text)?;
    if let Some(msg) = value.get("msg").and_then(Value::as_str) {
        return Err(ReadError::Venue(msg.to_owned()));
    }
    let rows = value
        .as_array()
        .ok_or_else(|| field("klines", "not a list"))?;
    let mut bars = Vec::with_capacity(rows.len());
    for row in rows {
        let cells = row
            .as_array()
            .filter(|c| c.len() >= 7)
            .ok_or_else(|| field("klines", "a row is not a list of at least 7 cells"))?;
        let ts_open = millis(&cells[0], "open_time")?;
        // The close time is the interval's last millisecond: the bar closes one after it.
        let ts_close = millis(&cells[6], "close_time")?.add_nanos(1_000_000);
        let ohlc = [&cells[1], &cells[2], &cells[3], &cells[4]];
        bars.push(bar(
            instrument, interval, ts_open, ts_close, ohlc, &cells[5],
        )?);
    }
    Ok(keep_closed(bars, now))
}

/// Coinbase candles of `interval_secs` (60 for `ONE_MINUTE`).
pub fn coinbase_candles(
    text: &str,
    instrument: InstrumentId,
    interval_secs: i64,
    now: Timestamp,
) -> Result<Vec<CandleV1>, ReadError> {
    let value = body(text)?;
    if let Some(msg) = value.get("message").and_then(Value::as_str) {
        return Err(ReadError::Venue(msg.to_owned()));
    }
    let rows = value
        .get("candles")
        .and_then(Value::as_array)
        .ok_or_else(|| field("candles", "missing or not a list"))?;
    let interval = format!("{}m", interval_secs / 60);
    let mut bars = Vec::with_capacity(rows.len());
    for row in rows {
        let ts_open = seconds(&row["start"], "start")?;
        let ts_close = ts_open.add_nanos(interval_secs * 1_000_000_000);
        let ohlc = [&row["open"], &row["high"], &row["low"], &row["close"]];
        bars.push(bar(
            instrument,
            &interval,
            ts_open,
            ts_close,
            ohlc,
            &row["volume"],
        )?);
    }
    Ok(keep_closed(bars, now))
}

/// Kraken's throttling, which it answers with HTTP 200 and an error in the
/// body (`EAPI:Rate limit exceeded`, `EGeneral:Too many requests`): the error,
/// so the caller waits it out as a `429` instead of reading it as a failure.
pub fn kraken_throttled(text: &str) -> Option<String> {
    // Cheap first: a page of bars is large, an error body small and rare.
    if !text.contains("EAPI:Rate limit") && !text.contains("EGeneral:Too many requests") {
        return None;
    }
    let value = body(text).ok()?;
    value
        .get("error")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|e| e.starts_with("EAPI:Rate limit") || e.starts_with("EGeneral:Too many requests"))
        .map(str::to_owned)
}

/// Kraken OHLC bars of `interval_minutes`.
pub fn kraken_ohlc(
    text: &str,
    instrument: InstrumentId,
    interval_minutes: i64,
    now: Timestamp,
) -> Result<Vec<CandleV1>, ReadError> {
    let value = body(text)?;
    if let Some(first) = value
        .get("error")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Err(ReadError::Venue(
            first.as_str().unwrap_or("error").to_owned(),
        ));
    }
    let result = value
        .get("result")
        .and_then(Value::as_object)
        .ok_or_else(|| field("result", "missing or not an object"))?;
    // The one entry that is not `last` holds the bars, under Kraken's own pair name.
    let rows = result
        .iter()
        .find(|(k, _)| k.as_str() != "last")
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| field("result", "no pair's bars"))?;
    let interval = format!("{interval_minutes}m");
    let mut bars = Vec::with_capacity(rows.len());
    for row in rows {
        let cells = row
            .as_array()
            .filter(|c| c.len() >= 7)
            .ok_or_else(|| field("result", "a row is not a list of at least 7 cells"))?;
        let ts_open = seconds(&cells[0], "time")?;
        let ts_close = ts_open.add_nanos(interval_minutes * 60_000_000_000);
        let ohlc = [&cells[1], &cells[2], &cells[3], &cells[4]];
        bars.push(bar(
            instrument, &interval, ts_open, ts_close, ohlc, &cells[6],
        )?);
    }
    Ok(keep_closed(bars, now))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn id(s: &str) -> InstrumentId {
        InstrumentId::new(s).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_secs(1_700_000_000).unwrap()
    }

    #[test]
    fn binance_rows_become_closed_candles_oldest_first() {
        let text = r#"[[1699999800000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1699999859999,"2434.19",308,"1756.87","28.46","0"],
                       [1699999740000,"0.016","0.017","0.015","0.0163","1.5",1699999799999,"0",1,"0","0","0"],
                       [1699999980000,"0.016","0.017","0.015","0.0163","1.5",1700000039999,"0",1,"0","0","0"]]"#;
        let bars = binance_klines(text, id("BNB-BTC"), "1m", now()).unwrap();
        assert_eq!(bars.len(), 2, "the bar still open at `now` is left out");
        assert!(bars[0].ts_open < bars[1].ts_open);
        assert_eq!(bars[1].close.to_string(), "0.015771");
        assert_eq!(
            bars[1].ts_event,
            Timestamp::from_unix_millis(1_699_999_860_000).unwrap()
        );
        let e = binance_klines(
            r#"{"code":-1121,"msg":"Invalid symbol."}"#,
            id("BNB-BTC"),
            "1m",
            now(),
        )
        .unwrap_err();
        assert_eq!(e.outcome(), "venue_error");
    }

    #[test]
    fn coinbase_and_kraken_bars_read_the_same_way() {
        let cb = r#"{"candles":[{"start":"1699999860","low":"1","high":"3","open":"2","close":"2.5","volume":"10"},{"start":"1699999800","low":"1","high":"3","open":"2","close":"2","volume":"9"}]}"#;
        let bars = coinbase_candles(cb, id("BTC-USD"), 60, now()).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            bars[0].ts_open,
            Timestamp::from_unix_secs(1_699_999_800).unwrap()
        );
        let kr = r#"{"error":[],"result":{"XXBTZUSD":[[1699999800,"30306.1","30306.2","30305.7","30305.7","30306.1","3.39243896",23]],"last":1699999800}}"#;
        let bars = kraken_ohlc(kr, id("BTC-USD"), 1, now()).unwrap();
        assert_eq!(bars[0].volume.to_string(), "3.39243896");
        let e = kraken_ohlc(
            r#"{"error":["EQuery:Unknown asset pair"]}"#,
            id("BTC-USD"),
            1,
            now(),
        )
        .unwrap_err();
        assert_eq!(e.outcome(), "venue_error");
        let bad = r#"{"candles":[{"start":"1699999800","low":"5","high":"3","open":"2","close":"2","volume":"9"}]}"#;
        assert_eq!(
            coinbase_candles(bad, id("BTC-USD"), 60, now())
                .unwrap_err()
                .outcome(),
            "malformed"
        );
    }

    #[test]
    fn kraken_throttling_is_told_from_other_errors() {
        for (text, throttled) in [
            (
                r#"{"error":["EAPI:Rate limit exceeded"]}"#,
                Some("EAPI:Rate limit exceeded"),
            ),
            (
                r#"{"error":["EGeneral:Too many requests"]}"#,
                Some("EGeneral:Too many requests"),
            ),
            (r#"{"error":["EQuery:Unknown asset pair"]}"#, None),
            (r#"{"error":[],"result":{"XXBTZUSD":[],"last":0}}"#, None),
            (r#"EAPI:Rate limit exceeded"#, None),
        ] {
            assert_eq!(kraken_throttled(text).as_deref(), throttled, "{text}");
        }
    }

    proptest! {
        /// Any body: candles in OHLC order or a typed error, never a panic.
        #[test]
        fn reading_any_body_never_panics(text in "\\PC{0,200}") {
            for bars in [
                binance_klines(&text, id("BTC-USDT"), "1m", now()),
                coinbase_candles(&text, id("BTC-USD"), 60, now()),
                kraken_ohlc(&text, id("BTC-USD"), 1, now()),
            ].into_iter().flatten() {
                for b in bars {
                    prop_assert!(b.low <= b.high);
                }
            }
        }
    }
}
