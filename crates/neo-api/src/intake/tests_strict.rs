//! The stricter reading of alerts: repeated keys, text that must be text,
//! aliases that must agree, and credentials found before anything is validated.

use neo_domain::Timestamp;

use super::{IntakeError, parse_alert, read_document, scan_credentials};

fn code(body: &str) -> Result<(), (u16, &'static str, String)> {
    parse_alert(body.as_bytes(), Timestamp::EPOCH)
        .map(|_| ())
        .map_err(|e| {
            (
                e.status(),
                e.code(),
                e.details()
                    .first()
                    .map(|d| d.path.clone())
                    .unwrap_or_default(),
            )
        })
}

#[test]
fn a_repeated_key_is_refused_at_any_depth_in_json_and_in_text() {
    let cases = [
        (r#"{"ticker":"AAPL","ticker":"MSFT"}"#, ""),
        (r#"{"ticker":"AAPL","meta":{"a":1,"a":2}}"#, "/meta"),
        (
            r#"{"ticker":"AAPL","list":[{"b":1},{"b":1,"b":2}]}"#,
            "/list/1",
        ),
        (r#"{"a/b":{"x":1,"x":1}}"#, "/a~1b"),
    ];
    for (body, path) in cases {
        let err = parse_alert(body.as_bytes(), Timestamp::EPOCH).unwrap_err();
        match &err {
            IntakeError::DuplicateKey { path: got, .. } => assert_eq!(got, path, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
        assert_eq!((err.status(), err.code()), (400, "duplicate_key"));
    }
    let text = "ticker=AAPL\naction=buy\nTICKER=MSFT\n";
    assert_eq!(code(text).unwrap_err().1, "duplicate_key");
    // Different keys that are aliases are not duplicates of the syntax (see below).
    assert!(code(r#"{"ticker":"AAPL","action":"buy","meta":{"a":1},"other":{"a":1}}"#).is_ok());
}

#[test]
fn text_fields_take_only_text() {
    for (body, path) in [
        (r#"{"ticker":5,"action":"buy"}"#, "/ticker"),
        (r#"{"ticker":"AAPL","action":true}"#, "/action"),
        (
            r#"{"ticker":"AAPL","action":"buy","strategy":7}"#,
            "/strategy",
        ),
        (r#"{"ticker":"AAPL","action":"buy","id":12}"#, "/id"),
        (
            r#"{"ticker":"AAPL","action":"buy","comment":["a"]}"#,
            "/comment",
        ),
    ] {
        assert_eq!(
            code(body),
            Err((422, "bad_value", path.to_owned())),
            "{body}"
        );
    }
    // TradingView's `{{interval}}` unquoted is a whole number of minutes.
    let raw = parse_alert(
        br#"{"ticker":"AAPL","action":"buy","interval":15}"#,
        Timestamp::EPOCH,
    )
    .unwrap();
    assert_eq!(raw.interval.as_deref(), Some("15"));
    assert_eq!(
        code(r#"{"ticker":"AAPL","action":"buy","interval":1.5}"#)
            .unwrap_err()
            .1,
        "bad_value"
    );
}

#[test]
fn aliases_of_what_and_whose_must_agree_the_others_rank() {
    for (body, path) in [
        (
            r#"{"ticker":"AAPL","symbol":"MSFT","action":"buy"}"#,
            "/symbol",
        ),
        (
            r#"{"ticker":"AAPL","action":"buy","exchange":"NASDAQ","syminfo.prefix":"NYSE"}"#,
            "/syminfo.prefix",
        ),
        (
            r#"{"ticker":"AAPL","action":"buy","strategy":"a","strategy_name":"b"}"#,
            "/strategy_name",
        ),
        (
            r#"{"ticker":"AAPL","action":"buy","id":"1","alert_id":"2"}"#,
            "/alert_id",
        ),
        (
            r#"{"ticker":"AAPL","action":"buy","type":"entry","signal_type":"exit"}"#,
            "/signal_type",
        ),
    ] {
        assert_eq!(
            code(body),
            Err((422, "conflicting_fields", path.to_owned())),
            "{body}"
        );
    }
    // The same instrument written two ways, and fields whose aliases legitimately
    // differ (the bar's time and the firing time, the order price and the close).
    for body in [
        r#"{"ticker":"BINANCE:BTCUSDT","symbol":"btcusdt","action":"buy"}"#,
        r#"{"ticker":"AAPL","action":"buy","timenow":"2026-01-01T00:00:01Z","time":"2026-01-01T00:00:00Z"}"#,
        r#"{"ticker":"AAPL","action":"buy","price":"10","close":"11"}"#,
        r#"{"ticker":"AAPL","action":"buy","type":"entry","signal_type":"open"}"#,
    ] {
        assert!(code(body).is_ok(), "{body}: {:?}", code(body));
    }
}

#[test]
fn credentials_are_read_before_any_value_is_judged() {
    let doc = read_document(br#"{"ticker":5,"passphrase":"p","strategy":" swing "}"#).unwrap();
    let (passphrase, strategy) = doc.credentials();
    assert!(passphrase.unwrap().matches("p"));
    assert_eq!(strategy.as_deref(), Some("swing"));
    // A broken body still says who it claims to be, so the right sender hears
    // about the breakage and anyone else only that it is not authenticated.
    for body in [
        r#"{"passphrase": "p", "strategy": "swing", "ticker": }"#,
        "{\"Passphrase\" :\"p\",\n\"strategy\":\"swing\"",
        "passphrase=p\nstrategy=swing\nthis line is broken\n",
    ] {
        assert!(read_document(body.as_bytes()).is_err(), "{body}");
        let (passphrase, strategy) = scan_credentials(body.as_bytes());
        assert!(passphrase.is_some_and(|p| p.matches("p")), "{body}");
        assert_eq!(strategy.as_deref(), Some("swing"), "{body}");
    }
    let (passphrase, _) = scan_credentials(b"\xff\xfe{\"a\": \"b\\\"");
    assert!(passphrase.is_none());
}
