//! A small Binance for [`crate::venue::MockVenue`]: its REST answers (one-minute
//! klines from `startTime` up to now along a sawtooth a few hundred dollars
//! deep, and an `exchangeInfo` listing BTCUSDT at a cent and a thousandth)
//! and its `trade` and `bookTicker` stream messages.

use serde_json::json;

/// The listing of BTCUSDT: a cent and a thousandth of a bitcoin.
pub const EXCHANGE_INFO: &str = r#"{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[
    {"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000000.00","tickSize":"0.01000000"},
    {"filterType":"LOT_SIZE","minQty":"0.001","maxQty":"9000.00","stepSize":"0.00100000"}]}]}"#;

/// Wall-clock milliseconds: the mock exchange lives in real time.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Answers a REST request: klines, the listing, or 404.
pub fn rest(target: &str) -> (u16, String) {
    rest_at(target, now_ms())
}

/// [`rest`] on an exchange whose clock reads `now_ms` (a test moving time on).
pub fn rest_at(target: &str, now_ms: i64) -> (u16, String) {
    if target.starts_with("/api/v3/exchangeInfo") {
        return (200, EXCHANGE_INFO.to_owned());
    }
    let start = target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("startTime="))
        .and_then(|v| v.parse::<i64>().ok());
    let Some(start) = start else {
        return (404, r#"{"code":-1,"msg":"unknown request"}"#.to_owned());
    };
    let mut rows = Vec::new();
    let mut t = start.div_euclid(60_000) * 60_000;
    while t <= now_ms && rows.len() < 1000 {
        let i = (t / 60_000) % 10_000;
        // A sawtooth a few hundred dollars deep: brackets wide enough to pay the fees.
        let close = 50_000 + (i % 40) * 25;
        rows.push(json!([
            t,
            (close - 20).to_string(),
            (close + 80).to_string(),
            (close - 80).to_string(),
            close.to_string(),
            "12.5",
            t + 59_999,
            "0",
            40,
            "0",
            "0",
            "0"
        ]));
        t += 60_000;
    }
    (200, json!(rows).to_string())
}

/// A `trade` message on the combined stream (`m`: the buyer made the market, so the seller took it).
pub fn trade(id: u64, price: &str, qty: &str, at_ms: i64) -> String {
    json!({"stream":"btcusdt@trade","data":{"e":"trade","E":at_ms,"s":"BTCUSDT","t":id,"p":price,"q":qty,"T":at_ms,"m":true}})
        .to_string()
}

/// A `bookTicker` message on the combined stream.
pub fn book(bid: &str, ask: &str) -> String {
    json!({"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":bid,"B":"3","a":ask,"A":"4"}})
        .to_string()
}
