//! The feed against a local exchange speaking each venue's documented formats:
//! warm-up over REST, the stream read into ticks, trades and closed candles,
//! malformed messages skipped and counted, a cut connection and a silent one
//! reconnected and backfilled, REST throttling waited out, sequence gaps
//! backfilled, subscriptions sent again after every reconnection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_domain::{InstrumentId, Timestamp};
use neo_market::event::MarketEvent;
use neo_market::feed::{Clock, Feed, FeedConfig, FeedNote, MarketSink};
use neo_market::venue::Venue;
use neo_testkit::venue::MockVenue;
use serde_json::json;
use tokio::sync::watch;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<MarketEvent>>,
    notes: Mutex<Vec<FeedNote>>,
}

impl MarketSink for Recorder {
    fn events(&self, _venue: Venue, events: Vec<MarketEvent>) {
        self.events.lock().unwrap().extend(events);
    }
    fn note(&self, _venue: Venue, note: FeedNote) {
        self.notes.lock().unwrap().push(note);
    }
}

impl Recorder {
    fn closed_candles(&self) -> Vec<i64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                MarketEvent::Candle { candle, .. } => Some(candle.ts_open.as_nanos()),
                _ => None,
            })
            .collect()
    }
    fn ticks(&self) -> usize {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| matches!(e, MarketEvent::Tick(_)))
            .count()
    }
    fn count(&self, f: impl Fn(&FeedNote) -> bool) -> usize {
        self.notes.lock().unwrap().iter().filter(|n| f(n)).count()
    }
    async fn wait(&self, what: &str, f: impl Fn(&Recorder) -> bool) {
        for _ in 0..500 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

async fn wait_received(mock: &MockVenue, n: usize) {
    for _ in 0..500 {
        if mock.received().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the client sent {:?}", mock.received());
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

#[allow(clippy::disallowed_methods)] // a live feed's test runs on the wall clock, as the feed does
fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Timestamp::from_nanos(i64::try_from(nanos).unwrap())
}

fn clock() -> Clock {
    Arc::new(now)
}

/// The wall clock moved on by however many seconds the test sets.
fn shifted(offset: &Arc<AtomicI64>) -> Clock {
    let offset = offset.clone();
    Arc::new(move || now().add_nanos(offset.load(Ordering::SeqCst) * 1_000_000_000))
}

fn minute_floor(t: Timestamp) -> i64 {
    t.as_unix_millis().div_euclid(60_000) * 60_000
}

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

fn query<'a>(target: &'a str, name: &str) -> &'a str {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("{name} missing from {target}"))
}

fn config(venue: Venue, mock: &MockVenue) -> FeedConfig {
    // The binary installs ring as rustls's provider at start; so does each test.
    let _ = rustls::crypto::ring::default_provider().install_default();
    FeedConfig {
        ws_url: mock.ws_url(),
        rest_url: mock.rest_url(),
        warmup: Duration::from_secs(30 * 60),
        silence: Duration::from_secs(5),
        ping_every: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
        ..FeedConfig::new(venue, vec![btc()])
    }
}

fn start(feed: Feed, sink: &Arc<Recorder>) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, rx) = watch::channel(false);
    let s: Arc<dyn MarketSink> = sink.clone();
    (stop, tokio::spawn(feed.run(s, rx)))
}

fn binance_trade(id: u64, price: &str) -> String {
    json!({"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":id,"p":price,"q":"0.5","T":now().as_unix_millis(),"m":true}}).to_string()
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

fn coinbase_candles(target: &str) -> (u16, String) {
    let start: i64 = query(target, "start").parse().unwrap();
    let end: i64 = query(target, "end").parse().unwrap();
    let mut rows = Vec::new();
    let mut t = start.div_euclid(60) * 60;
    while t < end {
        rows.push(json!({"start": t.to_string(), "low":"99","high":"101","open":"100","close":"100.5","volume":"1"}));
        t += 60;
    }
    rows.reverse();
    (200, json!({ "candles": rows }).to_string())
}

fn coinbase_ticker(seq: u64, price: &str) -> String {
    json!({"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":seq,
        "events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USDT","price":price,"best_bid":"99","best_ask":"101"}]}]})
    .to_string()
}

#[tokio::test]
async fn coinbase_subscribes_per_channel_and_backfills_on_a_sequence_gap() {
    let mock = MockVenue::start(coinbase_candles).await.unwrap();
    let offset = Arc::new(AtomicI64::new(0));
    let mut feed = Feed::new(config(Venue::Coinbase, &mock), shifted(&offset));
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!history.is_empty());
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(feed, &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    wait_received(&mock, 3).await;
    let subscribed = mock.received();
    for channel in ["heartbeats", "ticker", "market_trades"] {
        assert!(
            subscribed
                .iter()
                .any(|m| m.contains(channel) && m.contains("BTC-USDT")),
            "{channel} in {subscribed:?}"
        );
    }
    let requests = mock.rest_requests().len();
    mock.send(&coinbase_ticker(1, "100"));
    mock.send(&coinbase_ticker(2, "100.5"));
    // Three minutes and four messages went missing.
    offset.store(180, Ordering::SeqCst);
    mock.send(&coinbase_ticker(7, "101"));
    sink.wait("the gap", |s| {
        s.count(|n| matches!(n, FeedNote::Gap(_))) == 1
    })
    .await;
    sink.wait("three ticks", |s| s.ticks() == 3).await;
    sink.wait("the missed candles", |s| s.closed_candles().len() >= 2)
        .await;
    assert!(mock.rest_requests().len() > requests, "the gap backfilled");
    stop.send(true).unwrap();
}

#[tokio::test]
async fn kraken_closes_a_bar_when_the_next_begins() {
    let mock = MockVenue::start(|_: &str| {
        (
            200,
            json!({"error": [], "result": {"XXBTZUSD": [], "last": 0}}).to_string(),
        )
    })
    .await
    .unwrap();
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(config(Venue::Kraken, &mock), clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    wait_received(&mock, 3).await;
    assert_eq!(mock.received().len(), 3, "ticker, trade, ohlc");
    let bar = |begin: &str, close: f64| {
        json!({"channel":"ohlc","type":"update","data":[{"symbol":"BTC/USDT","open":100.0,"high":102.0,"low":99.0,"close":close,"trades":3,"volume":1.5,"vwap":100.5,"interval_begin":begin,"interval":1,"timestamp":begin}]}).to_string()
    };
    mock.send(&bar("2026-12-07T10:00:00.000000Z", 100.5));
    mock.send(&bar("2026-12-07T10:00:00.000000Z", 101.5));
    mock.send(&bar("2026-12-07T10:01:00.000000Z", 101.0));
    sink.wait("one closed bar", |s| s.closed_candles().len() == 1)
        .await;
    let events = sink.events.lock().unwrap().clone();
    let MarketEvent::Candle { candle, closed } = &events[0] else {
        panic!("{events:?}")
    };
    assert!(closed);
    assert_eq!(candle.close.to_string(), "101.5");
    stop.send(true).unwrap();
}
