//! Binance: combined streams named in the URL, klines over REST, bars the venue closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use neo_market::feed::{Feed, FeedConfig, FeedNote};
use neo_market::venue::Venue;
use neo_testkit::venue::MockVenue;
use serde_json::json;

use super::{Recorder, clock, config, minute_floor, now, query, shifted, start};

/// Binance klines from `startTime`, at most `limit` (the feed keeps the closed ones by its clock).
fn binance_klines(target: &str) -> (u16, String) {
    let start: i64 = query(target, "startTime").parse().unwrap();
    let limit: usize = query(target, "limit").parse().unwrap();
    let mut rows = Vec::new();
    let mut t = start.div_euclid(60_000) * 60_000;
    while t <= minute_floor(now()) + 3_600_000 && rows.len() < limit {
        let p = format!("{}.5", 100 + (t / 60_000) % 7);
        rows.push(json!([
            t,
            p,
            p,
            p,
            p,
            "2.5",
            t + 59_999,
            "0",
            3,
            "0",
            "0",
            "0"
        ]));
        t += 60_000;
    }
    (200, json!(rows).to_string())
}

fn binance_trade(id: u64, price: &str) -> String {
    neo_testkit::binance::trade(id, price, "0.5", now().as_unix_millis())
}

#[tokio::test]
async fn binance_warms_up_streams_and_skips_what_it_cannot_read() {
    let mock = MockVenue::start(binance_klines).await.unwrap();
    let mut feed = Feed::new(config(Venue::Binance, &mock), clock());
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert!((29..=31).contains(&history.len()), "{}", history.len());
    assert!(history.windows(2).all(|w| w[0].ts_open < w[1].ts_open));

    let sink = Arc::new(Recorder::default());
    let (stop, task) = start(feed, &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    assert_eq!(
        mock.ws_paths(),
        vec!["/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@kline_1m".to_owned()]
    );
    mock.send(&binance_trade(1, "101.25"));
    mock.send("{not json");
    mock.send(r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}"#);
    mock.send(r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","p":"oops"}}"#);
    mock.send(r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"101.00","B":"1","a":"101.50","A":"2"}}"#);
    sink.wait("two ticks", |s| s.ticks() == 2).await;
    for outcome in ["not_json", "unknown", "malformed"] {
        assert_eq!(
            sink.count(|n| *n == FeedNote::Message { outcome }),
            1,
            "{outcome}"
        );
    }
    assert_eq!(sink.count(|n| *n == FeedNote::Message { outcome: "ok" }), 2);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_cut_connection_reconnects_resubscribes_and_backfills_the_missed_candles() {
    let mock = MockVenue::start(binance_klines).await.unwrap();
    let offset = Arc::new(AtomicI64::new(0));
    let mut feed = Feed::new(config(Venue::Binance, &mock), shifted(&offset));
    let (history, _) = feed.warm_up().await;
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(feed, &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    // Five minutes pass while the connection is down.
    offset.store(300, Ordering::SeqCst);
    mock.drop_clients();
    sink.wait("a reconnection", |s| {
        s.count(|n| *n == FeedNote::Connected) >= 2
    })
    .await;
    assert!(mock.accepted() >= 2);
    assert_eq!(
        mock.ws_paths()[0],
        mock.ws_paths()[1],
        "the same streams again"
    );
    assert!(sink.count(|n| matches!(n, FeedNote::Disconnected { .. })) >= 1);
    // The reconnection fetched the minutes missed, each once, after the history.
    sink.wait("the missed candles", |s| s.closed_candles().len() >= 4)
        .await;
    let newest = history.last().unwrap().ts_open.as_nanos();
    let candles = sink.closed_candles();
    assert!(candles.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(candles[0], newest + 60_000_000_000);
    assert!(
        sink.count(|n| matches!(n, FeedNote::Backfilled { candles, .. } if *candles >= 4)) >= 1
    );
    stop.send(true).unwrap();
}

#[tokio::test]
async fn a_silent_connection_is_dropped_and_replaced() {
    let mock = MockVenue::start(binance_klines).await.unwrap();
    let cfg = FeedConfig {
        silence: Duration::from_millis(300),
        ..config(Venue::Binance, &mock)
    };
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(cfg, clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    mock.silence_clients();
    sink.wait("the silent connection dropped", |s| {
        s.count(
            |n| matches!(n, FeedNote::Disconnected { reason, .. } if reason.contains("no message")),
        ) >= 1
    })
    .await;
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    mock.send(&binance_trade(9, "100"));
    sink.wait("data on the new connection", |s| s.ticks() >= 1)
        .await;
    stop.send(true).unwrap();
}

#[tokio::test]
async fn rest_throttling_is_waited_out() {
    let mock = MockVenue::start(binance_klines).await.unwrap();
    mock.throttle(2, 1);
    let mut feed = Feed::new(config(Venue::Binance, &mock), clock());
    let started = tokio::time::Instant::now();
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!history.is_empty());
    // Two answers said "come back in a second": the third request waited for it.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(mock.rest_requests().len() >= 3);
}

#[tokio::test]
async fn a_venue_down_at_start_leaves_a_cold_feed_that_connects_later() {
    let mock = MockVenue::start(binance_klines).await.unwrap();
    mock.set_down(true);
    let mut feed = Feed::new(config(Venue::Binance, &mock), clock());
    let (history, problems) = feed.warm_up().await;
    assert!(history.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("503"), "{}", problems[0]);
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(feed, &sink);
    tokio::time::sleep(Duration::from_millis(300)).await;
    mock.set_down(false);
    sink.wait("connected once the venue is back", |s| {
        s.count(|n| *n == FeedNote::Connected) == 1
    })
    .await;
    // The connection's backfill brings the whole warm-up history.
    sink.wait("the history", |s| s.closed_candles().len() >= 29)
        .await;
    stop.send(true).unwrap();
}
