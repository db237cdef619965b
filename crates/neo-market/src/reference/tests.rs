//! The typed readers answer every message exactly as the readers over a JSON
//! tree did: the same events, or the same error (naming the same field, with
//! the same words). Messages are generated per venue with every field usually
//! good, sometimes any JSON, missing or sent twice, in any order; then cut
//! short or with a character slipped in; and any text at all.

#![allow(clippy::unwrap_used)]

use neo_domain::{Price, Quantity, Timestamp};
use proptest::prelude::*;

use super::{binance as old_binance, coinbase as old_coinbase, kraken as old_kraken};
use crate::event::MarketEvent;
use crate::{binance, coinbase, kraken};

type Entries = Vec<(String, String)>;

fn at() -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_123).unwrap()
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Any JSON value's text, leaning on what venues' fields hold and what trips readers.
fn leaf() -> BoxedStrategy<String> {
    const FIXED: &[&str] = &[
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1.0",
        "1e-7",
        "-5",
        "18446744073709551616",
        "9223372036854775808",
        "1700000000099",
        r#""""#,
        r#""x""#,
        r#""1e3""#,
        r#""-1""#,
        r#""\u0042TCUSDT""#,
        r#""BTCUSDT""#,
        r#""BTC/USD""#,
        r#""BTC-USD""#,
        r#""trade""#,
        r#""kline""#,
        r#""ticker""#,
        r#""BUY""#,
        r#""sell""#,
        r#""1m""#,
        r#""1688998200""#,
        r#""2023-09-25T07:49:37.708706Z""#,
        r#""btcusdt@bookTicker""#,
    ];
    prop_oneof![
        // JSON that is not JSON a tree holds: a number out of range, a lone surrogate.
        1 => prop::sample::select(&["1e400", r#""\ud800""#][..]).prop_map(str::to_owned),
        30 => prop::sample::select(FIXED).prop_map(str::to_owned),
        10 => any::<i64>().prop_map(|n| n.to_string()),
        10 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(|n| n.to_string())),
        10 => "(0|[1-9][0-9]{0,5})(\\.[0-9]{1,10})?",
        10 => "(0|[1-9][0-9]{0,5})(\\.[0-9]{1,10})?".prop_map(|s| quoted(&s)),
        10 => "\\PC{0,8}".prop_map(|s| quoted(&s)),
    ]
    .boxed()
}

/// An object's text from its entries (a key may repeat).
fn render(entries: &[(String, String)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{v}", quoted(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Any JSON, nested, with keys a venue uses among others.
fn any_json(keys: &'static [&'static str]) -> BoxedStrategy<String> {
    leaf()
        .prop_recursive(3, 16, 4, move |inner| {
            let key = prop_oneof![
                prop::sample::select(keys).prop_map(str::to_owned),
                "[a-z]{1,2}"
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key, inner), 0..5).prop_map(|e| render(&e)),
            ]
        })
        .boxed()
}

/// One field: usually `good`, sometimes any JSON, missing, or sent twice.
fn field(
    key: &'static str,
    good: BoxedStrategy<String>,
    keys: &'static [&'static str],
) -> BoxedStrategy<Entries> {
    let one = move |v: String| vec![(key.to_owned(), v)];
    prop_oneof![
        40 => good.clone().prop_map(one),
        3 => any_json(keys).prop_map(one),
        2 => Just(Vec::new()),
        1 => (any_json(keys), good).prop_map(move |(a, b)| vec![(key.to_owned(), a), (key.to_owned(), b)]),
    ]
    .boxed()
}

/// An object of these fields, in any order.
fn object(fields: Vec<BoxedStrategy<Entries>>) -> BoxedStrategy<String> {
    fields
        .prop_map(|parts| parts.concat())
        .prop_shuffle()
        .prop_map(|e| render(&e))
        .boxed()
}

fn one_of(texts: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(texts)
        .prop_map(|t| t.to_owned())
        .boxed()
}

fn decimal() -> BoxedStrategy<String> {
    prop_oneof![
        "(0|[1-9][0-9]{0,5})(\\.[0-9]{1,9})?".prop_map(|s| quoted(&s)),
        "(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})"
    ]
    .boxed()
}

fn millis() -> BoxedStrategy<String> {
    (1_600_000_000_000i64..1_800_000_000_000)
        .prop_map(|n| n.to_string())
        .boxed()
}

fn rfc3339() -> BoxedStrategy<String> {
    (1_600_000_000i64..1_800_000_000, 0u32..1_000_000)
        .prop_map(|(s, us)| {
            let t = Timestamp::from_unix_secs(s)
                .unwrap()
                .add_nanos(i64::from(us) * 1_000);
            quoted(&t.to_string())
        })
        .boxed()
}

fn list(items: BoxedStrategy<String>, most: usize) -> BoxedStrategy<String> {
    prop::collection::vec(items, (most / 3)..=most)
        .prop_map(|v| format!("[{}]", v.join(",")))
        .boxed()
}

const BINANCE_KEYS: &[&str] = &[
    "stream", "data", "e", "s", "p", "q", "T", "m", "t", "b", "a", "k", "i", "o", "h", "l", "c",
    "v", "x", "result", "id", "msg", "code",
];

fn binance_message() -> BoxedStrategy<String> {
    let k = BINANCE_KEYS;
    let f = |key, good| field(key, good, k);
    const SYMBOLS: &[&str] = &[
        r#""BTCUSDT""#,
        r#""ETHBTC""#,
        r#""BTCUSDT""#,
        r#""btcusdt""#,
        r#""ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZUSDT""#,
    ];
    let symbol = || one_of(SYMBOLS);
    let bool_ = || one_of(&["true", "false"]);
    let trade = object(vec![
        f("e", one_of(&[r#""trade""#])),
        f("s", symbol()),
        f("p", decimal()),
        f("q", decimal()),
        f("T", millis()),
        f("m", bool_()),
        f("t", one_of(&["12345", r#""12345""#])),
    ]);
    let book = object(vec![
        f("s", symbol()),
        f("b", decimal()),
        f("a", decimal()),
        f("B", decimal()),
    ]);
    let bar = object(vec![
        f("s", symbol()),
        f("i", one_of(&[r#""1m""#, r#""5m""#])),
        f("t", millis()),
        f("T", millis()),
        f("o", decimal()),
        f("h", decimal()),
        f("l", decimal()),
        f("c", decimal()),
        f("v", decimal()),
        f("x", bool_()),
    ]);
    let kline = object(vec![
        f("e", one_of(&[r#""kline""#])),
        f("s", symbol()),
        f("k", bar),
    ]);
    let payload = prop_oneof![trade, book, kline].boxed();
    let stream = one_of(&[
        r#""btcusdt@trade""#,
        r#""btcusdt@bookTicker""#,
        r#""btcusdt@kline_1m""#,
        "1",
    ]);
    prop_oneof![
        4 => object(vec![f("stream", stream), f("data", payload.clone())]),
        2 => payload,
        1 => object(vec![f("result", one_of(&["null", "[]"])), f("id", one_of(&["1"]))]),
        1 => object(vec![f("code", leaf()), f("msg", one_of(&[r#""Invalid request""#, r#"" ""#]))]),
    ]
    .boxed()
}

const COINBASE_KEYS: &[&str] = &[
    "type",
    "message",
    "channel",
    "timestamp",
    "sequence_num",
    "events",
    "tickers",
    "trades",
    "candles",
    "product_id",
    "price",
    "best_bid",
    "best_ask",
    "trade_id",
    "size",
    "side",
    "time",
    "start",
    "open",
    "high",
    "low",
    "close",
    "volume",
];

/// A ticker, a trade and a candle, each as Coinbase sends it (mostly).
fn coinbase_items() -> [BoxedStrategy<String>; 3] {
    let k = COINBASE_KEYS;
    let f = |key, good| field(key, good, k);
    let product = || {
        one_of(&[
            r#""BTC-USD""#,
            r#""ETH-USD""#,
            r#""BTC-USD""#,
            r#""btc-usd""#,
        ])
    };
    let ticker = object(vec![
        f("product_id", product()),
        f("price", decimal()),
        f("best_bid", decimal()),
        f("best_ask", decimal()),
    ]);
    let trade = object(vec![
        f("trade_id", one_of(&[r#""000000000""#, r#""17""#, "7"])),
        f("product_id", product()),
        f("price", decimal()),
        f("size", decimal()),
        f(
            "side",
            one_of(&[r#""BUY""#, r#""SELL""#, r#""BUY""#, r#""UP""#]),
        ),
        f("time", rfc3339()),
    ]);
    let candle = object(vec![
        f("product_id", product()),
        f(
            "start",
            one_of(&[
                r#""1688998200""#,
                r#""1688998500""#,
                r#""-1""#,
                "1688998200",
            ]),
        ),
        f("open", decimal()),
        f("high", decimal()),
        f("low", decimal()),
        f("close", decimal()),
        f("volume", decimal()),
    ]);
    [ticker, trade, candle]
}

fn coinbase_message() -> BoxedStrategy<String> {
    let k = COINBASE_KEYS;
    let f = |key, good| field(key, good, k);
    let [ticker, trade, candle] = coinbase_items();
    let event = |list_key: &'static str, items: BoxedStrategy<String>| {
        object(vec![
            f("type", one_of(&[r#""update""#])),
            f(list_key, list(items, 3)),
        ])
    };
    let message = move |channel: &'static [&'static str], events: BoxedStrategy<String>| {
        object(vec![
            f("channel", one_of(channel)),
            f("timestamp", rfc3339()),
            f("sequence_num", one_of(&["7", "8", "-1", "1.5"])),
            f("events", list(events, 3)),
        ])
    };
    prop_oneof![
        3 => message(&[r#""ticker""#, r#""ticker_batch""#], event("tickers", ticker)),
        3 => message(&[r#""market_trades""#], event("trades", trade)),
        3 => message(&[r#""candles""#], event("candles", candle.clone())),
        1 => message(&[r#""heartbeats""#, r#""level2""#, r#""market_trades""#], event("candles", candle)),
        1 => object(vec![f("type", one_of(&[r#""error""#])), f("message", leaf())]),
    ]
    .boxed()
}

const KRAKEN_KEYS: &[&str] = &[
    "method",
    "success",
    "error",
    "channel",
    "data",
    "symbol",
    "bid",
    "ask",
    "last",
    "side",
    "price",
    "qty",
    "trade_id",
    "timestamp",
    "interval",
    "interval_begin",
    "open",
    "high",
    "low",
    "close",
    "volume",
];

/// A ticker, a trade and an OHLC item, each as Kraken sends it (mostly).
fn kraken_items() -> [BoxedStrategy<String>; 3] {
    let k = KRAKEN_KEYS;
    let f = |key, good| field(key, good, k);
    let number = || {
        let any_f64 = any::<f64>().prop_filter_map("finite", |x| {
            serde_json::Number::from_f64(x.abs()).map(|n| n.to_string())
        });
        prop_oneof![5 => "(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})", 1 => any_f64].boxed()
    };
    let symbol = || {
        one_of(&[
            r#""BTC/USD""#,
            r#""MATIC/USD""#,
            r#""BTC/USD""#,
            r#""btc/usd""#,
        ])
    };
    let ticker = object(vec![
        f("symbol", symbol()),
        f("bid", number()),
        f("ask", number()),
        f("last", number()),
    ]);
    let trade = object(vec![
        f("symbol", symbol()),
        f(
            "side",
            one_of(&[r#""buy""#, r#""sell""#, r#""buy""#, r#""BUY""#]),
        ),
        f("price", number()),
        f("qty", number()),
        f("trade_id", one_of(&["4665846", "1", r#""a""#])),
        f("timestamp", rfc3339()),
    ]);
    let ohlc = object(vec![
        f("symbol", symbol()),
        f("interval", one_of(&["1", "5", "1", "0", "21601", "1.0"])),
        f("interval_begin", rfc3339()),
        f("open", number()),
        f("high", number()),
        f("low", number()),
        f("close", number()),
        f("volume", number()),
    ]);
    [ticker, trade, ohlc]
}

fn kraken_message() -> BoxedStrategy<String> {
    let k = KRAKEN_KEYS;
    let f = |key, good| field(key, good, k);
    let [ticker, trade, ohlc] = kraken_items();
    let message = move |channel: &'static [&'static str], items: BoxedStrategy<String>| {
        object(vec![
            f("channel", one_of(channel)),
            f("type", one_of(&[r#""update""#])),
            f("data", list(items, 3)),
        ])
    };
    prop_oneof![
        3 => message(&[r#""ticker""#], ticker),
        3 => message(&[r#""trade""#], trade),
        3 => message(&[r#""ohlc""#], ohlc.clone()),
        1 => message(&[r#""heartbeat""#, r#""book""#, r#""trade""#], ohlc),
        1 => object(vec![
            f("method", one_of(&[r#""subscribe""#])), f("success", one_of(&["true", "false"])), f("error", leaf()),
        ]),
    ]
    .boxed()
}

/// Every venue's typed reader and the tree reader agree on `text`.
fn agree(text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        binance::read(text, at()),
        old_binance::read(text, at()),
        "binance: {}",
        text
    );
    prop_assert_eq!(
        coinbase::read(text),
        old_coinbase::read(text),
        "coinbase: {}",
        text
    );
    prop_assert_eq!(
        kraken::read(text, at()),
        old_kraken::read(text, at()),
        "kraken: {}",
        text
    );
    Ok(())
}

/// A message cut at `cut` (a fraction of its length), or with `c` slipped in there.
fn damaged(text: &str, cut: f64, c: Option<char>) -> String {
    let mut at = (text.len() as f64 * cut) as usize;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    match c {
        None => text[..at].to_owned(),
        Some(c) => format!("{}{c}{}", &text[..at], &text[at..]),
    }
}

fn messages() -> BoxedStrategy<String> {
    prop_oneof![binance_message(), coinbase_message(), kraken_message()].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Generated messages: the same answer either way.
    #[test]
    fn typed_readers_agree_with_the_tree_readers(text in messages()) {
        agree(&text)?;
    }

    /// Damaged messages: the same answer (mostly not JSON) either way.
    #[test]
    fn damaged_messages_agree(text in messages(), cut in 0.0..1.0f64, c in prop::option::of(any::<char>())) {
        agree(&damaged(&text, cut, c))?;
    }

    /// Any text: the same answer, never a panic.
    #[test]
    fn any_text_agrees(text in "\\PC{0,120}") {
        agree(&text)?;
    }

    /// Decimal strings read exactly; Kraken's JSON numbers read as their shortest form.
    #[test]
    fn field_values_round_trip(p in "(0|[1-9][0-9]{0,5})\\.[0-9]{1,9}", q in "[0-9]{1,3}\\.[0-9]{1,8}", x in 0.0001..1.0e6f64) {
        let text = format!(r#"{{"e":"trade","s":"BTCUSDT","p":"{p}","q":"{q}","T":1,"m":false,"t":9}}"#);
        let events = binance::read(&text, at()).unwrap().events;
        let MarketEvent::Trade(t) = &events[0] else { panic!("{events:?}") };
        prop_assert_eq!(t.price, p.parse::<Price>().unwrap());
        prop_assert_eq!(t.size, q.parse::<Quantity>().unwrap());
        let shortest = serde_json::Number::from_f64(x).unwrap().to_string();
        let text = format!(r#"{{"channel":"ticker","data":[{{"symbol":"BTC/USD","bid":{x},"ask":{x},"last":{x}}}]}}"#);
        match shortest.parse::<Price>() {
            Ok(price) => {
                let events = kraken::read(&text, at()).unwrap().events;
                let MarketEvent::Tick(tick) = &events[0] else { panic!("{events:?}") };
                prop_assert_eq!((tick.price, tick.bid, tick.ask), (price, Some(price), Some(price)));
            }
            Err(_) => prop_assert_eq!(kraken::read(&text, at()).unwrap_err().outcome(), "malformed"),
        }
    }
}

#[test]
fn repeated_keys_keep_the_last_and_deep_or_bad_unknown_fields_are_not_json() {
    let cases = [
        r#"{"e":"trade","s":"BTCUSDT","p":"x","p":"1","q":"1","T":1,"m":true,"t":1}"#,
        r#"{"stream":"a@trade","data":{"e":"kline"},"data":{"e":"trade"}}"#,
        r#"{"zz":"\ud800","b":"1","a":"2","s":"BTCUSDT"}"#,
        r#"{"zz":1e400,"channel":"heartbeat"}"#,
        r#"{"channel":"ticker","data":[{"symbol":"BTC/USD","bid":1,"ask":2,"last":1.5}],"data":5}"#,
        r#"{"channel":"candles","events":[{"candles":[{}]}],"events":[]}"#,
        r#"{"\u0065":"trade","s":"BTCUSDT","p":"1","q":"1","T":1,"m":true,"t":{"b":1,"a":[2]}}"#,
    ];
    for text in cases {
        agree(text).unwrap();
    }
    let deep = format!(
        r#"{{"channel":"heartbeat","zz":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    agree(&deep).unwrap();
    assert_eq!(kraken::read(&deep, at()).unwrap_err().outcome(), "not_json");
}
