//! The pipeline on a live venue feed, pointed at a local exchange speaking
//! Binance's formats: the quote board follows the exchange's prices within a
//! second, an alert fills at the exchange's quote, a stopped exchange makes
//! the instrument stale (entries refused with `stale_market_data`, people
//! told, `/ready` and `/metrics` show it), and when it comes back the feed
//! reconnects, backfills and trading resumes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::time::Duration;

use common::{alert, decided, rig};
use neo_pipeline::config::MarketSource;
use neo_testkit::venue::MockVenue;
use serde_json::{Value, json};

use neo_testkit::binance::{book, now_ms, rest as klines};

async fn ticker_price(rig: &common::Rig) -> Option<String> {
    let (_, tickers) = rig.get("/v1/tickers").await;
    tickers["items"]
        .as_array()?
        .iter()
        .find(|t| t["instrument"] == "BTC-USDT")
        .and_then(|t| t["ask"].as_str().map(str::to_owned))
}

/// Keeps quoting `ask` until the board shows it; how long that took.
async fn quote_until_shown(mock: &MockVenue, rig: &common::Rig, bid: &str, ask: &str) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        mock.send(&book(bid, ask));
        if ticker_price(rig).await.as_deref() == Some(ask) {
            return started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(10) {
            let (_, tickers) = rig.get("/v1/tickers").await;
            let (_, ready) = rig.get("/ready").await;
            panic!("the board never showed {ask}: {tickers} {ready}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn decision(rig: &common::Rig, alert_id: &str, action: &str) -> (String, Value) {
    let (status, answer) = rig.post(&alert(alert_id, action)).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["signal_id"].as_str().unwrap().to_owned();
    let story = rig.story_until(&id, decided).await;
    (id, story)
}

/// The refusal codes `POST /v1/risk/check` gives `intent` now.
async fn risk_codes(rig: &common::Rig, intent: &Value) -> Vec<String> {
    let r = rig
        .http
        .post(format!("{}/v1/risk/check", rig.base))
        .json(intent)
        .send()
        .await
        .unwrap();
    let verdict: Value = r.json().await.unwrap();
    verdict["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_feed_drives_the_board_fills_and_staleness() {
    let mock = MockVenue::start(klines).await.unwrap();
    let db = neo_testkit::db::TestDb::sqlite();
    let (ws, rest) = (mock.ws_url(), mock.rest_url());
    let rig = Box::pin(rig(&db.url, |c| {
        c.market.source = MarketSource::Binance;
        c.market.instruments = vec!["BTC-USDT".to_owned()];
        c.market.binance.ws_url = Some(ws);
        c.market.binance.rest_url = Some(rest);
        c.market.warmup_minutes = 120;
        c.market.silence_secs = 1;
        c.desk.risk.max_data_age_secs = 2;
    }))
    .await;
    assert!(mock.wait_clients(1, Duration::from_secs(10)).await);
    assert!(mock.rest_requests()[0].contains("symbol=BTCUSDT&interval=1m"));

    // The board follows the exchange within a second.
    let took = quote_until_shown(&mock, &rig, "50010.1", "50010.3").await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // The online features: what the desk uses, from the venue's history and quotes.
    // (The board is the feed's; the features are the desk's, a step behind.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (status, f) = loop {
        let (status, f) = rig.get("/v1/features/BTC-USDT").await;
        if f["quote"]["ask"] == "50010.3" || tokio::time::Instant::now() > deadline {
            break (status, f);
        }
        mock.send(&book("50010.1", "50010.3"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 200, "{f}");
    assert!(f["indicators"]["bars"].as_u64().unwrap() >= 100, "{f}");
    assert!(f["volatility"]["percentile"].as_f64().is_some(), "{f}");
    assert_eq!(f["freshness"]["stale"], false, "{f}");
    assert_eq!(f["quote"]["ask"], "50010.3", "{f}");
    assert_eq!(rig.get("/v1/features/ETH-USDT").await.0, 404);
    history_and_alt_data(&rig).await;
    assert_eq!(rig.get("/v1/features/not%20one").await.0, 400);

    // Buys fill at the exchange's ask (a sell, when the analyst holds the buy, at its bid).
    let mut filled = None;
    for (n, action) in ["buy", "sell"].iter().enumerate() {
        quote_until_shown(&mock, &rig, "50010.1", "50010.3").await;
        let (id, story) = decision(&rig, &format!("live-{n}"), action).await;
        if story["decisions"][0]["recommendation"] != *action {
            continue;
        }
        let story = rig
            .story_until(&id, |s| {
                s["fills"].as_array().is_some_and(|f| !f.is_empty())
            })
            .await;
        if story["fills"].as_array().is_some_and(|f| !f.is_empty()) {
            filled = Some((action.to_owned(), story));
            break;
        }
    }
    let (action, story) = filled.expect("neither a buy nor a sell filled");
    let expected = if action == "buy" {
        "50010.3"
    } else {
        "50010.1"
    };
    assert_eq!(story["fills"][0]["price"], expected, "{story}");
    // Sized on the exchange's grid (its lot step, a thousandth), not NEO's preset.
    let quantity = story["fills"][0]["quantity"].as_str().unwrap();
    let decimals = quantity.split('.').nth(1).map_or(0, str::len);
    assert!(decimals <= 3, "{quantity} is off the exchange's 0.001 grid");
    assert!(
        mock.rest_requests()
            .iter()
            .any(|r| r.starts_with("/api/v3/exchangeInfo?symbol=BTCUSDT"))
    );

    // The exchange stops: the instrument goes stale, entries are refused, people are told.
    let stale_notices = |r: &[neo_testkit::mock::Recorded]| {
        r.iter()
            .filter(|m| m.body.to_string().contains("market data stale"))
            .count()
    };
    let told_before = stale_notices(&rig.slack.requests());
    mock.set_down(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = rig.get("/ready").await;
        if ready["market"]["instruments"]["BTC-USDT"]["stale"] == true {
            assert_eq!(ready["market"]["connected"], false, "{ready}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stale: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Risk judges the same entry again: refused for stale data (whatever else it finds).
    let intent = story["intents"][0].clone();
    assert!(
        risk_codes(&rig, &intent)
            .await
            .contains(&"stale_market_data".to_owned())
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stale_notices(&rig.slack.requests()) <= told_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            rig.slack.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = loop {
        let text = reqwest::get(format!("{}/metrics", rig.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("neo_market_stale{instrument=\"BTC-USDT\"} 1") {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        metrics.contains("neo_market_disconnects_total{venue=\"binance\",phase=\"streaming\"}")
    );
    assert!(metrics.contains("neo_market_messages_total{venue=\"binance\",outcome=\"ok\"}"));

    // Back up: it reconnects, backfills, and entries are judged on fresh data again.
    let accepted = mock.accepted();
    mock.set_down(false);
    assert!(mock.wait_clients(1, Duration::from_secs(20)).await);
    assert!(mock.accepted() > accepted);
    quote_until_shown(&mock, &rig, "50020.1", "50020.3").await;
    // The desk takes the new quotes on its next step.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        mock.send(&book("50020.1", "50020.3"));
        let codes = risk_codes(&rig, &intent).await;
        if !codes.contains(&"stale_market_data".to_owned()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{codes:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A closed kline from the stream, then the last quote.
    let minute = now_ms().div_euclid(60_000) * 60_000;
    mock.send(&json!({"stream":"btcusdt@kline_1m","data":{"e":"kline","E":minute,"s":"BTCUSDT",
        "k":{"t":minute,"T":minute + 59_999,"s":"BTCUSDT","i":"1m","o":"50020","c":"50030","h":"50040","l":"50010","v":"3.5","x":true}}}).to_string());
    // Every tick the exchange sent is in the tick archive once NEO has stopped.
    quote_until_shown(&mock, &rig, "50030.1", "50030.3").await;
    let sent = mock.sent() - 1; // the kline is not a tick
    let dir = rig.stop_keeping_data().await.keep();
    let ticks = dir.join("market").join("ticks");
    let archived =
        neo_parquet::count_rows(&dir.join("market"), neo_parquet::ArchiveKind::Ticks).unwrap();
    assert_eq!(archived, sent, "every tick sent is archived once");
    if let Some(n) = pyarrow_rows(&ticks) {
        assert_eq!(n, sent, "pyarrow reads the same ticks");
    }
    // The venue's closed candles joined the candle store `neo data export` reads.
    let one_minute = neo_parquet::Timeframe::new("1m").unwrap();
    let btc = neo_domain::InstrumentId::new("BTC-USDT").unwrap();
    let stored = neo_parquet::read_partition(&dir.join("history"), &btc, &one_minute);
    let _ = std::fs::remove_dir_all(&dir);
    let stored = stored.unwrap();
    assert_eq!(
        stored.last().unwrap().ts.as_unix_millis(),
        minute,
        "{stored:?}"
    );
    assert!((stored.last().unwrap().close - 50_030.0).abs() < 1e-9);
}

/// Rows of the hive-partitioned Parquet dataset at `dir`, read by pyarrow (None without it).
fn pyarrow_rows(dir: &std::path::Path) -> Option<usize> {
    let script = format!(
        "import pyarrow.dataset as ds; print(ds.dataset({:?}, format='parquet', partitioning='hive').count_rows())",
        dir.display().to_string()
    );
    let out = neo_testkit::python::with_pyarrow(&script)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The history store over HTTP: candles ingested for another instrument come
/// back resampled; alternative data posted is read back by source and time.
async fn history_and_alt_data(rig: &common::Rig) {
    let eth = neo_domain::InstrumentId::new("ETH-USDT").unwrap();
    let start = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let bars: Vec<neo_engine::history::Bar> = (0..120)
        .map(|i| neo_engine::history::Bar {
            line: 0,
            ts: neo_domain::Timestamp::from_unix_millis(start + i * 60_000).unwrap(),
            open: 100.0,
            high: 101.0 + f64::from(i32::try_from(i).unwrap()),
            low: 99.0,
            close: 100.5,
            volume: 1.0,
        })
        .collect();
    let minute = neo_parquet::Timeframe::new("1m").unwrap();
    let root = rig.dir.path().join("history");
    neo_parquet::merge_into_partition(&root, &eth, &minute, &bars, &mut |_, _| {}).unwrap();
    let (status, h) = rig
        .get("/v1/history/candles?instrument=ETH-USDT&interval=1h&from=2026-01-01")
        .await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["source"], "1m");
    assert_eq!(h["bars"].as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h["bars"][1]["high"], 220.0, "{h}");
    let (_, page) = rig
        .get("/v1/history/candles?instrument=ETH-USDT&limit=1")
        .await;
    assert_eq!(page["bars"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], "2026-01-01T00:01:00Z", "{page}");
    assert_eq!(
        rig.get("/v1/history/candles?instrument=SOL-USDT").await.0,
        404
    );
    assert_eq!(
        rig.get("/v1/history/candles?instrument=ETH-USDT&interval=7s")
            .await
            .0,
        400
    );
    assert_eq!(rig.get("/v1/history/candles").await.0, 400);

    let post = |body: Value, path: &str| {
        rig.http
            .post(format!("{}{path}", rig.base))
            .json(&body)
            .send()
    };
    let r = post(
        json!({"title": "Exchange lists SOL", "ts": "2026-12-01T08:00:00Z"}),
        "/v1/alt/news?kind=headline",
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = post(json!({"rate": "0.0001"}), "/v1/alt/funding")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = post(json!({"x": 1}), "/v1/alt/news?kind=Bad%20Kind")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = post(json!([1, 2]), "/v1/alt/news").await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (status, news) = rig.get("/v1/alt/news?from=2026-12-01&to=2026-12-02").await;
    assert_eq!(status, 200, "{news}");
    assert_eq!(news["items"].as_array().unwrap().len(), 1, "{news}");
    assert_eq!(news["items"][0]["kind"], "headline");
    assert_eq!(news["items"][0]["payload"]["title"], "Exchange lists SOL");
    assert_eq!(
        rig.get("/v1/alt/news?from=2026-12-02").await.1["items"],
        json!([])
    );
    assert_eq!(rig.get("/v1/alt/bad.source").await.0, 400);
}
