//! The autonomous loop inside the running pipeline: with `[strategy] enabled`,
//! closed candles feed the ensemble, and its signals (`source = strategy`) go
//! through the same store, bus, analyst, risk and OMS as webhook alerts. The
//! clock runs 600 times faster than the wall so minutes pass in tenths of seconds.
//! The ensemble's quality, weights and regime are on `/metrics`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use neo_domain::Timestamp;
use neo_pipeline::{Clock, Config, start, wall_clock};
use serde_json::Value;

fn fast_clock(speed: i64) -> Clock {
    let wall = wall_clock();
    let origin = wall();
    #[allow(
        clippy::disallowed_methods,
        reason = "the test's own accelerated clock"
    )]
    let started = std::time::Instant::now();
    Arc::new(move || {
        let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX / 1_000);
        Timestamp::from_nanos(origin.as_nanos() + elapsed.saturating_mul(speed))
    })
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategy_signals_flow_through_the_pipeline() {
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-autonomy"));
    let mut c = Config::default();
    c.server.port = 0;
    c.notify.console.enabled = false;
    c.market.instruments = vec!["BTC-USDT".to_owned()];
    c.market.tick_ms = 20;
    c.market.warmup_minutes = 240;
    c.strategy.enabled = true;
    // A frictionless venue: this checks the flow, not the edge. With the default
    // fees and slippage most 1-minute forecasts are refused `no_edge`, so
    // whether one traded within the minute depended on the market's path.
    c.desk.oms.fees.maker_bps = neo_domain::Fixed::ZERO;
    c.desk.oms.fees.taker_bps = neo_domain::Fixed::ZERO;
    c.desk.oms.slippage = neo_engine::oms::SlippageModel::None;
    let running = start(c, &dir, fast_clock(600)).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let story = loop {
        let list = get(&http, &base, "/v1/signals?limit=100").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        assert!(
            items.iter().all(|s| s["source"] == "strategy"),
            "only the loop sends signals here: {list}"
        );
        let mut decided = None;
        for s in &items {
            let id = s["id"].as_str().unwrap();
            let story = get(&http, &base, &format!("/v1/signals/{id}")).await;
            let traded = story["orders"].as_array().is_some_and(|o| !o.is_empty());
            if traded {
                decided = Some(story);
                break;
            }
        }
        if let Some(story) = decided {
            break story;
        }
        if tokio::time::Instant::now() >= deadline {
            // Say why: each signal's decision and refusal, and the flags.
            let mut why = Vec::new();
            for s in items.iter().take(8) {
                let id = s["id"].as_str().unwrap();
                let story = get(&http, &base, &format!("/v1/signals/{id}")).await;
                why.push(format!(
                    "{} {}: {} / {}",
                    s["ts_event"], s["side"], story["decisions"][0]["rationale"], story["refusals"]
                ));
            }
            let flags = get(&http, &base, "/v1/flags").await;
            panic!(
                "no strategy signal traded within a minute:\n{}\nflags: {flags}",
                why.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let signal = &story["signal"];
    assert_eq!(signal["source"], "strategy", "{story}");
    let p = signal["metadata"]["probability_up"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{story}");
    let decision = &story["decisions"][0];
    assert!(
        decision["rationale"]
            .as_str()
            .unwrap()
            .contains("strategy ensemble"),
        "{story}"
    );
    let entry = &story["orders"][0];
    assert_eq!(entry["role"], "entry", "{story}");
    let side = signal["side"].as_str().unwrap();
    assert_eq!(entry["side"], side, "{story}");
    let roles: Vec<&str> = story["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"stop_loss") && roles.contains(&"take_profit"),
        "an ensemble entry is bracketed: {story}"
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "neo_signals_accepted_total{source=\"strategy\"}",
        "neo_strategy_brier{instrument=\"BTC-USDT\"}",
        "neo_strategy_accuracy_ratio{instrument=\"BTC-USDT\"}",
        "neo_strategy_weight_stability{instrument=\"BTC-USDT\"}",
        "neo_strategy_model_weight{instrument=\"BTC-USDT\",model=\"momentum\"}",
        "neo_strategy_regime{instrument=\"BTC-USDT\",regime=\"range\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from /metrics");
    }
    // Healthy trading rolls no flag back.
    let flags = get(&http, &base, "/v1/flags").await;
    for flag in flags["flags"].as_array().unwrap() {
        assert_ne!(flag["state"], "rollback", "{flag}");
    }
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
