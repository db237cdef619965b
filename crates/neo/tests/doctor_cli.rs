//! `neo doctor` against a real `neo run`: every endpoint and dependency in one
//! table; a notification channel that cannot be reached fails the run (exit
//! 1) naming it; a NEO that is not running fails at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use neo_testkit::mock::MockHttp;
use serde_json::Value;

mod common;

use common::{Killed, free_port, run_dir, spawn, text, wait_healthy};

fn doctor(base: &str, json: bool) -> (i32, String) {
    let mut args = vec!["doctor", "--url", base];
    if json {
        args.push("--json");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(&args)
        .env_remove("NEO_API_KEY")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_endpoints_and_every_dependency() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let slack = MockHttp::start().await.unwrap();
    let telegram = MockHttp::start().await.unwrap();
    // A webhook receiver that is not there.
    let closed = free_port();
    let run = run_dir(
        "doctor",
        "doctor-pass",
        &format!(
            "[notify.slack]\nenabled = true\nwebhook_url = \"{}\"\n\
             [notify.telegram]\nenabled = true\nbot_token = \"123:abc\"\nchat_id = \"42\"\napi_base = \"{}\"\n\
             [notify.webhook]\nenabled = true\nsecret = \"doctor-webhook-secret\"\nurl = \"http://127.0.0.1:{closed}/hook\"\n",
            slack.url("/hook"),
            telegram.url("")
        ),
    );
    let child = Killed(spawn(&run.config, &run.data));
    let http = reqwest::Client::new();
    wait_healthy(&http, &run.base).await;

    let (code, table) = tokio::task::spawn_blocking({
        let base = run.base.clone();
        move || doctor(&base, false)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{table}");
    let row = |name: &str| -> String {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{table}"))
            .to_owned()
    };
    for pass in [
        "health",
        "ready",
        "metrics",
        "store",
        "bus",
        "market",
        "notify.slack",
        "notify.telegram",
    ] {
        assert!(row(pass).contains(" pass "), "{pass}: {table}");
    }
    assert!(row("openapi").contains(" pass "), "{table}");
    assert!(row("notify.telegram").contains("@neo_mock_bot"), "{table}");
    let webhook = row("notify.webhook");
    assert!(
        webhook.contains("FAIL") && webhook.contains(&format!("127.0.0.1:{closed}")),
        "{table}"
    );
    assert!(table.contains("1 of 10 checks failed"), "{table}");
    assert!(
        telegram
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/bot123:abc/getMe"))
    );

    let (code, json) = tokio::task::spawn_blocking({
        let base = run.base.clone();
        move || doctor(&base, true)
    })
    .await
    .unwrap();
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 10, "{doc}");

    // A revoked Slack hook (Slack answers 404 no_service): named as refused.
    slack.set_status(404);
    let (_, table) = tokio::task::spawn_blocking({
        let base = run.base.clone();
        move || doctor(&base, false)
    })
    .await
    .unwrap();
    assert!(row_of(&table, "notify.slack").contains("FAIL"), "{table}");
    assert!(
        row_of(&table, "notify.slack").contains("refused: HTTP 404"),
        "{table}"
    );

    drop(child);
    let _ = std::fs::remove_dir_all(&run.dir);

    // Nothing listening: fails at once, saying so.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (code, table) = doctor(&nowhere, false);
    assert_eq!(code, 1);
    assert!(row_of(&table, "health").contains("cannot reach"), "{table}");
}

fn row_of(table: &str, name: &str) -> String {
    table
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default()
        .to_owned()
}
