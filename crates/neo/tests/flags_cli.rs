//! `neo flags` and `neo slo` against a real `neo run`: a flag set over the API
//! survives SIGKILL, one set offline while NEO is down is in force when it
//! comes back, history and SLOs read back, and bad input exits non-zero.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{RunDir, neo, run_dir, spawn, text, wait_healthy};
use serde_json::{Value, json};

const PASS: &str = "flags-cli-passphrase";

fn json_out(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn with(args: &[&str], base: &str) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    v.extend(["--url".to_owned(), base.to_owned()]);
    v
}

fn run(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    neo(&refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_set_on_the_command_line_survives_sigkill_and_an_offline_change_applies() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let RunDir {
        dir,
        config,
        data,
        base,
    } = run_dir("neo-flags-cli", PASS, "");
    let http = reqwest::Client::new();

    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    let out = run(&with(
        &[
            "flags",
            "set",
            "output_slack",
            "disabled",
            "--reason",
            "Slack maintenance",
        ],
        &base,
    ));
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("output_slack             disabled"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&with(
        &[
            "flags",
            "set",
            "FF_CONFIDENCE_CALIBRATION",
            "rolling-out",
            "--percent",
            "12.5",
            "--allow",
            "breakout:BTC-USDT",
            "--allow",
            "breakout:ETH-USDT",
        ],
        &base,
    ));
    assert!(
        text(&out.stdout).contains("rolling_out 12.5%"),
        "{}",
        text(&out.stdout)
    );
    // Refused: a percent over 100; an unknown flag.
    let bad = run(&with(
        &[
            "flags",
            "set",
            "tv_slice",
            "rolling-out",
            "--percent",
            "150",
        ],
        &base,
    ));
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
    assert!(
        text(&bad.stdout).contains("between 0 and 100"),
        "{}",
        text(&bad.stdout)
    );
    assert!(
        !run(&with(&["flags", "show", "no_such_flag"], &base))
            .status
            .success()
    );

    child.kill().unwrap();
    child.wait().unwrap();

    // While NEO is down: straight into the store.
    let offline = neo(&[
        "flags",
        "set",
        "tv_slice",
        "disabled",
        "--reason",
        "quiet night",
        "--offline",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        offline.status.success(),
        "{}{}",
        text(&offline.stdout),
        text(&offline.stderr)
    );
    assert!(
        text(&offline.stdout).contains("enabled -> disabled"),
        "{}",
        text(&offline.stdout)
    );

    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    let slack = json_out(&run(&with(
        &["flags", "show", "output_slack", "--json"],
        &base,
    )));
    assert_eq!(slack["state"], "disabled", "{slack}");
    let all = json_out(&run(&with(&["flags", "list", "--json"], &base)));
    let cal = all["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "confidence_calibration")
        .unwrap()
        .clone();
    assert_eq!(
        (cal["state"].as_str(), cal["percent"].as_f64()),
        (Some("rolling_out"), Some(12.5))
    );
    assert_eq!(
        cal["allow"],
        json!(["breakout:BTC-USDT", "breakout:ETH-USDT"])
    );
    let history = json_out(&run(&with(
        &["flags", "history", "tv_slice", "--json"],
        &base,
    )));
    let change = &history["changes"][0];
    assert_eq!(
        (change["by"].as_str(), change["reason"].as_str()),
        (Some("operator:offline"), Some("quiet night"))
    );
    let answer = http
        .post(format!("{base}/v1/webhooks/tradingview"))
        .json(&json!({"ticker": "BTCUSDT", "action": "buy", "passphrase": PASS}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);

    let slo = json_out(&run(&with(&["slo", "--json"], &base)));
    assert_eq!(slo["slos"].as_array().unwrap().len(), 10, "{slo}");
    let table = run(&with(&["slo"], &base));
    assert!(
        text(&table.stdout).contains("webhook_accept"),
        "{}",
        text(&table.stdout)
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
