//! Kraken v2: bars the venue keeps updating (the next one closes them), OHLC
//! over REST, throttling told in a `200`; and the scenarios every venue runs.
//! Kraken's v2 ticker, trade and ohlc channels carry no sequence numbers, so
//! what a reconnection missed is found by the backfill, not by a gap.

use std::sync::Arc;
use std::time::Duration;

use neo_market::event::MarketEvent;
use neo_market::feed::{Feed, FeedNote};
use neo_market::venue::Venue;
use neo_testkit::kraken;
use neo_testkit::venue::MockVenue;
use serde_json::json;

use super::scenarios::{self, Exchange};
use super::{Recorder, clock, config, start, wait_received};

const KRAKEN: Exchange = Exchange {
    venue: Venue::Kraken,
    rest: kraken::rest_at,
    trade: |n, price| kraken::trade("BTC/USDT", n, price, "buy"),
    unreadable: || {
        vec![
            ("{not json".to_owned(), "not_json"),
            (
                r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USDT","bids":[],"asks":[],"checksum":0}]}"#.to_owned(),
                "unknown",
            ),
            (kraken::trade("BTC/USDT", 3, "101", "up"), "malformed"),
            (
                r#"{"method":"subscribe","success":false,"error":"Currency pair not supported","time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#.to_owned(),
                "venue_error",
            ),
        ]
    },
};

#[tokio::test]
async fn kraken_streams_and_skips_what_it_cannot_read() {
    scenarios::streams_and_skips_what_it_cannot_read(&KRAKEN).await;
}

#[tokio::test]
async fn kraken_reconnects_resubscribes_and_backfills_a_cut_connection() {
    scenarios::a_cut_connection_reconnects_and_backfills(&KRAKEN).await;
}

#[tokio::test]
async fn kraken_replaces_a_silent_connection() {
    scenarios::a_silent_connection_is_replaced(&KRAKEN).await;
}

#[tokio::test]
async fn kraken_rest_429_is_waited_out() {
    scenarios::rest_throttling_is_waited_out(&KRAKEN, |mock, n| mock.throttle(n, 1)).await;
}

/// Kraken says "slow down" with HTTP 200 and an error in the body: waited out
/// and noted like a `429`, not a failed backfill.
#[tokio::test]
async fn kraken_rate_limit_errors_in_a_200_are_waited_out() {
    scenarios::rest_throttling_is_waited_out(&KRAKEN, |mock, n| {
        mock.throttle_with_body(n, kraken::RATE_LIMITED);
    })
    .await;
    scenarios::rest_throttling_is_waited_out(&KRAKEN, |mock, n| {
        mock.throttle_with_body(n, kraken::TOO_MANY_REQUESTS);
    })
    .await;
}

/// Throttling that outlasts every attempt is a problem named as throttling.
#[tokio::test]
async fn kraken_throttling_without_end_is_reported_as_such() {
    let mock = MockVenue::start(kraken::rest).await.unwrap();
    mock.throttle_with_body(100, kraken::RATE_LIMITED);
    let mut feed = Feed::new(config(Venue::Kraken, &mock), clock());
    let (history, problems) = feed.warm_up().await;
    assert!(history.is_empty());
    assert_eq!(problems.len(), 1);
    let problem = problems[0].to_string();
    assert!(
        problem.contains("throttled: EAPI:Rate limit exceeded"),
        "{problem}"
    );
    assert_eq!(mock.rest_requests().len(), 4, "every attempt, then give up");
}

#[tokio::test]
async fn kraken_closes_a_bar_when_the_next_begins() {
    // No history over REST: the only closed bar is the stream's.
    let mock = MockVenue::start(|_: &str| {
        let empty = json!({"error": [], "result": {"XBTUSDT": [], "last": 0}});
        (200, empty.to_string())
    })
    .await
    .unwrap();
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(config(Venue::Kraken, &mock), clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    wait_received(&mock, 3).await;
    assert_eq!(mock.received().len(), 3, "ticker, trade, ohlc");
    // 2026-12-07T10:00Z updated once, then the next minute's bar begins.
    let ten = 1_796_637_600_000;
    mock.send(&kraken::subscribed("ohlc", "BTC/USDT"));
    mock.send(&kraken::ohlc(
        "BTC/USDT",
        ten,
        ["100", "102", "99", "100.5"],
    ));
    mock.send(&kraken::heartbeat());
    mock.send(&kraken::ohlc(
        "BTC/USDT",
        ten,
        ["100", "102", "99", "101.5"],
    ));
    mock.send(&kraken::ohlc(
        "BTC/USDT",
        ten + 60_000,
        ["101.5", "101.5", "101", "101"],
    ));
    sink.wait("one closed bar", |s| s.closed_candles().len() == 1)
        .await;
    let events = sink.events.lock().unwrap().clone();
    let MarketEvent::Candle { candle, closed } = &events[0] else {
        panic!("{events:?}")
    };
    assert!(closed);
    assert_eq!(candle.close.to_string(), "101.5");
    let ok = sink.count(|n| *n == FeedNote::Message { outcome: "ok" });
    assert_eq!(
        ok, 5,
        "the subscription's answer and the heartbeat read too"
    );
    stop.send(true).unwrap();
}
