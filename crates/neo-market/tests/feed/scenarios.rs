//! The scenarios every venue's feed runs against its mock exchange: streaming
//! with unreadable messages skipped, a cut connection reconnected and
//! backfilled, a silent one replaced, REST throttling waited out and noted.
//! An [`Exchange`] says how the venue speaks; its module runs each scenario.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use neo_market::feed::{Feed, FeedConfig, FeedNote};
use neo_market::venue::Venue;
use neo_testkit::venue::MockVenue;

use super::{Recorder, btc, clock, config, mock_at, shifted, start, wait_received};

/// How a venue speaks, for the scenarios.
pub(crate) struct Exchange {
    /// Which venue.
    pub(crate) venue: Venue,
    /// Its REST answers on an exchange clock reading the given milliseconds.
    pub(crate) rest: fn(&str, i64) -> (u16, String),
    /// A stream message with BTC-USDT's trade number `n` at `price` (`n` also
    /// numbers the message where the venue numbers them).
    pub(crate) trade: fn(u64, &str) -> String,
    /// Messages it might send that cannot be read, each with the outcome it is counted under.
    pub(crate) unreadable: fn() -> Vec<(String, &'static str)>,
}

impl Exchange {
    fn subscriptions(&self) -> usize {
        self.venue.subscriptions(&[btc()]).len()
    }
}

/// Warm-up over REST, then trades read as ticks with every unreadable message
/// in between counted under its outcome and skipped on the same connection.
pub(crate) async fn streams_and_skips_what_it_cannot_read(ex: &Exchange) {
    let offset = Arc::new(AtomicI64::new(0));
    let mock = mock_at(ex.rest, &offset).await;
    let mut feed = Feed::new(config(ex.venue, &mock), clock());
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert!((29..=31).contains(&history.len()), "{}", history.len());
    assert!(history.windows(2).all(|w| w[0].ts_open < w[1].ts_open));
    let sink = Arc::new(Recorder::default());
    let (stop, task) = start(feed, &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    wait_received(&mock, ex.subscriptions()).await;
    let unreadable = (ex.unreadable)();
    mock.send(&(ex.trade)(1, "101.25"));
    for (text, _) in &unreadable {
        mock.send(text);
    }
    mock.send(&(ex.trade)(2, "101.5"));
    sink.wait("both trades", |s| s.ticks() == 2).await;
    assert_eq!(sink.tick_prices(), ["101.25", "101.5"]);
    for (text, outcome) in &unreadable {
        let counted = sink.count(|n| *n == FeedNote::Message { outcome });
        assert_eq!(counted, 1, "{outcome}: {text}");
    }
    assert_eq!(sink.count(|n| *n == FeedNote::Message { outcome: "ok" }), 2);
    assert_eq!(mock.accepted(), 1, "skipping costs no connection");
    assert_eq!(
        sink.count(|n| matches!(n, FeedNote::Disconnected { .. })),
        0
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .unwrap()
        .unwrap();
}

/// Five minutes pass while the connection is cut: the feed reconnects, sends
/// the same subscriptions, fetches each missed minute once after the history,
/// and reads the new connection's stream.
pub(crate) async fn a_cut_connection_reconnects_and_backfills(ex: &Exchange) {
    let offset = Arc::new(AtomicI64::new(0));
    let mock = mock_at(ex.rest, &offset).await;
    let mut feed = Feed::new(config(ex.venue, &mock), shifted(&offset));
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(feed, &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    let n = ex.subscriptions();
    wait_received(&mock, n).await;
    offset.store(300, Ordering::SeqCst);
    mock.drop_clients();
    sink.wait("a reconnection", |s| {
        s.count(|n| *n == FeedNote::Connected) >= 2
    })
    .await;
    wait_received(&mock, 2 * n).await;
    let received = mock.received();
    assert_eq!(received[..n], received[n..2 * n], "the same subscriptions");
    assert!(sink.count(|n| matches!(n, FeedNote::Disconnected { .. })) >= 1);
    sink.wait("the missed candles", |s| {
        s.count(|n| matches!(n, FeedNote::Backfilled { .. })) >= 2
    })
    .await;
    let candles = sink.closed_candles();
    assert!((4..=6).contains(&candles.len()), "{candles:?}");
    assert!(candles.windows(2).all(|w| w[1] - w[0] == 60_000_000_000));
    let newest = history.last().unwrap().ts_open.as_nanos();
    assert_eq!(
        candles[0],
        newest + 60_000_000_000,
        "right after the history"
    );
    mock.send(&(ex.trade)(9, "102"));
    sink.wait("data on the new connection", |s| s.ticks() >= 1)
        .await;
    stop.send(true).unwrap();
}

/// A connection that stays open but sends nothing is dropped after `silence` and replaced.
pub(crate) async fn a_silent_connection_is_replaced(ex: &Exchange) {
    let offset = Arc::new(AtomicI64::new(0));
    let mock = mock_at(ex.rest, &offset).await;
    let cfg = FeedConfig {
        silence: Duration::from_millis(400),
        ..config(ex.venue, &mock)
    };
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(Feed::new(cfg, clock()), &sink);
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    mock.silence_clients();
    sink.wait("the silent connection dropped", |s| {
        s.count(
            |n| matches!(n, FeedNote::Disconnected { reason, .. } if reason.contains("no message")),
        ) == 1
    })
    .await;
    sink.wait("a new connection", |s| {
        s.count(|n| *n == FeedNote::Connected) == 2
    })
    .await;
    assert!(mock.wait_clients(1, Duration::from_secs(5)).await);
    mock.send(&(ex.trade)(1, "100"));
    sink.wait("data on the new connection", |s| s.ticks() >= 1)
        .await;
    stop.send(true).unwrap();
}

/// Two throttled answers to the warm-up are waited out (the history comes
/// whole, no problem reported); one throttled answer to a connection's
/// backfill is waited out and noted as [`FeedNote::Throttled`].
pub(crate) async fn rest_throttling_is_waited_out(
    ex: &Exchange,
    throttle: impl Fn(&MockVenue, usize),
) {
    let offset = Arc::new(AtomicI64::new(0));
    let mock = mock_at(ex.rest, &offset).await;
    throttle(&mock, 2);
    let mut feed = Feed::new(config(ex.venue, &mock), shifted(&offset));
    let (history, problems) = feed.warm_up().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert!((29..=31).contains(&history.len()), "{}", history.len());
    let warm_up_requests = mock.rest_requests().len();
    assert!(warm_up_requests >= 3, "{:?}", mock.rest_requests());
    // Five minutes later the venue throttles the first connection's backfill once.
    offset.store(300, Ordering::SeqCst);
    throttle(&mock, 1);
    let sink = Arc::new(Recorder::default());
    let (stop, _task) = start(feed, &sink);
    sink.wait("the backfill", |s| {
        s.count(|n| matches!(n, FeedNote::Backfilled { .. })) == 1
    })
    .await;
    assert_eq!(sink.count(|n| *n == FeedNote::Throttled), 1);
    assert_eq!(
        sink.count(|n| matches!(n, FeedNote::BackfillFailed { .. })),
        0
    );
    assert!((4..=6).contains(&sink.closed_candles().len()));
    assert!(mock.rest_requests().len() >= warm_up_requests + 2);
    stop.send(true).unwrap();
}
