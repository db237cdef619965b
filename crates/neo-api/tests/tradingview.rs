//! TradingView and plain-text alerts end to end through the pure intake:
//! real-looking payloads in, normalized signals (or the right error) out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should stop loudly

use std::sync::LazyLock;

use neo_api::intake::{
    DEFAULT_BUCKET, IdScope, IntakeError, PriorityRules, Sender, SignalIds, check_freshness,
    normalize, parse_alert, parse_plain_text, parse_tradingview_json,
};
use neo_domain::contracts::{Priority, SignalEventV1, SignalSource, SignalType};
use neo_domain::{Contract, Side, Timestamp};
use serde_json::{Value, json};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn received() -> Timestamp {
    at("2026-11-21T21:09:04Z")
}

static IDS: LazyLock<SignalIds> =
    LazyLock::new(|| SignalIds::new(b"an installation secret of 32 bytes"));
static SENDER: LazyLock<Sender> = LazyLock::new(|| Sender::holding(b"hunter2-long-secret"));

fn scope() -> IdScope<'static> {
    IdScope {
        ids: &IDS,
        sender: &SENDER,
        bucket: DEFAULT_BUCKET,
    }
}

fn tv(body: &str) -> Result<SignalEventV1, IntakeError> {
    let raw = parse_alert(body.as_bytes(), received())?;
    normalize(
        raw,
        SignalSource::Tradingview,
        &PriorityRules::default(),
        received(),
        &scope(),
    )
}

/// The strategy alert template most guides give, after TradingView expanded it.
const STRATEGY_ALERT: &str = r#"{
  "passphrase": "hunter2-long-secret",
  "time": "2026-11-21T21:09:00Z",
  "timenow": "2026-11-21T21:09:03Z",
  "exchange": "BINANCE",
  "ticker": "BTCUSDT",
  "strategy": "ema-cross 9/21",
  "action": "buy",
  "contracts": "0.015",
  "price": 42000.5,
  "market_position": "long",
  "position_size": "0.015",
  "prev_market_position": "flat",
  "prev_market_position_size": "0",
  "order_id": "Long",
  "comment": "long on cross",
  "interval": 15,
  "plot_0": 41950.25
}"#;

#[test]
fn strategy_alert_becomes_an_entry() {
    let s = tv(STRATEGY_ALERT).unwrap();
    assert_eq!(s.instrument.as_str(), "BTC-USDT");
    assert_eq!(s.exchange.as_deref(), Some("BINANCE"));
    assert_eq!(s.side, Some(Side::Buy));
    assert_eq!(s.signal_type, SignalType::Entry);
    assert_eq!(s.priority, Priority::Normal);
    assert_eq!(s.price.unwrap().to_string(), "42000.5");
    assert_eq!(s.quantity.unwrap().to_string(), "0.015");
    assert_eq!(s.strategy.as_deref(), Some("ema-cross 9/21"));
    assert_eq!(s.interval.as_deref(), Some("15"));
    // Pine's order name repeats on every trade: kept, but never the key.
    assert_eq!(s.source_id, None);
    assert_eq!(s.metadata["order_id"], json!("Long"));
    assert_eq!(s.comment.as_deref(), Some("long on cross"));
    // timenow (when the alert fired) wins over time (the bar's open).
    assert_eq!(s.ts_event, at("2026-11-21T21:09:03Z"));
    assert_eq!(s.metadata["plot_0"], json!(41950.25));
    assert_eq!(s.metadata["time"], json!("2026-11-21T21:09:00Z"));
    assert_eq!(s.metadata["market_position"], json!("long"));
    assert_eq!(s.metadata["prev_market_position"], json!("flat"));
    assert_eq!(s.metadata["position_size"], json!("0.015"));
    assert_eq!(s.original["passphrase"], json!("***"));
    assert_eq!(s.original["ticker"], json!("BTCUSDT"));
    assert!(s.check().is_empty());
    let raw = parse_alert(STRATEGY_ALERT.as_bytes(), received()).unwrap();
    assert!(
        raw.passphrase
            .as_ref()
            .unwrap()
            .matches("hunter2-long-secret")
    );
}

#[test]
fn the_passphrase_never_reaches_the_signal() {
    let bodies = [
        STRATEGY_ALERT.to_owned(),
        r#"{"ticker":"NASDAQ:AAPL","action":"sell","Passphrase":"hunter2-long-secret","secret":"hunter2-long-secret"}"#.to_owned(),
        "ticker=FX:EURUSD\naction=buy\npassphrase = hunter2-long-secret\n".to_owned(),
        "ticker: AAPL\nPASSWORD: \"hunter2-long-secret\"".to_owned(),
    ];
    for body in bodies {
        let s = tv(&body).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{s:?}").contains("hunter2"));
        let raw = parse_alert(body.as_bytes(), received()).unwrap();
        assert!(!format!("{raw:?}").contains("hunter2"));
    }
}

#[test]
fn table_of_templates() {
    // (body, instrument, side, type, priority)
    let cases: &[(&str, &str, Option<Side>, SignalType, Priority)] = &[
        // Indicator alert: no strategy fields, just an action.
        (
            r#"{"ticker":"BYBIT:BTCUSDT.P","side":"SELL","close":"42010","interval":"5"}"#,
            "BTC-USDT-PERP",
            Some(Side::Sell),
            SignalType::Entry,
            Priority::Normal,
        ),
        // Strategy exit: flat after the order.
        (
            r#"{"ticker":"EURUSD","exchange":"FX","action":"sell","contracts":1000,"market_position":"flat","prev_market_position":"long"}"#,
            "EUR-USD",
            Some(Side::Sell),
            SignalType::Exit,
            Priority::High,
        ),
        // Reverse: short after being long.
        (
            r#"{"ticker":"BINANCE:ETHUSDT","action":"sell","market_position":"short","prev_market_position":"long","position_size":"-2","prev_market_position_size":"1"}"#,
            "ETH-USDT",
            Some(Side::Sell),
            SignalType::Reverse,
            Priority::High,
        ),
        // Side only from the positions, long/short words.
        (
            r#"{"ticker":"NASDAQ:AAPL","market_position":"long","prev_market_position":"flat"}"#,
            "AAPL",
            Some(Side::Buy),
            SignalType::Entry,
            Priority::Normal,
        ),
        (
            r#"{"ticker":"AAPL","action":"Long"}"#,
            "AAPL",
            Some(Side::Buy),
            SignalType::Entry,
            Priority::Normal,
        ),
        // A sell that leaves the strategy long is a partial exit.
        (
            r#"{"ticker":"AAPL","action":"sell","market_position":"long","position_size":"5"}"#,
            "AAPL",
            Some(Side::Sell),
            SignalType::Exit,
            Priority::High,
        ),
        // Same direction, grew: an add.
        (
            r#"{"ticker":"AAPL","action":"buy","position_size":"10","prev_market_position_size":"5"}"#,
            "AAPL",
            Some(Side::Buy),
            SignalType::Entry,
            Priority::Normal,
        ),
        // Plain alerts: low, unless they mention a stop.
        (
            r#"{"ticker":"AAPL","comment":"RSI above 70"}"#,
            "AAPL",
            None,
            SignalType::Alert,
            Priority::Low,
        ),
        (
            r#"{"ticker":"AAPL","comment":"SL hit at 180"}"#,
            "AAPL",
            None,
            SignalType::Alert,
            Priority::High,
        ),
        (
            r#"{"ticker":"AAPL","comment":"slow market"}"#,
            "AAPL",
            None,
            SignalType::Alert,
            Priority::Low,
        ),
        // Explicit type and priority win.
        (
            r#"{"ticker":"AAPL","action":"buy","type":"alert","priority":"high"}"#,
            "AAPL",
            Some(Side::Buy),
            SignalType::Alert,
            Priority::High,
        ),
        (
            r#"{"ticker":"AAPL","action":"close"}"#,
            "AAPL",
            None,
            SignalType::Exit,
            Priority::High,
        ),
        (
            r#"{"ticker":"AAPL","action":"exit_long"}"#,
            "AAPL",
            Some(Side::Sell),
            SignalType::Exit,
            Priority::High,
        ),
        // Plain text.
        (
            "ticker=BINANCE:BTCUSDT\naction=buy\nqty=0.5\n# a comment\n\nprice: 42000",
            "BTC-USDT",
            Some(Side::Buy),
            SignalType::Entry,
            Priority::Normal,
        ),
        (
            "Ticker: CME_MINI:ES1!\nAction: SELL\nMarket_Position: flat\n",
            "ES1",
            Some(Side::Sell),
            SignalType::Exit,
            Priority::High,
        ),
        (
            "ticker=AAPL\naction=alert",
            "AAPL",
            None,
            SignalType::Alert,
            Priority::Low,
        ),
    ];
    for (body, instrument, side, kind, priority) in cases {
        let s = tv(body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(s.instrument.as_str(), *instrument, "{body}");
        assert_eq!(s.side, *side, "{body}");
        assert_eq!(s.signal_type, *kind, "{body}");
        assert_eq!(s.priority, *priority, "{body}");
        assert!(s.check().is_empty(), "{body}");
    }
}

#[test]
fn plain_text_keeps_its_text_and_unknown_keys() {
    let body = "ticker=AAPL\naction=buy\npassphrase=hunter2\nSetup = breakout\n";
    let raw = parse_plain_text(body, received()).unwrap();
    assert_eq!(
        raw.original,
        json!("ticker=AAPL\naction=buy\npassphrase=***\nSetup = breakout")
    );
    assert_eq!(raw.metadata["setup"], json!("breakout"));
    assert!(raw.passphrase.unwrap().matches("hunter2"));
}

#[test]
fn times_in_every_form() {
    let cases = [
        (json!("2026-11-21T22:09:03+01:00"), "2026-11-21T21:09:03Z"),
        (json!(1_795_295_343), "2026-11-21T21:09:03Z"),
        (json!("1795295343"), "2026-11-21T21:09:03Z"),
        (json!(1_795_295_343_120_i64), "2026-11-21T21:09:03.120Z"),
        (json!("1795295343.5"), "2026-11-21T21:09:03.500Z"),
    ];
    for (time, expected) in cases {
        let body = json!({"ticker": "AAPL", "timenow": time}).to_string();
        assert_eq!(tv(&body).unwrap().ts_event, at(expected), "{body}");
    }
    // No time: when it arrived.
    assert_eq!(tv(r#"{"ticker":"AAPL"}"#).unwrap().ts_event, received());
}

#[test]
fn numbers_as_strings_or_json_numbers_are_exact() {
    for price in [json!("0.1"), json!(0.1), json!(" 0.10 ")] {
        let body = json!({"ticker": "AAPL", "action": "buy", "close": price}).to_string();
        assert_eq!(tv(&body).unwrap().price.unwrap().to_string(), "0.1");
    }
}

/// (body, status, code, path of the first detail)
const ERRORS: &[(&str, u16, &str, &str)] = &[
    ("{\"ticker\": ", 400, "invalid_json", ""),
    ("[1, 2]", 422, "not_an_object", ""),
    ("BUY BTCUSDT NOW", 400, "bad_line", ""),
    ("ticker=AAPL\nbuy now", 400, "bad_line", ""),
    (r#"{"action":"buy"}"#, 422, "missing_field", "/ticker"),
    (
        r#"{"ticker":"AAPL","price":"abc"}"#,
        422,
        "bad_number",
        "/price",
    ),
    (
        r#"{"ticker":"AAPL","close":"NaN"}"#,
        422,
        "bad_number",
        "/close",
    ),
    (r#"{"ticker":"AAPL","qty":"-1"}"#, 422, "bad_number", "/qty"),
    (
        r#"{"ticker":"AAPL","price":[1]}"#,
        422,
        "bad_number",
        "/price",
    ),
    (
        r#"{"ticker":"AAPL","close":"{{close}}","action":"{{strategy.order.action}}"}"#,
        422,
        "unexpanded_placeholder",
        "/action",
    ),
    (
        r#"{"ticker":"AAPL","action":"hold"}"#,
        422,
        "bad_value",
        "/action",
    ),
    (
        r#"{"ticker":"AAPL","type":"maybe"}"#,
        422,
        "bad_value",
        "/type",
    ),
    (
        r#"{"ticker":"AAPL","strategy":{"a":1}}"#,
        422,
        "bad_value",
        "/strategy",
    ),
    (
        r#"{"ticker":"AAPL","market_position":"sideways"}"#,
        422,
        "bad_value",
        "/market_position",
    ),
    (
        r#"{"ticker":"AAPL","time":"yesterday"}"#,
        422,
        "bad_time",
        "/time",
    ),
    (
        r#"{"symbol":"BINANCE:!!!"}"#,
        422,
        "unknown_instrument",
        "/symbol",
    ),
    (
        r#"{"ticker":"AAPL","action":"buy","side":"sell"}"#,
        422,
        "conflicting_fields",
        "/side",
    ),
    (
        r#"{"ticker":"AAPL","type":"entry"}"#,
        422,
        "contract_violation",
        "/side",
    ),
    (
        r#"{"ticker":"AAPL","action":"buy","close":"0"}"#,
        422,
        "contract_violation",
        "/close",
    ),
    (
        r#"{"ticker":"AAPL","action":"buy","size":0}"#,
        422,
        "contract_violation",
        "/size",
    ),
];

#[test]
fn every_error_class_has_its_status_code_and_path() {
    for (body, status, code, path) in ERRORS {
        let err = tv(body).expect_err(body);
        assert_eq!(err.status(), *status, "{body}: {err}");
        assert_eq!(err.code(), *code, "{body}: {err}");
        let details = err.details();
        assert!(!details.is_empty(), "{body}");
        assert_eq!(details[0].path, *path, "{body}: {details:?}");
    }
    assert_eq!(
        parse_tradingview_json(&[0xff, 0xfe], received())
            .unwrap_err()
            .code(),
        "not_utf8"
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let body = r#"{"ticker":"AAPL","price":"x","qty":"y","time":"z"}"#;
    let err = tv(body).unwrap_err();
    let paths: Vec<String> = err.details().into_iter().map(|i| i.path).collect();
    assert_eq!(paths, ["/price", "/qty", "/time"]);
    // Contract violations too: an entry with no side and a zero price.
    let err = tv(r#"{"ticker":"AAPL","type":"entry","price":0}"#).unwrap_err();
    assert_eq!(err.details().len(), 2, "{err}");
}

#[test]
fn freshness_window_both_ways() {
    let window = std::time::Duration::from_secs(30);
    let now = received();
    assert!(check_freshness(now.add_nanos(-30_000_000_000), now, window).is_ok());
    assert!(check_freshness(now.add_nanos(30_000_000_000), now, window).is_ok());
    let old = check_freshness(now.add_nanos(-31_000_000_000), now, window).unwrap_err();
    assert_eq!((old.status(), old.code()), (422, "stale_alert"));
    let future = check_freshness(now.add_nanos(31_000_000_000), now, window).unwrap_err();
    assert_eq!((future.status(), future.code()), (422, "future_alert"));
}

#[test]
fn normalized_signals_roundtrip_through_serde() {
    for body in [STRATEGY_ALERT, "ticker=AAPL\naction=alert"] {
        let s = tv(body).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        let back: SignalEventV1 = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        // And it validates against the published schema.
        let entry = neo_domain::schema::find("SignalEventV1").unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(entry.validate(&value).unwrap(), vec![]);
    }
}

#[test]
fn priority_rules_are_configurable_and_validated() {
    let rules: PriorityRules = serde_json::from_value(json!({
        "stop_keywords": ["liquidation"],
        "strategies": {"Scalper": "low"},
        "honor_sender_priority": false
    }))
    .unwrap();
    assert!(rules.validate().is_ok());
    let raw = |body: &str| parse_alert(body.as_bytes(), received()).unwrap();
    let norm = |body: &str| {
        normalize(
            raw(body),
            SignalSource::Tradingview,
            &rules,
            received(),
            &scope(),
        )
        .unwrap()
        .priority
    };
    assert_eq!(
        norm(r#"{"ticker":"AAPL","comment":"near liquidation"}"#),
        Priority::High
    );
    assert_eq!(
        norm(r#"{"ticker":"AAPL","comment":"SL hit"}"#),
        Priority::Low
    );
    assert_eq!(
        norm(r#"{"ticker":"AAPL","action":"close","strategy":"scalper"}"#),
        Priority::Low
    );
    assert_eq!(
        norm(r#"{"ticker":"AAPL","action":"buy","priority":"high"}"#),
        Priority::Normal
    );

    let unknown = serde_json::from_value::<PriorityRules>(json!({"stop_words": []}));
    assert!(unknown.is_err());
    let bad: PriorityRules = serde_json::from_value(json!({
        "stop_keywords": ["ok", "--", ""],
        "strategies": {"A": "low", "a": "high", " ": "low"}
    }))
    .unwrap();
    let issues = bad.validate().unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/stop_keywords/1",
            "/stop_keywords/2",
            "/strategies/ ",
            "/strategies/a"
        ]
    );
}
