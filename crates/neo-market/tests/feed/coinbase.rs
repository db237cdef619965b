//! Coinbase Advanced Trade: one subscription per channel, sequence numbers,
//! one-minute candles built from trades; and the scenarios every venue runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use neo_market::feed::{Feed, FeedNote};
use neo_market::venue::Venue;
use neo_testkit::coinbase;

use super::scenarios::{self, Exchange};
use super::{Recorder, config, mock_at, shifted, start, wait_received};

const COINBASE: Exchange = Exchange {
    venue: Venue::Coinbase,
    rest: coinbase::rest_at,
    trade: |n, price| coinbase::market_trade(n, "BTC-USDT", n, price, "BUY"),
    unreadable: || {
        vec![
            ("{not json".to_owned(), "not_json"),
            (
                r#"{"channel":"level2","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":5,"events":[{"type":"snapshot","product_id":"BTC-USDT","updates":[]}]}"#.to_owned(),
                "unknown",
            ),
            (coinbase::market_trade(3, "BTC-USDT", 3, "101", "UP"), "malformed"),
            (
                r#"{"type":"error","message":"failure to subscribe"}"#.to_owned(),
                "venue_error",
            ),
        ]
    },
};

#[tokio::test]
async fn coinbase_streams_and_skips_what_it_cannot_read() {
    scenarios::streams_and_skips_what_it_cannot_read(&COINBASE).await;
}

#[tokio::test]
async fn coinbase_reconnects_resubscribes_and_backfills_a_cut_connection() {
    scenarios::a_cut_connection_reconnects_and_backfills(&COINBASE).await;
}

#[tokio::test]
async fn coinbase_replaces_a_silent_connection() {
    scenarios::a_silent_connection_is_replaced(&COINBASE).await;
}

#[tokio::test]
async fn coinbase_rest_429_is_waited_out() {
    scenarios::rest_throttling_is_waited_out(&COINBASE, |mock, n| mock.throttle(n, 1)).await;
}

#[tokio::test]
async fn coinbase_subscribes_per_channel_and_backfills_on_a_sequence_gap() {
    let offset = Arc::new(AtomicI64::new(0));
    let mock = mock_at(coinbase::rest_at, &offset).await;
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
    sink.wait("the first backfill", |s| {
        s.count(|n| matches!(n, FeedNote::Backfilled { .. })) == 1
    })
    .await;
    let requests = mock.rest_requests().len();
    mock.send(&coinbase::ticker(1, "BTC-USDT", "100", "99", "101"));
    mock.send(&coinbase::heartbeat(2, 1));
    mock.send(&coinbase::ticker(3, "BTC-USDT", "100.5", "99", "101"));
    // Three minutes and three messages went missing.
    offset.store(180, Ordering::SeqCst);
    mock.send(&coinbase::ticker(7, "BTC-USDT", "101", "100", "102"));
    sink.wait("the gap", |s| {
        s.count(|n| matches!(n, FeedNote::Gap(_))) == 1
    })
    .await;
    assert!(sink.notes.lock().unwrap().iter().any(|n| matches!(n,
        FeedNote::Gap(g) if g.expected == 4 && g.got == 7)));
    sink.wait("three ticks", |s| s.ticks() == 3).await;
    sink.wait("the missed candles", |s| s.closed_candles().len() >= 2)
        .await;
    assert!(mock.rest_requests().len() > requests, "the gap backfilled");
    stop.send(true).unwrap();
}
