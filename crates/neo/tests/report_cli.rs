//! `neo report execution` against a real `neo run`: after an alert fills on
//! the simulated market, the report has the instrument's row and a total,
//! `--json` carries the figures, a range with nothing in it reports nothing,
//! and a bad time is refused with NEO's 400.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{RunDir, neo, run_dir, spawn, text, wait_healthy};
use serde_json::{Value, json};

const PASS: &str = "report-cli-passphrase";

/// Sends a buy, then a sell, until one fills; the fill's signal id.
async fn a_fill(http: &reqwest::Client, base: &str) -> String {
    for (n, action) in ["buy", "sell", "buy", "sell"].iter().enumerate() {
        let body = json!({ "ticker": "BTCUSDT", "exchange": "BINANCE", "action": action,
                           "passphrase": PASS, "id": format!("report-{n}") });
        let r = http
            .post(format!("{base}/v1/webhooks/tradingview"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let answer: Value = r.json().await.unwrap();
        let id = answer["signal_id"].as_str().unwrap().to_owned();
        for _ in 0..100 {
            let story: Value = http
                .get(format!("{base}/v1/signals/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if story["fills"].as_array().is_some_and(|f| !f.is_empty()) {
                return id;
            }
            if story["status"] == "refused" || story["decisions"][0]["recommendation"] == "hold" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("no alert filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_execution_report_shows_what_filled() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let RunDir {
        dir,
        config,
        data,
        base,
    } = run_dir("neo-report-cli", PASS, "");
    let http = reqwest::Client::new();
    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    a_fill(&http, &base).await;

    let out = neo(&["report", "execution", "--url", &base]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    assert!(table.contains("slip bps"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("BTC-USDT") && l.contains("market")),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("all")), "{table}");

    let out = neo(&[
        "report",
        "execution",
        "--url",
        &base,
        "--json",
        "--instrument",
        "BTC-USDT",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["total"]["fills"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(
        report["total"]["slippage_bps"]["count"],
        report["total"]["fills"]
    );
    assert!(
        report["total"]["latency_ms"]["p50"].as_f64().is_some(),
        "{report}"
    );

    let out = neo(&[
        "report",
        "execution",
        "--url",
        &base,
        "--json",
        "--from",
        "2099-01-01",
    ]);
    let empty: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(empty["total"]["orders"], 0, "{empty}");

    let out = neo(&[
        "report",
        "execution",
        "--url",
        &base,
        "--from",
        "last tuesday",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("NEO answered 400"),
        "{}",
        text(&out.stdout)
    );

    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
