//! The feed against a local exchange speaking each venue's documented formats:
//! warm-up over REST, the stream read into ticks, trades and closed candles,
//! malformed messages skipped and counted, a cut connection and a silent one
//! reconnected and backfilled, REST throttling waited out, sequence gaps
//! backfilled, subscriptions sent again after every reconnection, and the
//! connection's heartbeat (the venue's pings count as life, ours must be
//! answered). The same scenarios run for every venue ([`scenarios`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binance;
mod coinbase;
mod heartbeat;
mod kraken;
mod scenarios;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_domain::{InstrumentId, Timestamp};
use neo_market::event::MarketEvent;
use neo_market::feed::{Clock, Feed, FeedConfig, FeedNote, MarketSink};
use neo_market::venue::Venue;
use neo_testkit::venue::MockVenue;
use tokio::sync::watch;

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) events: Mutex<Vec<MarketEvent>>,
    pub(crate) notes: Mutex<Vec<FeedNote>>,
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
    pub(crate) fn closed_candles(&self) -> Vec<i64> {
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
    pub(crate) fn ticks(&self) -> usize {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| matches!(e, MarketEvent::Tick(_)))
            .count()
    }
    /// The ticks' prices, in the order read.
    pub(crate) fn tick_prices(&self) -> Vec<String> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                MarketEvent::Tick(t) => Some(t.price.to_string()),
                _ => None,
            })
            .collect()
    }
    pub(crate) fn count(&self, f: impl Fn(&FeedNote) -> bool) -> usize {
        self.notes.lock().unwrap().iter().filter(|n| f(n)).count()
    }
    pub(crate) async fn wait(&self, what: &str, f: impl Fn(&Recorder) -> bool) {
        for _ in 0..500 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

pub(crate) async fn wait_received(mock: &MockVenue, n: usize) {
    for _ in 0..500 {
        if mock.received().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the client sent {:?}", mock.received());
}

pub(crate) fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

#[allow(clippy::disallowed_methods)] // a live feed's test runs on the wall clock, as the feed does
pub(crate) fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Timestamp::from_nanos(i64::try_from(nanos).unwrap())
}

pub(crate) fn clock() -> Clock {
    Arc::new(now)
}

/// The wall clock moved on by however many seconds the test sets.
pub(crate) fn shifted(offset: &Arc<AtomicI64>) -> Clock {
    let offset = offset.clone();
    Arc::new(move || now().add_nanos(offset.load(Ordering::SeqCst) * 1_000_000_000))
}

/// A mock exchange whose REST answers run on the wall clock moved on by `offset` seconds.
pub(crate) async fn mock_at(
    rest: fn(&str, i64) -> (u16, String),
    offset: &Arc<AtomicI64>,
) -> MockVenue {
    let offset = offset.clone();
    MockVenue::start(move |target: &str| {
        let shift = offset.load(Ordering::SeqCst) * 1_000;
        rest(target, neo_testkit::binance::now_ms() + shift)
    })
    .await
    .unwrap()
}

pub(crate) fn minute_floor(t: Timestamp) -> i64 {
    t.as_unix_millis().div_euclid(60_000) * 60_000
}

pub(crate) fn query<'a>(target: &'a str, name: &str) -> &'a str {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("{name} missing from {target}"))
}

pub(crate) fn config(venue: Venue, mock: &MockVenue) -> FeedConfig {
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

pub(crate) fn start(
    feed: Feed,
    sink: &Arc<Recorder>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, rx) = watch::channel(false);
    let s: Arc<dyn MarketSink> = sink.clone();
    (stop, tokio::spawn(feed.run(s, rx)))
}
