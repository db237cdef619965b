#![allow(clippy::unwrap_used)]

use neo_domain::{InstrumentId, Side, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::read;
use crate::event::{MarketEvent, ReadError};

fn at() -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_123).unwrap()
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

#[test]
fn a_trade_is_a_trade_and_a_tick() {
    let text = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"16500.01000000","q":"0.00200000","T":1672515782134,"m":true,"M":true}}"#;
    let events = read(text, at()).unwrap().events;
    let [MarketEvent::Trade(t), MarketEvent::Tick(tick)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(t.instrument, btc());
    assert_eq!(t.price.to_string(), "16500.01");
    assert_eq!(t.size.to_string(), "0.002");
    assert_eq!(t.aggressor, Side::Sell, "the buyer was the maker");
    assert_eq!(t.trade_id, "12345");
    assert_eq!(
        t.ts_event,
        Timestamp::from_unix_millis(1_672_515_782_134).unwrap()
    );
    assert_eq!((tick.price, tick.size, tick.bid), (t.price, t.size, None));
}

#[test]
fn a_book_ticker_is_a_quote_at_its_mid() {
    let text = r#"{"stream":"ethusdt@bookTicker","data":{"u":400900217,"s":"ETHUSDT","b":"2000.01","B":"31.21","a":"2000.04","A":"40.66"}}"#;
    let events = read(text, at()).unwrap().events;
    let [MarketEvent::Tick(tick)] = events.as_slice() else {
        panic!()
    };
    assert_eq!(tick.instrument.as_str(), "ETH-USDT");
    assert_eq!(tick.price.to_string(), "2000.025");
    assert_eq!(tick.size.to_string(), "0");
    assert_eq!(tick.bid.unwrap().to_string(), "2000.01");
    assert_eq!(tick.ts_event, at(), "no event time: the receive time");
    // A bare payload (a single-stream connection) reads the same.
    let bare = r#"{"u":1,"s":"ETHUSDT","b":"1","B":"1","a":"2","A":"1"}"#;
    assert_eq!(read(bare, at()).unwrap().events.len(), 1);
}

#[test]
fn a_kline_is_a_candle_closed_when_x_says() {
    let text = r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515720000,"T":1672515779999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"16500.0","c":"16510.5","h":"16520.0","l":"16490.0","v":"12.5","n":100,"x":true,"q":"1.0","V":"5","Q":"0.5","B":"0"}}}"#;
    let events = read(text, at()).unwrap().events;
    let [MarketEvent::Candle { candle, closed }] = events.as_slice() else {
        panic!()
    };
    assert!(*closed);
    assert_eq!(candle.interval, "1m");
    assert_eq!(
        candle.ts_open,
        Timestamp::from_unix_millis(1_672_515_720_000).unwrap()
    );
    assert_eq!(
        candle.ts_event,
        Timestamp::from_unix_millis(1_672_515_780_000).unwrap()
    );
    assert_eq!(
        (
            candle.open.to_string(),
            candle.high.to_string(),
            candle.close.to_string()
        ),
        ("16500".to_owned(), "16520".to_owned(), "16510.5".to_owned())
    );
}

#[test]
fn acks_read_as_nothing_and_everything_else_is_a_named_error() {
    assert!(
        read(r#"{"result":null,"id":1}"#, at())
            .unwrap()
            .events
            .is_empty()
    );
    let cases: [(&str, &str); 7] = [
        ("not json", "not_json"),
        ("[1,2]", "unknown"),
        (r#"{"code":2,"msg":"Invalid request"}"#, "venue_error"),
        (
            r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}"#,
            "unknown",
        ),
        (
            r#"{"e":"trade","s":"BTCUSDT","p":"x","q":"1","T":1,"m":true,"t":1}"#,
            "malformed",
        ),
        (
            r#"{"e":"trade","s":"???","p":"1","q":"1","T":1,"m":true,"t":1}"#,
            "malformed",
        ),
        (
            r#"{"s":"ETHUSDT","b":"3","B":"1","a":"2","A":"1"}"#,
            "malformed",
        ),
    ];
    for (text, outcome) in cases {
        let e = read(text, at()).unwrap_err();
        assert_eq!(e.outcome(), outcome, "{text}: {e}");
    }
    let e = read(
        r#"{"e":"trade","s":"BTCUSDT","p":"1","q":"1","T":1,"t":1}"#,
        at(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ReadError::Field {
            field: "m",
            problem: "missing or not a boolean".to_owned()
        }
    );
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[0-9.\\-e]{0,12}".prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop::collection::btree_map(
            prop_oneof![
                Just("e".to_owned()),
                Just("s".to_owned()),
                Just("p".to_owned()),
                Just("q".to_owned()),
                Just("T".to_owned()),
                Just("m".to_owned()),
                Just("t".to_owned()),
                Just("b".to_owned()),
                Just("a".to_owned()),
                Just("k".to_owned()),
                Just("stream".to_owned()),
                Just("data".to_owned()),
                "[a-zA-Z]{1,3}",
            ],
            inner,
            0..8,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

proptest! {
    /// Any text: events or a typed error, never a panic.
    #[test]
    fn reading_any_text_never_panics(text in "\\PC{0,200}") {
        let _ = read(&text, at());
    }

    /// Any message-shaped JSON (the venue's field names, any values): never a panic,
    /// and whatever reads is well-formed (quotes with bid <= ask, sizes not negative).
    #[test]
    fn reading_message_shaped_json_never_panics(value in any_json(), kind in prop_oneof![Just("trade"), Just("kline"), Just("")]) {
        let mut value = value;
        if let (Value::Object(map), false) = (&mut value, kind.is_empty()) {
            map.insert("e".to_owned(), json!(kind));
        }
        if let Ok(read) = read(&value.to_string(), at()) {
            for event in read.events {
                if let MarketEvent::Tick(t) = event {
                    prop_assert!(t.size.value() >= neo_domain::Fixed::ZERO);
                    if let (Some(b), Some(a)) = (t.bid, t.ask) {
                        prop_assert!(b <= a);
                    }
                }
            }
        }
    }
}
