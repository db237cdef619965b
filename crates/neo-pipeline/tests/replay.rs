//! `source = "replay"`: a CSV history played through the live path at 600x.
//! The quote board follows the history's prices, the desk is warm from its
//! first two hours, an alert fills at a replayed price, nothing is archived
//! again, and once every bar has played the feed says so and the data goes
//! stale.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{entry_that_trades, rig};
use neo_pipeline::config::MarketSource;

/// Bars in the file: two hours of warm-up, then an hour that plays.
const BARS: i64 = 180;
const WARMUP_MINUTES: u32 = 120;

/// A one-minute CSV history of a sawtooth a few hundred dollars deep; every price it holds.
fn history(path: &std::path::Path) -> BTreeSet<String> {
    let mut text = String::from("timestamp,open,high,low,close,volume\n");
    let mut prices = BTreeSet::new();
    for i in 0..BARS {
        let close = 50_000 + (i % 40) * 25;
        let bar = [close - 20, close + 80, close - 80, close];
        text.push_str(&format!(
            "{},{},{},{},{},12.5\n",
            1_600_000_000 + i * 60,
            bar[0],
            bar[1],
            bar[2],
            bar[3]
        ));
        if i >= i64::from(WARMUP_MINUTES) {
            prices.extend(bar.iter().map(ToString::to_string));
        }
    }
    std::fs::write(path, text).unwrap();
    prices
}

async fn board_price(rig: &common::Rig) -> Option<String> {
    let (_, tickers) = rig.get("/v1/tickers").await;
    tickers["items"]
        .as_array()?
        .iter()
        .find(|t| t["instrument"] == "BTC-USDT")
        .and_then(|t| t["price"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_history_plays_through_the_live_path() {
    let csv = std::env::temp_dir().join(format!("neo-replay-{}.csv", std::process::id()));
    let played = history(&csv);
    let db = neo_testkit::db::TestDb::sqlite();
    let rig = Box::pin(rig(&db.url, |c| {
        c.market.source = MarketSource::Replay;
        c.market.instruments = vec!["BTC-USDT".to_owned()];
        c.market.replay.path = Some(csv.clone());
        c.market.replay.speed = 600.0;
        c.market.warmup_minutes = WARMUP_MINUTES;
        c.market.tick_ms = 20;
    }))
    .await;

    // The board moves through the replayed prices (and only those).
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while seen.len() < 3 && tokio::time::Instant::now() < deadline {
        if let Some(p) = board_price(&rig).await {
            assert!(played.contains(&p), "{p} is not a replayed price");
            seen.insert(p);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(seen.len() >= 3, "the board did not move: {seen:?}");
    let (_, ready) = rig.get("/ready").await;
    assert_eq!(ready["market"]["source"], "replay", "{ready}");

    // Warm from the first two hours; an entry fills at a replayed price.
    let (_, f) = rig.get("/v1/features/BTC-USDT").await;
    assert!(f["indicators"]["bars"].as_u64().unwrap() >= 100, "{f}");
    let (id, _) = entry_that_trades(&rig).await;
    let story = rig
        .story_until(&id, |s| {
            s["fills"].as_array().is_some_and(|f| !f.is_empty())
        })
        .await;
    let fill = story["fills"][0]["price"].as_str().unwrap().to_owned();
    let fill: f64 = fill.parse().unwrap();
    assert!((49_900.0..=51_100.0).contains(&fill), "{story}");

    // An hour at 600x: done in about six seconds; then the data goes stale.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ready) = rig.get("/ready").await;
        let done = ready["market"]["last_problem"]
            .as_str()
            .is_some_and(|p| p.contains("played all"));
        if done && ready["market"]["instruments"]["BTC-USDT"]["stale"] == true {
            assert_eq!(ready["market"]["connected"], false, "{ready}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // History is not archived a second time under today's dates.
    let archived = rig.dir.path().join("market");
    let files = walk(&archived);
    assert!(files.is_empty(), "{files:?}");
    rig.stop().await;
    let _ = std::fs::remove_file(&csv);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}
