//! The hardened edge through a running `neo run` pipeline: TradingView's
//! repeated order names are separate trades, a changed alert under a used id is
//! 409, and a slow client is cut at the header timeout while others are served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Timeouts are wall-clock behaviour: measuring them is the point.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{PASS, rig};
use neo_testkit::db::TestDb;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tradingview_order_names_ids_and_conflicts_over_http() {
    let db = TestDb::sqlite();
    let rig = rig(&db.url, |_| {}).await;
    let long = |close: f64| {
        json!({"passphrase": PASS, "ticker": "BTCUSDT", "exchange": "BINANCE", "action": "buy",
               "strategy": "e2e", "strategy.order.id": "Long", "close": close})
    };
    let (s1, first) = rig.post(&long(93_000.0)).await;
    let (s2, second) = rig.post(&long(93_500.0)).await;
    assert_eq!((s1, s2), (202, 202), "{first} {second}");
    assert_eq!(
        (&first["duplicate"], &second["duplicate"]),
        (&json!(false), &json!(false))
    );
    assert_ne!(
        first["signal_id"], second["signal_id"],
        "the second Long was dropped"
    );

    let with_id = |close: f64| {
        json!({"passphrase": PASS, "ticker": "BTCUSDT", "action": "buy", "strategy": "e2e",
               "id": "Long-1795295343", "close": close})
    };
    assert_eq!(rig.post(&with_id(93_000.0)).await.0, 202);
    let (status, again) = rig.post(&with_id(93_000.0)).await;
    assert_eq!((status, &again["duplicate"]), (202, &json!(true)));
    let (status, conflict) = rig.post(&with_id(93_100.0)).await;
    assert_eq!(
        (status, conflict["error"].as_str()),
        (409, Some("idempotency_conflict")),
        "{conflict}"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_while_health_stays_fast() {
    let db = TestDb::sqlite();
    let rig = rig(&db.url, |c| {
        c.server.limits.header_timeout_secs = 1;
    })
    .await;
    let addr = rig.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/webhooks/tradingview HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let asked = Instant::now();
    let (status, _) = rig.get("/health").await;
    assert_eq!(status, 200);
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the slow client kept its connection: {read:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    rig.stop().await;
}
