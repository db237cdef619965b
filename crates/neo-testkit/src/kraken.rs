//! A small Kraken for [`crate::venue::MockVenue`], shaped from its public
//! documentation: REST `GET /0/public/OHLC?pair=&interval=1&since=` (`{"error":
//! [], "result": {"<pair>": [[time, open, high, low, close, vwap, volume,
//! count], ..], "last": time}}`, bars after `since`, the last one still open)
//! and `GET /0/public/AssetPairs`; throttling answered with HTTP 200 and
//! [`RATE_LIMITED`]; WebSocket v2 messages `{"channel", "type", "data": [..]}`
//! for `ticker`, `trade`, `ohlc` and `heartbeat`, numbers as JSON numbers.

use serde_json::json;

use crate::binance::now_ms;

/// How Kraken's REST API says it is throttling: a 200 with this body.
pub const RATE_LIMITED: &str = r#"{"error":["EAPI:Rate limit exceeded"]}"#;

/// The other throttling error Kraken's REST API answers with.
pub const TOO_MANY_REQUESTS: &str = r#"{"error":["EGeneral:Too many requests"]}"#;

/// The pair XBTUSDT: a tenth of a dollar and a hundred-millionth of a bitcoin.
pub const ASSET_PAIRS: &str = r#"{"error":[],"result":{"XBTUSDT":{"altname":"XBTUSDT","wsname":"XBT/USDT","base":"XXBT","quote":"USDT","pair_decimals":1,"lot_decimals":8,"tick_size":"0.1","status":"online"}}}"#;

/// Answers a REST request on the wall clock: bars, the pair, or Kraken's error.
pub fn rest(target: &str) -> (u16, String) {
    rest_at(target, now_ms())
}

/// [`rest`] on an exchange whose clock reads `now_ms` (a test moving time on).
pub fn rest_at(target: &str, now_ms: i64) -> (u16, String) {
    if target.starts_with("/0/public/AssetPairs") {
        return (200, ASSET_PAIRS.to_owned());
    }
    let since = target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("since="))
        .and_then(|v| v.parse::<i64>().ok());
    let (true, Some(since)) = (target.starts_with("/0/public/OHLC"), since) else {
        // Kraken answers its errors with a 200 too.
        return (
            200,
            r#"{"error":["EGeneral:Invalid arguments"]}"#.to_owned(),
        );
    };
    let now = now_ms.div_euclid(1_000);
    let mut rows = Vec::new();
    // `since` is exclusive: the first bar opens after it.
    let mut t = (since.div_euclid(60) + 1) * 60;
    while t <= now && rows.len() < 720 {
        let close = 50_000 + (t / 60) % 40 * 25;
        rows.push(json!([
            t,
            (close - 20).to_string(),
            (close + 80).to_string(),
            (close - 80).to_string(),
            close.to_string(),
            close.to_string(),
            "12.5",
            40
        ]));
        t += 60;
    }
    let last = rows.last().and_then(|r| r[0].as_i64()).unwrap_or(since);
    (
        200,
        json!({"error": [], "result": {"XBTUSDT": rows, "last": last}}).to_string(),
    )
}

/// A `ticker` update (prices are JSON numbers, written as given).
pub fn ticker(symbol: &str, bid: &str, ask: &str, last: &str) -> String {
    format!(
        r#"{{"channel":"ticker","type":"update","data":[{{"symbol":{},"bid":{bid},"bid_qty":1.5,"ask":{ask},"ask_qty":2.5,"last":{last},"volume":1000.0,"vwap":{last},"low":{bid},"high":{ask},"change":0.0,"change_pct":0.0}}]}}"#,
        json!(symbol)
    )
}

/// A `trade` update with one trade (`side`: the taker's, `buy` or `sell`).
pub fn trade(symbol: &str, trade_id: u64, price: &str, side: &str) -> String {
    format!(
        r#"{{"channel":"trade","type":"update","data":[{{"symbol":{},"side":{},"price":{price},"qty":0.5,"ord_type":"market","trade_id":{trade_id},"timestamp":{}}}]}}"#,
        json!(symbol),
        json!(side),
        json!(crate::rfc3339(now_ms()))
    )
}

/// An `ohlc` update of the one-minute bar opening at `begin_ms` (the current one, still changing).
pub fn ohlc(symbol: &str, begin_ms: i64, [open, high, low, close]: [&str; 4]) -> String {
    format!(
        r#"{{"channel":"ohlc","type":"update","timestamp":{},"data":[{{"symbol":{},"open":{open},"high":{high},"low":{low},"close":{close},"trades":3,"volume":1.5,"vwap":{close},"interval_begin":{},"interval":1,"timestamp":{}}}]}}"#,
        json!(crate::rfc3339(now_ms())),
        json!(symbol),
        json!(crate::rfc3339(begin_ms)),
        json!(crate::rfc3339(begin_ms + 60_000))
    )
}

/// A `heartbeat` (Kraken sends one a second when nothing else is sent).
pub fn heartbeat() -> String {
    r#"{"channel":"heartbeat"}"#.to_owned()
}

/// The answer to a `subscribe` request.
pub fn subscribed(channel: &str, symbol: &str) -> String {
    json!({"method": "subscribe", "result": {"channel": channel, "snapshot": true, "symbol": symbol},
        "success": true, "time_in": crate::rfc3339(now_ms()), "time_out": crate::rfc3339(now_ms())})
    .to_string()
}
