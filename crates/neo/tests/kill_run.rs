//! A real `neo run` child process, SIGKILLed again and again while alerts
//! stream in, then restarted: every alert that got a 202 is decided exactly
//! once, no intent yields two orders, and the account's positions equal the
//! sum of the stored fills (nothing lost, nothing booked twice).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use neo_testkit::mock::MockHttp;
use serde_json::Value;

mod common;

use common::{RunDir, decided, numbered_alert, run_dir, spawn, wait_healthy};

const PASS: &str = "kill-test-passphrase";
const KILLS: usize = 6;

/// Posts alerts until `stop`, returning the ids of those answered 202.
async fn stream(
    http: reqwest::Client,
    base: String,
    first: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let mut accepted = Vec::new();
    let mut n = first;
    while !*stop.borrow() {
        let body = numbered_alert(n, PASS, "kill");
        n += 1;
        let sent = http
            .post(format!("{base}/v1/webhooks/tradingview"))
            .json(&body)
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 202 => {
                let answer: Value = r.json().await.unwrap_or(Value::Null);
                if let Some(id) = answer["signal_id"].as_str() {
                    accepted.push(id.to_owned());
                }
            }
            Ok(r) => panic!("unexpected answer {}", r.status()),
            // The child died mid-request: not accepted as far as the sender knows.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    accepted
}

fn pseudo_random(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^ (z >> 31)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_alert_and_duplicates_no_order() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let slack = MockHttp::start().await.unwrap();
    let RunDir {
        dir,
        config,
        data,
        base,
    } = run_dir(
        "neo-kill",
        PASS,
        &format!(
            "[market]\ntick_ms = 50\n[notify.slack]\nenabled = true\nwebhook_url = \"{}\"\nrate_limit = 10000\n",
            slack.url("/hook")
        ),
    );
    let http = reqwest::Client::new();
    let mut accepted: Vec<String> = Vec::new();
    for kill in 0..KILLS {
        let mut child = spawn(&config, &data);
        wait_healthy(&http, &base).await;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let sender = tokio::spawn(stream(http.clone(), base.clone(), kill * 100_000, stop_rx));
        let life = 300 + pseudo_random(kill) % 900;
        tokio::time::sleep(Duration::from_millis(life)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        stop.send(true).unwrap();
        let got = sender.await.unwrap();
        println!(
            "run {kill}: killed after {life} ms, {} alerts accepted",
            got.len()
        );
        accepted.extend(got);
    }
    assert!(
        accepted.len() >= 20,
        "too few alerts to mean anything: {}",
        accepted.len()
    );

    // The last start finishes everything that was accepted.
    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    let mut stories = BTreeMap::new();
    #[allow(clippy::disallowed_methods)] // a test's deadline is wall time
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for id in &accepted {
        let story = decided(&http, &base, id, deadline).await;
        stories.insert(id.clone(), story);
    }
    // Signals committed whose 202 never reached the sender count too: page through them all.
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/signals?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        for s in page["items"].as_array().unwrap() {
            let id = s["id"].as_str().unwrap().to_owned();
            if stories.contains_key(&id) {
                continue;
            }
            let story = decided(&http, &base, &id, deadline).await;
            stories.insert(id, story);
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut net: BTreeMap<String, f64> = BTreeMap::new();
    let mut orders_total = 0;
    for (id, story) in &stories {
        assert_eq!(
            story["decisions"].as_array().unwrap().len(),
            1,
            "{id} decided twice"
        );
        let intents = story["intents"].as_array().unwrap();
        let orders = story["orders"].as_array().unwrap();
        let parents: Vec<&Value> = orders.iter().filter(|o| o["parent_id"].is_null()).collect();
        assert_eq!(
            parents.len(),
            intents.len(),
            "{id}: one order per intent: {story}"
        );
        for intent in intents {
            let n = parents
                .iter()
                .filter(|o| o["intent_id"] == intent["id"])
                .count();
            assert_eq!(n, 1, "{id}: intent {} has {n} orders", intent["id"]);
        }
        orders_total += orders.len();
        for order in orders {
            let filled: f64 = story["fills"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["order_id"] == order["id"])
                .map(|f| f["quantity"].as_str().unwrap().parse::<f64>().unwrap())
                .sum();
            let stated: f64 = order["filled_quantity"].as_str().unwrap().parse().unwrap();
            assert!(
                (filled - stated).abs() < 1e-9,
                "{id}: fills {filled} vs order {stated}"
            );
        }
        for f in story["fills"].as_array().unwrap() {
            let q: f64 = f["quantity"].as_str().unwrap().parse().unwrap();
            let signed = if f["side"] == "buy" { q } else { -q };
            *net.entry(f["instrument"].as_str().unwrap().to_owned())
                .or_default() += signed;
        }
    }
    let positions: Value = http
        .get(format!("{base}/v1/positions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in positions["items"].as_array().unwrap() {
        let q: f64 = p["quantity"].as_str().unwrap().parse().unwrap();
        let signed = if p["side"] == "short" { -q } else { q };
        let expected = net
            .get(p["instrument"].as_str().unwrap())
            .copied()
            .unwrap_or(0.0);
        assert!(
            (signed - expected).abs() < 1e-6,
            "{}: position {signed} but fills sum to {expected}",
            p["instrument"]
        );
    }
    println!(
        "{} alerts accepted, {} signals stored, {orders_total} orders, positions match fills",
        accepted.len(),
        stories.len()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn neo_trading(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neo"))
        .arg("trading")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_from_the_cli_survives_sigkill_and_resume_lifts_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let RunDir {
        dir,
        config,
        data,
        base,
    } = run_dir("neo-halt", PASS, "[market]\ntick_ms = 50\n");
    let http = reqwest::Client::new();
    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    let (ok, out) = neo_trading(&["halt", "--url", &base, "--reason", "maintenance window"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("trading: halted") && out.contains("maintenance window"),
        "{out}"
    );
    let before: Value = http
        .get(format!("{base}/v1/trading/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = spawn(&config, &data);
    wait_healthy(&http, &base).await;
    let after: Value = http
        .get(format!("{base}/v1/trading/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before, after, "the same state, reason, time and author");
    let (ok, out) = neo_trading(&["status", "--url", &base]);
    assert!(ok && out.contains("halted"), "{out}");
    let (ok, out) = neo_trading(&["resume", "--url", &base, "--reason", "done"]);
    assert!(ok && out.contains("trading: active"), "{out}");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
