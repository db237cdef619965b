//! The connection's heartbeat, on a mock Binance: every frame from the venue
//! is a sign of life (a quiet pair sends only pings), the venue's pings are
//! answered, and a connection that never answers our pings is replaced even
//! while it still sends.

use std::sync::Arc;
use std::time::Duration;

use neo_market::feed::{Feed, FeedConfig, FeedNote};
use neo_market::venue::Venue;
use neo_testkit::binance;
use neo_testkit::venue::MockVenue;

use super::{Recorder, clock, config, start};

fn disconnects(sink: &Recorder) -> Vec<String> {
    let notes = sink.notes.lock().unwrap();
    notes
        .iter()
        .filter_map(|n| match n {
            FeedNote::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// A quiet pair: the venue sends nothing but a ping every 100 ms, for five
/// times the silence limit. The connection stays, and every ping is answered.
#[tokio::test]
async fn a_connection_that_only_pings_stays_up_and_is_answered() {
    let mock = MockVenue::start(binance::rest).await.unwrap();
    let cfg = FeedConfig {
        silence: Duration::from_millis(400),
        // Ours go out too rarely to matter: only the venue's pings are heard.
        ping_every: Duration::from_secs(60),
        ..config(Venue::Binance, &mock)
    };
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(cfg, clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    for _ in 0..20 {
        mock.ping_clients();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(disconnects(&sink), Vec::<String>::new());
    assert_eq!(mock.accepted(), 1);
    assert!(mock.pongs() >= 15, "{} pongs to 20 pings", mock.pongs());
    stop.send(true).unwrap();
}

/// An idle venue that sends nothing but answers our pings: the pongs are life.
#[tokio::test]
async fn answered_pings_keep_an_idle_connection_up() {
    let mock = MockVenue::start(binance::rest).await.unwrap();
    let cfg = FeedConfig {
        silence: Duration::from_millis(400),
        ping_every: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..config(Venue::Binance, &mock)
    };
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(cfg, clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(disconnects(&sink), Vec::<String>::new());
    assert_eq!(mock.accepted(), 1);
    stop.send(true).unwrap();
}

/// The venue keeps streaming trades but never reads (a half-dead path): our
/// pings go unanswered, so the connection is replaced well before the silence
/// limit, and the stream resumes on the new one.
#[tokio::test]
async fn a_connection_that_never_answers_our_pings_is_replaced() {
    let mock = MockVenue::start(binance::rest).await.unwrap();
    let cfg = FeedConfig {
        silence: Duration::from_secs(30),
        ping_every: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(500),
        ..config(Venue::Binance, &mock)
    };
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(cfg, clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    mock.deafen_clients();
    let deaf_since = tokio::time::Instant::now();
    let mut id = 0;
    while disconnects(&sink).is_empty() && deaf_since.elapsed() < Duration::from_secs(5) {
        id += 1;
        mock.send(&binance::trade(id, "100", "0.5", binance::now_ms()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reasons = disconnects(&sink);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("no pong"), "{reasons:?}");
    assert!(sink.ticks() >= 5, "the deaf connection still streamed");
    sink.wait("a new connection", |s| {
        s.count(|n| *n == FeedNote::Connected) == 2
    })
    .await;
    let before = sink.ticks();
    mock.send(&binance::trade(id + 1, "101", "0.5", binance::now_ms()));
    sink.wait("data on the new connection", |s| s.ticks() > before)
        .await;
    stop.send(true).unwrap();
}
