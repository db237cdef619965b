//! Unit tests of the rules that integration tests reach only indirectly: the
//! type inference table, keyword matching and unix-time magnitudes.

use neo_domain::contracts::SignalType;
use neo_domain::{Fixed, Side, Timestamp};

use super::raw::{MarketPosition, RawAlert};
use super::{PriorityRules, infer_type};

fn raw(side: Option<Side>, now: Option<MarketPosition>, prev: Option<MarketPosition>) -> RawAlert {
    let mut r = RawAlert::new(Timestamp::EPOCH);
    r.side = side;
    r.market_position = now;
    r.prev_market_position = prev;
    r
}

#[test]
fn inference_table() {
    use MarketPosition::{Flat, Long, Short};
    use SignalType::{Alert, Entry, Exit, Reverse};
    let (b, s) = (Some(Side::Buy), Some(Side::Sell));
    // (side, current, previous) -> (type, side)
    let cases = [
        ((None, None, None), (Alert, None)),
        ((b, None, None), (Entry, b)),
        ((None, Some(Flat), Some(Long)), (Exit, s)),
        ((None, Some(Flat), None), (Exit, None)),
        ((b, Some(Flat), Some(Short)), (Exit, b)),
        ((None, Some(Long), Some(Short)), (Reverse, b)),
        ((s, Some(Short), Some(Long)), (Reverse, s)),
        ((None, Some(Short), Some(Flat)), (Entry, s)),
        ((b, Some(Long), None), (Entry, b)),
        ((s, Some(Long), None), (Exit, s)),
        ((b, Some(Long), Some(Long)), (Entry, b)),
        ((s, Some(Long), Some(Long)), (Exit, s)),
        ((None, Some(Long), Some(Long)), (Alert, None)),
    ];
    for ((side, now, prev), expected) in cases {
        assert_eq!(
            infer_type(&raw(side, now, prev)),
            expected,
            "{side:?} {now:?} {prev:?}"
        );
    }
    // Sizes decide when the side is missing.
    let mut r = raw(None, Some(Long), Some(Long));
    r.position_size = Some(Fixed::from_int(1));
    r.prev_position_size = Some(Fixed::from_int(3));
    assert_eq!(infer_type(&r), (Exit, s));
    // An explicit type wins, and borrows the positions' side only when they agree.
    r.signal_type = Some(Entry);
    assert_eq!(infer_type(&r), (Entry, None));
    let mut r = raw(None, Some(Long), Some(Flat));
    r.signal_type = Some(Entry);
    assert_eq!(infer_type(&r), (Entry, b));
    r.action_type = Some(Alert);
    assert_eq!(infer_type(&r), (Entry, b), "type beats the action word");
}

#[test]
fn stop_keywords_match_whole_words() {
    let rules = PriorityRules::default();
    for yes in [
        "SL hit",
        "stop-loss triggered",
        "Stop Loss",
        "price stopped out",
        "(sl)",
    ] {
        assert!(rules.mentions_stop(yes), "{yes}");
    }
    for no in ["slow", "unstoppable", "isl", "", "stops"] {
        assert!(!rules.mentions_stop(no), "{no}");
    }
}

#[test]
fn unix_time_magnitudes() {
    let parse = |v: serde_json::Value| {
        let body = serde_json::json!({"ticker": "AAPL", "time": v}).to_string();
        super::parse_tradingview_json(body.as_bytes(), Timestamp::EPOCH).map(|r| r.time)
    };
    // Below 10^11 it is seconds (out of range as a time past 2262), from 10^11 milliseconds.
    let secs = Timestamp::from_unix_secs(9_000_000_000).unwrap();
    assert_eq!(
        parse(serde_json::json!(9_000_000_000_i64)).unwrap(),
        Some(secs)
    );
    assert!(parse(serde_json::json!(99_999_999_999_i64)).is_err());
    let millis = Timestamp::from_unix_millis(100_000_000_000).unwrap();
    assert_eq!(
        parse(serde_json::json!(100_000_000_000_i64)).unwrap(),
        Some(millis)
    );
    assert!(parse(serde_json::json!("1e40")).is_err());
    assert!(parse(serde_json::json!(true)).is_err());
}
