//! A small Coinbase Advanced Trade for [`crate::venue::MockVenue`], shaped from
//! its public documentation: REST `GET /api/v3/brokerage/market/products/{id}/candles`
//! (`{"candles": [{"start", "low", "high", "open", "close", "volume"}]}`, newest
//! first, `start` in epoch seconds as a string) and the public product
//! (`quote_increment`, `base_increment`); WebSocket messages `{"channel",
//! "client_id", "timestamp", "sequence_num", "events": [..]}` for `ticker`,
//! `market_trades` and `heartbeats`. Every price is a decimal string.

use serde_json::json;

use crate::binance::now_ms;

/// The public product BTC-USDT: a cent and a hundred-millionth of a bitcoin.
pub const PRODUCT: &str = r#"{"product_id":"BTC-USDT","price":"50000","base_increment":"0.00000001","quote_increment":"0.01","base_min_size":"0.00000001","status":"online"}"#;

/// Answers a REST request on the wall clock: candles, the product, or 404.
pub fn rest(target: &str) -> (u16, String) {
    rest_at(target, now_ms())
}

/// [`rest`] on an exchange whose clock reads `now_ms` (a test moving time on).
pub fn rest_at(target: &str, now_ms: i64) -> (u16, String) {
    let path = target.split('?').next().unwrap_or(target);
    if !path.starts_with("/api/v3/brokerage/market/products/") {
        return not_found();
    }
    if !path.ends_with("/candles") {
        return (200, PRODUCT.to_owned());
    }
    let (Some(start), Some(end)) = (query(target, "start"), query(target, "end")) else {
        return not_found();
    };
    let now = now_ms.div_euclid(1_000);
    let mut rows = Vec::new();
    let mut t = start.div_euclid(60) * 60;
    // Bars opening from `start` to `end` (the one still open at `now` too), at most 350.
    while t <= end.min(now) && rows.len() < 350 {
        let close = 50_000 + (t / 60) % 40 * 25;
        rows.push(
            json!({"start": t.to_string(), "low": (close - 80).to_string(),
            "high": (close + 80).to_string(), "open": (close - 20).to_string(),
            "close": close.to_string(), "volume": "12.5"}),
        );
        t += 60;
    }
    rows.reverse();
    (200, json!({ "candles": rows }).to_string())
}

fn not_found() -> (u16, String) {
    (
        404,
        r#"{"error":"NOT_FOUND","message":"unknown request"}"#.to_owned(),
    )
}

fn query(target: &str, name: &str) -> Option<i64> {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// A `ticker` update: the last price and the best bid and ask.
pub fn ticker(seq: u64, product: &str, price: &str, bid: &str, ask: &str) -> String {
    let ticker = json!({"type": "ticker", "product_id": product, "price": price,
        "volume_24_h": "1000", "best_bid": bid, "best_bid_quantity": "1.5",
        "best_ask": ask, "best_ask_quantity": "2.5"});
    message(
        "ticker",
        seq,
        json!([{"type": "update", "tickers": [ticker]}]),
    )
}

/// A `market_trades` update with one trade (`side`: the taker's, `BUY` or `SELL`).
pub fn market_trade(seq: u64, product: &str, trade_id: u64, price: &str, side: &str) -> String {
    let trade = json!({"trade_id": trade_id.to_string(), "product_id": product,
        "price": price, "size": "0.5", "side": side, "time": crate::rfc3339(now_ms())});
    message(
        "market_trades",
        seq,
        json!([{"type": "update", "trades": [trade]}]),
    )
}

/// A `heartbeats` message (Coinbase sends one a second to keep a quiet connection open).
pub fn heartbeat(seq: u64, counter: u64) -> String {
    let beat = json!({"current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
        "heartbeat_counter": counter});
    message("heartbeats", seq, json!([beat]))
}

fn message(channel: &str, seq: u64, events: serde_json::Value) -> String {
    json!({"channel": channel, "client_id": "", "timestamp": crate::rfc3339(now_ms()),
        "sequence_num": seq, "events": events})
    .to_string()
}
