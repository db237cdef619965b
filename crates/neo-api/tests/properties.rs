//! Properties of the intake: the parsers never panic on any input, and every
//! signal that normalizes passes the contract rules, round-trips through serde
//! unchanged and never carries the passphrase.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing property should stop loudly

use neo_api::intake::{
    PriorityRules, SignatureHeader, normalize, parse_alert, parse_plain_text,
    parse_tradingview_json, verify_signature,
};
use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{Contract, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const PASSPHRASE: &str = "pp-7f3a-never-stored";

fn received() -> Timestamp {
    Timestamp::from_unix_secs(1_795_295_343).unwrap()
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "ticker", "Ticker", "symbol", "exchange", "action", "side", "strategy.order.action",
            "price", "close", "quantity", "qty", "contracts", "size", "market_position",
            "position_size", "prev_market_position", "prev_market_position_size", "strategy",
            "interval", "time", "timenow", "id", "order_id", "comment", "message", "type",
            "signal_type", "priority", "secret",
        ])
        .prop_map(String::from),
        1 => "[a-z_.~/]{0,10}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "buy", "SELL", "long", "short", "flat", "close", "exit_long", "alert", "entry",
            "exit", "reverse", "high", "low", "BINANCE:BTCUSDT", "BYBIT:BTCUSDT.P", "FX:EURUSD",
            "NASDAQ:AAPL", "AAPL", "BINANCE", "42000.5", "0.015", "-2", "0", "NaN",
            "2026-11-21T21:09:03Z", "1795295343", "1795295343000", "{{close}}", "stop loss hit",
            "ema 9/21", "15", "",
        ])
        .prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
        2 => "\\PC{0,20}".prop_map(Value::from),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(|v| json!(v)),
    ]
}

fn alert_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), value()), 0..12).prop_map(|pairs| {
        let mut map: Map<String, Value> = pairs.into_iter().collect();
        map.insert("passphrase".into(), Value::from(PASSPHRASE));
        map
    })
}

/// Alerts built field by field from plausible values, so most of them normalize.
fn plausible_alert() -> impl Strategy<Value = Map<String, Value>> {
    let pick = |values: &[&'static str]| {
        prop::option::of(prop::sample::select(values.to_vec()).prop_map(Value::from))
    };
    (
        pick(&[
            "BINANCE:BTCUSDT",
            "BYBIT:ETHUSDT.P",
            "FX:EURUSD",
            "NASDAQ:AAPL",
            "AAPL",
            "XAUUSD",
        ]),
        pick(&[
            "buy",
            "sell",
            "Long",
            "SHORT",
            "close",
            "exit_short",
            "alert",
        ]),
        prop::option::of((1u32..10_000_000, 0u32..4).prop_map(|(m, s)| {
            json!(format!(
                "{}.{:0>width$}",
                m / 10u32.pow(s),
                m % 10u32.pow(s),
                width = s as usize
            ))
        })),
        prop::option::of((1i64..1_000_000).prop_map(Value::from)),
        pick(&["long", "short", "flat"]),
        pick(&["long", "short", "flat"]),
        pick(&["ema 9/21", "Stop hunter", "breakout"]),
        pick(&["SL hit", "take profit", "RSI > 70", ""]),
        pick(&["1", "15", "1h", "1D"]),
        pick(&["2026-11-21T21:09:03Z", "1795295343", "1795295343123"]),
        prop::option::of("[a-z0-9-]{1,12}".prop_map(Value::from)),
        prop::collection::vec(("x_[a-z]{1,6}", value()), 0..3),
    )
        .prop_map(
            |(
                ticker,
                action,
                price,
                qty,
                pos,
                prev,
                strategy,
                comment,
                interval,
                time,
                id,
                extra,
            )| {
                let mut map = Map::new();
                let fields = [
                    ("ticker", ticker),
                    ("action", action),
                    ("price", price),
                    ("contracts", qty),
                    ("market_position", pos),
                    ("prev_market_position", prev),
                    ("strategy", strategy),
                    ("comment", comment),
                    ("interval", interval),
                    ("timenow", time),
                    ("id", id),
                ];
                for (k, v) in fields {
                    if let Some(v) = v {
                        map.insert(k.into(), v);
                    }
                }
                map.extend(extra);
                map.insert("passphrase".into(), Value::from(PASSPHRASE));
                map
            },
        )
}

fn text_of(map: &Map<String, Value>) -> String {
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every normalized signal is valid, stable through serde and free of the passphrase.
fn check_normalized(raw_body: &[u8]) -> Result<(), TestCaseError> {
    let Ok(raw) = parse_alert(raw_body, received()) else {
        return Ok(());
    };
    let rules = PriorityRules::default();
    let (ids, sender) = (
        neo_api::intake::SignalIds::new(b"an installation secret of 32 bytes"),
        neo_api::intake::Sender::holding(PASSPHRASE.as_bytes()),
    );
    let scope = neo_api::intake::IdScope {
        ids: &ids,
        sender: &sender,
        bucket: neo_api::intake::DEFAULT_BUCKET,
    };
    let Ok(signal) = normalize(raw, SignalSource::Tradingview, &rules, received(), &scope) else {
        return Ok(());
    };
    prop_assert_eq!(signal.check(), vec![]);
    let text = serde_json::to_string(&signal).unwrap();
    prop_assert!(!text.contains(PASSPHRASE), "{}", text);
    let back: SignalEventV1 = serde_json::from_str(&text).unwrap();
    prop_assert_eq!(back, signal);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_tradingview_json(&bytes, received());
        let _ = parse_alert(&bytes, received());
    }

    #[test]
    fn credential_scan_never_panics_and_finds_a_quoted_passphrase(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        secret in "[a-zA-Z0-9][a-zA-Z0-9 ]{0,19}",
        junk in "\\PC{0,40}",
    ) {
        let _ = neo_api::intake::scan_credentials(&bytes);
        let body = format!("{{\"passphrase\": \"{secret}\", {junk}");
        let (found, _) = neo_api::intake::scan_credentials(body.as_bytes());
        prop_assert!(found.is_some_and(|p| p.matches(secret.trim())), "{}", body);
    }

    #[test]
    fn text_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse_plain_text(&text, received());
        let _ = parse_alert(text.as_bytes(), received());
    }

    #[test]
    fn signature_parser_never_panics(header in "\\PC{0,120}", structured in "(t=[0-9-]{0,20}|v1=[0-9a-fA-Fz]{0,66}|x=?)(, ?(t=[0-9]{0,20}|v1=[0-9a-f]{62,66}))*") {
        for h in [&header, &structured] {
            let _ = SignatureHeader::parse(h);
            let _ = verify_signature(h, b"{}", &[b"k"], received(), 300);
        }
    }

    #[test]
    fn normalized_json_alerts_are_valid_and_stable(map in alert_object()) {
        let body = serde_json::to_vec(&Value::Object(map)).unwrap();
        check_normalized(&body)?;
    }

    #[test]
    fn normalized_text_alerts_are_valid_and_stable(map in alert_object()) {
        check_normalized(text_of(&map).as_bytes())?;
    }

    #[test]
    fn plausible_alerts_are_valid_and_stable(map in plausible_alert()) {
        let body = serde_json::to_vec(&Value::Object(map.clone())).unwrap();
        check_normalized(&body)?;
        check_normalized(text_of(&map).as_bytes())?;
    }
}
