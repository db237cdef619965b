//! A real `neo run` on a live venue feed pointed at a local exchange speaking
//! Binance's formats: the quote board follows the exchange, an alert fills at
//! its quote, a stopped exchange makes the instrument stale (and Slack is
//! told), a restarted one is reconnected to and fresh again, and after a
//! graceful stop the tick archive holds every tick the exchange sent (counted
//! by NEO's reader and by pyarrow).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use neo_testkit::binance::{book, rest};
use neo_testkit::mock::MockHttp;
use neo_testkit::venue::MockVenue;
use serde_json::{Value, json};

mod common;

use common::{Killed, post_alert, run_dir, spawn, wait_healthy};

const PASS: &str = "market-run-passphrase";

async fn get(http: &reqwest::Client, url: String) -> Value {
    http.get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null)
}

/// Quotes `ask` until the board shows it (at most ten seconds); how long it took.
async fn quote_until_shown(
    mock: &MockVenue,
    http: &reqwest::Client,
    base: &str,
    bid: &str,
    ask: &str,
) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        mock.send(&book(bid, ask));
        let tickers = get(http, format!("{base}/v1/tickers")).await;
        let shown = tickers["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["instrument"] == "BTC-USDT" && t["ask"] == ask);
        if shown {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the board never showed {ask}: {tickers}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `/ready` says BTC-USDT is stale, waiting up to `within` for it to say `stale`.
async fn becomes(http: &reqwest::Client, base: &str, stale: bool, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ready = get(http, format!("{base}/ready")).await;
        if ready["market"]["instruments"]["BTC-USDT"]["stale"] == stale {
            return ready;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo_run_trades_on_a_venue_feed_and_archives_every_tick() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockVenue::start(rest).await.unwrap();
    let slack = MockHttp::start().await.unwrap();
    let run = run_dir(
        "market-run",
        PASS,
        &format!(
            "[market]\nsource = \"binance\"\ninstruments = [\"BTC-USDT\"]\nwarmup_minutes = 120\nsilence_secs = 1\n\
             [market.binance]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
             [desk.risk]\nmax_data_age_secs = 2\n\
             [notify.slack]\nenabled = true\nwebhook_url = \"{}\"\n",
            mock.ws_url(),
            mock.rest_url(),
            slack.url("/hook")
        ),
    );
    let mut child = Killed(spawn(&run.config, &run.data));
    let http = reqwest::Client::new();
    wait_healthy(&http, &run.base).await;
    assert!(mock.wait_clients(1, Duration::from_secs(10)).await);

    let took = quote_until_shown(&mock, &http, &run.base, "50010.1", "50010.3").await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // An entry fills at the exchange's quote (a buy at the ask, a sell at the bid).
    let mut fill = None;
    for action in ["buy", "sell"] {
        quote_until_shown(&mock, &http, &run.base, "50010.1", "50010.3").await;
        let alert = json!({"ticker": "BTCUSDT", "action": action, "passphrase": PASS, "id": format!("run-{action}")});
        let id = post_alert(&http, &run.base, &alert).await["signal_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let story = loop {
            let story = get(&http, format!("{}/v1/signals/{id}", run.base)).await;
            let decided = story["decisions"].as_array().is_some_and(|d| !d.is_empty());
            let traded = story["fills"].as_array().is_some_and(|f| !f.is_empty());
            let held = decided && story["decisions"][0]["recommendation"] != action;
            if traded || held || tokio::time::Instant::now() > deadline {
                break story;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if let Some(f) = story["fills"].as_array().and_then(|f| f.first()) {
            fill = Some((action, f["price"].as_str().unwrap().to_owned()));
            break;
        }
    }
    let (action, price) = fill.expect("neither a buy nor a sell filled");
    assert_eq!(
        price,
        if action == "buy" {
            "50010.3"
        } else {
            "50010.1"
        }
    );

    // The exchange stops: stale, and Slack is told.
    mock.set_down(true);
    let ready = becomes(&http, &run.base, true, Duration::from_secs(15)).await;
    assert_eq!(ready["market"]["connected"], false, "{ready}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !slack
        .requests()
        .iter()
        .any(|r| r.body.to_string().contains("market data stale"))
    {
        assert!(tokio::time::Instant::now() < deadline, "Slack was not told");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It comes back: reconnected, fresh again.
    mock.set_down(false);
    assert!(mock.wait_clients(1, Duration::from_secs(20)).await);
    quote_until_shown(&mock, &http, &run.base, "50020.1", "50020.3").await;
    becomes(&http, &run.base, false, Duration::from_secs(5)).await;

    // A graceful stop flushes the archive: every tick the exchange sent is there.
    let sent = mock.sent();
    let pid = i32::try_from(child.0.id()).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let archived =
        neo_parquet::count_rows(&run.data.join("market"), neo_parquet::ArchiveKind::Ticks).unwrap();
    assert_eq!(archived, sent, "every tick sent is archived once");
    // And read outside NEO: pyarrow counts the same rows in the tick archive's files.
    let ticks = run.data.join("market").join("ticks");
    if let Some(rows) = neo_testkit::python::pyarrow_rows(&ticks) {
        assert_eq!(rows, sent, "pyarrow reads every tick sent");
    }
    let _ = std::fs::remove_dir_all(&run.dir);
}
