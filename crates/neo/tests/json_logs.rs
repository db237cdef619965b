//! `[log] format = "json"`: a real `neo run` writes one JSON object a line,
//! and every line of an alert's handling (accepted at the gateway, decided by
//! the desk, delivered to Slack) names its signal id, so a log pipeline can
//! pull one alert's story out of the stream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use neo_testkit::mock::MockHttp;
use serde_json::{Value, json};

mod common;

use common::{post_alert, run_dir, spawn_logging, wait_healthy};

const PASS: &str = "json-log-passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_of_an_alerts_handling_names_its_signal() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let slack = MockHttp::start().await.unwrap();
    let run = run_dir(
        "json-logs",
        PASS,
        &format!(
            "[log]\nformat = \"json\"\n[notify.slack]\nenabled = true\nwebhook_url = \"{}\"\n",
            slack.url("/hook")
        ),
    );
    let log_path = run.dir.join("neo.log");
    let child = spawn_logging(&run, "info", std::fs::File::create(&log_path).unwrap());
    let http = reqwest::Client::new();
    wait_healthy(&http, &run.base).await;

    let alert = json!({"ticker": "BTCUSDT", "action": "buy", "passphrase": PASS, "id": "json-1"});
    let answer = post_alert(&http, &run.base, &alert).await;
    let id = answer["signal_id"].as_str().unwrap().to_owned();
    // Decided, and Slack told (the decision's notification), before stopping.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while slack.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "Slack never told");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lines_of = |id: &str| -> Vec<Value> {
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|v| v.to_string().contains(id))
            .collect()
    };
    let messages = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|v| v["message"].as_str().map(str::to_owned))
            .collect()
    };
    let wanted = ["alert accepted", "signal decided", "notification delivered"];
    let mut lines = lines_of(&id);
    while !wanted
        .iter()
        .all(|w| messages(&lines).iter().any(|m| m == w))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            messages(&lines)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        lines = lines_of(&id);
    }
    for line in &lines {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
    }
    let decided = lines
        .iter()
        .find(|v| v["message"] == "signal decided")
        .unwrap();
    assert_eq!(decided["spans"][0]["signal_id"], id.as_str(), "{decided}");
    assert_eq!(decided["spans"][0]["stage"], "desk", "{decided}");
    assert!(decided["recommendation"].is_string(), "{decided}");

    drop(child);
    let _ = std::fs::remove_dir_all(&run.dir);
}
