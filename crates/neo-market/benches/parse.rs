//! Parse and normalize throughput: each venue's messages (a realistic mix of
//! trades, quotes and candle updates) read into events and run through the
//! one-minute candle book, as the feed does for every message it receives.
//! `cargo bench -p neo-market --bench parse`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use neo_domain::Timestamp;
use neo_market::candles::CandleBook;
use neo_market::venue::Venue;

const BINANCE: [&str; 3] = [
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000100,"s":"BTCUSDT","t":3650012345,"p":"64012.55000000","q":"0.01500000","T":1700000000099,"m":true,"M":true}}"#,
    r#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"64012.54000000","B":"1.31000000","a":"64012.55000000","A":"0.42000000"}}"#,
    r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000000100,"s":"BTCUSDT","k":{"t":1700000000000,"T":1700000059999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"64000.10","c":"64012.55","h":"64020.00","l":"63990.00","v":"12.50000000","n":100,"x":false,"q":"800000.0","V":"6.0","Q":"384000.0","B":"0"}}}"#,
];

const COINBASE: [&str; 2] = [
    r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":7,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#,
    r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":8,"events":[{"type":"update","trades":[{"trade_id":"000000000","product_id":"BTC-USD","price":"21932.98","size":"0.3","side":"BUY","time":"2023-02-09T20:19:35.396Z"}]}]}"#,
];

const KRAKEN: [&str; 3] = [
    r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":64012.5,"bid_qty":0.5,"ask":64012.6,"ask_qty":1.2,"last":64012.6,"volume":1200.5,"vwap":64000.1,"low":63000.0,"high":65000.0,"change":12.5,"change_pct":0.02}]}"#,
    r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":64012.6,"qty":0.015,"ord_type":"market","trade_id":88311,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#,
    r#"{"channel":"ohlc","type":"update","data":[{"symbol":"BTC/USD","open":64000.1,"high":64020.0,"low":63990.0,"close":64012.6,"trades":100,"volume":12.5,"vwap":64005.0,"interval_begin":"2023-09-25T07:49:00.000000000Z","interval":1,"timestamp":"2023-09-25T07:50:00.000000Z"}]}"#,
];

fn bench(c: &mut Criterion) {
    let at = Timestamp::from_unix_secs(1_700_000_000).unwrap();
    let mut group = c.benchmark_group("parse_normalize");
    for (venue, messages) in [
        (Venue::Binance, &BINANCE[..]),
        (Venue::Coinbase, &COINBASE[..]),
        (Venue::Kraken, &KRAKEN[..]),
    ] {
        group.throughput(Throughput::Elements(messages.len() as u64));
        let mut book = CandleBook::new(venue.candle_source());
        group.bench_function(venue.name(), |b| {
            b.iter(|| {
                let mut events = 0usize;
                for text in messages {
                    let read = venue.read(text, at).unwrap();
                    for e in &read.events {
                        events += usize::from(book.on_event(e).is_some());
                    }
                    events += read.events.len();
                }
                events
            });
        });
    }
    group.finish();
    // The floor under every reader: JSON text into serde_json's tree, nothing more.
    let mut json = c.benchmark_group("json_tree_only");
    json.throughput(Throughput::Elements(BINANCE.len() as u64));
    json.bench_function("binance", |b| {
        b.iter(|| {
            BINANCE
                .iter()
                .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap())
                .filter(serde_json::Value::is_object)
                .count()
        });
    });
    json.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
